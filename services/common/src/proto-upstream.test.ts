// Our api.proto against the wire facts of upstream cri-api kept in
// proto/cri/runtime/v1/upstream-wire.json (derived from the upstream files by
// scripts/cri-wire-facts.mjs; sources and refresh steps in the README there).
// Both sides are compiled by protoc the same way and compared field by field,
// so a renumbered or retyped field, a lost enum value or an RPC upstream added
// fails here, naming the first difference.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { compileFacts, diffFacts, type WireFacts } from '../../../scripts/cri-wire-facts.mjs';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const OURS = join(root, 'proto/cri/runtime/v1/api.proto');
const upstream = JSON.parse(readFileSync(join(root, 'proto/cri/runtime/v1/upstream-wire.json'), 'utf8')) as WireFacts;

const scratch = mkdtempSync(join(tmpdir(), 'crius-proto-upstream-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Our api.proto with one edit applied, compiled from a scratch copy. */
function oursEdited(from: RegExp, to: string): WireFacts {
  const text = readFileSync(OURS, 'utf8');
  const edited = text.replace(from, to);
  if (edited === text) throw new Error(`edit ${from} matched nothing in api.proto`);
  const file = join(scratch, 'api.proto');
  writeFileSync(file, edited);
  return compileFacts(file);
}

describe('api.proto is upstream cri-api on the wire', () => {
  it('matches upstream in every field, enum value and RPC', () => {
    const diffs = diffFacts(compileFacts(OURS), upstream);
    expect(diffs[0] ?? 'no difference').toBe('no difference');
  });

  // The check itself must be able to fail, and say where.
  it.each([
    [/(message KeyValue \{[^}]*?)string value = 2;/, '$1bytes value = 2;', 'KeyValue.value: ours bytes, upstream string'],
    [/string audit_request_id = 7;/, 'string audit_request_id = 8;', 'ExecRequest.audit_request_id: ours number 8, upstream number 7'],
    [/\n\s*rpc RestorePod\([^\n]*/, '', 'RuntimeService.RestorePod: missing in ours'],
    [/(message Mount \{[^}]*?)\}/, '$1  repeated string mount_options = 11;\n}', 'Mount.mount_options: in ours (repeated string 11), not upstream'],
    [/(enum Signal \{[^}]*?)SIGTERM = 23;/, '$1SIGTERM = 66;', 'Signal.SIGTERM: ours 66, upstream 23'],
  ])('names the drift when api.proto is edited (%s)', (from, to, first) => {
    expect(diffFacts(oursEdited(from, to), upstream)[0]).toBe(first);
  });
});
