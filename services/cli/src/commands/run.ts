// `crius run CTR-CONFIG POD-CONFIG`: pull the image, run the pod, create and
// start the container in one step (like `crictl run`); prints the container
// id. A failure after the pod exists removes the pod, so nothing is left half made.
import { ContainerConfig, PodSandboxConfig } from '@crius/common/cri';
import { expectArgs, println, type Command } from '../command.js';
import { describeError } from '../rpc.js';
import { loadSpecFile } from '../spec-files.js';
import { createContainer, startContainer } from './containers.js';
import { ensureImage, parseCreds } from './images.js';
import { removePod, runPod, stopPod } from './pods.js';

export const runCommand: Command = {
  name: 'run',
  args: 'CTR-CONFIG POD-CONFIG',
  summary: 'Pull, run a pod, create and start a container in it; prints the container id.',
  help: `options:
  -r, --runtime HANDLER   runtime handler (RuntimeClass) of the pod
  --no-pull               fail instead of pulling a missing image
  --creds USER[:PASS]     registry credentials for the pull
  --print-pod             also print the pod id (first line)`,
  options: {
    runtime: { type: 'string', short: 'r' },
    'no-pull': { type: 'boolean' },
    creds: { type: 'string' },
    'print-pod': { type: 'boolean' },
  },
  async run(ctx, v, pos) {
    expectArgs(pos, ['CTR-CONFIG', 'POD-CONFIG']);
    const config = await loadSpecFile(pos[0]!, ContainerConfig);
    const sandbox = await loadSpecFile(pos[1]!, PodSandboxConfig);
    const image = config.image?.image;
    if (image && !v['no-pull']) await ensureImage(ctx, image, { auth: parseCreds(v.creds), sandboxConfig: sandbox, progress: true });
    const podId = await runPod(ctx, sandbox, (v.runtime as string) ?? '');
    let containerId: string;
    try {
      containerId = await createContainer(ctx, podId, config, sandbox);
      await startContainer(ctx, containerId);
    } catch (err) {
      await stopPod(ctx, podId)
        .then(() => removePod(ctx, podId))
        .catch((cleanup) => ctx.stderr.write(`crius: could not remove pod ${podId} after the failure: ${describeError(cleanup, ctx.endpoint())}\n`));
      throw err;
    }
    if (v['print-pod']) println(ctx.stdout, podId);
    println(ctx.stdout, containerId);
    return 0;
  },
};
