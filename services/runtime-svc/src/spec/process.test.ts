import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@crius/common';
import { ContainerConfig } from '@crius/common/cri';
import { buildProcess, clampOomScoreAdj, DEFAULT_PATH, mergeEnv, resolveArgs, resolveWorkingDir } from './process.js';
import type { ImageInput } from './image-config.js';

const image = { entrypoint: ['/entry'], cmd: ['cmd-a', 'cmd-b'] };

describe('resolveArgs (Kubernetes command/args vs Entrypoint/Cmd)', () => {
  it.each([
    ['neither → Entrypoint + Cmd', [], [], ['/entry', 'cmd-a', 'cmd-b']],
    ['only args → Entrypoint + args', [], ['x'], ['/entry', 'x']],
    ['only command → command, image ignored', ['/bin/true'], [], ['/bin/true']],
    ['both → command + args', ['/bin/echo'], ['hi'], ['/bin/echo', 'hi']],
  ])('%s', (_name, command, args, want) => {
    expect(resolveArgs(command, args, image)).toEqual(want);
  });

  it('treats an Entrypoint of [""] as no entrypoint', () => {
    expect(resolveArgs([], [], { entrypoint: [''], cmd: ['/bin/sh'] })).toEqual(['/bin/sh']);
  });

  it('uses Cmd alone when the image has no Entrypoint', () => {
    expect(resolveArgs([], [], { entrypoint: [], cmd: ['/bin/sh'] })).toEqual(['/bin/sh']);
  });

  it('rejects an empty result', () => {
    expect(() => resolveArgs([], [], { entrypoint: [], cmd: [] })).toThrow(InvalidArgumentError);
    expect(() => resolveArgs([], [], { entrypoint: [], cmd: [] })).toThrow(/no command specified/);
  });
});

describe('mergeEnv', () => {
  it('overlays config env on image env, keeping positions, HOSTNAME first', () => {
    const env = mergeEnv(['A=1', 'PATH=/img', 'B=2'], [{ key: 'A', value: 'x' }, { key: 'C', value: '3' }], 'pod1');
    expect(env).toEqual(['HOSTNAME=pod1', 'A=x', 'PATH=/img', 'B=2', 'C=3']);
  });

  it('adds the default PATH when nobody sets one', () => {
    expect(mergeEnv(['A=1'], [], 'h')).toEqual(['HOSTNAME=h', 'A=1', `PATH=${DEFAULT_PATH}`]);
  });

  it('lets the request override HOSTNAME and PATH', () => {
    const env = mergeEnv([], [{ key: 'HOSTNAME', value: 'mine' }, { key: 'PATH', value: '/p' }], 'h');
    expect(env).toEqual(['HOSTNAME=mine', 'PATH=/p']);
  });

  it('rejects an invalid variable name', () => {
    expect(() => mergeEnv([], [{ key: '', value: 'v' }], 'h')).toThrow(InvalidArgumentError);
    expect(() => mergeEnv([], [{ key: 'A=B', value: 'v' }], 'h')).toThrow(/A=B/);
  });
});

describe('resolveWorkingDir', () => {
  it('prefers the request, then the image, then /', () => {
    expect(resolveWorkingDir('/req', '/img')).toBe('/req');
    expect(resolveWorkingDir('', '/img')).toBe('/img');
    expect(resolveWorkingDir('', '')).toBe('/');
  });
  it('rejects a relative directory', () => {
    expect(() => resolveWorkingDir('rel', '')).toThrow(InvalidArgumentError);
  });
});

describe('clampOomScoreAdj', () => {
  it('raises a value below the floor to it with a warning', () => {
    const warnings: string[] = [];
    expect(clampOomScoreAdj(-998, 0, warnings)).toBe(0);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/-998.*0/);
  });
  it('keeps a value at or above the floor silently', () => {
    const warnings: string[] = [];
    expect(clampOomScoreAdj(500, 0, warnings)).toBe(500);
    expect(clampOomScoreAdj(-5, -5, warnings)).toBe(-5);
    expect(warnings).toEqual([]);
  });
  it('rejects values outside -1000..1000', () => {
    expect(() => clampOomScoreAdj(1001, -1000, [])).toThrow(InvalidArgumentError);
  });
});

describe('buildProcess', () => {
  const img: ImageInput = {
    config: { user: 'app', env: ['A=1'], entrypoint: ['/bin/app'], cmd: ['--serve'], workingDir: '/srv', labels: {} },
    passwd: 'root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n',
    group: 'root:x:0:\napp:x:1000:\nwheel:x:10:app\n',
  };

  it('assembles args, env, cwd, tty, user, caps, no_new_privs and oom score', () => {
    const config = ContainerConfig.fromPartial({
      args: ['--debug'],
      envs: [{ key: 'B', value: '2' }],
      tty: true,
      linux: { resources: { oomScoreAdj: -10n }, securityContext: { noNewPrivs: true } },
    });
    const warnings: string[] = [];
    const p = buildProcess({ config, image: img, hostname: 'pod', minOomScoreAdj: 0 }, warnings);
    expect(p.args).toEqual(['/bin/app', '--debug']);
    expect(p.env).toEqual(['HOSTNAME=pod', 'A=1', 'B=2', `PATH=${DEFAULT_PATH}`]);
    expect(p.cwd).toBe('/srv');
    expect(p.terminal).toBe(true);
    expect(p.user).toEqual({ uid: 1000, gid: 1000, additionalGids: [1000, 10] });
    expect(p.capabilities?.bounding).toContain('CAP_CHOWN');
    expect(p.noNewPrivileges).toBe(true);
    expect(p.oomScoreAdj).toBe(0);
    expect(warnings.join()).toMatch(/oom_score_adj -10/);
  });

  it('leaves oomScoreAdj unset when the request has no resources', () => {
    const p = buildProcess({ config: ContainerConfig.fromPartial({}), image: img, hostname: 'h' }, []);
    expect(p.oomScoreAdj).toBeUndefined();
    expect(p.noNewPrivileges).toBe(false);
  });
});
