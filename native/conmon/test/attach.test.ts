// crius-conmon: the attach socket (SOCK_SEQPACKET, stream prefix bytes 2/3,
// raw stdin back), stdin closing rules, and terminal resize through the ctl
// and winsz fifos. Uses build/attach-bridge (Node has no SEQPACKET sockets).
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  TestEnv,
  useTestEnv,
  attachClient,
  monitorBinary,
  readLog,
  socketCount,
  streamBytes,
  waitFor,
  waitForClients,
  type Container,
} from './harness.js';

const BIN = monitorBinary();
let env: TestEnv;

useTestEnv((e) => (env = e));

const socketOf = (c: Container): string => join(env.socketDir, c.id, 'attach');

async function logHas(c: Container, text: string): Promise<true | undefined> {
  const buf = await readFile(c.log).catch(() => Buffer.alloc(0));
  return buf.includes(text) ? true : undefined;
}

describe('attach without a terminal', () => {
  it('relays stdin in, stdout and stderr out, and ends stdin when the client shuts down', async () => {
    const c = await env.container({ args: ['sh', '-c', 'cat; echo done >&2'] });
    await env.create(BIN, c, ['--stdin']);
    const client = attachClient(socketOf(c));
    await env.start(c);
    client.proc.stdin!.end('hello\n');
    const res = await client.done;
    expect(res).toEqual({ code: 0, stdout: 'hello\n', stderr: 'done\n' });
    expect(await env.exitCode(c)).toBe('0');
    const records = await readLog(c.log);
    expect(streamBytes(records, 'stdout').toString()).toBe('hello\n');
    expect(streamBytes(records, 'stderr').toString()).toBe('done\n');
  });

  it('sends the same output to every attached client', async () => {
    const c = await env.container({ args: ['sh', '-c', 'echo shared; echo oops >&2'] });
    const { monitorPid } = await env.create(BIN, c);
    const baseline = await socketCount(monitorPid);
    const a = attachClient(socketOf(c), { noStdin: true });
    const b = attachClient(socketOf(c), { noStdin: true });
    // Output is only sent to clients already accepted: wait for both.
    await waitForClients(monitorPid, baseline, 2);
    await env.start(c);
    for (const r of await Promise.all([a.done, b.done])) {
      expect(r).toEqual({ code: 0, stdout: 'shared\n', stderr: 'oops\n' });
    }
  });

  it('keeps stdin open across clients with --leave-stdin-open', async () => {
    const c = await env.container({ args: ['cat'] });
    await env.create(BIN, c, ['--stdin', '--leave-stdin-open']);
    await env.start(c);
    for (const word of ['first', 'second']) {
      const client = attachClient(socketOf(c));
      client.proc.stdin!.end(`${word}\n`);
      await waitFor(`${word} echoed`, () => logHas(c, word));
      client.proc.kill('SIGKILL');
      await client.done;
    }
    expect((await env.runc('state', c.id)).includes('"running"')).toBe(true);
    await env.runc('kill', c.id, 'KILL');
    expect(await env.exitCode(c)).toBe('137');
    expect(streamBytes(await readLog(c.log), 'stdout').toString()).toBe('first\nsecond\n');
  });
});

describe('attach with a terminal', () => {
  it('round-trips through the pty, honouring a resize sent before start', async () => {
    const c = await env.container({ args: ['sh', '-c', 'stty size; cat'], terminal: true });
    const { monitorPid } = await env.create(BIN, c, ['--terminal', '--stdin']);
    await writeFile(join(c.bundle, 'ctl'), '1 40 100\n');
    const baseline = await socketCount(monitorPid);
    const client = attachClient(socketOf(c));
    await waitForClients(monitorPid, baseline, 1);
    let seen = '';
    client.proc.stdout!.on('data', (d: Buffer) => (seen += d.toString()));
    await env.start(c);
    await waitFor('size printed', async () => (seen.includes('40 100') ? true : undefined));
    client.proc.stdin!.write('hi\n');
    await waitFor('echo and cat output', async () => (seen.split('hi\r\n').length >= 3 ? true : undefined));
    client.proc.stdin!.end('\x04'); // ^D: end of input for cat on a terminal
    const res = await client.done;
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('40 100\r\nhi\r\nhi\r\n');
    expect(await env.exitCode(c)).toBe('0');
    expect(streamBytes(await readLog(c.log), 'stdout').toString()).toBe('40 100\r\nhi\r\nhi\r\n');
  });

  it('resizes a running container through ctl and winsz', async () => {
    const c = await env.container({ args: ['sh', '-c', 'while true; do stty size; sleep 0.05; done'], terminal: true });
    await env.create(BIN, c, ['--terminal']);
    await env.start(c);
    await writeFile(join(c.bundle, 'ctl'), '1 50 120\n');
    await waitFor('ctl resize', () => logHas(c, '50 120'));
    await writeFile(join(c.bundle, 'winsz'), '60 130\n');
    await waitFor('winsz resize', () => logHas(c, '60 130'));
    // Out of conmon's 0..1000 range: ignored, the size stays.
    await writeFile(join(c.bundle, 'ctl'), '1 5000 10\n');
    await new Promise((r) => setTimeout(r, 200));
    expect((await readFile(c.log, 'utf8')).includes('5000 10')).toBe(false);
    await env.runc('kill', c.id, 'KILL');
    expect(await env.exitCode(c)).toBe('137');
  });
});
