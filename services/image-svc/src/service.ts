// image-svc: load the image index and content store, then serve pulls and
// image queries. Registry settings come from [image] in crius.toml.
import { InvalidArgumentError, assertNotRoot, contentStoreDir, eventSubject, type CriusConfig, type ServiceDefinition } from '@crius/common';
import { ImagePullProgress } from '@crius/common/proto/events';
import { imageEndpoints, storageUnpacker } from './bus.js';
import { ImageService } from './image-service.js';
import type { Platform } from './platform.js';
import { SignaturePolicy } from './policy/signature-policy.js';
import { registriesFromConfig } from './registries-config.js';

export { registriesFromConfig };

/** [image] pinned_images plus the sandbox image. */
export function pinnedFromConfig(cfg: CriusConfig): string[] {
  return cfg.image.pause_image ? [...cfg.image.pinned_images, cfg.image.pause_image] : [...cfg.image.pinned_images];
}

/** `os/arch[/variant]` from [image] platform. */
export function parsePlatform(text: string): Platform {
  const [os, architecture, variant, ...rest] = text.split('/');
  if (!os || !architecture || rest.length) throw new InvalidArgumentError(`config image.platform: expected os/arch[/variant], got ${JSON.stringify(text)}`);
  return { os, architecture, ...(variant ? { variant } : {}) };
}

function allowRoot(config: CriusConfig): boolean {
  return config.image.allow_root || process.env.CRIUS_ALLOW_ROOT === '1';
}

export const imageService: ServiceDefinition = {
  name: 'image',
  version: '0.1.0',
  preflight(config) {
    assertNotRoot('image-svc', allowRoot(config));
  },
  async start({ config, bus, nc, log }) {
    if (allowRoot(config) && process.geteuid?.() === 0) log.warn('running as root because allow_root is set; production runs image-svc as its own user');
    const warn = (message: string) => log.warn(message);
    const registries = await registriesFromConfig(config, warn);
    // A pull re-reads the policy; an unusable one is said now, and every pull will say it too.
    await new SignaturePolicy(config.image.signature_policy).check().catch((err: Error) => log.warn(err.message));
    const images = new ImageService({
      root: contentStoreDir(config),
      unpacker: storageUnpacker(bus),
      registries,
      signaturePolicy: config.image.signature_policy,
      ...(config.image.global_auth_file ? { authFile: config.image.global_auth_file } : {}),
      pinnedImages: pinnedFromConfig(config),
      layerConcurrency: config.image.max_concurrent_downloads,
      ...(config.image.platform ? { platform: parsePlatform(config.image.platform) } : {}),
      onProgress: (e) =>
        nc.publish(
          eventSubject('pull', e.ref),
          ImagePullProgress.encode({ image: e.ref, layerDigest: e.layerDigest, done: BigInt(e.done), total: BigInt(e.total) }).finish(),
        ),
    });
    await images.init();
    void images.collectLayersAtStart().then((r) => {
      if (r.ok) log.info({ attempts: r.attempts }, 'collected layers no image needs');
      else log.warn({ attempts: r.attempts, err: r.error }, 'could not collect unneeded layers at start; the next removal will');
    });
    return { endpoints: imageEndpoints(images, bus, Object.keys(config.runtime.handlers)), stop: () => images.close() };
  },
};
