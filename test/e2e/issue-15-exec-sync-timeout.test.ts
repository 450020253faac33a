// Issue 15: ExecSync with a timeout left the command running; only the
// `runc exec` parent was killed. From the contract: after the reply to a
// timed-out ExecSync no process of the command may survive, the container
// itself keeps running, and the reply is DEADLINE_EXCEEDED (what containerd
// answers and what the kubelet maps to a probe timeout). Checked from the
// host through /proc: every live process in the container's PID namespace or
// cgroup other than its init. With runc and with crun (their `exec --cgroup`
// differ on cgroup v1).
import { mkdtemp, readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { cri, containerConfig, podConfig, usePodStack, waitFor, type PodStack } from '../harness/pod.js';

let stack: PodStack;
usePodStack((s) => (stack = s));

interface Proc {
  pid: number;
  cmd: string;
}

/** The container's cgroup path (v2 line, else the freezer's) as its init sees it from the host. */
async function cgroupOf(pid: number): Promise<string> {
  const lines = (await readFile(`/proc/${pid}/cgroup`, 'utf8')).split('\n');
  const line = lines.find((l) => l.includes(':freezer:')) ?? lines.find((l) => l.startsWith('0::'))!;
  return line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
}

/** Live (not zombie) processes other than `init` that share its PID namespace or sit in its cgroup subtree. */
async function otherProcesses(init: number): Promise<Proc[]> {
  const ns = await readlink(`/proc/${init}/ns/pid`);
  const cg = await cgroupOf(init);
  const found: Proc[] = [];
  for (const name of await readdir('/proc')) {
    const pid = Number(name);
    if (!(pid > 0) || pid === init) continue;
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      const inNs = (await readlink(`/proc/${pid}/ns/pid`)) === ns;
      const inCg = (await readFile(`/proc/${pid}/cgroup`, 'utf8')).split('\n').some((l) => {
        const p = l.slice(l.indexOf(':', l.indexOf(':') + 1) + 1);
        return p === cg || p.startsWith(cg + '/');
      });
      if (inNs || inCg) found.push({ pid, cmd: (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ').trim() });
    } catch {
      // exited while we looked
    }
  }
  return found;
}

async function execSync(containerId: string, cmd: string[], timeout: number) {
  const r = await cri<{ stdout: Uint8Array; stderr: Uint8Array; exitCode: number }>(stack.client, 'ExecSync', { containerId, cmd, timeout });
  return { out: Buffer.from(r.stdout).toString(), err: Buffer.from(r.stderr).toString(), code: r.exitCode };
}

describe.each(['runc', 'crun'])('issue 15: ExecSync timeout with %s', (handler) => {
  let podId = '';
  let ctr = '';
  let init = 0;
  let shared = '';

  it('starts a container', async () => {
    shared = await mkdtemp(path.join(stack.s.dir, `exec-${handler}-`));
    const pod = await podConfig(stack.s.dir);
    podId = (await cri<{ podSandboxId: string }>(stack.client, 'RunPodSandbox', { config: pod, runtimeHandler: handler })).podSandboxId;
    ctr = (
      await cri<{ containerId: string }>(stack.client, 'CreateContainer', {
        podSandboxId: podId,
        config: containerConfig('target', stack.image, ['sleep', '3600'], { mounts: [{ containerPath: '/shared', hostPath: shared }] }),
        sandboxConfig: pod,
      })
    ).containerId;
    await cri(stack.client, 'StartContainer', { containerId: ctr });
    const st = await cri<{ info: Record<string, string> }>(stack.client, 'ContainerStatus', { containerId: ctr, verbose: true });
    init = JSON.parse(st.info.info!).pid;
    expect(init).toBeGreaterThan(0);
    expect(await otherProcesses(init)).toEqual([]);
  });

  it('sees what a finished command deliberately left running (so the checks below can fail)', async () => {
    const r = await execSync(ctr, ['sh', '-c', 'setsid sleep 1007 </dev/null >/dev/null 2>&1 & echo started'], 10);
    expect(r).toEqual({ out: 'started\n', err: '', code: 0 });
    const left = await otherProcesses(init);
    expect(left.map((p) => p.cmd)).toEqual(['sleep 1007']);
    // It was handed to the container's cgroup: no exec leaf is left behind.
    expect(await readFile(`/proc/${left[0]!.pid}/cgroup`, 'utf8')).not.toMatch(/crius-exec-/);
    process.kill(left[0]!.pid, 'SIGKILL');
    await waitFor('the daemon to go', async () => ((await otherProcesses(init)).length === 0 ? true : undefined));
  });

  it('kills the command and every child (background, setsid) at the timeout and answers DEADLINE_EXCEEDED', async () => {
    // The children write their container PIDs to a host dir; on a loaded
    // machine the 1 s may pass before they exist, so try until they did.
    const script = 'sleep 1000 & echo $! >> /shared/pids; sleep 1000 & echo $! >> /shared/pids; setsid sleep 1000 & echo $! >> /shared/pids; wait';
    await waitFor('a run in which all three children started before the timeout', async () => {
      await execSync(ctr, ['sh', '-c', 'rm -f /shared/pids'], 10);
      const started = Date.now();
      const err = await execSync(ctr, ['sh', '-c', script], 1).then(
        () => undefined,
        (e: { code: number; message: string }) => e,
      );
      expect(err?.code).toBe(status.DEADLINE_EXCEEDED);
      expect(err?.message).toMatch(/timed out after 1 s/);
      expect(Date.now() - started).toBeLessThan(30_000);
      // After the reply: nothing of the command is alive.
      expect(await otherProcesses(init)).toEqual([]);
      const pids = (await readFile(path.join(shared, 'pids'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
      return pids.length === 3 ? true : undefined;
    }, 45_000);
    // The container is untouched and still serves execs.
    expect((await readFile(`/proc/${init}/cmdline`, 'utf8')).split('\0')[0]).toBe('sleep');
    const st = await cri<{ status: { state: number } }>(stack.client, 'ContainerStatus', { containerId: ctr });
    expect(st.status.state).toBe(1); // CONTAINER_RUNNING
    expect(await execSync(ctr, ['echo', 'alive'], 10)).toEqual({ out: 'alive\n', err: '', code: 0 });
  });

  it('runs a command with timeout 0 until it is done', async () => {
    expect(await execSync(ctr, ['sh', '-c', 'sleep 2; echo done'], 0)).toEqual({ out: 'done\n', err: '', code: 0 });
  });

  it('passes the exit code and both streams through', async () => {
    expect(await execSync(ctr, ['sh', '-c', 'echo out; echo err >&2; exit 7'], 10)).toEqual({ out: 'out\n', err: 'err\n', code: 7 });
    expect(await otherProcesses(init)).toEqual([]);
  });

  it('removes the pod', async () => {
    await cri(stack.client, 'StopPodSandbox', { podSandboxId: podId });
    await cri(stack.client, 'RemovePodSandbox', { podSandboxId: podId });
  });
});
