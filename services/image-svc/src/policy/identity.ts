// The `docker` transport of containers-policy.json(5): which scope applies to a
// reference (the most specific wins: the full reference, its repository, each
// parent namespace, the host, wildcarded parent domains, the transport default
// "", the global default), and whether a signature's claimed docker-reference
// is acceptable under a signedIdentity rule. Pure functions. Owner: image-svc.
import { formatReference, parseReference, type ImageReference } from '../reference.js';
import type { IdentityMatch, Policy, Requirement } from './policy-file.js';

/** A reference with a digest is identified by it alone (a tag beside it is dropped, as CRI-O does). */
export function policyIdentity(ref: ImageReference): ImageReference {
  return ref.digest ? { ...ref, tag: undefined } : ref;
}

/** Scopes to look up for `ref`, most specific first (containers/image DockerReferenceNamespaces). */
export function dockerScopes(ref: ImageReference): string[] {
  const scopes = [formatReference(policyIdentity(ref))];
  for (let name = `${ref.domain}/${ref.path}`; ; name = name.slice(0, name.lastIndexOf('/'))) {
    scopes.push(name);
    if (!name.includes('/')) break;
  }
  // Wildcards come from the host without its port: a.b.example.com → *.b.example.com, *.example.com, *.com.
  let host = ref.domain.startsWith('[') ? ref.domain : ref.domain.replace(/:\d+$/, '');
  for (let dot = host.indexOf('.'); dot >= 0; dot = host.indexOf('.')) {
    host = host.slice(dot + 1);
    scopes.push(`*.${host}`);
  }
  return scopes;
}

export interface ScopedRequirements {
  /** The scope that matched in the docker transport; undefined means the global default. */
  scope?: string;
  requirements: Requirement[];
}

export function requirementsFor(policy: Policy, ref: ImageReference): ScopedRequirements {
  const docker = policy.transports.docker;
  if (docker) {
    for (const scope of dockerScopes(ref)) if (docker[scope]) return { scope, requirements: docker[scope] };
    if (docker['']) return { scope: '', requirements: docker[''] };
  }
  return { requirements: policy.default };
}

function parse(name: string): ImageReference | undefined {
  try {
    return parseReference(name);
  } catch {
    return undefined;
  }
}

const nameOf = (r: ImageReference) => `${r.domain}/${r.path}`;
const nameOnly = (r: ImageReference) => !r.tag && !r.digest;

/** `matchRepoDigestOrExact`: a tagged image needs the exact reference, a digest one the same repository. */
function repoDigestOrExact(intended: ImageReference, signed: ImageReference): boolean {
  if (nameOnly(signed)) return false;
  if (intended.tag) return formatReference(signed) === formatReference(intended);
  if (intended.digest) return nameOf(signed) === nameOf(intended);
  return false;
}

/** Replaces `prefix` (host, namespace or repository, matched by whole components) with `signedPrefix`. */
function remap(intended: ImageReference, prefix: string, signedPrefix: string): ImageReference {
  const name = formatReference(intended);
  if (!name.startsWith(prefix)) return intended;
  const next = name[prefix.length];
  if (next !== undefined && next !== '/' && next !== ':' && next !== '@') return intended;
  if (next === ':' && !prefix.includes('/')) return intended; // a host prefix is not the host with a port
  return parse(signedPrefix + name.slice(prefix.length)) ?? intended;
}

/**
 * Whether a signature claiming `claimed` (critical.identity.docker-reference) is
 * acceptable for the image being pulled as `image` (the logical, fully-qualified name).
 */
export function identityMatches(rule: IdentityMatch, image: ImageReference, claimed: string): boolean {
  const signed = parse(claimed);
  if (!signed) return false;
  const intended = policyIdentity(image);
  switch (rule.type) {
    case 'matchExact':
      return !nameOnly(intended) && !nameOnly(signed) && formatReference(signed) === formatReference(intended);
    case 'matchRepoDigestOrExact':
      return repoDigestOrExact(intended, signed);
    case 'matchRepository':
      return nameOf(signed) === nameOf(intended);
    case 'exactReference': {
      const expected = parse(rule.dockerReference);
      return !!expected && !nameOnly(expected) && !nameOnly(signed) && formatReference(signed) === formatReference(expected);
    }
    case 'exactRepository': {
      const expected = parse(rule.dockerRepository);
      return !!expected && nameOf(signed) === nameOf(expected);
    }
    case 'remapIdentity':
      return repoDigestOrExact(remap(intended, rule.prefix, rule.signedPrefix), signed);
  }
}
