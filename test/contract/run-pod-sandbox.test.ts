// RunPodSandbox against the api.proto contract: the sandbox is ready on success; the minimal
// config (metadata name, uid, namespace only) gets the node's hostname ("Hostname could only be
// empty when the pod network namespace is NODE", yet the kubelet sends it empty and CRI-O and
// containerd use the node's) and the node's resolv.conf; a full config comes back in
// PodSandboxStatus unaltered (annotations "MUST be identical"), with its runtime handler, DNS,
// sysctls and namespaces applied; an unknown runtime_handler "should be rejected".
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { ContainerState, type ListPodSandboxResponse, type PodSandboxStatusResponse } from '@crius/common/cri';
import { podConfig } from '../harness/pod.js';
import { failure, ok, pb } from './helpers.js';
import {
  ODD_ANNOTATIONS,
  ODD_LABELS,
  containerStatus,
  exec,
  minimal,
  nowNs,
  podMetadata,
  runContainer,
  runMinimalPod,
  sandboxStatus,
  useRuntimeEnv,
  type RuntimeEnv,
} from './runtime-env.js';

let env: RuntimeEnv;
useRuntimeEnv((e) => (env = e));

const subnetPrefix = () => env.s.config.network.default_subnet.split('.').slice(0, 3).join('.') + '.';
const listPods = async () => (await ok<ListPodSandboxResponse>(env.client, 'ListPodSandbox', Buffer.alloc(0))).items;

describe('RunPodSandbox', () => {
  it('minimal request (metadata name, uid, namespace): a ready sandbox on the pod network with the node hostname and resolv.conf', async () => {
    const before = nowNs();
    const { id, metadata } = await runMinimalPod(env);
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const r: PodSandboxStatusResponse = await sandboxStatus(env, id);
    expect(r.status).toMatchObject({ id, metadata: { ...metadata, attempt: 0 }, state: 0, labels: {}, annotations: {}, runtimeHandler: env.s.config.runtime.default_handler });
    expect(r.status!.createdAt).toBeGreaterThanOrEqual(before);
    expect(r.status!.createdAt).toBeLessThanOrEqual(nowNs());
    expect(r.status!.network!.ip.startsWith(subnetPrefix())).toBe(true);

    const c = await ok<{ containerId: string }>(env.client, 'CreateContainer', minimal.createContainer(id, 'probe', env.image));
    await ok(env.client, 'StartContainer', minimal.id(c.containerId));
    expect((await exec(env, c.containerId, 'hostname; cat /etc/hostname')).out).toBe(`${os.hostname()}\n${os.hostname()}\n`);
    expect((await exec(env, c.containerId, 'cat /etc/resolv.conf')).out).toBe(await readFile('/etc/resolv.conf', 'utf8'));
    // The pod IP and the hostname in /etc/hosts, as kubelet-managed pods get it.
    expect((await exec(env, c.containerId, 'cat /etc/hosts')).out).toContain(`${r.status!.network!.ip}\t${os.hostname()}`);
  });

  it('full request: every field kept as sent, the handler, DNS, sysctls, namespaces and port mappings applied', async () => {
    const config = await podConfig(env.s.dir, {
      metadata: { ...podMetadata('full'), attempt: 3 },
      hostname: 'contract-full',
      dnsConfig: { servers: ['10.96.0.10', '10.96.0.11'], searches: ['contract.svc.cluster.local', 'svc.cluster.local'], options: ['ndots:5', 'timeout:2'] },
      portMappings: [{ protocol: 0, containerPort: 80, hostPort: 0, hostIp: '' }, { protocol: 1, containerPort: 53, hostPort: 0, hostIp: '' }],
      labels: ODD_LABELS,
      annotations: ODD_ANNOTATIONS,
      linux: {
        sysctls: { 'net.ipv4.ip_unprivileged_port_start': '0', 'kernel.shm_rmid_forced': '1' },
        securityContext: {
          namespaceOptions: { network: 0, pid: 0, ipc: 0 },
          runAsUser: { value: 0 },
          supplementalGroups: [4242],
          seccomp: { profileType: 0, localhostRef: '' },
          privileged: false,
        },
        overhead: { cpuShares: 2n, memoryLimitInBytes: 0n },
        resources: { cpuShares: 102n, memoryLimitInBytes: 256n * 1024n * 1024n },
      },
    });
    const { podSandboxId: id } = await ok<{ podSandboxId: string }>(env.client, 'RunPodSandbox', { config, runtimeHandler: 'crun' });
    const st = (await sandboxStatus(env, id)).status!;
    expect(st.metadata).toEqual(config.metadata);
    expect(st.labels).toEqual(ODD_LABELS);
    expect(st.annotations).toEqual(ODD_ANNOTATIONS);
    expect(st.runtimeHandler).toBe('crun');
    expect(st.linux?.namespaces?.options).toMatchObject({ network: 0, pid: 0, ipc: 0 });
    expect(st.network!.ip.startsWith(subnetPrefix())).toBe(true);
    const listed = (await listPods()).find((p) => p.id === id)!;
    expect(listed).toMatchObject({ metadata: config.metadata, labels: ODD_LABELS, annotations: ODD_ANNOTATIONS, runtimeHandler: 'crun', state: 0 });

    const c = await runContainer(env, { id, config }, 'inside', ['sleep', '3600'], { linux: { securityContext: { namespaceOptions: { network: 0, pid: 0, ipc: 0 } } } });
    expect(JSON.parse((await containerStatus(env, c, true)).info.info!).runtimeHandler).toBe('crun');
    const r = await exec(env, c, 'hostname; cat /etc/resolv.conf; cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/shm_rmid_forced; cat /proc/1/cmdline');
    const [hostname, ...rest] = r.out.split('\n');
    expect(hostname).toBe('contract-full');
    expect(rest.join('\n')).toContain('search contract.svc.cluster.local svc.cluster.local\nnameserver 10.96.0.10\nnameserver 10.96.0.11\noptions ndots:5 timeout:2\n0\n1\n');
    // pid POD: the pod's one PID namespace, held by its pause process.
    expect(r.out).toContain('catatonit');
  });

  it('without config, metadata, name, uid or namespace: INVALID_ARGUMENT naming the field', async () => {
    const md = (name: string, uid: string, ns: string) => pb.msg(1, pb.msg(1, ...[pb.str(1, name), pb.str(2, uid), pb.str(3, ns)].filter((_b, i) => [name, uid, ns][i])));
    const cases: [Buffer, string][] = [
      [Buffer.alloc(0), 'config'],
      [pb.msg(1, pb.str(2, 'host')), 'config.metadata'],
      [md('', 'u1', 'contract'), 'config.metadata.name'],
      [md('p', '', 'contract'), 'config.metadata.uid'],
      [md('p', 'u1', ''), 'config.metadata.namespace'],
    ];
    for (const [body, field] of cases) {
      const f = await failure(env.client, 'RunPodSandbox', body);
      expect(f.code, field).toBe(status.INVALID_ARGUMENT);
      expect(f.details, field).toContain(`${field} is required`);
    }
  });

  it('an unknown runtime handler is rejected with INVALID_ARGUMENT naming it, and leaves no sandbox', async () => {
    const md = podMetadata('handler');
    const f = await failure(env.client, 'RunPodSandbox', Buffer.concat([minimal.runPodSandbox(md), pb.str(2, 'no-such-handler')]));
    expect(f.code).toBe(status.INVALID_ARGUMENT);
    expect(f.details).toContain('"no-such-handler"');
    expect((await listPods()).filter((p) => p.metadata?.name === md.name)).toEqual([]);
    // The empty handler is the default one.
    const { id } = await runMinimalPod(env, podMetadata('default-handler'));
    expect((await sandboxStatus(env, id)).status!.runtimeHandler).toBe(env.s.config.runtime.default_handler);
  });

  it('the same metadata twice: ALREADY_EXISTS; the next attempt is a new sandbox', async () => {
    const md = podMetadata('twice');
    const first = await runMinimalPod(env, md);
    const again = await failure(env.client, 'RunPodSandbox', minimal.runPodSandbox(md));
    expect(again.code).toBe(status.ALREADY_EXISTS);
    expect(again.details).toContain(first.id);
    const next = await ok<{ podSandboxId: string }>(env.client, 'RunPodSandbox', { config: { metadata: { ...md, attempt: 1 } } });
    expect(next.podSandboxId).not.toBe(first.id);
    const attempts = (await listPods()).filter((p) => p.metadata?.uid === md.uid).map((p) => p.metadata!.attempt).sort();
    expect(attempts).toEqual([0, 1]);
  });

  it('run_as_group without run_as_user: the runtime MUST error (INVALID_ARGUMENT)', async () => {
    const md = podMetadata('group');
    const f = await failure(env.client, 'RunPodSandbox', { config: { metadata: md, linux: { securityContext: { runAsGroup: { value: 1000 } } } } });
    expect(f.code).toBe(status.INVALID_ARGUMENT);
    expect(f.details).toContain('run_as_group');
    expect((await listPods()).filter((p) => p.metadata?.name === md.name)).toEqual([]);
  });
});
