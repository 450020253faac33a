// The systemd units of deploy/systemd: systemd-analyze verify in a temp root
// (PID 1 here is not systemd), the dependency shape (nats first, gateway
// last, restarts isolated), each unit's privileges against ARCHITECTURE.md's
// table, and the security exposure per unit against recorded ceilings.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_UNITS, REPO, SERVICE_UNITS, UNIT_DIR, readUnit, value, words, type UnitService } from './unit-file.js';

const SERVICES = Object.keys(SERVICE_UNITS) as UnitService[];
const units = Object.fromEntries(ALL_UNITS.map((u) => [u, readUnit(u)]));
const svc = (s: UnitService) => units[SERVICE_UNITS[s]]!;

/** Executables and scripts the units run: [program, script under /usr/lib/crius or undefined]. */
function commands(): [string, string | undefined][] {
  const out: [string, string | undefined][] = [];
  for (const u of Object.values(units)) {
    for (const key of ['ExecStart', 'ExecStartPost', 'ExecReload']) {
      for (const line of u.Service?.[key] ?? []) {
        const [prog, script] = line.replace(/^[-+@!:]+/, '').split(/\s+/);
        out.push([prog!, script?.startsWith('/usr/lib/crius/') ? script : undefined]);
      }
    }
  }
  return out;
}

describe('systemd units', () => {
  let root: string;

  beforeAll(() => {
    // A root with our units, the distribution's units (sysinit.target...) and
    // stubs for the programs, so verify checks what it would on a node.
    root = mkdtempSync(path.join(os.tmpdir(), 'crius-units-'));
    mkdirSync(path.join(root, 'etc/systemd/system'), { recursive: true });
    for (const u of ALL_UNITS) cpSync(path.join(UNIT_DIR, u), path.join(root, 'etc/systemd/system', u));
    cpSync('/usr/lib/systemd/system', path.join(root, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
    for (const [prog] of commands()) {
      mkdirSync(path.join(root, path.dirname(prog)), { recursive: true });
      writeFileSync(path.join(root, prog), '#!/bin/sh\n');
      chmodSync(path.join(root, prog), 0o755);
    }
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  function verify(names: string[]): { status: number | null; output: string } {
    const r = spawnSync('systemd-analyze', ['verify', `--root=${root}`, ...names], { encoding: 'utf8' });
    return { status: r.status, output: (r.stdout + r.stderr).trim() };
  }

  it('systemd-analyze verify accepts every unit without a warning', () => {
    const r = verify(ALL_UNITS);
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  });

  it('verify would catch a mistyped setting (the check above is live)', () => {
    const text = readFileSync(path.join(UNIT_DIR, 'crius-image.service'), 'utf8').replace('ProtectSystem=strict', 'ProtectSytem=strict');
    writeFileSync(path.join(root, 'etc/systemd/system/crius-broken.service'), text);
    expect(verify(['crius-broken.service']).output).toContain("Unknown key 'ProtectSytem'");
  });

  it('runs programs this host has and scripts this repository builds', () => {
    for (const [prog, script] of commands()) {
      expect(existsSync(prog), prog).toBe(true);
      if (!script) continue;
      const dist = /^\/usr\/lib\/crius\/services\/([^/]+)\/dist\/main\.js$/.exec(script);
      const source = dist ? `services/${dist[1]}/src/main.ts` : script.replace('/usr/lib/crius/libexec/', 'deploy/libexec/');
      expect(existsSync(path.join(REPO, source)), `${script} comes from ${source}`).toBe(true);
    }
  });

  it('crius.target groups the units; nats starts first, the gateway last; no restart spreads', () => {
    expect(words(units['crius.target']!, 'Unit', 'Wants').sort()).toEqual(Object.values(SERVICE_UNITS).sort());
    expect(words(units['crius.target']!, 'Install', 'WantedBy')).toEqual(['multi-user.target']);
    for (const s of SERVICES) {
      const u = svc(s);
      expect(words(u, 'Unit', 'PartOf'), s).toEqual(['crius.target']);
      // Requires/BindsTo would stop or restart a unit when another restarts.
      for (const key of ['Requires', 'BindsTo', 'Requisite']) expect(u.Unit?.[key], `${s} ${key}`).toBeUndefined();
      if (s !== 'nats') {
        expect(words(u, 'Unit', 'After'), s).toContain('crius-nats.service');
        expect(words(u, 'Unit', 'Wants'), s).toContain('crius-nats.service');
      }
      for (const dep of [...words(u, 'Unit', 'After'), ...words(u, 'Unit', 'Wants')]) {
        const known = dep.startsWith('crius-') ? ALL_UNITS.includes(dep) : existsSync(path.join('/usr/lib/systemd/system', dep));
        expect(known, `${s} names ${dep}`).toBe(true);
      }
    }
    expect(words(svc('gateway'), 'Unit', 'After').sort()).toEqual(Object.values(SERVICE_UNITS).filter((u) => u !== 'crius-gateway.service').sort());
    expect(startOrder()[0]).toBe('crius-nats.service');
    expect(startOrder().at(-1)).toBe('crius-gateway.service');
  });

  it('gives each service the user and capabilities of ARCHITECTURE.md', () => {
    const expected: Record<UnitService, { user: string; caps: string[] | 'all' }> = {
      nats: { user: 'crius-nats', caps: [] },
      gateway: { user: 'crius-gateway', caps: [] },
      image: { user: 'crius-image', caps: [] },
      storage: { user: 'root', caps: ['CAP_SYS_ADMIN', 'CAP_CHOWN', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_DAC_OVERRIDE', 'CAP_SETFCAP', 'CAP_FSETID'] },
      network: { user: 'root', caps: ['CAP_NET_ADMIN', 'CAP_SYS_ADMIN', 'CAP_NET_RAW'] },
      monitor: { user: 'root', caps: [] },
      runtime: { user: 'root', caps: 'all' },
    };
    for (const s of SERVICES) {
      const u = svc(s);
      expect(value(u, 'Service', 'User'), s).toBe(expected[s].user);
      const caps = expected[s].caps;
      if (caps === 'all') expect(u.Service?.CapabilityBoundingSet, s).toBeUndefined();
      else expect(words(u, 'Service', 'CapabilityBoundingSet').sort(), s).toEqual([...caps].sort());
      if (caps !== 'all') expect(words(u, 'Service', 'AmbientCapabilities'), s).toEqual([]);
      expect(value(u, 'Service', 'SELinuxContext'), s).toBe(`-system_u:system_r:crius_${s}_t:s0`);
      expect(value(u, 'Service', 'Type'), s).toBe('exec');
      expect(value(u, 'Service', 'Restart'), s).toBe('on-failure');
    }
  });

  it('sandboxes every service but runtime-svc, whose children are the containers', () => {
    for (const s of SERVICES) {
      const u = svc(s);
      const confined = s !== 'runtime';
      expect(value(u, 'Service', 'NoNewPrivileges'), s).toBe(confined ? 'yes' : undefined);
      expect(value(u, 'Service', 'SystemCallArchitectures'), s).toBe(confined ? 'native' : undefined);
      expect((u.Service?.SystemCallFilter ?? []).length > 0, s).toBe(confined);
      expect(words(u, 'Service', 'RestrictAddressFamilies').length > 0, s).toBe(confined);
      // Everyone but image-svc talks only to the bus on loopback.
      expect(value(u, 'Service', 'IPAddressDeny'), s).toBe(s === 'image' ? undefined : 'any');
      expect(value(u, 'Service', 'IPAddressAllow'), s).toBe(s === 'image' ? undefined : 'localhost');
      // Mount namespaces never propagate mounts to the host (deploy/README.md).
      const mountsForOthers = ['storage', 'network', 'runtime'].includes(s);
      expect(value(u, 'Service', 'ProtectSystem'), s).toBe(mountsForOthers ? undefined : 'strict');
      expect(value(u, 'Service', 'PrivateTmp'), s).toBe(mountsForOthers ? undefined : 'yes');
      expect(value(u, 'Service', 'ProtectHome'), s).toBe(mountsForOthers ? undefined : 'yes');
    }
    // image-svc parses untrusted data: no mount, no ptrace (@debug), no setns.
    const imageDenied = (svc('image').Service?.SystemCallFilter ?? []).filter((l) => l.startsWith('~')).flatMap((l) => l.slice(1).split(/\s+/));
    expect(imageDenied).toEqual(expect.arrayContaining(['@mount', '@debug', 'setns']));
    expect(value(svc('runtime'), 'Service', 'KillMode')).toBe('process');
    expect(value(svc('runtime'), 'Service', 'Delegate')).toBe('yes');
  });

  it('keeps each unit at or under its recorded security exposure; gateway and image rate OK or better', () => {
    const ceilings = JSON.parse(readFileSync(path.join(UNIT_DIR, 'security-ceilings.json'), 'utf8')) as Record<string, number>;
    const rows: string[] = [];
    for (const unit of Object.values(SERVICE_UNITS)) {
      const out = execFileSync('systemd-analyze', ['security', '--offline=true', path.join(UNIT_DIR, unit)], { encoding: 'utf8' });
      const m = /Overall exposure level for \S+: ([\d.]+) (\w+)/.exec(out);
      expect(m, `${unit}: ${out.slice(-200)}`).not.toBeNull();
      const [score, rating] = [Number(m![1]), m![2]!];
      rows.push(`${unit.padEnd(24)} ${score.toFixed(1)} ${rating} (ceiling ${ceilings[unit]})`);
      expect(score, `${unit} exposure`).toBeLessThanOrEqual(ceilings[unit]!);
      // systemd 252 rates < 1.0 SAFE, < 5.0 OK, < 7.5 MEDIUM, < 9.0 EXPOSED, < 10 UNSAFE.
      if (unit === 'crius-gateway.service' || unit === 'crius-image.service') expect(['PERFECT', 'SAFE', 'OK'], unit).toContain(rating);
    }
    console.log(`systemd-analyze security (offline):\n${rows.join('\n')}`);
  });
});

/** Start order of the crius units by their After= edges (throws on a cycle). */
function startOrder(): string[] {
  const after = new Map<string, string[]>(Object.values(SERVICE_UNITS).map((u) => [u, words(readUnit(u), 'Unit', 'After').filter((d) => d.startsWith('crius-'))]));
  const order: string[] = [];
  const visiting = new Set<string>();
  const visit = (u: string) => {
    if (order.includes(u)) return;
    if (visiting.has(u)) throw new Error(`ordering cycle through ${u}`);
    visiting.add(u);
    for (const d of after.get(u) ?? []) visit(d);
    order.push(u);
  };
  for (const u of after.keys()) visit(u);
  return order;
}
