import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@crius/common';
import { resolveUser } from './user.js';
import { parseGroup, parsePasswd } from './image-config.js';

const db = {
  passwd: [
    '# comment',
    'root:x:0:0:root:/root:/bin/sh',
    'daemon:x:1:1::/:/sbin/nologin',
    'alice:x:1000:1000::/home/alice:/bin/sh',
    'broken:x:notanumber:1::/:/bin/sh',
    '',
  ].join('\n'),
  group: ['root:x:0:', 'daemon:x:1:', 'alice:x:1000:', 'wheel:x:10:root,alice', 'audio:x:29:alice', 'staff:x:50:bob'].join('\n'),
};

describe('parsePasswd / parseGroup', () => {
  it('skips comments and malformed lines', () => {
    expect(parsePasswd(db.passwd).map((u) => u.name)).toEqual(['root', 'daemon', 'alice']);
    expect(parseGroup(db.group).find((g) => g.name === 'wheel')?.members).toEqual(['root', 'alice']);
    expect(parsePasswd(undefined)).toEqual([]);
  });
});

describe('resolveUser', () => {
  it('defaults to root with root\'s groups when the image has no User', () => {
    expect(resolveUser({ imageUser: '' }, db)).toEqual({ uid: 0, gid: 0, additionalGids: [0, 10] });
  });

  it('resolves an image user by name, with its /etc/group memberships', () => {
    expect(resolveUser({ imageUser: 'alice' }, db)).toEqual({ uid: 1000, gid: 1000, additionalGids: [1000, 10, 29] });
  });

  it('resolves a numeric uid in the image, taking its primary group', () => {
    expect(resolveUser({ imageUser: '1' }, db)).toEqual({ uid: 1, gid: 1, additionalGids: [1] });
  });

  it('accepts a numeric uid unknown to the image, with gid 0', () => {
    expect(resolveUser({ imageUser: '4242' }, db)).toEqual({ uid: 4242, gid: 0, additionalGids: [0] });
  });

  it('resolves name:group and uid:gid forms', () => {
    expect(resolveUser({ imageUser: 'alice:audio' }, db)).toMatchObject({ uid: 1000, gid: 29 });
    expect(resolveUser({ imageUser: '5:7' }, db)).toMatchObject({ uid: 5, gid: 7 });
    expect(resolveUser({ imageUser: '1000:wheel' }, db)).toMatchObject({ uid: 1000, gid: 10 });
  });

  it('names a missing user or group in the error', () => {
    expect(() => resolveUser({ imageUser: 'nobody' }, db)).toThrow(InvalidArgumentError);
    expect(() => resolveUser({ imageUser: 'nobody' }, db)).toThrow(/"nobody"/);
    expect(() => resolveUser({ imageUser: 'alice:nogroup' }, db)).toThrow(/group "nogroup"/);
    expect(() => resolveUser({ imageUser: 'x', runAsUsername: 'ghost' }, db)).toThrow(/"ghost"/);
    expect(() => resolveUser({ imageUser: 'alice' }, { passwd: undefined })).toThrow(/"alice"/);
  });

  it('prefers run_as_user over run_as_username over the image user', () => {
    expect(resolveUser({ imageUser: 'alice', runAsUser: 1n, runAsUsername: 'alice' }, db)).toMatchObject({ uid: 1, gid: 1 });
    expect(resolveUser({ imageUser: 'daemon', runAsUsername: 'alice' }, db)).toMatchObject({ uid: 1000, gid: 1000 });
  });

  it('lets run_as_group replace the group, also over the image\'s group', () => {
    expect(resolveUser({ imageUser: 'alice:audio', runAsUsername: 'alice', runAsGroup: 3000n }, db)).toMatchObject({ uid: 1000, gid: 3000 });
    expect(resolveUser({ imageUser: '', runAsUser: 1000n, runAsGroup: 0n }, db)).toMatchObject({ uid: 1000, gid: 0 });
  });

  it('refuses run_as_group without run_as_user or run_as_username, whatever the image says', () => {
    for (const imageUser of ['', 'alice', 'alice:audio', '1000']) {
      expect(() => resolveUser({ imageUser, runAsGroup: 3000n }, db)).toThrow(InvalidArgumentError);
      expect(() => resolveUser({ imageUser, runAsGroup: 0n }, db)).toThrow(/run_as_group 0 is set without run_as_user or run_as_username/);
    }
  });

  it('adds supplemental groups after the /etc/group ones, without duplicates', () => {
    const u = resolveUser({ imageUser: 'alice', supplementalGroups: [2000n, 10n] }, db);
    expect(u.additionalGids).toEqual([1000, 10, 29, 2000]);
  });

  it('ignores /etc/group memberships under the Strict policy', () => {
    const u = resolveUser({ imageUser: 'alice', supplementalGroups: [2000n], strictGroups: true }, db);
    expect(u.additionalGids).toEqual([1000, 2000]);
  });

  it('rejects ids out of range', () => {
    expect(() => resolveUser({ imageUser: '', runAsUser: -1n }, db)).toThrow(/run_as_user -1/);
    expect(() => resolveUser({ imageUser: '', supplementalGroups: [1n << 40n] }, db)).toThrow(InvalidArgumentError);
  });
});
