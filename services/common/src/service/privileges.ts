// Privilege checks a service makes on itself, for where the OS cannot enforce
// the boundaries of ARCHITECTURE.md (a service started by hand, not by its
// systemd unit). image-svc calls assertNotRoot with [image] allow_root or the
// CRIUS_ALLOW_ROOT=1 the development launcher sets.
import { FailedPreconditionError } from '../errors.js';

/**
 * Refuses to go on as root. A service that parses untrusted input (image-svc:
 * registry data) must not hold root's power over the node; allowRoot is the
 * explicit opt-out (tests, debugging). `uid` defaults to the effective uid.
 */
export function assertNotRoot(service: string, allowRoot: boolean, uid: number | undefined = process.geteuid?.()): void {
  if (uid !== 0 || allowRoot) return;
  throw new FailedPreconditionError(
    `${service} refuses to run as root: it handles untrusted data and needs no privileges; ` +
      `run it as its own user (the crius-${service.replace(/-svc$/, '')} account of deploy/systemd) or allow root explicitly`,
  );
}
