// Image commands: pull (with per-layer progress from the bus on a terminal),
// images, inspecti, rmi, imagefsinfo — CRI ImageService calls on any endpoint.
import {
  ImageFsInfoRequest,
  ImageStatusRequest,
  ListImagesRequest,
  PullImageRequest,
  RemoveImageRequest,
  PodSandboxConfig,
  type AuthConfig,
  type Image,
} from '@crius/common/cri';
import { CliError, UsageError, expectArgs, println, type Command, type Ctx, type Values } from '../command.js';
import { decodeInfo, humanSize, machineOutput, outputFormat, table, truncId, type OutputFormat } from '../format.js';
import { PullBoard, TtyProgress, watchPullProgress } from '../pull-progress.js';
import { TIMEOUT, eachArg, listContainers, unary } from '../rpc.js';
import { loadSpecFile } from '../spec-files.js';

export interface PullOptions {
  auth?: Partial<AuthConfig>;
  sandboxConfig?: PodSandboxConfig;
  /** Draw per-layer bars on stderr (only when it is a terminal). */
  progress?: boolean;
}

/** `--creds user[:password]` to CRI auth. */
export function parseCreds(creds: unknown): Partial<AuthConfig> | undefined {
  if (typeof creds !== 'string') return undefined;
  const i = creds.indexOf(':');
  if (i === 0 || creds === '') throw new UsageError('--creds: expected USERNAME[:PASSWORD]');
  return i < 0 ? { username: creds } : { username: creds.slice(0, i), password: creds.slice(i + 1) };
}

/** Progress bars only for our own stack (its bus), on a terminal. */
function wantsBars(ctx: Ctx, opts: PullOptions): boolean {
  if (!opts.progress || !ctx.stderr.isTTY) return false;
  try {
    return ctx.endpoint() === ctx.config().api.listen;
  } catch {
    return false;
  }
}

export async function pullImage(ctx: Ctx, image: string, opts: PullOptions = {}): Promise<string> {
  const board = new PullBoard();
  const tty = new TtyProgress(ctx.stderr, board);
  const stop = wantsBars(ctx, opts)
    ? await watchPullProgress(ctx.config(), image, (p) => {
        board.update(p);
        tty.draw();
      })
    : undefined;
  try {
    const req = PullImageRequest.fromPartial({ image: { image }, auth: opts.auth, sandboxConfig: opts.sandboxConfig });
    const r = await unary(ctx, 'PullImage', (c) => [c.image, c.image.pullImage], req, TIMEOUT.pull);
    return r.imageRef;
  } finally {
    await stop?.();
    if (board.layers.size) tty.draw(true);
  }
}

export async function imageStatus(ctx: Ctx, image: string, verbose = false) {
  return unary(ctx, 'ImageStatus', (c) => [c.image, c.image.imageStatus], ImageStatusRequest.fromPartial({ image: { image }, verbose }));
}

/** Pulls `image` unless the endpoint already has it. */
export async function ensureImage(ctx: Ctx, image: string, opts: PullOptions = {}): Promise<void> {
  if ((await imageStatus(ctx, image)).image) return;
  await pullImage(ctx, image, opts);
}

function splitRepoTag(tag: string): [string, string] {
  const i = tag.lastIndexOf(':');
  return i > tag.lastIndexOf('/') ? [tag.slice(0, i), tag.slice(i + 1)] : [tag, '<none>'];
}

function imageRows(images: Image[], v: Values): string[][] {
  const noTrunc = v['no-trunc'] === true;
  const rows: string[][] = [];
  for (const img of images) {
    const digest = img.repoDigests[0]?.split('@')[1] ?? '<none>';
    const tags = img.repoTags.length ? img.repoTags : [img.repoDigests[0]?.split('@')[0] ? `${img.repoDigests[0].split('@')[0]}:<none>` : '<none>:<none>'];
    for (const t of tags) {
      const [repo, tag] = splitRepoTag(t);
      const row = [repo, tag];
      if (v.digests) row.push(noTrunc ? digest : truncId(digest));
      row.push(truncId(img.id, noTrunc), humanSize(img.size));
      if (v.verbose) row.push(img.pinned ? 'true' : 'false');
      rows.push(row);
    }
  }
  return rows;
}

const pull: Command = {
  name: 'pull',
  args: 'IMAGE',
  summary: 'Pull an image (progress bars per layer on a terminal).',
  help: `options:
  --creds USER[:PASS]   registry credentials
  --pod-config FILE     pod sandbox config passed to the runtime (JSON or YAML)
  -q, --quiet           print only the image id`,
  options: { creds: { type: 'string' }, 'pod-config': { type: 'string' }, quiet: { type: 'boolean', short: 'q' } },
  async run(ctx, v, pos) {
    expectArgs(pos, ['IMAGE']);
    const sandboxConfig = v['pod-config'] ? await loadSpecFile(v['pod-config'] as string, PodSandboxConfig) : undefined;
    const ref = await pullImage(ctx, pos[0]!, { auth: parseCreds(v.creds), sandboxConfig, progress: !v.quiet });
    println(ctx.stdout, v.quiet ? ref : `Image is up to date for ${ref}`);
    return 0;
  },
};

const images: Command = {
  name: 'images',
  args: '[REPOSITORY[:TAG]]',
  summary: 'List images.',
  help: `options:
  -q, --quiet        only image ids
  --digests          show digests
  --no-trunc         full ids
  -v, --verbose      show whether images are pinned
  -o, --output FMT   table (default), json or yaml`,
  options: {
    quiet: { type: 'boolean', short: 'q' },
    digests: { type: 'boolean' },
    'no-trunc': { type: 'boolean' },
    verbose: { type: 'boolean', short: 'v' },
    output: { type: 'string', short: 'o' },
  },
  async run(ctx, v, pos) {
    expectArgs(pos, [], { variadic: true });
    const format = outputFormat(v.output, 'table');
    // Filtered here, not by the runtime: runtimes differ in how they match a short name.
    let list = (await unary(ctx, 'ListImages', (c) => [c.image, c.image.listImages], ListImagesRequest.fromPartial({}))).images;
    if (pos[0]) list = list.filter((i) => i.repoTags.some((t) => t === pos[0] || splitRepoTag(t)[0] === pos[0]) || i.id.startsWith(pos[0]!) || i.repoDigests.includes(pos[0]!));
    list.sort((a, b) => (a.repoTags[0] ?? a.id).localeCompare(b.repoTags[0] ?? b.id));
    const machine = machineOutput({ images: list }, format);
    if (machine !== undefined) println(ctx.stdout, machine);
    else if (v.quiet) for (const id of new Set(list.map((i) => i.id))) println(ctx.stdout, id);
    else {
      const headers = ['IMAGE', 'TAG', ...(v.digests ? ['DIGEST'] : []), 'IMAGE ID', 'SIZE', ...(v.verbose ? ['PINNED'] : [])];
      println(ctx.stdout, table(headers, imageRows(list, v)));
    }
    return 0;
  },
};

function statusSummary(img: Image): string {
  return [
    `ID:       ${img.id}`,
    `Tags:     ${img.repoTags.join(', ') || '<none>'}`,
    `Digests:  ${img.repoDigests.join(', ') || '<none>'}`,
    `Size:     ${humanSize(img.size)}`,
    `User:     ${img.username || (img.uid ? String(img.uid.value) : '')}`,
  ].join('\n');
}

const inspecti: Command = {
  name: 'inspecti',
  args: 'IMAGE...',
  summary: 'Show the status of images (ImageStatus, verbose).',
  help: `options:
  -o, --output FMT   json (default), yaml or table`,
  options: { output: { type: 'string', short: 'o' } },
  async run(ctx, v, pos) {
    expectArgs(pos, ['IMAGE'], { variadic: true });
    const format: OutputFormat = outputFormat(v.output, 'json');
    return eachArg(ctx, pos, async (ref) => {
      const r = await imageStatus(ctx, ref, true);
      if (!r.image) throw new CliError(`no such image: ${ref}`);
      println(ctx.stdout, machineOutput({ status: r.image, info: decodeInfo(r.info) }, format) ?? statusSummary(r.image));
    });
  },
};

const rmi: Command = {
  name: 'rmi',
  args: 'IMAGE...',
  summary: 'Remove images by name or id.',
  help: `options:
  -a, --all     remove every image
  -p, --prune   remove every image no container uses`,
  options: { all: { type: 'boolean', short: 'a' }, prune: { type: 'boolean', short: 'p' } },
  async run(ctx, v, pos) {
    let refs = pos;
    if (v.all || v.prune) {
      const all = (await unary(ctx, 'ListImages', (c) => [c.image, c.image.listImages], ListImagesRequest.fromPartial({}))).images;
      const used = new Set((v.prune ? await listContainers(ctx) : []).flatMap((c) => [c.imageRef, c.imageId, c.image?.image ?? '']));
      refs = all.filter((i) => !used.has(i.id) && !i.repoTags.some((t) => used.has(t))).map((i) => i.id);
    } else expectArgs(pos, ['IMAGE'], { variadic: true });
    return eachArg(ctx, refs, async (ref) => {
      const img = (await imageStatus(ctx, ref)).image;
      if (!img) throw new CliError(`no such image: ${ref}`);
      await unary(ctx, 'RemoveImage', (c) => [c.image, c.image.removeImage], RemoveImageRequest.fromPartial({ image: { image: img.id } }));
      for (const name of img.repoTags.length ? img.repoTags : [img.id]) println(ctx.stdout, `Deleted: ${name}`);
    });
  },
};

const imagefsinfo: Command = {
  name: 'imagefsinfo',
  args: '',
  summary: 'Show the filesystem usage of the image store (ImageFsInfo).',
  options: { output: { type: 'string', short: 'o' } },
  async run(ctx, v) {
    const r = await unary(ctx, 'ImageFsInfo', (c) => [c.image, c.image.imageFsInfo], ImageFsInfoRequest.fromPartial({}));
    const format = outputFormat(v.output, 'json');
    const rows = [...r.imageFilesystems, ...r.containerFilesystems].map((f) => [f.fsId?.mountpoint ?? '', humanSize(f.usedBytes?.value ?? 0n), String(f.inodesUsed?.value ?? 0n)]);
    println(ctx.stdout, machineOutput(r, format) ?? table(['MOUNTPOINT', 'USED', 'INODES'], rows));
    return 0;
  },
};

export const imageCommands: Command[] = [pull, images, inspecti, rmi, imagefsinfo];
