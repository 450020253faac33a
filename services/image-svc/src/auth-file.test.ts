import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FailedPreconditionError } from '@crius/common';
import { loadAuthFile } from './auth-file.js';

let dir: string;
let file: string;
const b64 = (s: string) => Buffer.from(s).toString('base64');

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crius-authfile-'));
  file = join(dir, 'auth.json');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(json: unknown, mode = 0o600): Promise<void> {
  await writeFile(file, typeof json === 'string' ? json : JSON.stringify(json));
  await chmod(file, mode);
}

describe('global auth file (containers-auth.json(5))', () => {
  it('matches keys most specific first: repository, namespaces, host', async () => {
    await write({
      auths: {
        'reg.example': { auth: b64('host:1') },
        'reg.example/team': { auth: b64('team:2') },
        'reg.example/team/app': { auth: b64('app:3') },
        'other.example:5000': { identitytoken: 'refresh-token' },
      },
    });
    const table = await loadAuthFile(file);
    expect(table.lookup('reg.example/team/app')).toEqual({ auth: b64('app:3') });
    expect(table.lookup('reg.example/team/tool')).toEqual({ auth: b64('team:2') });
    expect(table.lookup('reg.example/teams/app')).toEqual({ auth: b64('host:1') });
    expect(table.lookup('other.example:5000/x')).toEqual({ identityToken: 'refresh-token' });
    expect(table.lookup('other.example/x')).toBeUndefined();
    expect(table.lookup('unknown.example/x/y')).toBeUndefined();
  });

  it('reads legacy docker keys by their host, docker.io under its names', async () => {
    await write({ auths: { 'https://index.docker.io/v1/': { auth: b64('hub:1') }, 'http://legacy.example:5000/v2/': { auth: b64('l:2') }, 'helper-only.example': {} } });
    const table = await loadAuthFile(file);
    expect(table.lookup('docker.io/library/busybox')).toEqual({ auth: b64('hub:1') });
    expect(table.lookup('legacy.example:5000/app')).toEqual({ auth: b64('l:2') });
    expect(table.lookup('helper-only.example/app')).toBeUndefined();
  });

  it('is empty when missing; refuses a file others can read, bad JSON or a bad auth, never echoing it', async () => {
    expect((await loadAuthFile(file)).size).toBe(0);
    await write({ auths: { 'reg.example': { auth: b64('u:p') } } }, 0o644);
    await expect(loadAuthFile(file)).rejects.toThrow(new FailedPreconditionError(
      `auth file ${file}: readable by group or others (mode 644); it holds credentials, make it 0600`,
    ));
    await write('{"auths": ');
    await expect(loadAuthFile(file)).rejects.toThrow(`auth file ${file}: not valid JSON`);
    await write({ auths: { 'reg.example': { auth: b64('no-colon-secret') } } });
    const err = await loadAuthFile(file).catch((e: Error) => e);
    expect((err as Error).message).toBe(`auth file ${file}: entry "reg.example": "auth" is not base64 of "username:password"`);
    expect((err as Error).message).not.toContain('no-colon-secret');
  });
});
