// storage-svc's bus adapter: crius.v1.storage.* messages ↔ StorageService.
import { unary, type BusEndpoint } from '@crius/common';
import { ImageFsInfoResponse, type FilesystemUsage } from '@crius/common/cri';
import {
  CreateRootfsRequest,
  CreateRootfsResponse,
  EnsureLayersRequest,
  EnsureLayersResponse,
  GcLayersRequest,
  GcLayersResponse,
  ImageFsUsageRequest,
  ReconcileRootfsRequest,
  ReconcileRootfsResponse,
  RemoveRootfsResponse,
  RootfsInfo,
  RootfsRequest,
  UsageResponse,
} from '@crius/common/proto/storage';
import type { FsUsage, StorageService } from './storage-service.js';

function usage(u: FsUsage): FilesystemUsage {
  return {
    timestamp: u.timestampNs,
    fsId: { mountpoint: u.mountpoint },
    usedBytes: { value: BigInt(u.usedBytes) },
    inodesUsed: { value: BigInt(u.inodesUsed) },
  };
}

export function storageEndpoints(storage: StorageService): Record<string, BusEndpoint> {
  return {
    EnsureLayers: unary(EnsureLayersRequest, EnsureLayersResponse, async (req) => {
      const done = await storage.ensureLayers(
        req.layers.map((l) => ({ digest: l.digest, diffId: l.diffId, mediaType: l.mediaType, path: l.path, growing: l.growing, size: Number(l.size) })),
      );
      return { layers: done.map((l) => ({ diffId: l.diffId, size: BigInt(l.size), created: l.created })) };
    }),
    CreateRootfs: unary(CreateRootfsRequest, CreateRootfsResponse, async (req) =>
      storage.createRootfs(req.containerId, req.diffIds, { readOnly: req.readOnly }),
    ),
    RemoveRootfs: unary(RootfsRequest, RemoveRootfsResponse, async (req) => storage.removeRootfs(req.containerId)),
    RootfsInfo: unary(RootfsRequest, RootfsInfo, async (req) => {
      const info = await storage.rootfsInfo(req.containerId);
      return {
        containerId: info.id,
        rootfsPath: info.rootfsPath,
        upperDir: info.upperDir ?? '',
        diffIds: info.diffIds,
        readOnly: info.readOnly,
        mounted: info.mounted,
      };
    }),
    GcLayers: unary(GcLayersRequest, GcLayersResponse, async (req) => storage.gcLayers(req.referencedDiffIds)),
    ImageFsUsage: unary(ImageFsUsageRequest, ImageFsInfoResponse, async () => {
      const u = await storage.imageFsUsage();
      return { imageFilesystems: u.imageFilesystems.map(usage), containerFilesystems: u.containerFilesystems.map(usage) };
    }),
    ContainerUsage: unary(RootfsRequest, UsageResponse, async (req) => ({ usage: usage(await storage.containerUsage(req.containerId)) })),
    ReconcileRootfs: unary(ReconcileRootfsRequest, ReconcileRootfsResponse, async (req) => {
      const report = await storage.reconcile(req.knownContainerIds);
      return { remounted: report.rootfs.remounted, stale: report.rootfs.stale };
    }),
  };
}
