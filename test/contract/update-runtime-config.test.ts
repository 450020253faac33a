// UpdateRuntimeConfig against the api.proto contract: the kubelet hands the node's pod CIDR to the
// runtime; "If the CIDR is empty, runtimes should omit it" — a request without one (the minimal,
// zero-byte request) changes nothing, as containerd answers; a CIDR is used by a network whose
// config asks for it (a usePodCidr placeholder): NetworkReady waits for it and pods get their IPs
// from it.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import type { PodSandboxStatusResponse, StatusResponse } from '@crius/common/cri';
import { failure, ok, pb } from './helpers.js';
import { runMinimalPod, useRuntimeEnv, type RuntimeEnv } from './runtime-env.js';

let env: RuntimeEnv;
useRuntimeEnv((e) => (env = e));

const networkReady = async () => (await ok<StatusResponse>(env.client, 'Status', Buffer.alloc(0))).status!.conditions.find((c) => c.type === 'NetworkReady')!;
/** UpdateRuntimeConfigRequest { runtime_config { network_config { pod_cidr } } }. */
const withCidr = (cidr: string) => pb.msg(1, pb.msg(1, pb.str(1, cidr)));
const podIp = async () => {
  const { id } = await runMinimalPod(env);
  return (await ok<PodSandboxStatusResponse>(env.client, 'PodSandboxStatus', { podSandboxId: id })).status!.network!.ip;
};

describe('UpdateRuntimeConfig', () => {
  // The stack's own subnet byte keeps this CIDR apart from other stacks on the machine.
  const tag = () => env.s.config.network.default_subnet.split('.')[2];
  const cidr = () => `10.245.${tag()}.0/24`;

  it('a network that asks for the pod CIDR: not ready without one, and a request without one changes nothing', async () => {
    // The stack's bridge network once more, first in name order, with its range left to the pod CIDR.
    const dir = path.join(env.s.dir, 'cni');
    const base = (await readdir(dir)).filter((f) => f.endsWith('.conflist')).sort()[0]!;
    const conf = JSON.parse(await readFile(path.join(dir, base), 'utf8')) as { name: string; plugins: { ipam?: { ranges?: unknown } }[] };
    conf.name = 'contract-pod-cidr';
    conf.plugins.find((p) => p.ipam)!.ipam!.ranges = [[{ subnet: 'usePodCidr' }]];
    await writeFile(path.join(dir, '00-contract-pod-cidr.conflist'), JSON.stringify(conf));
    const waiting = await networkReady();
    expect(waiting).toMatchObject({ status: false, reason: 'NetworkPluginNotReady' });
    expect(waiting.message).toContain('UpdateRuntimeConfig');
    await ok(env.client, 'UpdateRuntimeConfig', Buffer.alloc(0));
    expect((await networkReady()).status).toBe(false);
  });

  it('full request (a pod CIDR): NetworkReady, and pods get their IPs from it', async () => {
    await ok(env.client, 'UpdateRuntimeConfig', withCidr(cidr()));
    expect(await networkReady()).toMatchObject({ status: true });
    expect(await podIp()).toMatch(new RegExp(`^10\\.245\\.${tag()}\\.\\d+$`));
  });

  it('an empty CIDR afterwards (minimal request, or the field set empty) is omitted: the CIDR stays', async () => {
    await ok(env.client, 'UpdateRuntimeConfig', Buffer.alloc(0));
    await ok(env.client, 'UpdateRuntimeConfig', withCidr(''));
    expect(await networkReady()).toMatchObject({ status: true });
    expect(await podIp()).toMatch(new RegExp(`^10\\.245\\.${tag()}\\.\\d+$`));
  });

  it('a value that is not a CIDR: INVALID_ARGUMENT naming it, the CIDR unchanged', async () => {
    const f = await failure(env.client, 'UpdateRuntimeConfig', withCidr('10.245.0.0/99'));
    expect(f.code).toBe(status.INVALID_ARGUMENT);
    expect(f.details).toContain('10.245.0.0/99');
    expect(await podIp()).toMatch(new RegExp(`^10\\.245\\.${tag()}\\.\\d+$`));
  });
});
