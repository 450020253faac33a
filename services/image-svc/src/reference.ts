// Image references as Kubernetes users write them (`busybox`,
// `host:5000/ns/app:1.0`, `app@sha256:…`): parse, validate, normalise
// docker.io names, print in familiar or fully-qualified form. Owner: image-svc.
import { InvalidArgumentError } from '@crius/common';
import { isSha256Digest } from './digest.js';

export const DOCKER_HUB = 'docker.io';
const LEGACY_HUB_NAMES = new Set(['index.docker.io', 'registry-1.docker.io']);
const MAX_NAME_LENGTH = 255;

// Grammar facts from the distribution reference specification.
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`);
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
const IMAGE_ID = /^[a-f0-9]{64}$/;

export interface ImageReference {
  /** Registry host[:port], normalised (`docker.io`, `127.0.0.1:5000`). */
  readonly domain: string;
  /** Repository path inside the registry (`library/busybox`). */
  readonly path: string;
  readonly tag?: string;
  readonly digest?: string;
  /** False when the user gave no registry (a short name such as `busybox`). */
  readonly qualified: boolean;
}

function invalid(input: string, reason: string): never {
  throw new InvalidArgumentError(`invalid image reference ${JSON.stringify(input)}: ${reason}`);
}

/** True when the first path element names a registry rather than a namespace. */
function looksLikeDomain(part: string): boolean {
  return part.includes('.') || part.includes(':') || part === 'localhost' || part !== part.toLowerCase();
}

function splitDigest(input: string, rest: string): [string, string | undefined] {
  const at = rest.lastIndexOf('@');
  if (at < 0) return [rest, undefined];
  const digest = rest.slice(at + 1);
  if (!DIGEST.test(digest)) invalid(input, `malformed digest ${JSON.stringify(digest)}`);
  if (!isSha256Digest(digest)) invalid(input, `unsupported digest ${digest} (only sha256 with 64 lowercase hex digits)`);
  return [rest.slice(0, at), digest];
}

function splitTag(input: string, rest: string): [string, string | undefined] {
  const colon = rest.lastIndexOf(':');
  if (colon < 0 || colon < rest.lastIndexOf('/')) return [rest, undefined];
  const tag = rest.slice(colon + 1);
  if (!TAG.test(tag)) invalid(input, `malformed tag ${JSON.stringify(tag)}`);
  return [rest.slice(0, colon), tag];
}

function splitDomain(input: string, name: string): { domain: string; path: string; qualified: boolean } {
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  if (slash < 0 || !looksLikeDomain(first)) {
    return { domain: DOCKER_HUB, path: name, qualified: false };
  }
  if (!DOMAIN.test(first)) invalid(input, `malformed registry host ${JSON.stringify(first)}`);
  return { domain: first, path: name.slice(slash + 1), qualified: true };
}

function normaliseHub(domain: string, path: string): { domain: string; path: string } {
  const hub = domain === DOCKER_HUB || LEGACY_HUB_NAMES.has(domain);
  if (!hub) return { domain, path };
  return { domain: DOCKER_HUB, path: path.includes('/') ? path : `library/${path}` };
}

/**
 * Parses and normalises a reference. Docker Hub names get `docker.io` and
 * `library/`; no default tag is added (see withDefaultTag).
 */
export function parseReference(input: string): ImageReference {
  if (typeof input !== 'string' || input.length === 0) invalid(String(input), 'empty reference');
  if (input !== input.trim()) invalid(input, 'leading or trailing whitespace');
  if (IMAGE_ID.test(input)) invalid(input, 'a 64-character hex string is an image ID, not a name');
  const [beforeDigest, digest] = splitDigest(input, input);
  const [name, tag] = splitTag(input, beforeDigest);
  const split = splitDomain(input, name);
  if (split.path.length === 0) invalid(input, 'empty repository name');
  for (const component of split.path.split('/')) {
    if (!PATH_COMPONENT.test(component)) {
      invalid(input, `repository path component ${JSON.stringify(component)} must be lowercase letters, digits and separators`);
    }
  }
  const { domain, path } = normaliseHub(split.domain, split.path);
  if (domain.length + 1 + path.length > MAX_NAME_LENGTH) invalid(input, `name longer than ${MAX_NAME_LENGTH} characters`);
  return { domain, path, tag, digest, qualified: split.qualified };
}

/** A reference with neither tag nor digest means `:latest`, as for docker and kubelet. */
export function withDefaultTag(ref: ImageReference): ImageReference {
  return ref.tag || ref.digest ? ref : { ...ref, tag: 'latest' };
}

/** Same repository on another registry (short-name search); docker.io gets library/. */
export function onRegistry(ref: ImageReference, domain: string): ImageReference {
  const normalised = normaliseHub(domain, ref.path);
  return { ...ref, ...normalised, qualified: true };
}

/** `docker.io/library/busybox` */
export function repositoryName(ref: ImageReference): string {
  return `${ref.domain}/${ref.path}`;
}

/** Fully-qualified string: `docker.io/library/busybox:1.36@sha256:…`. */
export function formatReference(ref: ImageReference): string {
  let out = repositoryName(ref);
  if (ref.tag) out += `:${ref.tag}`;
  if (ref.digest) out += `@${ref.digest}`;
  return out;
}

/** `docker.io/library/busybox:1.36`, or undefined for a digest-only reference. */
export function taggedName(ref: ImageReference): string | undefined {
  return ref.tag ? `${repositoryName(ref)}:${ref.tag}` : undefined;
}

/** `docker.io/library/busybox@sha256:…` for the given manifest/index digest. */
export function digestedName(ref: ImageReference, digest: string): string {
  return `${repositoryName(ref)}@${digest}`;
}

/** The short form people type: `busybox:1.36`, `user/app`, `host:5000/app:1`. */
export function familiarString(ref: ImageReference): string {
  let name = repositoryName(ref);
  if (ref.domain === DOCKER_HUB) {
    name = ref.path.startsWith('library/') && ref.path.split('/').length === 2 ? ref.path.slice('library/'.length) : ref.path;
  }
  if (ref.tag) name += `:${ref.tag}`;
  if (ref.digest) name += `@${ref.digest}`;
  return name;
}

/** What to fetch from the registry: the digest when pinned, else the tag. */
export function manifestSelector(ref: ImageReference): string {
  const selector = ref.digest ?? ref.tag;
  if (!selector) throw new InvalidArgumentError(`image reference ${formatReference(ref)} has neither tag nor digest`);
  return selector;
}
