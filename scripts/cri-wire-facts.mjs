#!/usr/bin/env node
// The wire facts of a CRI api.proto (every message field's name, number,
// label, type, type name and map-ness; every enum value; every RPC's types and
// streaming flags), read from what protoc compiles, and a field-by-field
// comparison of two such sets. It refreshes the committed upstream fixture
// (proto/cri/runtime/v1/upstream-wire.json) and the drift test
// (services/common/src/proto-upstream.test.ts) compares our api.proto with it.
// Owner: proto/. Usage is in proto/cri/runtime/v1/README.md.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { fromBinary, isFieldSet } from '@bufbuild/protobuf';
import { FieldDescriptorProtoSchema, FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';

export const UPSTREAM_PATH = 'staging/src/k8s.io/cri-api/pkg/apis/runtime/v1/api.proto';

// google.protobuf.FieldDescriptorProto.Type and .Label, by number.
const TYPES = [, 'double', 'float', 'int64', 'uint64', 'int32', 'fixed64', 'fixed32', 'bool', 'string', 'group', 'message', 'bytes', 'uint32', 'enum', 'sfixed32', 'sfixed64', 'sint32', 'sint64'];
const LABELS = [, 'optional', 'required', 'repeated'];
const FIELD_KEYS = ['number', 'label', 'type', 'typeName', 'map', 'oneof', 'proto3Optional'];

/**
 * Compile one .proto with Debian's protoc into a FileDescriptorSet. Upstream's
 * `[debug_redact = true]` is dropped first: protoc 3.21 cannot parse it, and
 * it changes nothing on the wire.
 */
export function compileDescriptorSet(protoFile) {
  const dir = mkdtempSync(join(tmpdir(), 'cri-wire-'));
  try {
    const text = readFileSync(protoFile, 'utf8').replace(/\s*\[\s*debug_redact\s*=\s*true\s*\]/g, '');
    writeFileSync(join(dir, 'api.proto'), text);
    execFileSync('protoc', ['-I', dir, `--descriptor_set_out=${join(dir, 'set.pb')}`, 'api.proto'], { stdio: ['ignore', 'ignore', 'pipe'] });
    return readFileSync(join(dir, 'set.pb'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The wire facts of the one file in a FileDescriptorSet. */
export function wireFacts(descriptorSet) {
  const file = fromBinary(FileDescriptorSetSchema, descriptorSet).file[0];
  const pkg = file.package;
  const local = (typeName) => typeName.replace(`.${pkg}.`, '');
  const all = new Map();
  const collect = (msgs, prefix) => {
    for (const m of msgs) {
      all.set(prefix + m.name, m);
      collect(m.nestedType, `${prefix}${m.name}.`);
    }
  };
  collect(file.messageType, '');
  const fieldType = (f) => (f.typeName ? local(f.typeName) : TYPES[f.type]);

  const messages = {};
  for (const [name, m] of all) {
    if (m.options?.mapEntry) continue;
    messages[name] = m.field.map((f) => {
      const out = { number: f.number, name: f.name, label: LABELS[f.label], type: TYPES[f.type] };
      if (f.typeName) out.typeName = local(f.typeName);
      const entry = f.typeName ? all.get(local(f.typeName)) : undefined;
      if (entry?.options?.mapEntry) out.map = `${fieldType(entry.field[0])}, ${fieldType(entry.field[1])}`;
      if (f.proto3Optional) out.proto3Optional = true;
      else if (isFieldSet(f, FieldDescriptorProtoSchema.field.oneofIndex)) out.oneof = m.oneofDecl[f.oneofIndex].name;
      return out;
    });
  }

  const enums = {};
  const addEnums = (list, prefix) => {
    for (const e of list) enums[prefix + e.name] = Object.fromEntries(e.value.map((v) => [v.name, v.number]));
  };
  addEnums(file.enumType, '');
  for (const [name, m] of all) addEnums(m.enumType, `${name}.`);

  const services = {};
  for (const s of file.service) {
    services[s.name] = Object.fromEntries(
      s.method.map((r) => [r.name, { input: local(r.inputType), output: local(r.outputType), clientStreaming: !!r.clientStreaming, serverStreaming: !!r.serverStreaming }]),
    );
  }
  return { package: pkg, messages, enums, services };
}

export function compileFacts(protoFile) {
  return wireFacts(compileDescriptorSet(protoFile));
}

const describeField = (f) => [f.label, f.map ? `map<${f.map}>` : (f.typeName ?? f.type), f.number].join(' ');
const show = (f, key) => (key === 'type' ? f.type : `${key} ${f[key] ?? '(none)'}`);

/**
 * Every difference between two sets of wire facts, in upstream's order, each a
 * sentence naming the message.field (or enum value, or RPC) and both sides.
 */
export function diffFacts(ours, upstream) {
  const out = [];
  if (ours.package !== upstream.package) out.push(`package: ours ${ours.package}, upstream ${upstream.package}`);
  for (const [name, fields] of Object.entries(upstream.messages)) {
    const mine = ours.messages[name];
    if (!mine) {
      out.push(`${name}: missing in ours`);
      continue;
    }
    for (const uf of fields) {
      const of = mine.find((f) => f.name === uf.name);
      if (!of) {
        out.push(`${name}.${uf.name}: missing in ours (upstream ${describeField(uf)})`);
        continue;
      }
      for (const key of FIELD_KEYS) if (of[key] !== uf[key]) out.push(`${name}.${uf.name}: ours ${show(of, key)}, upstream ${show(uf, key)}`);
    }
    for (const of of mine) if (!fields.some((f) => f.name === of.name)) out.push(`${name}.${of.name}: in ours (${describeField(of)}), not upstream`);
  }
  for (const name of Object.keys(ours.messages)) if (!upstream.messages[name]) out.push(`${name}: in ours, not upstream`);

  for (const [name, values] of Object.entries(upstream.enums)) {
    const mine = ours.enums[name];
    if (!mine) {
      out.push(`enum ${name}: missing in ours`);
      continue;
    }
    for (const [v, n] of Object.entries(values)) {
      if (!(v in mine)) out.push(`${name}.${v}: missing in ours (upstream ${n})`);
      else if (mine[v] !== n) out.push(`${name}.${v}: ours ${mine[v]}, upstream ${n}`);
    }
    for (const v of Object.keys(mine)) if (!(v in values)) out.push(`${name}.${v}: in ours (${mine[v]}), not upstream`);
  }
  for (const name of Object.keys(ours.enums)) if (!upstream.enums[name]) out.push(`enum ${name}: in ours, not upstream`);

  for (const [svc, rpcs] of Object.entries(upstream.services)) {
    const mine = ours.services[svc] ?? {};
    for (const [rpc, u] of Object.entries(rpcs)) {
      const o = mine[rpc];
      if (!o) {
        out.push(`${svc}.${rpc}: missing in ours`);
        continue;
      }
      for (const key of ['input', 'output', 'clientStreaming', 'serverStreaming']) if (o[key] !== u[key]) out.push(`${svc}.${rpc}: ours ${key} ${o[key]}, upstream ${key} ${u[key]}`);
    }
    for (const rpc of Object.keys(mine)) if (!rpcs[rpc]) out.push(`${svc}.${rpc}: in ours, not upstream`);
  }
  for (const svc of Object.keys(ours.services)) if (!upstream.services[svc]) out.push(`service ${svc}: in ours, not upstream`);
  return out;
}

/** Message and enum names reachable from the given message names (themselves included). */
function reachable(facts, roots) {
  const seen = new Set();
  const walk = (name) => {
    if (seen.has(name) || !(facts.messages[name] || facts.enums[name])) return;
    seen.add(name);
    for (const f of facts.messages[name] ?? []) {
      if (f.typeName && !facts.messages[f.typeName] && !facts.enums[f.typeName]) {
        // A map field's typeName is its synthetic entry; follow the value type
        // (walk skips scalars).
        const value = f.map?.split(', ')[1];
        if (value) walk(value);
      } else if (f.typeName) walk(f.typeName);
    }
  };
  roots.forEach(walk);
  return seen;
}

/**
 * Add named RPCs of `extra` (a branch that adds RPCs to the same API) to
 * `base`, with the messages and enums they bring. A type both define must be
 * the same on the wire in both, or this throws naming the difference.
 */
export function addRpcs(base, extra, rpcNames) {
  const merged = structuredClone(base);
  for (const rpc of rpcNames) {
    const svc = Object.keys(extra.services).find((s) => extra.services[s][rpc]);
    if (!svc) throw new Error(`${rpc}: not an RPC of the extra file`);
    const r = extra.services[svc][rpc];
    merged.services[svc] ??= {};
    merged.services[svc][rpc] = r;
    for (const type of reachable(extra, [r.input, r.output])) {
      const kind = extra.messages[type] ? 'messages' : 'enums';
      if (!merged[kind][type]) {
        merged[kind][type] = extra[kind][type];
        continue;
      }
      const only = (facts) => ({ package: facts.package, services: {}, enums: kind === 'enums' ? { [type]: facts.enums[type] } : {}, messages: kind === 'messages' ? { [type]: facts.messages[type] } : {} });
      const diffs = diffFacts(only(extra), only(merged));
      if (diffs.length) throw new Error(`${rpc} uses ${type}, which differs between the two files: ${diffs[0]} (ours = extra file)`);
    }
  }
  return merged;
}

/** The fixture as text: one field, enum or RPC a line, so a refresh diffs readably. */
export function formatFixture(fixture) {
  const lines = ['{'];
  const entries = (obj, render) => Object.entries(obj).map(([k, v], i, a) => `    ${JSON.stringify(k)}: ${render(v)}${i < a.length - 1 ? ',' : ''}`);
  lines.push(`  "about": ${JSON.stringify(fixture.about)},`);
  lines.push(`  "sources": [\n${fixture.sources.map((s) => `    ${JSON.stringify(s)}`).join(',\n')}\n  ],`);
  lines.push(`  "package": ${JSON.stringify(fixture.package)},`);
  lines.push('  "messages": {', ...entries(fixture.messages, (fields) => (fields.length ? `[\n${fields.map((f) => `      ${JSON.stringify(f)}`).join(',\n')}\n    ]` : '[]')), '  },');
  lines.push('  "enums": {', ...entries(fixture.enums, (v) => JSON.stringify(v)), '  },');
  lines.push('  "services": {', ...entries(fixture.services, (rpcs) => `{\n${Object.entries(rpcs).map(([k, v]) => `      ${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(',\n')}\n    }`), '  }');
  lines.push('}');
  return lines.join('\n') + '\n';
}

function source(spec, took) {
  const m = /^([\w.-]+\/[\w.-]+)@([0-9a-f]{40})$/.exec(spec ?? '');
  if (!m) throw new Error(`source must be owner/repo@<40-hex commit>, got ${JSON.stringify(spec)}`);
  return { repo: m[1], path: UPSTREAM_PATH, commit: m[2], took };
}

function main() {
  const { values } = parseArgs({
    options: {
      base: { type: 'string' },
      'base-source': { type: 'string' },
      extra: { type: 'string' },
      'extra-source': { type: 'string' },
      'extra-rpcs': { type: 'string' },
      out: { type: 'string' },
    },
    strict: true,
  });
  if (!values.base) throw new Error('--base <upstream api.proto> is required');
  let facts = compileFacts(values.base);
  const sources = [source(values['base-source'], 'everything not listed below')];
  if (values.extra) {
    const rpcs = (values['extra-rpcs'] ?? '').split(',').filter(Boolean);
    if (!rpcs.length) throw new Error('--extra needs --extra-rpcs A,B');
    facts = addRpcs(facts, compileFacts(values.extra), rpcs);
    sources.push(source(values['extra-source'], `RPCs ${rpcs.join(', ')} and the messages they add`));
  }
  const fixture = { about: 'Wire facts of upstream CRI v1, derived by scripts/cri-wire-facts.mjs; names and numbers only', sources, ...facts };
  const text = formatFixture(fixture);
  if (values.out) writeFileSync(values.out, text);
  else process.stdout.write(text);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    main();
  } catch (err) {
    console.error(`cri-wire-facts: ${err.message}`);
    process.exit(1);
  }
}
