// Real check: specs from generateContainerSpec run under runc with a
// busybox-static rootfs. Needs root, runc and /bin/busybox (all present on the
// crius dev node); each test cleans its container, cgroups and bundle.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, rmdir, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ContainerConfig, NamespaceMode, SecurityProfile_ProfileType as T, type DeepPartial } from '@crius/common/cri';
import { generateContainerSpec, type ContainerSpecInput } from './generate.js';
import { capabilityNumber, DEFAULT_CAPABILITIES } from './capabilities.js';

const RUNC = '/usr/sbin/runc';
const BUSYBOX = '/bin/busybox';
const canRun = process.getuid?.() === 0 && existsSync(RUNC) && existsSync(BUSYBOX);
const CGROUP_PARENT = `/crius-spec-test-${process.pid}`;

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], timeoutMs = 30_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A bundle dir with rootfs/bin/busybox, applet links and passwd/group. */
async function makeBundle(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crius-spec-'));
  const bin = path.join(dir, 'rootfs', 'bin');
  await mkdir(bin, { recursive: true });
  await mkdir(path.join(dir, 'rootfs', 'etc'));
  await copyFile(BUSYBOX, path.join(bin, 'busybox'));
  for (const applet of ['sh', 'cat', 'grep', 'id', 'unshare', 'true']) await symlink('busybox', path.join(bin, applet));
  await writeFile(path.join(dir, 'rootfs', 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  await writeFile(path.join(dir, 'rootfs', 'etc', 'group'), 'root:x:0:\n');
  return dir;
}

let seq = 0;
async function runSpec(config: DeepPartial<ContainerConfig>) {
  const bundle = await makeBundle();
  const id = `crius-spec-${process.pid}-${++seq}`;
  const stateRoot = path.join(bundle, 'state');
  const minOom = Number((await readFile('/proc/self/oom_score_adj', 'utf8')).trim());
  const input: ContainerSpecInput = {
    containerId: id,
    // No pod namespaces: host network/IPC (and so UTS), nothing pinned.
    sandbox: { id: 'sb-test', hostname: os.hostname(), hostNetwork: true, hostIpc: true, hostPid: false, cgroupParent: CGROUP_PARENT, sysctls: {} },
    config: ContainerConfig.fromPartial(config),
    image: {
      config: { user: '', env: [], entrypoint: [], cmd: ['/bin/sh'], workingDir: '', labels: {} },
      passwd: await readFile(path.join(bundle, 'rootfs/etc/passwd'), 'utf8'),
      group: await readFile(path.join(bundle, 'rootfs/etc/group'), 'utf8'),
    },
    rootfsPath: path.join(bundle, 'rootfs'),
    host: { cgroupVersion: 1, cgroupManager: 'cgroupfs', minOomScoreAdj: minOom },
  };
  const { spec, warnings } = generateContainerSpec(input);
  await writeFile(path.join(bundle, 'config.json'), JSON.stringify(spec, null, 2));
  try {
    const res = await run(RUNC, ['--root', stateRoot, 'run', '--bundle', bundle, id]);
    return { ...res, spec, warnings };
  } finally {
    await run(RUNC, ['--root', stateRoot, 'delete', '-f', id]).catch(() => undefined);
    await rm(bundle, { recursive: true, force: true });
  }
}

const capHex = (caps: readonly string[]) =>
  caps.reduce((acc, c) => acc | (1n << BigInt(capabilityNumber(c))), 0n).toString(16).padStart(16, '0');

describe.skipIf(!canRun)('generated specs under runc', () => {
  afterAll(async () => {
    // runc removes the container cgroups; our test parent is left in each hierarchy.
    for (const h of await readdir('/sys/fs/cgroup').catch(() => [] as string[])) {
      await rmdir(path.join('/sys/fs/cgroup', h, CGROUP_PARENT)).catch(() => undefined);
    }
  });

  it('runs with the default capabilities, root user and a clamped oom score', async () => {
    const r = await runSpec({
      metadata: { name: 'caps' },
      command: ['/bin/sh', '-c', 'cat /proc/self/status | grep -i cap; id; cat /proc/self/oom_score_adj'],
      linux: {
        resources: { oomScoreAdj: -999n },
        securityContext: { namespaceOptions: { pid: NamespaceMode.CONTAINER } },
      },
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const want = capHex(DEFAULT_CAPABILITIES);
    expect(want).toBe('00000000000005fb');
    expect(r.stdout).toMatch(new RegExp(`CapEff:\\s+${want}`));
    expect(r.stdout).toMatch(new RegExp(`CapBnd:\\s+${want}`));
    expect(r.stdout).toMatch(/CapInh:\s+0{16}/);
    expect(r.stdout).toContain('uid=0(root) gid=0(root)');
    expect(r.warnings.some((w) => w.includes('oom_score_adj -999'))).toBe(true);
    expect(r.stdout.trim().split('\n').at(-1)).toBe(String(r.spec.process.oomScoreAdj));
  });

  it('without seccomp, unshare -U works (the control for the next test)', async () => {
    const r = await runSpec({
      command: ['/bin/unshare', '-U', '/bin/true'],
      linux: { securityContext: { seccomp: { profileType: T.Unconfined }, namespaceOptions: { pid: NamespaceMode.CONTAINER } } },
    });
    expect(r.spec.linux.seccomp).toBeUndefined();
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('RuntimeDefault seccomp blocks unshare but lets a shell run', async () => {
    const r = await runSpec({
      command: ['/bin/sh', '-c', 'grep Seccomp: /proc/self/status; unshare -U true'],
      linux: { securityContext: { seccomp: { profileType: T.RuntimeDefault }, namespaceOptions: { pid: NamespaceMode.CONTAINER } } },
    });
    expect(r.stdout).toMatch(/Seccomp:\s+2/);
    expect(r.code).not.toBe(0);
    // The unshare syscall itself is refused (EPERM), not a later step.
    expect(r.stderr).toMatch(/unshare\(0x10000000\): Operation not permitted/);
  });
});
