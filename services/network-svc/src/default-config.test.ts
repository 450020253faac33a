import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseNetworkConfig } from './cni-config.js';
import { defaultBridgeConfig, installDefaultConfigIfMissing } from './default-config.js';

describe('defaultBridgeConfig', () => {
  it('is a valid bridge + host-local + portmap list', () => {
    const c = defaultBridgeConfig();
    expect(parseNetworkConfig('default.conflist', JSON.stringify(c))).toEqual(c);
    expect(c.plugins.map((p) => p.type)).toEqual(['bridge', 'portmap']);
    expect(c.plugins[0]!.ipam).toEqual({ type: 'host-local', ranges: [[{ subnet: '10.88.0.0/16' }]], routes: [{ dst: '0.0.0.0/0' }] });
    expect(c.plugins[1]!.capabilities).toEqual({ portMappings: true });
  });

  it('gives one range set per subnet for dual-stack, and honours options', () => {
    const c = defaultBridgeConfig(['10.1.0.0/24', 'fd00:1::/64'], { bridge: 'br7', name: 'x', dataDir: '/tmp/d', ipMasq: false, portMap: false });
    expect(c.name).toBe('x');
    expect(c.plugins).toHaveLength(1);
    expect(c.plugins[0]).toMatchObject({ bridge: 'br7', ipMasq: false });
    expect(c.plugins[0]!.ipam).toMatchObject({ ranges: [[{ subnet: '10.1.0.0/24' }], [{ subnet: 'fd00:1::/64' }]], routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }], dataDir: '/tmp/d' });
    expect(() => defaultBridgeConfig('10.1.0.0')).toThrow(/is not a CIDR/);
  });
});

describe('installDefaultConfigIfMissing', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('writes into an empty or missing dir, never over an existing config', async () => {
    dir = await mkdtemp(join(tmpdir(), 'crius-defconf-'));
    const netd = join(dir, 'net.d');
    const path = await installDefaultConfigIfMissing(netd, '10.77.0.0/16');
    expect(path).toBe(join(netd, '10-crius-bridge.conflist'));
    expect(JSON.parse(await readFile(path!, 'utf8')).plugins[0].ipam.ranges).toEqual([[{ subnet: '10.77.0.0/16' }]]);
    expect((await stat(path!)).mode & 0o777).toBe(0o644);
    expect(await installDefaultConfigIfMissing(netd)).toBeUndefined();
    const other = join(dir, 'other');
    await installDefaultConfigIfMissing(other);
    await rm(join(other, '10-crius-bridge.conflist'));
    await writeFile(join(other, '99-mine.conf'), '{}');
    expect(await installDefaultConfigIfMissing(other)).toBeUndefined();
  });
});
