// CRIU for checkpoint/restore, and whether an OCI runtime can drive it. Owner:
// runtime-svc. The CRIU program is the configured one, else the build
// scripts/criu/setup-criu.sh installs (Debian 12's criu fails `criu check` on
// newer kernels), else criu from PATH. `criu check` runs once per program and
// process once it passed; a failing one is checked again at the next call
// (an operator may fix CRIU without restarting us), each time a clear
// FAILED_PRECONDITION saying why.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { FailedPreconditionError } from '@crius/common';
import { run } from './exec.js';
import { which } from './which.js';

/** Where scripts/criu/setup-criu.sh installs its build. */
export const BUILT_CRIU = '/usr/local/lib/crius/criu/criu';

export interface CriuInfo {
  path: string;
  version: string;
}

/** The CRIU program to use: config, then our build, then PATH. */
export function resolveCriu(configured: string): string {
  if (configured) return path.resolve(configured);
  if (existsSync(BUILT_CRIU)) return BUILT_CRIU;
  try {
    return which('criu');
  } catch {
    throw new FailedPreconditionError('checkpoint/restore needs CRIU: no criu in PATH and none built in /usr/local/lib/crius/criu (run scripts/setup-node.sh)');
  }
}

/** The last error line of `criu check`, which names what the kernel lacks. */
export function criuCheckReason(output: string): string {
  const lines = output.split('\n').map((l) => l.trim()).filter(Boolean);
  const err = [...lines].reverse().find((l) => /^Error|error/.test(l));
  return (err ?? lines.at(-1) ?? 'no output').replace(/^Error \([^)]*\):\s*/, '');
}

const checked = new Map<string, Promise<CriuInfo>>();

/** CRIU usable on this kernel, or FAILED_PRECONDITION saying why not. */
export function ensureCriu(configured: string): Promise<CriuInfo> {
  let criu: string;
  try {
    criu = resolveCriu(configured);
  } catch (err) {
    return Promise.reject(err);
  }
  let p = checked.get(criu);
  if (!p) {
    p = checkCriu(criu);
    checked.set(criu, p);
    p.catch(() => checked.delete(criu));
  }
  return p;
}

async function checkCriu(criu: string): Promise<CriuInfo> {
  if (!existsSync(criu)) throw new FailedPreconditionError(`checkpoint/restore needs CRIU: ${criu} does not exist`);
  const version = await run(criu, ['--version'], { timeoutMs: 10_000 }).then(
    (r) => /Version:\s*(\S+)/.exec(r.stdout)?.[1] ?? 'unknown',
    (err: Error) => {
      throw new FailedPreconditionError(`checkpoint/restore needs CRIU: ${criu} does not run: ${err.message}`);
    },
  );
  try {
    await run(criu, ['check'], { timeoutMs: 30_000 });
  } catch (err) {
    const text = (err as { stderr?: string }).stderr ?? (err as Error).message;
    throw new FailedPreconditionError(`checkpoint/restore unavailable: \`${criu} check\` (CRIU ${version}) fails on this kernel: ${criuCheckReason(text)}`);
  }
  return { path: criu, version };
}

const runtimeSupport = new Map<string, Promise<void>>();

/**
 * runc drives the CRIU binary it is given (--criu); crun links libcriu at
 * build time and says so in `crun --version` (+CRIU). A runtime without it
 * cannot checkpoint or restore at all.
 */
export function ensureRuntimeCanCheckpoint(runtimePath: string, handler: string): Promise<void> {
  let p = runtimeSupport.get(runtimePath);
  if (!p) {
    p = checkRuntime(runtimePath, handler);
    runtimeSupport.set(runtimePath, p);
    p.catch(() => runtimeSupport.delete(runtimePath));
  }
  return p;
}

async function checkRuntime(runtimePath: string, handler: string): Promise<void> {
  const { stdout } = await run(runtimePath, ['--version'], { timeoutMs: 10_000 });
  if (runtimeFlavour(stdout) === 'crun' && !/\+CRIU\b/.test(stdout)) {
    const version = /crun version (\S+)/.exec(stdout)?.[1] ?? '';
    throw new FailedPreconditionError(
      `checkpoint/restore is not available with runtime handler "${handler}": crun ${version} (${runtimePath}) was built without CRIU support (its --version lacks +CRIU)`,
    );
  }
}

export function runtimeFlavour(versionOutput: string): 'runc' | 'crun' | 'other' {
  if (/^crun version/m.test(versionOutput)) return 'crun';
  if (/^runc version/m.test(versionOutput)) return 'runc';
  return 'other';
}
