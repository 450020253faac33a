// The [runtime] node-default keys (issue 16): CRI-O's value syntax, and the
// config refusing what CRI-O refuses, naming the key.
import { describe, expect, it } from 'vitest';
import { parseConfig } from './load.js';
import { RLIM_INFINITY, parseSize, parseSysctl, parseUlimit } from './node-defaults.js';

describe('node defaults', () => {
  it('defaults to CRI-O: its capability list, no sysctls or ulimits, no log limit, 64 MiB shm, /etc/cdi and /var/run/cdi', () => {
    const r = parseConfig('').runtime;
    expect(r.default_capabilities).toEqual(['CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'SETGID', 'SETUID', 'SETPCAP', 'NET_BIND_SERVICE', 'KILL']);
    expect(r.default_sysctls).toEqual([]);
    expect(r.default_ulimits).toEqual([]);
    expect(r.log_size_max).toBe(-1);
    expect(parseSize(r.shm_size)).toBe(64 * 1024 * 1024);
    expect(r.cdi_spec_dirs).toEqual(['/etc/cdi', '/var/run/cdi']);
  });

  it('parses ulimits as soft:hard, one value for both, -1 unlimited', () => {
    expect(parseUlimit('nofile=1024:2048')).toEqual({ type: 'RLIMIT_NOFILE', soft: 1024, hard: 2048 });
    expect(parseUlimit('nproc=50')).toEqual({ type: 'RLIMIT_NPROC', soft: 50, hard: 50 });
    expect(parseUlimit('core=0:-1')).toEqual({ type: 'RLIMIT_CORE', soft: 0, hard: RLIM_INFINITY });
    expect(() => parseUlimit('nofiles=1:2')).toThrow(/unknown ulimit "nofiles"/);
    expect(() => parseUlimit('nofile=2048:1024')).toThrow(/soft limit 2048 is above the hard limit 1024/);
    expect(() => parseUlimit('nofile')).toThrow(/is not "<name>=<soft>\[:<hard>\]"/);
  });

  it('parses sysctls with CRI-O spacing and refuses node-wide ones', () => {
    expect(parseSysctl('net.ipv4.ping_group_range = 0   2147483647')).toEqual(['net.ipv4.ping_group_range', '0   2147483647']);
    expect(parseSysctl('kernel.shmmax=1000')).toEqual(['kernel.shmmax', '1000']);
    expect(() => parseSysctl('kernel.panic=1')).toThrow(/not a namespaced sysctl/);
    expect(() => parseSysctl('net.ipv4.ip_forward')).toThrow(/is not "<name>=<value>"/);
  });

  it('refuses bad values naming the key', () => {
    const bad = (toml: string) => () => parseConfig(`[runtime]\n${toml}\n`, 'f.toml');
    expect(bad('default_ulimits = ["nofile=a:b"]')).toThrow(/runtime\.default_ulimits .*limits must be non-negative integers/);
    expect(bad('default_ulimits = ["nofile=1:2", "nofile=3:4"]')).toThrow('runtime.default_ulimits sets nofile twice');
    expect(bad('default_sysctls = ["vm.swappiness=1"]')).toThrow(/runtime\.default_sysctls .*not a namespaced sysctl/);
    expect(bad('default_capabilities = ["CAP_FLY"]')).toThrow('runtime.default_capabilities names an unknown capability "CAP_FLY"');
    expect(bad('log_size_max = 4096')).toThrow(/runtime\.log_size_max must be negative \(no limit\) or at least 8192/);
    expect(bad('shm_size = "64q"')).toThrow(/runtime\.shm_size "64q" is not a size/);
    expect(bad('cdi_spec_dirs = ["cdi"]')).toThrow('runtime.cdi_spec_dirs "cdi" is not an absolute path');
    const ok = parseConfig('[runtime]\nlog_size_max = 8192\nshm_size = "1g"\ndefault_capabilities = []\n').runtime;
    expect([ok.log_size_max, parseSize(ok.shm_size), ok.default_capabilities]).toEqual([8192, 1024 ** 3, []]);
  });
});
