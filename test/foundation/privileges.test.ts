// image-svc parses untrusted registry data: started as root without being
// told that is intended, it refuses before touching the bus or the disk.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupHost, makeTestConfig, type TestConfig } from '../harness/stack.js';

let t: TestConfig | undefined;
afterAll(async () => {
  if (t) await cleanupHost(t.dir, t.bridge);
});

describe('image-svc privileges', () => {
  it('refuses to run as root unless allowed', async () => {
    t = await makeTestConfig();
    const env = { ...process.env };
    delete env.CRIUS_ALLOW_ROOT;
    const r = spawnSync(process.execPath, [path.resolve('services/image-svc/dist/main.js'), '--config', t.configPath], { env, encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('image-svc refuses to run as root');
  });
});
