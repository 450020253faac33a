// @crius/image-svc public surface: the transport-free ImageService and the
// types the bus adapter and runtime-svc use. Owner: image-svc.
export { ImageService, type ImageServiceOptions, type ImageStatusResult } from './image-service.js';
export type { LayerUnpacker, PullProgress, ProgressListener } from './pull.js';
export type { CriImage, ImageRuntimeConfig } from './image-view.js';
export type { AuthConfig } from './auth.js';
export type { ImageConfigSummary, LayerRecord } from './image-index.js';
export type { RegistriesConfig, RegistryConfig, MirrorConfig } from './registries.js';
export { DEFAULT_REGISTRIES, validateRegistriesConfig } from './registries.js';
export type { Platform } from './platform.js';
export type { RetryOptions, HttpTimeouts } from './http.js';
export { parseReference, familiarString, formatReference, type ImageReference } from './reference.js';
export type { ImportedImage } from './import.js';
export {
  buildBusyboxLayout, writeOciLayoutTar, writeOciLayoutDir, layoutFiles, DEMO_REF, DEMO_CMD, DEMO_APPLETS, REF_NAME_ANNOTATION,
  type BusyboxLayoutOptions, type BuiltLayout, type LayoutFile,
} from './oci-layout-writer.js';
export {
  blob, buildImage, buildIndex, buildLayer, buildTar, busyboxEntries, descriptor, packTar,
  type Blob, type BuiltImage, type BuiltIndex, type FileEntry, type ImageBuildOptions, type Layer,
} from './image-builder.js';
