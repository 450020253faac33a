// The files a pod's containers share: hostname, /etc/hosts, /etc/resolv.conf.
// Pure text builders; DNSConfig semantics follow CRI (servers, searches,
// options; none given → the node's resolv.conf).
import type { DNSConfig } from '@crius/common/cri';

export function hostsFile(hostname: string, podIps: readonly string[]): string {
  const lines = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'fe00::0\tip6-mcastprefix',
    'fe00::1\tip6-allnodes',
    'fe00::2\tip6-allrouters',
  ];
  for (const ip of podIps) lines.push(`${ip}\t${hostname}`);
  if (!podIps.length) lines.push(`127.0.1.1\t${hostname}`);
  return lines.join('\n') + '\n';
}

export function resolvConf(dns: DNSConfig | undefined, nodeResolvConf: string): string {
  if (!dns || (!dns.servers.length && !dns.searches.length && !dns.options.length)) return nodeResolvConf;
  const lines: string[] = [];
  if (dns.searches.length) lines.push(`search ${dns.searches.join(' ')}`);
  for (const s of dns.servers) lines.push(`nameserver ${s}`);
  if (dns.options.length) lines.push(`options ${dns.options.join(' ')}`);
  return lines.join('\n') + '\n';
}

/**
 * What the kernel takes as a hostname (sethostname: at most 64 bytes), less
 * what would break /etc/hosts: whitespace and control characters. Neither
 * containerd nor CRI-O asks more (CRI-O's own tests use "crictl_host");
 * kubelet validates pod hostnames as DNS labels itself.
 */
export function validHostname(name: string): boolean {
  const bytes = Buffer.byteLength(name);
  return bytes >= 1 && bytes <= 64 && !/[\s\x00-\x1f\x7f]/.test(name);
}
