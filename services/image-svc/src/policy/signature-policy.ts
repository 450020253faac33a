// The pull-time check of [image] signature_policy: read the policy (on every
// pull, as CRI-O does, so edits apply without a restart), pick the requirements
// of the most specific docker scope, and require every one of them; signatures
// are fetched (once) only when a sigstoreSigned rule applies. Runs after the
// manifest is resolved and before anything is stored, so a refused pull leaves
// nothing behind. Refusals are FailedPrecondition naming the file, scope and rule:
// the node's policy, not the request, forbids the image (the kubelet reports any
// PullImage error as ErrImagePull and backs off). Owner: image-svc.
import { FailedPreconditionError } from '@crius/common';
import { formatReference, type ImageReference } from '../reference.js';
import type { RegistryClient } from '../registry-client.js';
import { findSignatures, type FoundSignature } from './cosign.js';
import { policyIdentity, requirementsFor } from './identity.js';
import { loadPolicy, type Requirement } from './policy-file.js';
import { rejectSignature } from './sigstore.js';

/** What Puller asks before storing anything of an image. */
export interface PullVerifier {
  verify(ref: ImageReference, manifestDigest: string, client: RegistryClient, label: string): Promise<void>;
}

/** Reasons listed per refusal at most. */
const MAX_REASONS = 4;

function scopeText(scope: string | undefined): string {
  if (scope === undefined) return 'the global "default"';
  return scope === '' ? 'the docker transport default ("")' : `docker scope ${JSON.stringify(scope)}`;
}

export class SignaturePolicy implements PullVerifier {
  constructor(readonly file: string) {}

  /** Loads the policy as a pull would; the error says what is wrong with it. */
  check(): Promise<unknown> {
    return loadPolicy(this.file);
  }

  async verify(ref: ImageReference, manifestDigest: string, client: RegistryClient, label: string): Promise<void> {
    const policy = await loadPolicy(this.file).catch((err: Error) => {
      throw new FailedPreconditionError(`${label}: ${err.message}`, { cause: err });
    });
    const { scope, requirements } = requirementsFor(policy, ref);
    let signatures: Promise<FoundSignature[]> | undefined;
    const fetch = () => (signatures ??= findSignatures(client, manifestDigest));
    for (const [i, requirement] of requirements.entries()) {
      const reason = await this.unmet(requirement, ref, manifestDigest, fetch);
      if (reason === undefined) continue;
      const rule = requirement.type === 'unsupported' ? requirement.rule : requirement.type;
      throw new FailedPreconditionError(
        `${label}: refused by signature policy ${this.file}: ${scopeText(scope)} requirement #${i + 1} (${rule}): ${reason}`,
      );
    }
  }

  /** Undefined when `requirement` accepts the image, else why it does not. */
  private async unmet(
    requirement: Requirement, ref: ImageReference, manifestDigest: string, signatures: () => Promise<FoundSignature[]>,
  ): Promise<string | undefined> {
    switch (requirement.type) {
      case 'insecureAcceptAnything':
        return undefined;
      case 'reject':
        return 'images here are rejected';
      case 'unsupported':
        return requirement.reason;
      case 'sigstoreSigned': {
        const found = await signatures();
        if (found.length === 0) return `no cosign signature of ${manifestDigest} found (sha256-….sig tag, referrers)`;
        const expected = {
          manifestDigest, image: ref, imageName: formatReference(policyIdentity(ref)),
          keys: requirement.keys, signedIdentity: requirement.signedIdentity,
        };
        const reasons: string[] = [];
        for (const sig of found) {
          const reason = rejectSignature(sig, expected);
          if (reason === undefined) return undefined;
          reasons.push(`${sig.where}: ${reason}`);
        }
        const more = reasons.length > MAX_REASONS ? `; and ${reasons.length - MAX_REASONS} more` : '';
        return `none of ${found.length} signature(s) is accepted: ${reasons.slice(0, MAX_REASONS).join('; ')}${more}`;
      }
    }
  }
}
