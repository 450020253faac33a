import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@crius/common';
import { ImageIndex, INDEX_VERSION } from './image-index.js';
import { sampleRecord } from '../../../test/fixtures/image-records.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crius-idx-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ImageIndex', () => {
  it('persists records as versioned JSON and reloads them', async () => {
    const index = new ImageIndex(dir);
    await index.load();
    await index.put(sampleRecord());
    const file = JSON.parse(await readFile(join(dir, 'images.json'), 'utf8'));
    expect(file.version).toBe(INDEX_VERSION);
    const again = new ImageIndex(dir);
    await again.load();
    expect(again.get(d('1'))?.repoTags).toEqual(['127.0.0.1:5000/app:1']);
  });

  it('looks up by ID, prefix, tag and repo digest', async () => {
    const index = new ImageIndex(dir);
    await index.put(sampleRecord());
    await index.put(sampleRecord({ id: `sha256:1111${'2'.repeat(60)}`, repoTags: ['x/y:2'], repoDigests: [] }));
    expect(index.byIdOrPrefix(d('1'))?.id).toBe(d('1'));
    expect(index.byIdOrPrefix('1'.repeat(64))?.id).toBe(d('1'));
    expect(index.byIdOrPrefix('11111')?.id).toBe(d('1'));
    expect(() => index.byIdOrPrefix('1111')).toThrow(InvalidArgumentError);
    expect(index.byIdOrPrefix('111')).toBeUndefined();
    expect(index.byTag('127.0.0.1:5000/app:1')?.id).toBe(d('1'));
    expect(index.byRepoDigest(`127.0.0.1:5000/app@${d('2')}`)?.id).toBe(d('1'));
  });

  it('moves a tag to the newest image and merges names of the same image', async () => {
    const index = new ImageIndex(dir);
    await index.put(sampleRecord());
    await index.put(sampleRecord({ repoTags: ['127.0.0.1:5000/app:latest'], repoDigests: [] }));
    expect(index.get(d('1'))?.repoTags).toEqual(['127.0.0.1:5000/app:1', '127.0.0.1:5000/app:latest']);
    await index.put(sampleRecord({ id: d('9'), repoTags: ['127.0.0.1:5000/app:latest'] }));
    expect(index.get(d('1'))?.repoTags).toEqual(['127.0.0.1:5000/app:1']);
    expect(await index.remove(d('1'))).toBe(true);
    expect(index.get(d('1'))).toBeUndefined();
  });

  it('serialises concurrent updates', async () => {
    const index = new ImageIndex(dir);
    await Promise.all(Array.from({ length: 10 }, (_, i) => index.put(sampleRecord({ id: d(i.toString(16)), repoTags: [`a/b:${i}`] }))));
    const again = new ImageIndex(dir);
    await again.load();
    expect(again.all()).toHaveLength(10);
  });

  it('skips invalid records with a warning and refuses unknown versions', async () => {
    await writeFile(join(dir, 'images.json'), JSON.stringify({ version: 1, images: [sampleRecord(), { id: 'bogus' }] }));
    const warnings: string[] = [];
    const index = new ImageIndex(dir, (m) => warnings.push(m));
    await index.load();
    expect(index.all()).toHaveLength(1);
    expect(warnings[0]).toMatch(/skipping invalid record #1/);
    await writeFile(join(dir, 'images.json'), JSON.stringify({ version: 99, images: [] }));
    await expect(new ImageIndex(dir).load()).rejects.toThrow(/version 99 is not the supported 1/);
  });
});
