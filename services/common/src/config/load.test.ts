import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors.js';
import { parseConfig } from './load.js';

describe('config', () => {
  it('fills every default from an empty file', () => {
    const c = parseConfig('');
    expect(c.api.listen).toBe('/run/crius/crius.sock');
    expect(c.bus.address).toBe('127.0.0.1:4229');
    expect(c.runtime.default_handler).toBe('runc');
    expect(Object.keys(c.runtime.handlers).sort()).toEqual(['crun', 'runc']);
    expect(c.network.cni_bin_dirs).toEqual(['/usr/lib/cni', '/opt/cni/bin']);
  });

  it('merges handler tables over the built-in ones and validates their keys', () => {
    const c = parseConfig('[runtime.handlers.runc]\nruntime_path = "/usr/local/bin/runc"\n[runtime.handlers.kata]\nruntime_path = "kata"\nruntime_args = ["--debug"]\n');
    expect(c.runtime.handlers.runc!.runtime_path).toBe('/usr/local/bin/runc');
    expect(c.runtime.handlers.crun!.runtime_path).toBe('crun');
    expect(c.runtime.handlers.kata).toEqual({ runtime_path: 'kata', runtime_root: '', runtime_args: ['--debug'] });
  });

  it('rejects unknown keys with a hint naming the nearest key', () => {
    expect(() => parseConfig('[api]\nlisen = "/x"\n', 'f.toml')).toThrow('config f.toml: unknown key api.lisen (did you mean api.listen?)');
    expect(() => parseConfig('[netwrk]\n', 'f.toml')).toThrow('unknown key netwrk (did you mean network?)');
    expect(() => parseConfig('[runtime.handlers.runc]\nruntime = "x"\n', 'f.toml')).toThrow(/unknown key runtime\.handlers\.runc\.runtime/);
  });

  it('names the key and the expectation on a wrong type or value', () => {
    expect(() => parseConfig('[api]\nmax_msg_size = "big"\n', 'f.toml')).toThrow('config f.toml: api.max_msg_size must be a number, got string "big"');
    expect(() => parseConfig('[runtime]\ncgroup_manager = "cgroupv3"\n', 'f.toml')).toThrow(
      'config f.toml: runtime.cgroup_manager must be one of cgroupfs, systemd, got "cgroupv3"',
    );
    expect(() => parseConfig('[network]\ncni_conf_dirs = "/etc/cni"\n', 'f.toml')).toThrow('network.cni_conf_dirs must be a list of strings');
    expect(() => parseConfig('[api]\nmax_msg_size = 10\n', 'f.toml')).toThrow('api.max_msg_size must be at least 1024, got 10');
  });

  it('runs a key\'s own check: image file paths are absolute, pinned patterns meaningful', () => {
    expect(() => parseConfig('[image]\nsignature_policy = "policy.json"\n', 'f.toml')).toThrow('config f.toml: image.signature_policy must be an absolute path');
    expect(() => parseConfig('[image]\nsignature_policy = ""\n', 'f.toml')).toThrow('image.signature_policy must be an absolute path');
    expect(parseConfig('[image]\nregistries_conf = ""\nglobal_auth_file = ""\n').image.registries_conf).toBe('');
    expect(() => parseConfig('[image]\nglobal_auth_file = "auth.json"\n', 'f.toml')).toThrow('image.global_auth_file must be an absolute path (or empty)');
    expect(() => parseConfig('[image]\npinned_images = ["ok/*", "a*b"]\n', 'f.toml')).toThrow(
      'config f.toml: image.pinned_images "a*b": "*" may only end a pattern ("prefix*") or surround it ("*keyword*")',
    );
  });

  it('reports TOML syntax errors as InvalidArgument with the file', () => {
    expect(() => parseConfig('[api\n', 'broken.toml')).toThrow(InvalidArgumentError);
    expect(() => parseConfig('[api\n', 'broken.toml')).toThrow(/^config broken.toml: /);
  });
});
