// What `crius up` writes for the bus: a seed per bus user, mode 0600 in a
// 0700 directory, public keys only in the server config, and the password
// files of an older crius gone (the next `crius up` migrates a node).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BUS_USERS, parseConfig, readCredential } from '@crius/common';
import { writeBusConfig } from './bus-config.js';

describe('writeBusConfig (crius up)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'crius-busconf-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const config = () => parseConfig(`[state]\nroot = "${dir}/lib"\nrun_root = "${dir}/run"\n[bus]\naddress = "127.0.0.1:4333"\n`);

  it('writes one private seed per bus user and only their public keys into the config', async () => {
    const conf = await writeBusConfig(config());
    const bus = path.join(dir, 'run/bus');
    expect(statSync(bus).mode & 0o777).toBe(0o700);
    expect(readdirSync(bus).sort()).toEqual([...BUS_USERS.map((u) => `${u}.nk`), 'nats-server.conf'].sort());
    const text = readFileSync(conf, 'utf8');
    expect(statSync(conf).mode & 0o777).toBe(0o600);
    for (const u of BUS_USERS) {
      expect(statSync(path.join(bus, `${u}.nk`)).mode & 0o777, u).toBe(0o600);
      const cred = await readCredential(bus, u);
      expect(text).toContain(`# ${u}\n    {"nkey":"${cred.publicKey}"`);
      expect(text).not.toContain(cred.seed);
    }
  });

  it('replaces the password files of an older crius with nkeys', async () => {
    const bus = path.join(dir, 'run/bus');
    mkdirSync(bus, { recursive: true });
    for (const u of BUS_USERS) writeFileSync(path.join(bus, `${u}.json`), JSON.stringify({ user: u, password: 'x'.repeat(24) }));
    await writeBusConfig(config());
    expect(readdirSync(bus).filter((f) => f.endsWith('.json'))).toEqual([]);
    expect(readFileSync(path.join(bus, 'nats-server.conf'), 'utf8')).not.toMatch(/password/);
  });

  it('makes fresh keys for each launch', async () => {
    await writeBusConfig(config());
    const first = await readCredential(path.join(dir, 'run/bus'), 'runtime');
    await writeBusConfig(config());
    expect((await readCredential(path.join(dir, 'run/bus'), 'runtime')).publicKey).not.toBe(first.publicKey);
  });
});
