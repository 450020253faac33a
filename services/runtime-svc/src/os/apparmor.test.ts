// AppArmor detection against fake sysfs trees (this node's kernel has no
// AppArmor), and crius-default compiled by Debian's apparmor_parser without
// loading it (-Q skips the kernel, -K the cache): the parser needs no LSM.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NodeAppArmor, defaultProfile, detectAppArmor, loadedProfiles, runParser } from './apparmor.js';

const roots: string[] = [];
function fakeRoot(files: Record<string, string>, dirs: string[] = []): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'crius-aa-'));
  roots.push(root);
  for (const d of dirs) mkdirSync(path.join(root, d), { recursive: true });
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    writeFileSync(path.join(root, f), text);
  }
  return root;
}
afterAll(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

const ENABLED = 'sys/module/apparmor/parameters/enabled';
const PROFILES = 'sys/kernel/security/apparmor/profiles';

describe('AppArmor detection', () => {
  it('is enabled only with the module saying Y and securityfs showing apparmor', () => {
    expect(detectAppArmor(fakeRoot({ [ENABLED]: 'Y\n', [PROFILES]: '' }))).toEqual({ enabled: true });
    expect(detectAppArmor(fakeRoot({ [ENABLED]: 'N\n' }, ['sys/kernel/security/apparmor']))).toMatchObject({ enabled: false, reason: expect.stringMatching(/disabled in the kernel .* is "N"/) });
    expect(detectAppArmor(fakeRoot({ [ENABLED]: 'Y\n' }))).toMatchObject({ enabled: false, reason: expect.stringMatching(/securityfs does not show AppArmor/) });
    expect(detectAppArmor(fakeRoot({}))).toMatchObject({ enabled: false, reason: expect.stringMatching(/the kernel has no AppArmor module/) });
  });

  it('reads the loaded profile names, with their modes stripped', () => {
    const root = fakeRoot({ [ENABLED]: 'Y', [PROFILES]: 'crius-default (enforce)\nk8s-web (complain)\n/usr/bin/man (enforce)\n' });
    expect([...loadedProfiles(root)]).toEqual(['crius-default', 'k8s-web', '/usr/bin/man']);
    const host = new NodeAppArmor(root).host();
    expect([host.enabled, host.isLoaded('k8s-web'), host.isLoaded('k8s-db')]).toEqual([true, true, false]);
  });

  it('on this kernel: detects no AppArmor, and says why', () => {
    const real = detectAppArmor('/');
    if (real.enabled) return; // an AppArmor kernel: nothing to say here
    expect(real.reason).toMatch(/\/sys\/module\/apparmor|securityfs/);
    console.log(`NOTE: this kernel has no AppArmor (${real.reason}); loading and applying crius-default could not be exercised here, only compiled`);
    const host = new NodeAppArmor('/').host();
    expect(host.enabled).toBe(false);
  });
});

describe('crius-default', () => {
  it('compiles with apparmor_parser (no kernel load), with and without Debian\'s includes', async () => {
    await runParser(['-Q', '-K'], defaultProfile());
    await runParser(['-Q', '-K'], defaultProfile('crius-default', path.join(os.tmpdir(), 'no-such-apparmor.d')));
    expect(defaultProfile()).toMatch(/^profile crius-default flags=\(attach_disconnected,mediate_deleted\) \{$/m);
    expect(defaultProfile()).toMatch(/^\s+deny mount,$/m);
  });

  it('is checked by the parser, so a broken profile fails loudly', async () => {
    await expect(runParser(['-Q', '-K'], defaultProfile().replace('deny mount,', 'deny mount'))).rejects.toThrow(/apparmor_parser -Q -K: [\s\S]*parser error at line \d+: syntax error/);
  });
});
