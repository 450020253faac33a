#!/usr/bin/env node
// Test-only CNI plugin. Behaviour comes from its config: "mode" is one of
// pass (default), fail, sleep, garbage; "failOn" limits fail and sleep to those commands;
// "record" is a dir where each call's CNI_* env and stdin are written;
// "failWhile" makes fail apply only while that file exists;
// "marker" is a file written (with our PID) when a sleep starts; "result"
// is printed on ADD when there is no prevResult.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const conf = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
const cmd = process.env.CNI_COMMAND;
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('CNI_')));
if (conf.record) writeFileSync(join(conf.record, `${cmd}-${process.hrtime.bigint()}-${process.pid}.json`), JSON.stringify({ env, stdin: conf }));

const mode = conf.mode ?? 'pass';
const applies = !conf.failOn || conf.failOn.includes(cmd);
if (cmd === 'VERSION') {
  console.log(JSON.stringify({ cniVersion: '1.0.0', supportedVersions: ['0.4.0', '1.0.0'] }));
} else if (mode === 'fail' && applies && (!conf.failWhile || existsSync(conf.failWhile))) {
  console.log(JSON.stringify({ cniVersion: conf.cniVersion, code: 7, msg: 'fake failure', details: `asked to fail ${cmd}` }));
  process.exit(1);
} else if (mode === 'sleep' && applies) {
  if (conf.marker) writeFileSync(conf.marker, String(process.pid));
  setTimeout(() => {}, 600_000);
} else if (mode === 'garbage' && cmd === 'ADD') {
  console.log('this is not json');
} else if (cmd === 'ADD') {
  console.log(JSON.stringify(conf.prevResult ?? conf.result ?? { cniVersion: conf.cniVersion, interfaces: [], ips: [] }));
}
