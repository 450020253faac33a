// storage-svc's public surface: the StorageService the bus adapter wires, and its types. Owner: storage-svc.
export { StorageService } from './storage-service.js';
export type { EnsuredLayer, FsUsage, LayerInput, StorageReconcileReport, StorageServiceOptions } from './storage-service.js';
export type { LayerRecord, LayerReconcileReport } from './layer-store.js';
export type { RootfsInfo, RootfsReconcileReport } from './rootfs.js';
export type { StorageOs, MountInfo } from './os.js';
export { commandOs } from './os.js';
