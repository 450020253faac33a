// This node's OCI platform (os/architecture/variant) from Node's process.arch,
// in the spelling registries use (GOARCH names). Owner: image-svc.
import { InvalidArgumentError } from '@crius/common';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

const ARCH: Record<string, string> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loong64',
  mips: 'mips',
  mipsel: 'mipsle',
};

/** Maps a Node arch (and ARM version) to the OCI platform of a Linux node. */
export function platformFor(nodeArch: string, armVersion?: string | number): Platform {
  const architecture = ARCH[nodeArch] ?? nodeArch;
  if (architecture === 'arm64') return { os: 'linux', architecture, variant: 'v8' };
  if (architecture === 'arm') return { os: 'linux', architecture, variant: `v${armVersion ?? 7}` };
  return { os: 'linux', architecture };
}

export function hostPlatform(): Platform {
  const vars = (process.config.variables ?? {}) as Record<string, unknown>;
  const arm = vars.arm_version;
  return platformFor(process.arch, typeof arm === 'string' || typeof arm === 'number' ? arm : undefined);
}

export function platformString(p: Platform): string {
  return p.variant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
}

/** Parses `linux/arm64/v8`, for configuration and tests. */
export function parsePlatform(value: string): Platform {
  const [os, architecture, variant] = value.split('/');
  if (!os || !architecture) throw new InvalidArgumentError(`platform ${JSON.stringify(value)} must be os/arch[/variant]`);
  return variant ? { os, architecture, variant } : { os, architecture };
}
