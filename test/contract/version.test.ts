// Version against the api.proto contract: runtime name, a semver runtime_version, and the API
// version. CRI-O and containerd both answer runtime_api_version "v1" and version "0.1.0" (the
// kubelet only logs them); the request's own version field changes nothing.
import { describe, expect, it } from 'vitest';
import { status, type Client } from '@grpc/grpc-js';
import type { VersionResponse } from '@crius/common/cri';
import { useStack } from '../harness/stack.js';
import { failure, ok, pb } from './helpers.js';

let client: Client;
useStack((_s, c) => (client = c));

// semver.org's pattern: MAJOR.MINOR.PATCH with optional pre-release and build.
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

describe('Version', () => {
  it('minimal request (zero bytes): runtime name, semver runtime version, API v1', async () => {
    const r = await ok<VersionResponse>(client, 'Version', Buffer.alloc(0));
    expect(r.runtimeName).toBe('crius');
    expect(r.runtimeVersion).toMatch(SEMVER);
    expect(r.runtimeApiVersion).toBe('v1');
    expect(r.version).toBe('0.1.0');
  });

  it('full request (the kubelet API version named): the same answer', async () => {
    const minimal = await ok<VersionResponse>(client, 'Version', Buffer.alloc(0));
    for (const v of ['v1', '0.1.0', 'v1alpha2']) {
      expect(await ok<VersionResponse>(client, 'Version', pb.str(1, v)), v).toEqual(minimal);
    }
  });

  it('bytes that are not a VersionRequest: INVALID_ARGUMENT', async () => {
    const f = await failure(client, 'Version', Buffer.from([0x0a, 0x05, 0x61])); // field 1 claims 5 bytes, has 1
    expect(f.code).toBe(status.INVALID_ARGUMENT);
    expect(f.details).toContain('malformed request');
  });
});
