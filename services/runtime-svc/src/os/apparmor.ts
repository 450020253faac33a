// The node's AppArmor, read from the kernel rather than assumed: enabled when
// /sys/module/apparmor/parameters/enabled says Y and securityfs shows
// /sys/kernel/security/apparmor (runc's own test); loaded profiles from
// .../apparmor/profiles; crius-default loaded with `apparmor_parser -Kr`.
// Owned by runtime-svc/os. The root is "/" except in tests, which point
// CRIUS_TEST_LSM_ROOT at a fake tree.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { AppArmorHost } from '../spec/apparmor.js';
import { APPARMOR_DEFAULT_PROFILE } from '../spec/apparmor.js';
import { defaultProfileText } from '../spec/apparmor-profile.js';
import { run } from './exec.js';

/** Where the kernel's /sys is read (tests only: CRIUS_TEST_LSM_ROOT). */
export function lsmRoot(): string {
  return process.env.CRIUS_TEST_LSM_ROOT || '/';
}

export interface AppArmorState {
  enabled: boolean;
  /** Why it is off, for the one log line, Status and errors. */
  reason?: string;
}

export function detectAppArmor(root = lsmRoot()): AppArmorState {
  const param = path.join(root, 'sys/module/apparmor/parameters/enabled');
  const fs = path.join(root, 'sys/kernel/security/apparmor');
  let flag: string;
  try {
    flag = readFileSync(param, 'utf8').trim();
  } catch {
    return { enabled: false, reason: `the kernel has no AppArmor module (${param} is missing)` };
  }
  if (!flag.startsWith('Y')) return { enabled: false, reason: `AppArmor is disabled in the kernel (${param} is "${flag}")` };
  if (!existsSync(fs)) return { enabled: false, reason: `securityfs does not show AppArmor (${fs} is missing; is securityfs mounted?)` };
  return { enabled: true };
}

/** Names of the profiles loaded in the kernel ("name (mode)" lines). */
export function loadedProfiles(root = lsmRoot()): Set<string> {
  let text = '';
  try {
    text = readFileSync(path.join(root, 'sys/kernel/security/apparmor/profiles'), 'utf8');
  } catch {
    return new Set();
  }
  return new Set(
    text
      .split('\n')
      .map((l) => l.replace(/\s+\([a-z_-]+\)\s*$/, '').trim())
      .filter(Boolean),
  );
}

/** crius-default's text for this node (with Debian's tunables and base abstraction when installed). */
export function defaultProfile(name = APPARMOR_DEFAULT_PROFILE, etc = '/etc/apparmor.d'): string {
  return defaultProfileText(name, {
    tunables: existsSync(path.join(etc, 'tunables/global')),
    base: existsSync(path.join(etc, 'abstractions/base')),
  });
}

/** Runs apparmor_parser with the profile on stdin; rejects naming it, with its stderr. */
export async function runParser(args: string[], profile: string, parser = 'apparmor_parser'): Promise<void> {
  await run(parser, args, { input: profile });
}

/**
 * The AppArmorHost spec generation reads. When AppArmor is on, crius-default
 * is (re)loaded whenever it is missing from the kernel's list, as CRI-O
 * reloads crio-default, so a profile unloaded by hand comes back.
 */
export class NodeAppArmor {
  readonly state: AppArmorState;
  constructor(private readonly root = lsmRoot()) {
    this.state = detectAppArmor(root);
  }

  /** Load crius-default if AppArmor is on and it is not loaded yet. */
  async ensureDefault(): Promise<void> {
    if (!this.state.enabled || loadedProfiles(this.root).has(APPARMOR_DEFAULT_PROFILE)) return;
    await runParser(['-Kr'], defaultProfile());
  }

  host(): AppArmorHost {
    const loaded = this.state.enabled ? loadedProfiles(this.root) : new Set<string>();
    return { enabled: this.state.enabled, reason: this.state.reason, isLoaded: (n) => loaded.has(n) };
  }
}
