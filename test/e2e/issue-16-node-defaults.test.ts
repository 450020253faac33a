// Issue 16, through the CRI socket as kubelet drives it: the [runtime] node
// defaults (default_capabilities, default_sysctls, default_ulimits,
// log_size_max, shm_size) seen from inside real containers; CDI devices from
// a spec directory of the test's own (env, a device node under another name,
// a mount); a privileged container seeing a device made after the stack
// started; and what a node without AppArmor or SELinux (this one) answers.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Client } from '@grpc/grpc-js';
import type { TestStack } from '../harness/stack.js';
import { callCri } from '../harness/raw-cri.js';
import { cri, containerConfig, podConfig, usePodStack, waitFor } from '../harness/pod.js';

const LOG_MAX = 16384;
const cdiRoot = mkdtempSync(path.join(os.tmpdir(), 'crius-cdi-'));
const [etcCdi, runCdi, shared] = ['etc', 'run', 'shared'].map((d) => path.join(cdiRoot, d));
for (const d of [etcCdi, runCdi, shared]) mkdirSync(d!);
writeFileSync(path.join(shared!, 'hello'), 'from the CDI mount\n');
afterAll(() => rmSync(cdiRoot, { recursive: true, force: true }));

// The spec-level env applies once for any device of the spec; each device adds its own.
writeFileSync(
  path.join(etcCdi!, 'crius-test.json'),
  JSON.stringify({
    cdiVersion: '0.6.0',
    kind: 'crius.test/dev',
    containerEdits: { env: ['CDI_VENDOR=crius-test'] },
    devices: [
      {
        name: 'null-alias',
        containerEdits: {
          env: ['CDI_DEVICE=null-alias'],
          deviceNodes: [{ path: '/dev/cdi-null', hostPath: '/dev/null' }],
          mounts: [{ hostPath: shared, containerPath: '/cdi-data', options: ['ro', 'rbind'] }],
        },
      },
    ],
  }),
);
// A later directory wins for the same device; YAML is read too.
writeFileSync(
  path.join(runCdi!, 'crius-test-override.yaml'),
  `cdiVersion: "0.5.0"
kind: crius.test/extra
devices:
  - name: marker
    containerEdits:
      env: ["CDI_EXTRA=from-yaml"]
`,
);
writeFileSync(path.join(runCdi!, 'broken.yaml'), 'cdiVersion: "0.6.0"\nkind: crius.test/broken\ndevices: [ {name: b, containerEdits: {env: [X=1]}\n');

const RUNTIME = `
[runtime]
default_capabilities = ["CHOWN", "KILL", "NET_RAW"]
default_sysctls = ["net.ipv4.ping_group_range = 0   2147483647"]
default_ulimits = ["nofile=1024:2048", "core=-1"]
log_size_max = ${LOG_MAX}
shm_size = "32m"
cdi_spec_dirs = ["${etcCdi}", "${runCdi}"]
`;

let s: TestStack;
let client: Client;
let image: string;
usePodStack((p) => ({ s, client, image } = p), RUNTIME);

async function pod(extra: Record<string, unknown> = {}) {
  const config = await podConfig(s.dir, extra);
  const { podSandboxId } = await cri<{ podSandboxId: string }>(client, 'RunPodSandbox', { config });
  return { config, id: podSandboxId };
}

function create(p: { config: object; id: string }, name: string, command: string[], extra: Record<string, unknown> = {}) {
  return callCri(client, 'CreateContainer', { podSandboxId: p.id, config: containerConfig(name, image, command, extra), sandboxConfig: p.config });
}

async function run(p: { config: object; id: string }, name: string, command: string[], extra: Record<string, unknown> = {}) {
  const r = await create(p, name, command, extra);
  if (!r.ok) throw new Error(`CreateContainer ${name}: ${r.error.details}`);
  const { containerId } = r.reply as { containerId: string };
  await cri(client, 'StartContainer', { containerId });
  return containerId;
}

async function exec(id: string, script: string) {
  const r = await cri<{ stdout: Uint8Array; stderr: Uint8Array; exitCode: number }>(client, 'ExecSync', { containerId: id, cmd: ['sh', '-c', script], timeout: 10 });
  return { out: Buffer.from(r.stdout).toString(), err: Buffer.from(r.stderr).toString(), code: r.exitCode };
}

const NS_CONTAINER = { linux: { securityContext: { namespaceOptions: { pid: 1 } } } };

describe('issue 16: node defaults through CRI', () => {
  it('gives every container default_ulimits, also in ExecSync, with unlimited as unlimited', async () => {
    const p = await pod();
    const id = await run(p, 'limits', ['sh', '-c', 'grep -E "Max (open files|core file size)" /proc/self/limits; sleep 3600'], NS_CONTAINER);
    const log = path.join(p.config.logDirectory, 'limits/0.log');
    const fromInit = await waitFor('the limits in the log', async () => {
      const t = await readFile(log, 'utf8').catch(() => '');
      return t.includes('open files') ? t : undefined;
    });
    expect(fromInit).toMatch(/Max open files\s+1024\s+2048\s+files/);
    expect(fromInit).toMatch(/Max core file size\s+unlimited\s+unlimited\s+bytes/);
    expect((await exec(id, 'ulimit -n; ulimit -Hn')).out).toBe('1024\n2048\n');
    expect((await exec(id, 'grep "Max core file size" /proc/self/limits')).out).toMatch(/unlimited\s+unlimited/);
    await cri(client, 'RemovePodSandbox', { podSandboxId: p.id });
  });

  it('sets default_sysctls, lets the pod override them, and skips a net default for a host-network pod', async () => {
    const read = 'cat /proc/sys/net/ipv4/ping_group_range';
    const p = await pod();
    const id = await run(p, 'sysctl', ['sleep', '3600'], NS_CONTAINER);
    expect((await exec(id, read)).out.split(/\s+/).filter(Boolean)).toEqual(['0', '2147483647']);
    const own = await pod({ linux: { sysctls: { 'net.ipv4.ping_group_range': '0 1000' } } });
    const id2 = await run(own, 'sysctl', ['sleep', '3600'], NS_CONTAINER);
    expect((await exec(id2, read)).out.split(/\s+/).filter(Boolean)).toEqual(['0', '1000']);
    const hostBefore = await readFile('/proc/sys/net/ipv4/ping_group_range', 'utf8');
    const hostNet = await pod({ linux: { securityContext: { namespaceOptions: { network: 2, pid: 1, ipc: 0 } } } });
    const id3 = await run(hostNet, 'sysctl', ['sleep', '3600'], { linux: { securityContext: { namespaceOptions: { network: 2, pid: 1 } } } });
    expect((await exec(id3, read)).out).toBe(hostBefore);
    expect(await readFile('/proc/sys/net/ipv4/ping_group_range', 'utf8')).toBe(hostBefore);
    for (const x of [p, own, hostNet]) await cri(client, 'RemovePodSandbox', { podSandboxId: x.id });
  });

  it('keeps a chatty container\'s log file under log_size_max', async () => {
    const p = await pod();
    // ~1.3 MB of lines, then a marker: the file must start over, never grow past the limit.
    const id = await run(p, 'chatty', ['sh', '-c', 'i=0; while [ $i -lt 20000 ]; do echo "line $i of a chatty container, padded out a bit...."; i=$((i+1)); done; echo the-end'], NS_CONTAINER);
    const log = path.join(p.config.logDirectory, 'chatty/0.log');
    await waitFor('the chatty container to exit', async () => {
      const r = await cri<{ status: { state: number } }>(client, 'ContainerStatus', { containerId: id });
      return r.status.state === 2 ? true : undefined;
    }, 60_000);
    const size = (await stat(log)).size;
    expect(size).toBeGreaterThan(LOG_MAX / 4);
    expect(size).toBeLessThanOrEqual(LOG_MAX);
    expect(await readFile(log, 'utf8')).toMatch(/ stdout F the-end\n$/);
    await cri(client, 'RemovePodSandbox', { podSandboxId: p.id });
  });

  it('sizes the pod /dev/shm by shm_size and gives default_capabilities', async () => {
    const p = await pod();
    const id = await run(p, 'shm', ['sleep', '3600'], NS_CONTAINER);
    expect((await exec(id, 'grep " /dev/shm " /proc/mounts')).out).toMatch(/size=32768k/);
    const capEff = BigInt('0x' + (await exec(id, 'grep CapEff /proc/self/status')).out.trim().split(/\s+/)[1]);
    expect(capEff).toBe((1n << 0n) | (1n << 5n) | (1n << 13n)); // CHOWN, KILL, NET_RAW
    await cri(client, 'RemovePodSandbox', { podSandboxId: p.id });
  });

  it('shows a privileged container a host device made after the stack started', async () => {
    const node = `/dev/crius-e2e-${process.pid}`;
    const privileged = { linux: { securityContext: { privileged: true, namespaceOptions: { pid: 1 } } } };
    const p = await pod();
    // A privileged container made before the device exists: runtime-svc has read /dev by now.
    const before = await run(p, 'before', ['sleep', '3600'], privileged);
    expect((await exec(before, `ls ${node} 2>&1`)).out).toMatch(/No such file/);
    execFileSync('mknod', [node, 'c', '1', '3']);
    try {
      const id = await run(p, 'priv', ['sleep', '3600'], privileged);
      const r = await exec(id, `ls -l ${node} && echo ok > ${node} && echo wrote`);
      expect(r.out).toMatch(/^c.* 1,\s+3 /);
      expect(r.out).toContain('wrote');
    } finally {
      rmSync(node, { force: true });
      await cri(client, 'RemovePodSandbox', { podSandboxId: p.id });
    }
  });

  it('applies CDI devices asked for by CDI_devices and a cdi.k8s.io/ annotation', async () => {
    const p = await pod();
    const id = await run(p, 'cdi', ['sleep', '3600'], {
      ...NS_CONTAINER,
      CDIDevices: [{ name: 'crius.test/dev=null-alias' }],
      annotations: { 'cdi.k8s.io/test': 'crius.test/extra=marker' },
    });
    const r = await exec(id, 'echo "$CDI_VENDOR $CDI_DEVICE $CDI_EXTRA"; ls -l /dev/cdi-null; echo data > /dev/cdi-null && echo writable; cat /cdi-data/hello; touch /cdi-data/x || echo read-only');
    const lines = r.out.split('\n');
    expect(lines[0]).toBe('crius-test null-alias from-yaml');
    expect(lines[1]).toMatch(/^crw.* 1,\s+3 .*\/dev\/cdi-null$/);
    expect(lines.slice(2)).toEqual(['writable', 'from the CDI mount', 'read-only', '']);
    await cri(client, 'RemovePodSandbox', { podSandboxId: p.id });
  });

  it('refuses an unknown CDI device, and one whose spec does not parse, naming why', async () => {
    const p = await pod();
    const unknown = await create(p, 'nodev', ['true'], { CDIDevices: [{ name: 'crius.test/dev=missing' }] });
    expect(unknown.ok).toBe(false);
    if (!unknown.ok) {
      expect(unknown.error.code).toBe(5); // NOT_FOUND
      expect(unknown.error.details).toMatch(/unresolvable CDI device crius\.test\/dev=missing: not defined by any CDI spec/);
    }
    const broken = await create(p, 'broken', ['true'], { CDIDevices: [{ name: 'crius.test/broken=b' }] });
    expect(broken.ok).toBe(false);
    if (!broken.ok) expect(broken.error.details).toMatch(/broken\.yaml: not valid YAML/);
    const badName = await create(p, 'badname', ['true'], { CDIDevices: [{ name: 'null-alias' }] });
    expect(badName.ok ? 0 : badName.error.code).toBe(3); // INVALID_ARGUMENT
    const list = await cri<{ containers: unknown[] }>(client, 'ListContainers', { filter: { podSandboxId: p.id } });
    expect(list.containers).toEqual([]);
    await cri(client, 'RemovePodSandbox', { podSandboxId: p.id });
  });
});

describe('issue 16: a node without AppArmor or SELinux (this kernel)', () => {
  const haveAppArmor = (() => {
    try {
      return execFileSync('cat', ['/sys/module/apparmor/parameters/enabled']).toString().startsWith('Y');
    } catch {
      return false;
    }
  })();

  it.skipIf(haveAppArmor)('says so in verbose Status, applies nothing for RuntimeDefault and refuses a Localhost profile', async () => {
    console.log('NOTE: this kernel has no AppArmor: loading and applying crius-default could not be exercised here (only compiled, in os/apparmor.test.ts)');
    const st = await cri<{ info: Record<string, string> }>(client, 'Status', { verbose: true });
    const runtime = JSON.parse(st.info['runtime-svc']!) as { conditions: { type: string; status: boolean; reason: string; message: string }[] };
    expect(runtime.conditions).toContainEqual(expect.objectContaining({ type: 'AppArmor', status: false, reason: 'AppArmorNotEnabled' }));
    expect(runtime.conditions).toContainEqual(expect.objectContaining({ type: 'SELinux', status: false, reason: 'SELinuxNotEnabled' }));

    const p = await pod();
    const id = await run(p, 'rtdefault', ['sleep', '3600'], { linux: { securityContext: { apparmor: { profileType: 0 }, namespaceOptions: { pid: 1 } } } });
    const verbose = await cri<{ info: Record<string, string> }>(client, 'ContainerStatus', { containerId: id, verbose: true });
    const bundle = (JSON.parse(verbose.info.info!) as { bundle: string }).bundle;
    const spec = JSON.parse(await readFile(path.join(bundle, 'config.json'), 'utf8')) as { process: { apparmorProfile?: string } };
    expect(spec.process.apparmorProfile).toBeUndefined();

    const local = await create(p, 'local', ['true'], { linux: { securityContext: { apparmor: { profileType: 2, localhostRef: 'k8s-web' } } } });
    expect(local.ok).toBe(false);
    if (!local.ok) {
      expect(local.error.code).toBe(9); // FAILED_PRECONDITION
      expect(local.error.details).toMatch(/AppArmor profile "k8s-web" requested, but AppArmor is not enabled in this node's kernel \(the kernel has no AppArmor module/);
    }
    await cri(client, 'RemovePodSandbox', { podSandboxId: p.id });
  });

  it('runs a container whose mount asks for selinux_relabel, relabelling nothing', async () => {
    const p = await pod();
    const id = await run(p, 'relabel', ['sleep', '3600'], {
      ...NS_CONTAINER,
      mounts: [{ containerPath: '/data', hostPath: shared, selinuxRelabel: true, readonly: true }],
    });
    expect((await exec(id, 'cat /data/hello')).out).toBe('from the CDI mount\n');
    await cri(client, 'RemovePodSandbox', { podSandboxId: p.id });
  });
});
