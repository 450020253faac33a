import { PassThrough } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { exitCodeOf, frame, runRemoteCommand, wsUrl } from './stream-client.js';
import { parsePorts } from './commands/exec.js';

describe('exitCodeOf', () => {
  it('maps Success to 0 and NonZeroExitCode to its code', () => {
    expect(exitCodeOf('{"metadata":{},"status":"Success"}')).toBe(0);
    const failed = { status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '42' }] } };
    expect(exitCodeOf(JSON.stringify(failed))).toBe(42);
  });

  it('throws other failures with the server message', () => {
    expect(() => exitCodeOf('{"status":"Failure","reason":"InternalError","message":"exec: runc died"}')).toThrow(/runc died/);
    expect(() => exitCodeOf('not json')).toThrow(/unreadable status/);
  });
});

describe('parsePorts', () => {
  it('reads PORT and LOCAL:REMOTE, refusing anything else', () => {
    expect(parsePorts('8080')).toEqual({ local: 8080, remote: 8080 });
    expect(parsePorts('18080:80')).toEqual({ local: 18080, remote: 80 });
    for (const bad of ['0', '70000', 'a:80', '1:2:3', '']) expect(() => parsePorts(bad)).toThrow(/expected PORT or LOCAL:REMOTE/);
  });
});

describe('runRemoteCommand against a loopback v5 server', () => {
  let wss: WebSocketServer | undefined;
  afterEach(() => wss?.close());

  async function serve(onSession: (ws: WebSocket, protocol: string) => void): Promise<string> {
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (p) => [...p][0] ?? false });
    wss.on('connection', (ws) => onSession(ws, ws.protocol));
    await new Promise((r) => wss!.once('listening', r));
    return `http://127.0.0.1:${(wss.address() as AddressInfo).port}/exec/x`;
  }

  it('sends stdin, the size and the stdin close; routes output and returns the exit code', async () => {
    const got: Buffer[] = [];
    const url = await serve((ws, protocol) => {
      expect(protocol).toBe('v5.channel.k8s.io');
      ws.send(frame(1, ''));
      ws.on('message', (d: Buffer) => {
        got.push(Buffer.from(d));
        if (d[0] === 255) {
          ws.send(frame(1, 'out'));
          ws.send(frame(2, 'err'));
          ws.send(frame(3, JSON.stringify({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '9' }] } })));
          ws.close(1000);
        }
      });
    });
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    stdin.end('typed');
    const code = await runRemoteCommand(url, { stdin, stdout, stderr, size: () => ({ width: 80, height: 24 }), signal: new AbortController().signal });
    expect(code).toBe(9);
    expect(stdout.read()?.toString()).toBe('out');
    expect(stderr.read()?.toString()).toBe('err');
    expect(got.map((m) => m.toString('latin1'))).toEqual(['\x04{"Width":80,"Height":24}', '\x00typed', '\xff\x00']);
  });

  it('says what the server refused', async () => {
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0, verifyClient: (_info, cb) => cb(false, 404, 'Not Found') });
    await new Promise((r) => wss!.once('listening', r));
    const url = `http://127.0.0.1:${(wss.address() as AddressInfo).port}/exec/used`;
    const io = { stdout: new PassThrough(), stderr: new PassThrough(), signal: new AbortController().signal };
    await expect(runRemoteCommand(url, io)).rejects.toThrow(`cannot open the stream ${url}: HTTP 404`);
  });

  it('wsUrl turns http(s) into ws(s)', () => {
    expect(wsUrl('https://h:1/exec/t')).toBe('wss://h:1/exec/t');
    expect(wsUrl('http://h:1/exec/t')).toBe('ws://h:1/exec/t');
  });
});
