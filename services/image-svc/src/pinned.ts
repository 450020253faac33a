// Pinned images ([image] pinned_images, plus the sandbox image): reported as
// `pinned` by ImageStatus/ListImages so the kubelet's image GC never picks them.
// Patterns as CRI-O documents them, case-insensitive like CRI-O: exact (the whole
// name; parsed and normalised the way the kubelet names images), `prefix*`
// (names starting with prefix, anchored as the documentation says; CRI-O's regexp
// is unanchored there) and `*keyword*` (names containing it). Every tag and
// digest name of an image counts. Pinning is a hint to the kubelet: an explicit
// RemoveImage still removes a pinned image, as in CRI-O. Owner: image-svc.
import { InvalidArgumentError, pinnedPatternProblem } from '@crius/common';
import { formatReference, parseReference, withDefaultTag } from './reference.js';

type Matcher = (name: string) => boolean;

function exactName(pattern: string): string {
  try {
    return formatReference(withDefaultTag(parseReference(pattern))).toLowerCase();
  } catch {
    return pattern.toLowerCase(); // not a reference: compared as written
  }
}

function compile(pattern: string): Matcher {
  const problem = pinnedPatternProblem(pattern);
  if (problem) throw new InvalidArgumentError(`pinned_images: ${problem}`);
  if (pattern.startsWith('*')) {
    const keyword = pattern.slice(1, -1).toLowerCase();
    return (name) => name.includes(keyword);
  }
  if (pattern.endsWith('*')) {
    const prefix = pattern.slice(0, -1).toLowerCase();
    return (name) => name.startsWith(prefix);
  }
  const exact = exactName(pattern);
  return (name) => name === exact;
}

export class PinnedImages {
  private readonly matchers: Matcher[];

  constructor(readonly patterns: readonly string[]) {
    this.matchers = patterns.map(compile);
  }

  /** True when any of the image's names matches any pattern. */
  matches(image: { repoTags: readonly string[]; repoDigests: readonly string[] }): boolean {
    if (this.matchers.length === 0) return false;
    const names = [...image.repoTags, ...image.repoDigests].map((n) => n.toLowerCase());
    return names.some((name) => this.matchers.some((m) => m(name)));
  }
}
