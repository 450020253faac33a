// Issue 15, the runtime side of the CRI contract, through the socket with
// real runc and crun: an empty pod hostname, stop signals (enum → kernel,
// the image's STOPSIGNAL), run_as_group without a user, ContainerStatus
// resources and user, and host-path mounts (missing source, propagation,
// annotations, PID namespace TARGET).
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { status as grpcStatus, type Client } from '@grpc/grpc-js';
import { Signal } from '@crius/common/cri';
import type { TestStack } from '../harness/stack.js';
import { cri, containerConfig, podConfig, waitFor, usePodStack, type PodStack } from '../harness/pod.js';
import { buildImage, etcEntries, pushImage } from '../fixtures/oci-image.js';

const sh = promisify(execFile);

let stack: PodStack;
let s: TestStack;
let client: Client;
let image: string;

usePodStack((p) => {
  stack = p;
  ({ s, client, image } = p);
});

type Pod = { config: Awaited<ReturnType<typeof podConfig>>; id: string };
type Status = {
  state: number;
  exitCode: number;
  stopSignal: Signal;
  resources?: { linux?: { memoryLimitInBytes: bigint; cpuQuota: bigint; cpuPeriod: bigint; cpuShares: bigint } };
  user?: { linux?: { uid: bigint; gid: bigint; supplementalGroups: bigint[] } };
};
const CONTAINER_NS = { namespaceOptions: { network: 0, pid: 1, ipc: 0 } };

async function pod(extra: Record<string, unknown> = {}, handler = ''): Promise<Pod> {
  const config = await podConfig(s.dir, extra);
  const { podSandboxId } = await cri<{ podSandboxId: string }>(client, 'RunPodSandbox', { config, runtimeHandler: handler });
  return { config, id: podSandboxId };
}

async function create(p: Pod, name: string, command: string[], extra: Record<string, unknown> = {}, img = image): Promise<string> {
  const cfg = containerConfig(name, img, command, { linux: { securityContext: CONTAINER_NS }, ...extra });
  return (await cri<{ containerId: string }>(client, 'CreateContainer', { podSandboxId: p.id, config: cfg, sandboxConfig: p.config })).containerId;
}

async function run(p: Pod, name: string, command: string[], extra: Record<string, unknown> = {}, img = image): Promise<string> {
  const id = await create(p, name, command, extra, img);
  await cri(client, 'StartContainer', { containerId: id });
  return id;
}

const status = (id: string) => cri<{ status: Status; info: Record<string, string> }>(client, 'ContainerStatus', { containerId: id, verbose: true });
const exited = (id: string) => waitFor(`container ${id} to exit`, async () => ((await status(id)).status.state === 2 ? (await status(id)).status : undefined), 20_000);
const logOf = (p: Pod, name: string) => readFile(path.join(p.config.logDirectory, `${name}/0.log`), 'utf8').catch(() => '');
const logSays = (p: Pod, name: string, text: string) => waitFor(`"${text}" in ${name}'s log`, async () => ((await logOf(p, name)).includes(text) ? true : undefined), 15_000);
/** The CRI log's lines without their timestamp/stream/tag prefix. */
const logLines = async (p: Pod, name: string) => (await logOf(p, name)).trim().split('\n').map((l) => l.split(' ').slice(3).join(' '));
const remove = (p: Pod) => cri(client, 'RemovePodSandbox', { podSandboxId: p.id });
const failure = (promise: Promise<unknown>) => promise.then(() => ({ code: grpcStatus.OK, message: 'it succeeded' }), (e: { code: number; message: string }) => e);

async function pushed(name: string, opts: Parameters<typeof buildImage>[0]): Promise<string> {
  await pushImage(stack.reg.url, `e2e/${name}`, '1', await buildImage(opts));
  const ref = `${stack.reg.host}/e2e/${name}:1`;
  await cri(client, 'PullImage', { image: { image: ref } });
  return ref;
}

describe('RunPodSandbox with an empty hostname', () => {
  // Upper case and longer than 63: not a DNS label, as the conformance suite names its pods.
  const longName = `Conformance-Pod-${'X'.repeat(60)}`;

  it.each([
    ['the pod network', {}],
    ['host network', { linux: { securityContext: { namespaceOptions: { network: 2, pid: 1, ipc: 0 } } } }],
  ])('gives a pod with a non-DNS-label name the node hostname in UTS, /etc/hostname and HOSTNAME (%s)', async (_what, extra) => {
    const p = await pod({ ...extra, hostname: '', metadata: { name: longName, namespace: 'e2e', uid: `uid-${Date.now()}`, attempt: 0 } });
    const id = await run(p, 'host', ['sh', '-c', 'hostname; cat /etc/hostname; echo "env:$HOSTNAME"']);
    expect((await exited(id)).exitCode).toBe(0);
    expect(await logLines(p, 'host')).toEqual([os.hostname(), os.hostname(), `env:${os.hostname()}`]);
    const sb = await cri<{ status: { metadata: { name: string }; state: number } }>(client, 'PodSandboxStatus', { podSandboxId: p.id });
    expect(sb.status).toMatchObject({ state: 0, metadata: { name: longName } });
    await remove(p);
  });
});

describe.each([['runc'], ['crun']])('StopContainer signals (%s)', (handler) => {
  it('sends stop_signal SIGTERM as kernel SIGTERM: the trap records it and the container exits 0', async () => {
    const p = await pod({}, handler);
    const id = await run(p, 'term', ['sh', '-c', 'trap "echo got-TERM; exit 0" TERM; echo ready; while :; do sleep 0.1; done'], { stopSignal: Signal.SIGTERM });
    await logSays(p, 'term', 'ready');
    expect((await status(id)).status.stopSignal).toBe(Signal.SIGTERM);
    await cri(client, 'StopContainer', { containerId: id, timeout: 30 });
    expect((await status(id)).status).toMatchObject({ state: 2, exitCode: 0 });
    expect(await logLines(p, 'term')).toContain('got-TERM');
    await remove(p);
  });

  it('sends a non-default stop_signal (SIGINT), not the kernel signal with its enum number', async () => {
    const p = await pod({}, handler);
    // Enum SIGINT is 10: sent as is it would be kernel SIGUSR1.
    const id = await run(p, 'int', ['sh', '-c', 'trap "echo got-INT; exit 0" INT; trap "echo got-USR1; exit 1" USR1; echo ready; while :; do sleep 0.1; done'], {
      stopSignal: Signal.SIGINT,
    });
    await logSays(p, 'int', 'ready');
    await cri(client, 'StopContainer', { containerId: id, timeout: 30 });
    expect((await status(id)).status).toMatchObject({ state: 2, exitCode: 0, stopSignal: Signal.SIGINT });
    expect(await logLines(p, 'int')).toContain('got-INT');
    await remove(p);
  });
});

describe('the image STOPSIGNAL', () => {
  const trapping = ['sh', '-c', 'trap "echo got-USR1; exit 0" USR1; trap "echo got-TERM; exit 3" TERM; trap "echo got-QUIT; exit 4" QUIT; echo ready; while :; do sleep 0.1; done'];

  it('is what a graceful stop sends when the container sets none, and what status reports', async () => {
    const usr1 = await pushed('stopsignal-usr1', { cmd: ['sh'], stopSignal: 'SIGUSR1' });
    const p = await pod();
    const id = await run(p, 'usr1', trapping, {}, usr1);
    await logSays(p, 'usr1', 'ready');
    expect((await status(id)).status.stopSignal).toBe(Signal.SIGUSR1);
    await cri(client, 'StopContainer', { containerId: id, timeout: 30 });
    expect((await status(id)).status).toMatchObject({ state: 2, exitCode: 0 });
    expect(await logLines(p, 'usr1')).toContain('got-USR1');

    // The container's own stop_signal wins over the image's; a number in STOPSIGNAL works too.
    const numeric = await pushed('stopsignal-3', { cmd: ['sh'], stopSignal: '3' });
    const quit = await run(p, 'quit', trapping, {}, numeric);
    const over = await run(p, 'over', trapping, { stopSignal: Signal.SIGTERM }, usr1);
    await logSays(p, 'quit', 'ready');
    await logSays(p, 'over', 'ready');
    expect((await status(quit)).status.stopSignal).toBe(Signal.SIGQUIT);
    await cri(client, 'StopContainer', { containerId: quit, timeout: 30 });
    await cri(client, 'StopContainer', { containerId: over, timeout: 30 });
    expect((await status(quit)).status.exitCode).toBe(4);
    expect((await status(over)).status.exitCode).toBe(3);
    await remove(p);
  });

  it('reports SIGTERM when neither the container nor the image sets one', async () => {
    const p = await pod();
    const id = await create(p, 'plain', ['sleep', '3600']);
    expect((await status(id)).status.stopSignal).toBe(Signal.SIGTERM);
    await remove(p);
  });

  it('refuses an invalid STOPSIGNAL at create with INVALID_ARGUMENT, leaving nothing', async () => {
    const bad = await pushed('stopsignal-bad', { cmd: ['sh'], stopSignal: 'SIGNOTONE' });
    const p = await pod();
    const err = await failure(create(p, 'bad', ['true'], {}, bad));
    expect(err.code).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(err.message).toContain('image STOPSIGNAL "SIGNOTONE"');
    expect((await cri<{ containers: unknown[] }>(client, 'ListContainers', { filter: { podSandboxId: p.id } })).containers).toEqual([]);
    await remove(p);
  });
});

describe('run_as_group without a user', () => {
  it('is INVALID_ARGUMENT for a container, even when the image names a user', async () => {
    const withUser = await pushed('user-app', { cmd: ['sh'], user: 'app' });
    const p = await pod();
    for (const img of [image, withUser]) {
      const err = await failure(create(p, 'grp', ['id'], { linux: { securityContext: { ...CONTAINER_NS, runAsGroup: { value: 1000 } } } }, img));
      expect(err.code).toBe(grpcStatus.INVALID_ARGUMENT);
      expect(err.message).toContain('run_as_group 1000 is set without run_as_user or run_as_username');
    }
    expect((await cri<{ containers: unknown[] }>(client, 'ListContainers', { filter: { podSandboxId: p.id } })).containers).toEqual([]);
    // With a user it is fine.
    const ok = await run(p, 'grp-ok', ['sh', '-c', 'id -u; id -g'], { linux: { securityContext: { ...CONTAINER_NS, runAsUser: { value: 1000 }, runAsGroup: { value: 2000 } } } });
    expect((await exited(ok)).exitCode).toBe(0);
    expect(await logLines(p, 'grp-ok')).toEqual(['1000', '2000']);
    await remove(p);
  });

  it('is INVALID_ARGUMENT for a pod sandbox, leaving no sandbox', async () => {
    const config = await podConfig(s.dir, { linux: { securityContext: { runAsGroup: { value: 1000 } } } });
    const err = await failure(cri(client, 'RunPodSandbox', { config }));
    expect(err.code).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(err.message).toContain('run_as_group 1000 is set without run_as_user');
    const list = await cri<{ items: { metadata: { name: string } }[] }>(client, 'ListPodSandbox', {});
    expect(list.items.filter((i) => i.metadata.name === config.metadata.name)).toEqual([]);
  });
});

describe('ContainerStatus', () => {
  it('shows the resources as updated, also after runtime-svc restarts', async () => {
    const p = await pod();
    const mib = (n: number) => BigInt(n * 1024 * 1024);
    const id = await run(p, 'res', ['sleep', '3600'], {
      linux: { securityContext: CONTAINER_NS, resources: { memoryLimitInBytes: mib(64), cpuShares: 256, cpuPeriod: 100_000, cpuQuota: 50_000 } },
    });
    expect((await status(id)).status.resources?.linux).toMatchObject({ memoryLimitInBytes: mib(64), cpuShares: 256n, cpuQuota: 50_000n });
    await cri(client, 'UpdateContainerResources', { containerId: id, linux: { memoryLimitInBytes: mib(96), cpuShares: 512, cpuPeriod: 100_000, cpuQuota: 80_000 } });
    const want = { memoryLimitInBytes: mib(96), cpuShares: 512n, cpuPeriod: 100_000n, cpuQuota: 80_000n };
    expect((await status(id)).status.resources?.linux).toMatchObject(want);
    const cg = path.join('/sys/fs/cgroup/memory', `crius-e2e-${path.basename(s.dir)}`, id, 'memory.limit_in_bytes');
    expect(BigInt((await readFile(cg, 'utf8')).trim())).toBe(mib(96));

    const child = s.stack.children.get('runtime-svc')!;
    const pid = child.pid!;
    process.kill(pid, 'SIGKILL');
    await waitFor('runtime-svc to come back', async () => (child.pid !== pid && (await s.stack.health('runtime').catch(() => undefined))?.ready ? true : undefined), 20_000);
    expect((await status(id)).status.resources?.linux).toMatchObject(want);
    await remove(p);
  });

  it('shows the user the process got, groups from the image /etc/group included', async () => {
    const groups = etcEntries().map((e) => (e.path === 'etc/group' ? { ...e, content: 'root:x:0:\napp:x:1000:\nstaff:x:50:app\nwheel:x:10:root\n' } : e));
    const img = await pushed('user-groups', { cmd: ['sh'], extraLayers: [groups] });
    const p = await pod();
    const cases = [
      ['by-name', { runAsUsername: 'app', supplementalGroups: [4000] }],
      ['by-uid', { runAsUser: { value: 1000 }, runAsGroup: { value: 3000 } }],
      ['image-default', {}],
    ] as const;
    for (const [name, sc] of cases) {
      const id = await run(p, name, ['sh', '-c', 'id -u; id -g; id -G'], { linux: { securityContext: { ...CONTAINER_NS, ...sc } } }, img);
      expect((await exited(id)).exitCode).toBe(0);
      const [uid, gid, all] = await logLines(p, name);
      const user = (await status(id)).status.user?.linux;
      expect(user, name).toBeDefined();
      expect(String(user!.uid), name).toBe(uid);
      expect(String(user!.gid), name).toBe(gid);
      expect(user!.supplementalGroups.map(String).sort(), name).toEqual(all!.split(' ').sort());
    }
    // What `id` printed above, written out: the image's /etc/group membership counts.
    expect((await status((await cri<{ containers: { id: string; metadata: { name: string } }[] }>(client, 'ListContainers', { filter: { podSandboxId: p.id } })).containers.find((c) => c.metadata.name === 'by-name')!.id)).status.user?.linux).toEqual({
      uid: 1000n,
      gid: 1000n,
      supplementalGroups: [1000n, 50n, 4000n],
    });
    await remove(p);
  });
});

describe('mounts', () => {
  it('creates a missing host path as a directory', async () => {
    const p = await pod();
    const host = path.join(s.dir, 'missing', 'deep', 'dir');
    const id = await run(p, 'mk', ['sh', '-c', 'echo hello > /data/file'], { mounts: [{ containerPath: '/data', hostPath: host }] });
    expect((await exited(id)).exitCode).toBe(0);
    const st = await stat(host);
    expect(st.isDirectory()).toBe(true);
    expect(st.mode & 0o777).toBe(0o755);
    expect(await readFile(path.join(host, 'file'), 'utf8')).toBe('hello\n');
    await remove(p);
  });

  it('puts the labels and annotations in the OCI spec annotations', async () => {
    const p = await pod();
    const id = await create(p, 'ann', ['true'], {
      labels: { 'io.kubernetes.container.name': 'ann', tier: 'web' },
      annotations: { 'io.kubernetes.container.hash': 'abc123', 'hook.example.com/enable': 'yes' },
    });
    const bundle = JSON.parse((await status(id)).info.info!).bundle as string;
    const spec = JSON.parse(await readFile(path.join(bundle, 'config.json'), 'utf8')) as { annotations: Record<string, string> };
    expect(spec.annotations).toMatchObject({
      'io.kubernetes.container.name': 'ann',
      tier: 'web',
      'io.kubernetes.container.hash': 'abc123',
      'hook.example.com/enable': 'yes',
      'io.kubernetes.cri.container-type': 'container',
      'io.kubernetes.cri.container-name': 'ann',
      'io.kubernetes.cri.sandbox-id': p.id,
      'io.kubernetes.cri.sandbox-name': p.config.metadata.name,
      'io.kubernetes.cri.sandbox-namespace': 'e2e',
      'io.kubernetes.cri.sandbox-uid': p.config.metadata.uid,
      'io.kubernetes.cri.image-name': image,
    });
    await remove(p);
  });

  describe('propagation', () => {
    /** A directory that is a mount of its own, with the propagation asked for; unmounted afterwards. */
    async function ownMount(name: string, how: string[]): Promise<{ dir: string; done: () => Promise<void> }> {
      const dir = path.join(s.dir, 'prop', name);
      await mkdir(dir, { recursive: true });
      await sh('mount', ['--bind', dir, dir]);
      for (const flag of how) await sh('mount', [flag, dir]);
      return {
        dir,
        done: async () => {
          const mounts = (await readFile('/proc/self/mounts', 'utf8')).split('\n').map((l) => l.split(' ')[1] ?? '');
          for (const m of mounts.filter((m) => m === dir || m.startsWith(dir + '/')).reverse()) await sh('umount', ['-l', m]).catch(() => undefined);
        },
      };
    }

    it('refuses Bidirectional and HostToContainer on a private mount with FAILED_PRECONDITION', async () => {
      const priv = await ownMount('private', ['--make-private']);
      try {
        const p = await pod();
        for (const propagation of [2, 1]) {
          const err = await failure(create(p, `prop${propagation}`, ['true'], { mounts: [{ containerPath: '/vol', hostPath: priv.dir, propagation }], linux: { securityContext: { ...CONTAINER_NS, privileged: true } } }));
          expect(err.code).toBe(grpcStatus.FAILED_PRECONDITION);
          expect(err.message).toContain(`host path "${priv.dir}" is on mount "${priv.dir}", which is private`);
        }
        await remove(p);
      } finally {
        await priv.done();
      }
    });

    it('lets a Bidirectional mount on a shared mount carry a container mount back to the host', async () => {
      const shared = await ownMount('shared', ['--make-private', '--make-shared']);
      try {
        await mkdir(path.join(shared.dir, 'sub'));
        const p = await pod();
        const id = await run(p, 'bidir', ['sh', '-c', 'mount -t tmpfs inner /vol/sub && echo from-container > /vol/sub/f && echo mounted; sleep 3600'], {
          mounts: [{ containerPath: '/vol', hostPath: shared.dir, propagation: 2 }],
          linux: { securityContext: { ...CONTAINER_NS, privileged: true } },
        });
        await logSays(p, 'bidir', 'mounted');
        expect(await readFile(path.join(shared.dir, 'sub', 'f'), 'utf8')).toBe('from-container\n');
        await cri(client, 'StopContainer', { containerId: id, timeout: 0 });
        await remove(p);
      } finally {
        await shared.done();
      }
    });

    it('lets a HostToContainer mount on a slave mount see host mounts made later', async () => {
      const master = await ownMount('master', ['--make-private', '--make-shared']);
      const slaveDir = path.join(s.dir, 'prop', 'slave');
      await mkdir(path.join(master.dir, 'late'), { recursive: true });
      await mkdir(slaveDir, { recursive: true });
      await sh('mount', ['--bind', master.dir, slaveDir]);
      await sh('mount', ['--make-slave', slaveDir]);
      try {
        const p = await pod();
        await run(p, 'h2c', ['sh', '-c', 'echo ready; i=0; while [ ! -e /vol/late/marker ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; cat /vol/late/marker'], {
          mounts: [{ containerPath: '/vol', hostPath: slaveDir, propagation: 1 }],
        });
        await logSays(p, 'h2c', 'ready');
        await sh('mount', ['-t', 'tmpfs', 'late', path.join(master.dir, 'late')]);
        await writeFile(path.join(master.dir, 'late', 'marker'), 'from-host\n');
        await logSays(p, 'h2c', 'from-host');
        await remove(p);
      } finally {
        for (const m of [path.join(slaveDir, 'late'), slaveDir]) await sh('umount', ['-l', m]).catch(() => undefined);
        await master.done();
        await rm(path.join(s.dir, 'prop'), { recursive: true, force: true });
      }
    });
  });
});

describe.each([['runc'], ['crun']])('PID namespace TARGET (%s)', (handler) => {
  it("joins the target container's PID namespace", async () => {
    const p = await pod({}, handler);
    const target = await run(p, 'target', ['sleep', '3600']);
    const debug = await run(p, 'debug', ['sh', '-c', 'cat /proc/1/cmdline | tr "\\0" " "; echo; ps'], {
      linux: { securityContext: { namespaceOptions: { network: 0, pid: 3, ipc: 0, targetId: target } } },
    });
    expect((await exited(debug)).exitCode).toBe(0);
    const lines = await logLines(p, 'debug');
    expect(lines[0]!.trim()).toBe('sleep 3600');
    expect(lines.filter((l) => l.includes('sleep 3600'))).toHaveLength(2);
    // A container of its own PID namespace sees itself as PID 1.
    const own = await run(p, 'own', ['sh', '-c', 'cat /proc/1/cmdline | tr "\\0" " "']);
    await exited(own);
    expect((await logLines(p, 'own'))[0]).toMatch(/^sh -c/);
    await remove(p);
  });

  it('refuses an unknown, stopped or foreign target', async () => {
    const p = await pod({}, handler);
    const other = await pod({}, handler);
    const targetNs = (targetId: string) => ({ linux: { securityContext: { namespaceOptions: { network: 0, pid: 3, ipc: 0, targetId } } } });
    const unknown = await failure(create(p, 'd1', ['true'], targetNs('0123456789abcdef')));
    expect(unknown.code).toBe(grpcStatus.NOT_FOUND);
    expect(unknown.message).toContain('target container "0123456789abcdef" not found');

    const done = await run(p, 'done', ['true']);
    await exited(done);
    const stopped = await failure(create(p, 'd2', ['true'], targetNs(done)));
    expect(stopped.code).toBe(grpcStatus.FAILED_PRECONDITION);
    expect(stopped.message).toContain(`target container ${done} is exited, not running`);

    const created = await create(p, 'not-started', ['sleep', '3600']);
    expect((await failure(create(p, 'd3', ['true'], targetNs(created)))).code).toBe(grpcStatus.FAILED_PRECONDITION);

    const foreign = await run(other, 'foreign', ['sleep', '3600']);
    const err = await failure(create(p, 'd4', ['true'], targetNs(foreign)));
    expect(err.code).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(err.message).toContain(`belongs to pod sandbox ${other.id}`);
    expect((await cri<{ containers: { metadata: { name: string } }[] }>(client, 'ListContainers', { filter: { podSandboxId: p.id } })).containers.map((c) => c.metadata.name).sort()).toEqual(['done', 'not-started']);
    await remove(p);
    await remove(other);
  });
});
