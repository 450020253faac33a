// CreateContainer against the api.proto contract: the minimal config (metadata name, image) in
// a minimal pod makes a CREATED container of the image's own command; image_id "MUST always
// match PullImageResponse.image_ref"; the image may be named by tag, image ID or digest; a full
// config comes back in ContainerStatus unaltered (annotations "MUST be identical") and is applied
// when it runs; (name, attempt) "is unique within a sandbox"; run_as_group without a user and a
// run_as_username the image lacks "MUST error".
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { ContainerState, Signal, type ListContainersResponse } from '@crius/common/cri';
import { waitFor } from '../harness/pod.js';
import { failure, ok, pb } from './helpers.js';
import {
  ODD_ANNOTATIONS,
  ODD_LABELS,
  containerStatus,
  exec,
  minimal,
  nowNs,
  runMinimalPod,
  runPod,
  useRuntimeEnv,
  type RuntimeEnv,
} from './runtime-env.js';

let env: RuntimeEnv;
useRuntimeEnv((e) => (env = e));

const containerIds = async () => (await ok<ListContainersResponse>(env.client, 'ListContainers', Buffer.alloc(0))).containers.map((c) => c.id);
const create = async (body: Buffer | object) => (await ok<{ containerId: string }>(env.client, 'CreateContainer', body)).containerId;

describe('CreateContainer', () => {
  it('minimal request (pod id, metadata name, image): CREATED, the image ID, and the image command once started', async () => {
    const { id: podId } = await runMinimalPod(env);
    const before = nowNs();
    const id = await create(minimal.createContainer(podId, 'minimal', env.image));
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const st = (await containerStatus(env, id)).status!;
    expect(st).toMatchObject({ id, metadata: { name: 'minimal', attempt: 0 }, state: ContainerState.CONTAINER_CREATED, startedAt: 0n, finishedAt: 0n, exitCode: 0 });
    expect(st.createdAt).toBeGreaterThanOrEqual(before);
    expect(st.image?.image).toBe(env.image);
    expect(st.imageId).toBe(env.imageId);
    expect(st.labels).toEqual({});
    expect(st.annotations).toEqual({});
    await ok(env.client, 'StartContainer', minimal.id(id));
    const r = await exec(env, id, 'tr "\\0" " " < /proc/1/cmdline; echo; echo $FROM_IMAGE');
    expect(r.out).toBe('sleep 3600 \nyes\n');
  });

  it('the image named by its ID or its repo digest, as the kubelet passes PullImage\'s image_ref', async () => {
    const { id: podId } = await runMinimalPod(env);
    const digest = (await ok<{ image?: { repoDigests: string[] } }>(env.client, 'ImageStatus', { image: { image: env.image } })).image!.repoDigests[0]!;
    for (const [name, image] of [['by-id', env.imageId], ['by-digest', digest]] as const) {
      const id = await create(minimal.createContainer(podId, name, image));
      const st = (await containerStatus(env, id)).status!;
      expect(st.image?.image, name).toBe(image);
      expect(st.imageId, name).toBe(env.imageId);
    }
  });

  it('full request: every field kept as sent in ContainerStatus and applied in the running container', async () => {
    const pod = await runPod(env);
    const volume = path.join(env.s.dir, 'volume');
    await mkdir(volume, { recursive: true });
    await writeFile(path.join(volume, 'file'), 'from-host\n');
    const config = {
      metadata: { name: 'full', attempt: 2 },
      image: { image: env.image, annotations: { 'io.crius.test/image': 'x' }, userSpecifiedImage: env.image, runtimeHandler: '', imageRef: env.imageId },
      command: ['sh', '-c'],
      args: ['echo "$0 $1 $GREETING $FROM_IMAGE"; exec sleep 3600', 'zero', 'one'],
      workingDir: '/home/app',
      envs: [{ key: 'GREETING', value: 'hello' }, { key: 'FROM_IMAGE', value: 'overridden' }],
      mounts: [{ containerPath: '/data', hostPath: volume, readonly: true, selinuxRelabel: false, propagation: 0 }],
      devices: [{ containerPath: '/dev/contract-null', hostPath: '/dev/null', permissions: 'rwm' }],
      labels: ODD_LABELS,
      annotations: ODD_ANNOTATIONS,
      logPath: 'full/2.log',
      stdin: false,
      stdinOnce: false,
      tty: false,
      linux: {
        resources: { cpuPeriod: 100000n, cpuQuota: 50000n, cpuShares: 512n, memoryLimitInBytes: 64n * 1024n * 1024n, oomScoreAdj: 900n },
        securityContext: {
          namespaceOptions: { network: 0, pid: 1, ipc: 0 },
          runAsUser: { value: 1000 },
          runAsGroup: { value: 1000 },
          readonlyRootfs: true,
          supplementalGroups: [4242],
          noNewPrivs: true,
          capabilities: { addCapabilities: [], dropCapabilities: ['ALL'], addAmbientCapabilities: [] },
          maskedPaths: ['/proc/kcore'],
          readonlyPaths: ['/proc/sys'],
          seccomp: { profileType: 0, localhostRef: '' },
        },
      },
      stopSignal: Signal.SIGINT,
    };
    const id = await create({ podSandboxId: pod.id, config, sandboxConfig: pod.config });
    const st = (await containerStatus(env, id)).status!;
    expect(st.metadata).toEqual(config.metadata);
    expect(st.labels).toEqual(ODD_LABELS);
    expect(st.annotations).toEqual(ODD_ANNOTATIONS);
    expect(st.image).toMatchObject({ image: env.image, annotations: { 'io.crius.test/image': 'x' } });
    expect(st.imageId).toBe(env.imageId);
    expect(st.mounts).toEqual([expect.objectContaining({ containerPath: '/data', hostPath: volume, readonly: true })]);
    expect(st.logPath).toBe(path.join(pod.config.logDirectory, 'full/2.log'));
    expect(st.resources?.linux).toMatchObject({ cpuShares: 512n, memoryLimitInBytes: 64n * 1024n * 1024n, cpuQuota: 50000n, cpuPeriod: 100000n });
    expect(st.user?.linux).toMatchObject({ uid: 1000n, gid: 1000n });
    expect(st.user?.linux?.supplementalGroups).toContain(4242n);
    expect(st.stopSignal).toBe(Signal.SIGINT);

    await ok(env.client, 'StartContainer', minimal.id(id));
    const r = await exec(env, id, [
      'id -u; id -g; pwd; cat /data/file',
      'touch /data/new 2>/dev/null && echo volume-writable || echo volume-read-only',
      'touch /rootfs-write 2>/dev/null && echo rootfs-writable || echo rootfs-read-only',
      'test -c /dev/contract-null && echo device',
      'grep NoNewPrivs /proc/self/status',
      'grep CapEff /proc/self/status',
    ].join('; '));
    expect(r.out.split('\n')).toEqual(['1000', '1000', '/home/app', 'from-host', 'volume-read-only', 'rootfs-read-only', 'device', 'NoNewPrivs:\t1', 'CapEff:\t0000000000000000', '']);
    const log = path.join(pod.config.logDirectory, 'full/2.log');
    await waitFor('the command line in the log', async () => ((await readFile(log, 'utf8').catch(() => '')).includes('zero one hello overridden') ? true : undefined));
  });

  it('a host_path that is a symbolic link: the real destination is mounted', async () => {
    const pod = await runPod(env);
    const real = path.join(env.s.dir, 'real-dir');
    await mkdir(real, { recursive: true });
    await writeFile(path.join(real, 'marker'), 'behind-the-link\n');
    const link = path.join(env.s.dir, 'link-to-real');
    await symlink(real, link);
    const config = { metadata: { name: 'linked' }, image: { image: env.image }, mounts: [{ containerPath: '/linked', hostPath: link }], linux: { securityContext: { namespaceOptions: { network: 0, pid: 1, ipc: 0 } } } };
    const id = await create({ podSandboxId: pod.id, config, sandboxConfig: pod.config });
    await ok(env.client, 'StartContainer', minimal.id(id));
    const r = await exec(env, id, 'cat /linked/marker; test -L /linked && echo link || echo dir');
    expect(r.out).toBe('behind-the-link\ndir\n');
  });

  it('(name, attempt) is unique in a sandbox: the same twice is ALREADY_EXISTS, the next attempt is new', async () => {
    const { id: podId } = await runMinimalPod(env);
    const first = await create(minimal.createContainer(podId, 'twice', env.image));
    const again = await failure(env.client, 'CreateContainer', minimal.createContainer(podId, 'twice', env.image));
    expect(again.code).toBe(status.ALREADY_EXISTS);
    expect(again.details).toContain(first);
    const next = await create({ podSandboxId: podId, config: { metadata: { name: 'twice', attempt: 1 }, image: { image: env.image } } });
    expect(next).not.toBe(first);
    // The same name in another sandbox is another container.
    const { id: other } = await runMinimalPod(env);
    expect(await create(minimal.createContainer(other, 'twice', env.image))).not.toBe(first);
  });

  it('without pod id, config, name or image: INVALID_ARGUMENT naming the field, nothing created', async () => {
    const { id: podId } = await runMinimalPod(env);
    const before = await containerIds();
    const cases: [Buffer, string][] = [
      [pb.msg(2, pb.msg(1, pb.str(1, 'c')), pb.msg(2, pb.str(1, env.image))), 'pod_sandbox_id'],
      [pb.str(1, podId), 'config'],
      [Buffer.concat([pb.str(1, podId), pb.msg(2, pb.msg(2, pb.str(1, env.image)))]), 'config.metadata.name'],
      [Buffer.concat([pb.str(1, podId), pb.msg(2, pb.msg(1, pb.str(1, 'c')))]), 'config.image.image'],
    ];
    for (const [body, field] of cases) {
      const f = await failure(env.client, 'CreateContainer', body);
      expect(f.code, field).toBe(status.INVALID_ARGUMENT);
      expect(f.details, field).toContain(`${field} is required`);
    }
    expect(await containerIds()).toEqual(before);
  });

  it('an unknown sandbox or an image not on the node: NOT_FOUND naming it, nothing created', async () => {
    const { id: podId } = await runMinimalPod(env);
    const before = await containerIds();
    const noPod = await failure(env.client, 'CreateContainer', minimal.createContainer('f'.repeat(64), 'c', env.image));
    expect(noPod.code).toBe(status.NOT_FOUND);
    expect(noPod.details).toContain('f'.repeat(64));
    const noImage = await failure(env.client, 'CreateContainer', minimal.createContainer(podId, 'c', env.ref('contract/not-pulled:1')));
    expect(noImage.code).toBe(status.NOT_FOUND);
    expect(noImage.details).toContain(env.ref('contract/not-pulled:1'));
    expect(await containerIds()).toEqual(before);
  });

  it('run_as_group without a user, or a run_as_username the image lacks: the runtime MUST error', async () => {
    const { id: podId } = await runMinimalPod(env);
    const before = await containerIds();
    const withSc = (name: string, securityContext: object) => ({ podSandboxId: podId, config: { metadata: { name }, image: { image: env.image }, linux: { securityContext } } });
    const group = await failure(env.client, 'CreateContainer', withSc('group', { runAsGroup: { value: 1000 } }));
    expect(group.code).toBe(status.INVALID_ARGUMENT);
    expect(group.details).toContain('run_as_group');
    const nobody = await failure(env.client, 'CreateContainer', withSc('nobody', { runAsUsername: 'no-such-user' }));
    expect(nobody.code).toBe(status.INVALID_ARGUMENT);
    expect(nobody.details).toContain('no-such-user');
    expect(await containerIds()).toEqual(before);
  });
});
