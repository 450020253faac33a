// The pause process of a pod that shares one PID namespace (NamespaceMode
// POD): catatonit -P run by the sandbox's OCI runtime under conmon, as a
// container named after the sandbox. It holds the namespace and reaps
// zombies; containers join /proc/<pid>/ns/pid. Its rootfs is one read-only
// directory holding the static catatonit binary, shared by all pods.
import { copyFile, mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic, type Logger } from '@crius/common';
import type { PodSandboxConfig } from '@crius/common/cri';
import { run } from '../os/exec.js';
import { which } from '../os/which.js';
import { startConmon } from '../os/conmon.js';
import { placeInCgroup, removeCgroup } from '../os/cgroups.js';
import type { Runtime } from '../runtime.js';
import { generateSandboxPauseSpec, PAUSE_BINARY } from '../spec/index.js';
import { pidStartTime } from '../container/proc.js';
import type { SandboxRecord } from '../store/records.js';

async function pauseRootfs(rt: Runtime): Promise<string> {
  const dir = path.join(rt.deps.dirs.run, 'pause-rootfs');
  const bin = path.join(dir, PAUSE_BINARY);
  if (!(await stat(bin).catch(() => undefined))) {
    await mkdir(dir, { recursive: true });
    const tmp = `${bin}.tmp`;
    await copyFile(which('catatonit'), tmp);
    await run('mv', ['-f', tmp, bin]);
  }
  return dir;
}

/** Start the pause process; returns its PID and start time for the record. */
export async function startPause(rt: Runtime, sb: Omit<SandboxRecord, 'pause'>, cfg: PodSandboxConfig, hostname: string, log: Logger): Promise<{ pid: number; startTime: string }> {
  const bundle = path.join(rt.sandboxRunDir(sb.id), 'pause');
  await mkdir(bundle, { recursive: true });
  const { spec, warnings } = generateSandboxPauseSpec({
    sandbox: {
      id: sb.id,
      hostname,
      hostNetwork: !sb.netnsPath,
      hostIpc: !sb.ipcPath,
      hostPid: false,
      netnsPath: sb.netnsPath || undefined,
      ipcPath: sb.ipcPath || undefined,
      utsPath: sb.utsPath || undefined,
      cgroupParent: sb.cgroupParent,
      sysctls: cfg.linux?.sysctls ?? {},
    },
    securityContext: cfg.linux?.securityContext,
    rootfsPath: await pauseRootfs(rt),
    host: await rt.hostFacts(),
  });
  for (const w of warnings) log.warn({ sandbox: sb.id }, w);
  await writeFileAtomic(path.join(bundle, 'config.json'), JSON.stringify(spec), 0o600);
  const oci = rt.ociRuntime(sb.runtimeHandler);
  // Under conmon like every container: it reaps the pause process when it
  // dies (PID 1 of the node may not) and records its exit.
  const started = await startConmon({
    conmon: rt.conmonPath,
    id: pauseId(sb.id),
    shortId: `${sb.id.slice(0, 12)}p`,
    name: `${sb.name}_pause`,
    bundle,
    runtimePath: oci.h.path,
    runtimeArgs: [...oci.h.args, '--root', oci.h.root],
    logPath: path.join(bundle, 'pause.log'),
    exitDir: rt.exitDir,
    socketDir: rt.attachDir,
    terminal: false,
    stdin: false,
    stdinOnce: false,
    place: async (pid) => void (await placeInCgroup(pid, sb.cgroupParent, `crius-conmon-${pauseId(sb.id)}`)),
  });
  await oci.start(pauseId(sb.id));
  return { pid: started.pid, startTime: await pidStartTime(started.pid) };
}

export function pauseId(sandboxId: string): string {
  return `${sandboxId}-pause`;
}

export async function stopPause(rt: Runtime, sb: Pick<SandboxRecord, 'id' | 'runtimeHandler' | 'cgroupParent'>): Promise<void> {
  await rt.ociRuntime(sb.runtimeHandler).delete(pauseId(sb.id));
  await removeCgroup(sb.cgroupParent, `crius-conmon-${pauseId(sb.id)}`);
  await rm(path.join(rt.exitDir, pauseId(sb.id)), { force: true });
  await rm(path.join(rt.sandboxRunDir(sb.id), 'pause'), { recursive: true, force: true });
}
