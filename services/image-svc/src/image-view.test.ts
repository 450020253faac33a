import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sampleRecord } from '../../../test/fixtures/image-records.js';
import { chainIds, toCriImage, toRuntimeConfig, userOf, verboseInfo } from './image-view.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;

describe('image view', () => {
  it('maps image users to uid or username as CRI wants', () => {
    expect(userOf('')).toEqual({ username: '' });
    expect(userOf('1000')).toEqual({ uid: { value: 1000 }, username: '' });
    expect(userOf('0:0')).toEqual({ uid: { value: 0 }, username: '' });
    expect(userOf('nobody:nogroup')).toEqual({ username: 'nobody' });
  });

  it('builds the CRI Image message', () => {
    expect(toCriImage(sampleRecord())).toEqual({
      id: d('1'), repoTags: ['127.0.0.1:5000/app:1'], repoDigests: [`127.0.0.1:5000/app@${d('2')}`], size: 100,
      username: 'nobody', spec: { image: d('1'), annotations: { a: 'b' } }, pinned: false,
    });
  });

  it('computes OCI chain IDs', () => {
    const second = `sha256:${createHash('sha256').update(`${d('4')} ${d('6')}`).digest('hex')}`;
    expect(chainIds([d('4'), d('6')])).toEqual([d('4'), second]);
    expect(toRuntimeConfig(sampleRecord()).chainId).toBe(second);
    expect(toRuntimeConfig(sampleRecord({ layers: [] })).chainId).toBe('');
  });

  it('puts imageSpec in verbose info JSON', () => {
    const info = JSON.parse(verboseInfo(sampleRecord(), { os: 'linux' }).info!);
    expect(info.imageSpec).toEqual({ os: 'linux' });
    expect(info.manifestDigest).toBe(d('2'));
  });
});
