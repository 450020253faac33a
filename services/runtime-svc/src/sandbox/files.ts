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

const HOSTNAME = /^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/i;

export function validHostname(name: string): boolean {
  return HOSTNAME.test(name);
}
