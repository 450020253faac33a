// image-svc's bus adapter: CRI ImageService messages and
// crius.v1.image.ImageConfig / ImportImage ↔ ImageService; the LayerUnpacker that sends
// layers to storage-svc; removal followed by layer GC in storage-svc; ImageFsInfo answered
// with storage-svc's usage of layers, content store and writable layers.
import { InvalidArgumentError, pages, stream, unary, type BusClient, type BusEndpoint, type CallOptions } from '@crius/common';
import {
  Image,
  ImageFsInfoRequest,
  ImageFsInfoResponse,
  ImageStatusRequest,
  ImageStatusResponse,
  ListImagesRequest,
  ListImagesResponse,
  PullImageRequest,
  PullImageResponse,
  RemoveImageRequest,
  RemoveImageResponse,
  StreamImagesRequest,
  StreamImagesResponse,
  type ImageSpec,
} from '@crius/common/cri';
import { ImageConfigRequest, ImageConfigResponse, ImportImageRequest, ImportImageResponse } from '@crius/common/proto/image';
import { ImagePulled } from '@crius/common/proto/events';
import { EnsureLayersRequest, EnsureLayersResponse, GcLayersRequest, GcLayersResponse, ImageFsUsageRequest } from '@crius/common/proto/storage';
import type { ImageService } from './image-service.js';
import type { CriImage } from './image-view.js';
import type { LayerUnpacker } from './pull.js';

export function toCriImage(i: CriImage): Image {
  return Image.fromPartial({
    id: i.id,
    repoTags: i.repoTags,
    repoDigests: i.repoDigests,
    size: BigInt(i.size),
    uid: i.uid ? { value: BigInt(i.uid.value) } : undefined,
    username: i.username,
    spec: { image: i.spec.image, annotations: i.spec.annotations },
    pinned: i.pinned,
  });
}

/** Layers go to storage-svc, which unpacks each diffID once and collects those nothing keeps. */
export function storageUnpacker(bus: BusClient, opts: () => CallOptions = () => ({})): LayerUnpacker {
  return {
    async unpack(layers) {
      const blobs = layers.map((l) => ({ ...l, growing: l.growing ?? false, size: BigInt(l.size ?? 0) }));
      await bus.call('storage', 'EnsureLayers', EnsureLayersRequest, EnsureLayersResponse, { layers: blobs }, opts());
    },
    async collect(keepDiffIds) {
      await bus.call('storage', 'GcLayers', GcLayersRequest, GcLayersResponse, { referencedDiffIds: keepDiffIds }, opts());
    },
  };
}

/**
 * ImageSpec.runtime_handler: empty selects the default handler; a name no [runtime.handlers]
 * table configures is refused, as the CRI says it should be. Images are shared by all handlers.
 */
export function checkRuntimeHandler(spec: ImageSpec | undefined, handlers: readonly string[], what: string): void {
  const handler = spec?.runtimeHandler ?? '';
  if (handler !== '' && !handlers.includes(handler)) {
    throw new InvalidArgumentError(`${what}: unknown runtime handler ${JSON.stringify(handler)} (configured: ${handlers.join(', ')})`);
  }
}

/** `runtimeHandlers`: the handler names runtime-svc is configured with. */
export function imageEndpoints(images: ImageService, bus: BusClient, runtimeHandlers: readonly string[]): Record<string, BusEndpoint> {
  const filterOf = (req: ListImagesRequest, what: string) => {
    checkRuntimeHandler(req.filter?.image, runtimeHandlers, what);
    return req.filter?.image?.image || undefined;
  };
  return {
    PullImage: unary(PullImageRequest, PullImageResponse, async (req) => {
      checkRuntimeHandler(req.image, runtimeHandlers, `pull ${req.image?.image}`);
      const a = req.auth;
      const auth = a
        ? { username: a.username, password: a.password, auth: a.auth, serverAddress: a.serverAddress, identityToken: a.identityToken, registryToken: a.registryToken }
        : undefined;
      const image = req.image!.image;
      try {
        const imageRef = await images.pull(image, auth, req.sandboxConfig?.annotations);
        const size = (await images.status(imageRef))?.image.size ?? 0;
        bus.publishEvent('image', imageRef, ImagePulled, { image, imageId: imageRef, bytes: BigInt(size), error: '' });
        return { imageRef };
      } catch (err) {
        bus.publishEvent('image', image, ImagePulled, { image, imageId: '', bytes: 0n, error: (err as Error).message });
        throw err;
      }
    }),
    ListImages: unary(ListImagesRequest, ListImagesResponse, async (req) => ({
      images: (await images.list(filterOf(req, 'ListImages'))).map(toCriImage),
    })),
    StreamImages: stream(StreamImagesRequest, StreamImagesResponse, async function* (req) {
      yield* pages((await images.list(filterOf(req, 'StreamImages'))).map(toCriImage), (page) => ({ images: page }));
    }),
    ImageStatus: unary(ImageStatusRequest, ImageStatusResponse, async (req) => {
      checkRuntimeHandler(req.image, runtimeHandlers, `image status ${req.image?.image}`);
      const r = await images.status(req.image!.image, req.verbose);
      return { image: r ? toCriImage(r.image) : undefined, info: r?.info ?? {} };
    }),
    RemoveImage: unary(RemoveImageRequest, RemoveImageResponse, async (req, ctx) => {
      checkRuntimeHandler(req.image, runtimeHandlers, `remove image ${req.image?.image}`);
      await images.remove(req.image!.image);
      await images.collectLayers().catch((err) => ctx.log.warn({ err: (err as Error).message }, 'layer collection after removal failed'));
      return {};
    }),
    ImageFsInfo: unary(ImageFsInfoRequest, ImageFsInfoResponse, async (_req, ctx) =>
      bus.call('storage', 'ImageFsUsage', ImageFsUsageRequest, ImageFsInfoResponse, {}, { deadline: ctx.deadline, requestId: ctx.requestId }),
    ),
    ImageConfig: unary(ImageConfigRequest, ImageConfigResponse, async (req) => {
      const c = await images.imageConfig(req.image);
      return {
        imageId: c.id,
        imageRef: c.repoDigests[0] ?? c.id,
        repoTags: c.repoTags,
        user: c.config.user,
        env: c.config.env,
        entrypoint: c.config.entrypoint,
        cmd: c.config.cmd,
        workingDir: c.config.workingDir,
        stopSignal: c.config.stopSignal,
        labels: c.config.labels,
        diffIds: c.diffIds,
        exposedPorts: c.config.exposedPorts,
      };
    }),
    ImportImage: unary(ImportImageRequest, ImportImageResponse, async (req) => ({
      images: (await images.importArchive(req.path, req.name || undefined)).map((i) => ({ imageId: i.id, repoTags: i.repoTags })),
    })),
  };
}
