// RestorePod (KEP-5823): a new pod sandbox from a pod checkpoint directory
// (checkpoint/pod-layout.ts) and, in it, every checkpointed container
// created from its archive, as CreateContainer does for one. The containers
// are left CREATED, as the KEP asks: StartContainer on each restores its
// processes. The checkpoint directory is only read. On failure the new
// sandbox and its containers are removed.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { InvalidArgumentError, NotFoundError, type HandlerContext } from '@crius/common';
import { PodSandboxConfig, type RestorePodRequest } from '@crius/common/cri';
import { POD_DUMP, POD_OPTIONS } from '../checkpoint/archive.js';
import { POD_CONTAINERS, checkNoOptions, containerConfigsFor, parsePodCheckpoint } from '../checkpoint/pod-layout.js';
import { createContainer } from '../container/create.js';
import type { Runtime } from '../runtime.js';
import { runPodSandbox } from './run.js';
import { removePodSandbox } from './stop.js';

export async function restorePod(rt: Runtime, req: RestorePodRequest, ctx: HandlerContext): Promise<string> {
  const dir = req.path;
  const what = `RestorePod ${dir}`;
  checkNoOptions(req.options, what);
  if (!path.isAbsolute(dir)) throw new InvalidArgumentError(`${what}: path is not an absolute path`);
  const st = await stat(dir).catch(() => undefined);
  if (!st) throw new NotFoundError(`${what}: the checkpoint directory does not exist`);
  if (!st.isDirectory()) throw new InvalidArgumentError(`${what}: path is not a directory (a pod checkpoint is one; a container archive is restored with CreateContainer)`);
  const read = (name: string) => readFile(path.join(dir, name), 'utf8').catch(() => undefined);
  const cp = parsePodCheckpoint({ options: await read(POD_OPTIONS), dump: await read(POD_DUMP), containers: await read(POD_CONTAINERS) }, what);
  const configs = containerConfigsFor(cp, req.containerConfigs, what);
  for (const [name, file] of Object.entries(cp.options.containers)) {
    if (!(await stat(path.join(dir, file)).catch(() => undefined))?.isFile()) throw new InvalidArgumentError(`${what}: the archive ${file} of container ${name} is missing`);
  }
  const sandboxCfg = req.config?.metadata?.name ? req.config : cp.sandbox;
  const podSandboxId = await runPodSandbox(rt, { config: sandboxCfg, runtimeHandler: cp.options.runtimeHandler ?? '' }, ctx);
  try {
    for (const [name, file] of Object.entries(cp.options.containers)) {
      const cfg = configs.get(name)!;
      const config = { ...cfg, image: { ...(cfg.image ?? { annotations: {}, userSpecifiedImage: '', runtimeHandler: '', imageRef: '' }), image: path.join(dir, file) } };
      await createContainer(rt, { podSandboxId, config, sandboxConfig: PodSandboxConfig.fromPartial(sandboxCfg) }, ctx);
    }
  } catch (err) {
    await removePodSandbox(rt, podSandboxId, ctx).catch((e) => ctx.log.error({ sandbox: podSandboxId, err: (e as Error).message }, 'removing the half-restored pod failed'));
    throw err;
  }
  ctx.log.info({ sandbox: podSandboxId, path: dir }, 'restored pod');
  return podSandboxId;
}
