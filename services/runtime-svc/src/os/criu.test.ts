import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FailedPreconditionError } from '@crius/common';
import { criuCheckReason, ensureCriu, ensureRuntimeCanCheckpoint, runtimeFlavour } from './criu.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'crius-criu-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A real program standing in for criu or a runtime: prints what a given version prints. */
async function program(name: string, script: string): Promise<string> {
  const p = path.join(dir, name);
  await writeFile(p, `#!/bin/sh\n${script}\n`);
  await chmod(p, 0o755);
  return p;
}

describe('CRIU discovery and check', () => {
  it('takes the reason from the last error line of criu check', () => {
    const out = 'Warn  (criu/kerndat.c:1): nothing\nError (criu/cr-check.c:1296): vdso: Unexpected rt vDSO area bounds\nDoes not look good.\n';
    expect(criuCheckReason(out)).toBe('vdso: Unexpected rt vDSO area bounds');
  });

  it('is FAILED_PRECONDITION naming a configured CRIU that does not exist', async () => {
    const err = await ensureCriu('/nonexistent/criu').catch((e) => e);
    expect(err).toBeInstanceOf(FailedPreconditionError);
    expect(err.message).toContain('/nonexistent/criu does not exist');
  });

  it('is FAILED_PRECONDITION naming why criu check fails, and checks again next time', async () => {
    const marker = path.join(dir, 'fixed');
    const criu = await program('criu-flaky', `case "$1" in --version) echo "Version: 9.9";; check) [ -e ${marker} ] && { echo "Looks good."; exit 0; }; echo "Error (criu/cr-check.c:1): kernel lacks ptrace seize" >&2; exit 1;; esac`);
    const err = await ensureCriu(criu).catch((e) => e);
    expect(err).toBeInstanceOf(FailedPreconditionError);
    expect(err.message).toMatch(/CRIU 9\.9\) fails on this kernel: kernel lacks ptrace seize/);
    await writeFile(marker, '');
    await expect(ensureCriu(criu)).resolves.toEqual({ path: criu, version: '9.9' });
  });
});

describe('OCI runtime support', () => {
  it('tells crun from runc by their --version', () => {
    expect(runtimeFlavour('crun version 1.8.1\ncommit: x\n+SYSTEMD +CAP')).toBe('crun');
    expect(runtimeFlavour('runc version 1.1.5\ncommit: x')).toBe('runc');
  });

  it('refuses a crun built without CRIU, saying so', async () => {
    const crun = await program('crun-nocriu', 'echo "crun version 1.8.1"; echo "+SYSTEMD +SELINUX +CAP +SECCOMP"');
    const err = await ensureRuntimeCanCheckpoint(crun, 'crun').catch((e) => e);
    expect(err).toBeInstanceOf(FailedPreconditionError);
    expect(err.message).toMatch(/handler "crun": crun 1.8.1 .* was built without CRIU support \(its --version lacks \+CRIU\)/);
    const withCriu = await program('crun-criu', 'echo "crun version 1.9"; echo "+SYSTEMD +CRIU +CAP"');
    await expect(ensureRuntimeCanCheckpoint(withCriu, 'crun')).resolves.toBeUndefined();
  });
});
