// SpdyConnection on a loopback socket pair, driven frame by frame by a raw
// peer built from the frames module.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SpdyConnection, type SpdyStream } from './connection.js';
import { FrameEncoder, FrameParser, RstStatus, SettingsId, type Frame } from './frames.js';

class Peer {
  readonly frames: Frame[] = [];
  private readonly enc = new FrameEncoder();
  private readonly parser = new FrameParser();
  constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (c: Buffer) => {
      this.parser.push(c);
      for (let f = this.parser.next(); f; f = this.parser.next()) this.frames.push(f);
    });
  }
  send(f: Frame): void {
    this.socket.write(this.enc.encode(f));
  }
  syn(id: number, headers: Record<string, string> = {}, fin = false): void {
    this.send({ type: 'syn_stream', streamId: id, associatedToStreamId: 0, priority: 0, slot: 0, fin, unidirectional: false, headers });
  }
  async waitFor(pred: (f: Frame) => boolean): Promise<Frame> {
    for (let i = 0; i < 500; i++) {
      const f = this.frames.find(pred);
      if (f) return f;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error(`frame not received; got ${JSON.stringify(this.frames.map((f) => f.type))}`);
  }
  dataFor(id: number): Buffer {
    return Buffer.concat(this.frames.flatMap((f) => (f.type === 'data' && f.streamId === id ? [f.data] : [])));
  }
}

let listener: Server;
let conn: SpdyConnection;
let peer: Peer;
let streams: SpdyStream[];

beforeEach(async () => {
  const accepted = new Promise<Socket>((resolve) => {
    listener = createServer(resolve);
  });
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', () => r()));
  const client = connect((listener.address() as { port: number }).port, '127.0.0.1');
  conn = new SpdyConnection(await accepted);
  streams = [];
  conn.on('stream', (s) => streams.push(s));
  peer = new Peer(client);
});
afterEach(async () => {
  peer.socket.destroy();
  conn.destroy();
  await new Promise((r) => listener.close(r));
});

async function nextStream(): Promise<SpdyStream> {
  const n = streams.length;
  for (let i = 0; i < 500 && streams.length === n; i++) await new Promise((r) => setTimeout(r, 5));
  return streams.at(-1)!;
}

describe('SpdyConnection', () => {
  it('hands out client streams with their headers and replies on demand', async () => {
    peer.syn(1, { streamtype: 'stdout' });
    const s = await nextStream();
    expect(s.id).toBe(1);
    expect(s.headers).toEqual({ streamtype: 'stdout' });
    s.reply();
    expect(await peer.waitFor((f) => f.type === 'syn_reply')).toEqual({ type: 'syn_reply', streamId: 1, fin: false, headers: {} });
  });

  it('carries data both ways and FIN as end of stream', async () => {
    peer.syn(1);
    const s = await nextStream();
    s.write('to-client');
    s.end();
    peer.send({ type: 'data', streamId: 1, fin: true, data: Buffer.from('to-server') });
    const got: Buffer[] = [];
    for await (const c of s) got.push(c as Buffer);
    expect(Buffer.concat(got).toString()).toBe('to-server');
    await peer.waitFor((f) => f.type === 'data' && f.fin);
    expect(peer.dataFor(1).toString()).toBe('to-client');
    expect(conn.openStreams).toBe(0);
  });

  it('reports a peer RST_STREAM on the stream', async () => {
    peer.syn(1);
    const s = await nextStream();
    const reset = new Promise((r) => s.once('reset', r));
    peer.send({ type: 'rst_stream', streamId: 1, status: RstStatus.CANCEL });
    expect(await reset).toBe(RstStatus.CANCEL);
    expect(s.resetByPeer).toBe(true);
    expect(s.destroyed).toBe(true);
  });

  it('refuses a reused or decreasing stream id', async () => {
    peer.syn(3);
    await nextStream();
    peer.syn(3);
    expect(await peer.waitFor((f) => f.type === 'rst_stream')).toMatchObject({ streamId: 3, status: RstStatus.STREAM_IN_USE });
    peer.syn(1);
    expect(await peer.waitFor((f) => f.type === 'rst_stream' && f.streamId === 1)).toMatchObject({ status: RstStatus.PROTOCOL_ERROR });
  });

  it('answers data after the peer FIN with STREAM_ALREADY_CLOSED', async () => {
    peer.syn(1, {}, true);
    const s = await nextStream();
    s.resume();
    peer.send({ type: 'data', streamId: 1, fin: false, data: Buffer.from('late') });
    expect(await peer.waitFor((f) => f.type === 'rst_stream')).toMatchObject({ streamId: 1, status: RstStatus.STREAM_ALREADY_CLOSED });
  });

  it('enforces a window the peer announces and shrinks it when SETTINGS lower it', async () => {
    peer.send({ type: 'settings', clear: false, entries: [{ id: SettingsId.INITIAL_WINDOW_SIZE, value: 1000 }] });
    peer.syn(1);
    const s = await nextStream();
    s.write(Buffer.alloc(5000, 1));
    await peer.waitFor((f) => f.type === 'data');
    await new Promise((r) => setTimeout(r, 50));
    expect(peer.dataFor(1).length).toBe(1000);
    peer.send({ type: 'window_update', streamId: 1, delta: 1500 });
    await new Promise((r) => setTimeout(r, 50));
    expect(peer.dataFor(1).length).toBe(2500);
  });

  it('grants window back as the consumer reads', async () => {
    peer.syn(1);
    const s = await nextStream();
    s.resume();
    for (let i = 0; i < 3; i++) peer.send({ type: 'data', streamId: 1, fin: false, data: Buffer.alloc(16 * 1024) });
    const update = await peer.waitFor((f) => f.type === 'window_update' && f.streamId === 1);
    expect(update).toMatchObject({ delta: expect.any(Number) });
    expect((update as { delta: number }).delta).toBeGreaterThanOrEqual(32 * 1024);
  });

  it('sends GOAWAY with the last stream id on close and refuses new streams', async () => {
    peer.syn(5);
    await nextStream();
    conn.close();
    expect(await peer.waitFor((f) => f.type === 'goaway')).toEqual({ type: 'goaway', lastGoodStreamId: 5, status: 0 });
  });

  it('still says GOAWAY and ends the socket when the peer went away first', async () => {
    peer.syn(1);
    await nextStream();
    const heard = new Promise((r) => conn.once('goaway', r));
    peer.send({ type: 'goaway', lastGoodStreamId: 0, status: 0 });
    await heard;
    const ended = new Promise((r) => peer.socket.once('end', r));
    conn.close();
    expect(await peer.waitFor((f) => f.type === 'goaway')).toMatchObject({ lastGoodStreamId: 1 });
    await ended;
  });

  it('aborts every stream when the socket goes away', async () => {
    peer.syn(1);
    const s = await nextStream();
    const closed = new Promise((r) => conn.once('close', r));
    peer.socket.destroy();
    await closed;
    expect(s.destroyed).toBe(true);
    expect(conn.closed).toBe(true);
  });
});
