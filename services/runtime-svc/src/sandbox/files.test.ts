import { describe, expect, it } from 'vitest';
import { hostsFile, resolvConf, validHostname } from './files.js';

describe('pod files', () => {
  it('maps the hostname to the pod IPs in /etc/hosts', () => {
    const h = hostsFile('web-0', ['10.88.0.5', 'fd00::5']);
    expect(h).toContain('127.0.0.1\tlocalhost\n');
    expect(h).toContain('10.88.0.5\tweb-0\n');
    expect(h).toContain('fd00::5\tweb-0\n');
  });

  it('uses 127.0.1.1 for the hostname when the pod has no IP (host network)', () => {
    expect(hostsFile('node1', [])).toContain('127.0.1.1\tnode1\n');
  });

  it('writes DNSConfig as search, nameserver and options lines', () => {
    expect(resolvConf({ servers: ['10.96.0.10'], searches: ['ns.svc.cluster.local', 'svc.cluster.local'], options: ['ndots:5'] }, 'ignored')).toBe(
      'search ns.svc.cluster.local svc.cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n',
    );
  });

  it("falls back to the node's resolv.conf without DNSConfig", () => {
    expect(resolvConf(undefined, 'nameserver 1.1.1.1\n')).toBe('nameserver 1.1.1.1\n');
    expect(resolvConf({ servers: [], searches: [], options: [] }, 'x\n')).toBe('x\n');
  });

  it('accepts what the kernel takes as a hostname and /etc/hosts can hold', () => {
    expect(validHostname('web-0')).toBe(true);
    expect(validHostname('crictl_host')).toBe(true);
    expect(validHostname('Web.Example')).toBe(true);
    expect(validHostname('a'.repeat(64))).toBe(true);
    expect(validHostname('a'.repeat(65))).toBe(false);
    expect(validHostname('é'.repeat(33))).toBe(false); // 66 bytes
    expect(validHostname('')).toBe(false);
    expect(validHostname('two words')).toBe(false);
    expect(validHostname('line\nbreak')).toBe(false);
    expect(validHostname('nul\0')).toBe(false);
  });
});
