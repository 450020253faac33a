import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chmod, copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeadlineExceededError, FailedPreconditionError } from '@crius/common';
import { CniExecutor, CniPluginError, formatCniArgs, k8sCniArgs, pluginStdin, versionAtLeast } from './cni-exec.js';
import type { AttachmentArgs, NetworkConfigList } from './cni-types.js';
import { FAKE_PLUGIN } from './testdata/env.js';

const pod = { sandboxId: 'sb1', name: 'web', namespace: 'default', uid: 'u-1' };

describe('pure helpers', () => {
  it('formats kubelet CNI_ARGS with IgnoreUnknown first', () => {
    expect(formatCniArgs(k8sCniArgs(pod))).toBe('IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=sb1;K8S_POD_UID=u-1');
    expect(() => formatCniArgs([['A', 'x;y']])).toThrow(/CNI_ARGS A=x;y/);
  });

  it('gives runtimeConfig only for declared capabilities, and adds name/version/prevResult', () => {
    const list: NetworkConfigList = { cniVersion: '1.0.0', name: 'n', plugins: [] };
    const caps = { portMappings: [{ hostPort: 80, containerPort: 8080, protocol: 'tcp' as const }], bandwidth: { ingressRate: 8, ingressBurst: 8 } };
    expect(pluginStdin(list, { type: 'bridge' }, caps)).toEqual({ type: 'bridge', name: 'n', cniVersion: '1.0.0' });
    expect(pluginStdin(list, { type: 'portmap', capabilities: { portMappings: true, bandwidth: false } }, caps, { ips: [] })).toEqual({
      type: 'portmap',
      capabilities: { portMappings: true, bandwidth: false },
      name: 'n',
      cniVersion: '1.0.0',
      runtimeConfig: { portMappings: caps.portMappings },
      prevResult: { ips: [] },
    });
  });

  it('compares versions', () => {
    expect(versionAtLeast('1.0.0', '0.4.0')).toBe(true);
    expect(versionAtLeast('0.3.1', '0.4.0')).toBe(false);
    expect(versionAtLeast('0.4.0', '0.4.0')).toBe(true);
  });
});

describe('CniExecutor with a real (test) plugin process', () => {
  let root: string;
  let bin: string;
  let rec: string;
  let cni: CniExecutor;
  const args: AttachmentArgs = {
    containerId: 'sb1',
    netnsPath: '/run/netns/none',
    ifName: 'eth0',
    cniArgs: k8sCniArgs(pod),
    capabilityArgs: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] },
  };
  const calls = async (): Promise<Array<{ env: Record<string, string>; stdin: Record<string, unknown> }>> => {
    const names = (await readdir(rec)).sort((a, b) => (BigInt(a.split('-')[1]!) < BigInt(b.split('-')[1]!) ? -1 : 1));
    return Promise.all(names.map(async (n) => JSON.parse(await readFile(join(rec, n), 'utf8'))));
  };
  const fake = (extra: Record<string, unknown> = {}): Record<string, unknown> & { type: string } => ({ type: 'crius-fake', record: rec, ...extra });

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'crius-cniexec-'));
    bin = join(root, 'bin');
    await mkdir(bin);
    await copyFile(FAKE_PLUGIN, join(bin, 'crius-fake'));
    await chmod(join(bin, 'crius-fake'), 0o755);
    await writeFile(join(bin, 'not-executable'), '');
    cni = new CniExecutor({ binDirs: [join(root, 'empty'), bin], timeoutMs: 3000 });
  });
  beforeEach(async () => {
    rec = join(root, `rec-${Date.now()}`);
    await mkdir(rec);
  });
  afterAll(async () => rm(root, { recursive: true, force: true }));

  it('ADD passes CNI env, chains prevResult, and returns the last result', async () => {
    const first = { cniVersion: '1.0.0', ips: [{ address: '10.0.0.2/24' }] };
    const list: NetworkConfigList = {
      cniVersion: '1.0.0',
      name: 'net',
      plugins: [fake({ result: first }), fake({ capabilities: { portMappings: true } })],
    };
    expect(await cni.addList(list, args)).toEqual(first);
    const [a, b] = await calls();
    expect(a!.env).toEqual({
      CNI_COMMAND: 'ADD',
      CNI_CONTAINERID: 'sb1',
      CNI_NETNS: '/run/netns/none',
      CNI_IFNAME: 'eth0',
      CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=sb1;K8S_POD_UID=u-1',
      CNI_PATH: `${join(root, 'empty')}:${bin}`,
    });
    expect(a!.stdin).toMatchObject({ name: 'net', cniVersion: '1.0.0' });
    expect(a!.stdin.runtimeConfig).toBeUndefined();
    expect(a!.stdin.prevResult).toBeUndefined();
    expect(b!.stdin.prevResult).toEqual(first);
    expect(b!.stdin.runtimeConfig).toEqual({ portMappings: args.capabilityArgs.portMappings });
  });

  it('DEL runs in reverse order with the cached result; CHECK honours version and disableCheck', async () => {
    const list: NetworkConfigList = { cniVersion: '1.0.0', name: 'net', plugins: [fake({ n: 1 }), fake({ n: 2 })] };
    await cni.delList(list, args, { ips: [] });
    let c = await calls();
    expect(c.map((x) => [x.env.CNI_COMMAND, x.stdin.n, x.stdin.prevResult])).toEqual([
      ['DEL', 2, { ips: [] }],
      ['DEL', 1, { ips: [] }],
    ]);
    await cni.checkList(list, args, { ips: [] });
    await cni.checkList({ ...list, disableCheck: true }, args, { ips: [] });
    await cni.checkList({ ...list, cniVersion: '0.3.1' }, args, { ips: [] });
    c = await calls();
    expect(c.filter((x) => x.env.CNI_COMMAND === 'CHECK').map((x) => x.stdin.n)).toEqual([1, 2]);
  });

  it('turns a CNI error object into CniPluginError naming plugin, command and code', async () => {
    const list: NetworkConfigList = { cniVersion: '1.0.0', name: 'net', plugins: [fake({ mode: 'fail' })] };
    const err = await cni.addList(list, args).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CniPluginError);
    expect((err as CniPluginError).message).toBe(
      'CNI plugin "crius-fake" ADD (network "net", container sb1) failed: error code 7: fake failure: asked to fail ADD',
    );
    expect((err as CniPluginError).cniCode).toBe(7);
  });

  it('rejects a missing or non-executable binary and a non-JSON ADD result', async () => {
    const missing = await cni.addList({ cniVersion: '1.0.0', name: 'net', plugins: [{ type: 'no-such-plugin' }] }, args).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(FailedPreconditionError);
    expect((missing as Error).message).toMatch(/CNI plugin "no-such-plugin" ADD .*binary not found in .*empty, .*bin/);
    expect(await cni.findPlugin('not-executable')).toBeUndefined();
    // DEL skips a plugin that has no binary (it cannot clean up) and still runs the others.
    expect(await cni.delList({ cniVersion: '1.0.0', name: 'net', plugins: [fake(), { type: 'no-such-plugin' }] }, args)).toEqual(['no-such-plugin']);
    expect((await calls()).map((c) => c.env.CNI_COMMAND)).toEqual(['DEL']);
    expect(await cni.missingPlugins({ cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'crius-fake', ipam: { type: 'host-nope' } }] })).toEqual(['host-nope']);
    await expect(cni.addList({ cniVersion: '1.0.0', name: 'net', plugins: [fake({ mode: 'garbage' })] }, args)).rejects.toThrow(/result is not JSON: this is not json/);
  });

  it('kills a plugin that exceeds the timeout, by PID', async () => {
    const marker = join(root, 'sleep.pid');
    const quick = new CniExecutor({ binDirs: [bin], timeoutMs: 1500 });
    const list: NetworkConfigList = { cniVersion: '1.0.0', name: 'net', plugins: [fake({ mode: 'sleep', marker })] };
    const err = await quick.addList(list, args).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeadlineExceededError);
    expect((err as Error).message).toMatch(/CNI plugin "crius-fake" ADD .*timed out after 1500 ms/);
    const pid = Number(await readFile(marker, 'utf8'));
    expect(() => process.kill(pid, 0)).toThrow();
  });
});
