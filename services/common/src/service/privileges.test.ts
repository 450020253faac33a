import { describe, expect, it } from 'vitest';
import { FailedPreconditionError } from '../errors.js';
import { assertNotRoot } from './privileges.js';

describe('assertNotRoot', () => {
  it('refuses root, naming the service and its account', () => {
    expect(() => assertNotRoot('image-svc', false, 0)).toThrow(FailedPreconditionError);
    expect(() => assertNotRoot('image-svc', false, 0)).toThrow(/image-svc refuses to run as root.*crius-image/);
  });

  it('lets an unprivileged user through, and root when explicitly allowed', () => {
    expect(() => assertNotRoot('image-svc', false, 993)).not.toThrow();
    expect(() => assertNotRoot('image-svc', true, 0)).not.toThrow();
  });

  it('checks the real effective uid by default', () => {
    const check = () => assertNotRoot('image-svc', false);
    if (process.geteuid?.() === 0) expect(check).toThrow(FailedPreconditionError);
    else expect(check).not.toThrow();
  });
});
