// The SELinux policy module of deploy/selinux compiles against Debian's
// reference policy (selinux-policy-dev), so syntax and every interface and
// type it names are checked; its file contexts and the units' SELinuxContext=
// name only types the module declares.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, SERVICE_UNITS, readUnit, value } from './unit-file.js';

const DEVEL_MAKEFILE = '/usr/share/selinux/devel/Makefile';
const SRC = path.join(REPO, 'deploy/selinux');

function build(dir: string): { status: number | null; output: string } {
  const r = spawnSync('make', ['-f', DEVEL_MAKEFILE, 'crius.pp'], { cwd: dir, encoding: 'utf8' });
  return { status: r.status, output: r.stdout + r.stderr };
}

describe('SELinux policy module', () => {
  let dir: string;
  let declared: Set<string>;

  beforeAll(() => {
    if (!existsSync(DEVEL_MAKEFILE)) throw new Error(`${DEVEL_MAKEFILE} is missing: apt-get install selinux-policy-dev (scripts/setup-node.sh)`);
    dir = mkdtempSync(path.join(os.tmpdir(), 'crius-selinux-'));
    for (const f of ['crius.te', 'crius.if', 'crius.fc']) cpSync(path.join(SRC, f), path.join(dir, f));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('compiles into crius.pp', () => {
    const r = build(dir);
    expect(r.status, r.output).toBe(0);
    expect(existsSync(path.join(dir, 'crius.pp'))).toBe(true);
    // The expanded module the compiler read: every type the module declares.
    const expanded = readFileSync(path.join(dir, 'tmp/crius.tmp'), 'utf8');
    declared = new Set([...expanded.matchAll(/^\s*type (crius_\w+)/gm)].map((m) => m[1]!));
    expect(declared.size).toBeGreaterThan(20);
  });

  it('labels files only with types it declares', () => {
    const fc = readFileSync(path.join(SRC, 'crius.fc'), 'utf8');
    const used = [...fc.matchAll(/object_r:(\w+),/g)].map((m) => m[1]!);
    expect(used.length).toBeGreaterThan(10);
    for (const t of used) expect(declared.has(t), `crius.fc uses ${t}`).toBe(true);
  });

  it('declares the domain each unit asks for, and state types for each service', () => {
    for (const [service, unit] of Object.entries(SERVICE_UNITS)) {
      const context = value(readUnit(unit), 'Service', 'SELinuxContext') ?? '';
      const domain = /:system_r:(\w+):/.exec(context)?.[1];
      expect(domain, unit).toBe(`crius_${service}_t`);
      for (const t of [domain!, `crius_${service}_var_lib_t`, `crius_${service}_runtime_t`, `crius_${service}_cred_t`]) {
        expect(declared.has(t), `${unit}: ${t}`).toBe(true);
      }
    }
  });

  it('fails to compile when a rule names an unknown interface (the check above is live)', () => {
    const broken = mkdtempSync(path.join(os.tmpdir(), 'crius-selinux-broken-'));
    try {
      for (const f of ['crius.if', 'crius.fc']) cpSync(path.join(SRC, f), path.join(broken, f));
      writeFileSync(path.join(broken, 'crius.te'), readFileSync(path.join(SRC, 'crius.te'), 'utf8') + '\nfs_rw_cgroup_filez(crius_monitor_t)\n');
      expect(build(broken).status).not.toBe(0);
    } finally {
      rmSync(broken, { recursive: true, force: true });
    }
  });
});
