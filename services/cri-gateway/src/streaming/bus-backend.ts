// The gateway's StreamingBackend: runs each exec, attach and port-forward
// session in the service that owns it (runtime-svc, network-svc) and carries
// the bytes over a bus pipe (@crius/common BusPipe, docs/bus.md "Streams").
// Owned by cri-gateway.
import { Duplex } from 'node:stream';
import { BusPipe, UnavailableError, newSessionId, pipeEndError, pumpFromPipe, pumpToPipe, type BusClient, type BusPipeOptions, type BusUser, type MessageCodec, type ServiceName } from '@crius/common';
import { AttachSessionRequest, ExecSessionRequest, PortForwardSessionRequest, StreamSessionResponse } from '@crius/common/proto/streams';
import type { AttachSpec, ExecSpec, SessionIO, StreamingBackend } from './backend.js';

export interface BusBackendOptions {
  pipe?: BusPipeOptions;
  /** Time a service has to start a session. Default 30 s. */
  startTimeoutMs?: number;
  /** The bus user this gateway is (names the pipe's subjects). Default 'gateway'. */
  caller?: BusUser;
}

export class BusStreamingBackend implements StreamingBackend {
  constructor(
    private readonly bus: BusClient,
    private readonly opts: BusBackendOptions = {},
  ) {}

  async exec(req: ExecSpec, io: SessionIO): Promise<{ exitCode: number }> {
    const what = `exec ${JSON.stringify(req.cmd.join(' '))} in container ${req.containerId}`;
    const pipe = await this.open('runtime', 'ExecSession', ExecSessionRequest, (sessionId, caller) => ({ sessionId, caller, ...req }), what);
    return { exitCode: await runSession(pipe, io, what) };
  }

  async attach(req: AttachSpec, io: SessionIO): Promise<void> {
    const what = `attach to container ${req.containerId}`;
    const pipe = await this.open('runtime', 'AttachSession', AttachSessionRequest, (sessionId, caller) => ({ sessionId, caller, ...req }), what);
    await runSession(pipe, io, what);
  }

  async portForward(podSandboxId: string, port: number, opts: { hostNetwork?: boolean } = {}): Promise<Duplex> {
    const what = `port-forward to port ${port} of pod ${podSandboxId}`;
    const hostNetwork = opts.hostNetwork ?? false;
    const pipe = await this.open('network', 'PortForwardSession', PortForwardSessionRequest, (sessionId, caller) => ({ sessionId, caller, podSandboxId, port, hostNetwork }), what);
    return pipeDuplex(pipe, what);
  }

  /** Subscribes the session's down subject, then asks the service to start it. */
  private async open<Req>(service: ServiceName, method: string, codec: MessageCodec<Req>, build: (sid: string, caller: BusUser) => Req, what: string): Promise<BusPipe> {
    const address = { callee: service, caller: this.opts.caller ?? 'gateway', sid: newSessionId() };
    const pipe = new BusPipe(this.bus.nc, address, 'gateway', this.opts.pipe);
    try {
      await this.bus.call(service, method, codec, StreamSessionResponse, build(address.sid, address.caller), { deadline: Date.now() + (this.opts.startTimeoutMs ?? 30_000) });
    } catch (err) {
      pipe.close();
      (err as Error).message = `${what}: ${(err as Error).message}`;
      throw err;
    }
    return pipe;
  }
}

/** Wires a client's session to a started pipe; resolves with the exit code once all output reached the client. */
async function runSession(pipe: BusPipe, io: SessionIO, what: string): Promise<number> {
  const abort = () => pipe.close();
  io.signal.addEventListener('abort', abort, { once: true });
  if (io.signal.aborted) pipe.close();
  if (io.stdin) void pumpToPipe(pipe, 'stdin', io.stdin);
  const outputs = [io.stdout && pumpFromPipe(pipe, 'stdout', io.stdout), io.stderr && pumpFromPipe(pipe, 'stderr', io.stderr)];
  if (io.resize) {
    void (async () => {
      for await (const size of io.resize!) if (!pipe.isEnded) pipe.sendResize(size);
    })().catch(() => undefined);
  }
  try {
    const end = await pipe.done;
    await Promise.all(outputs);
    const err = pipeEndError(end, what);
    if (err) throw err;
    if (end.kind === 'closed') throw new UnavailableError(`${what}: the client went away`);
    return end.kind === 'exit' ? end.exitCode : 0;
  } finally {
    io.signal.removeEventListener('abort', abort);
  }
}

/** The port channel of a pipe as the Duplex the streaming server owns. */
function pipeDuplex(pipe: BusPipe, what: string): Duplex {
  const readable = pipe.readable('port');
  const writable = pipe.writable('port');
  const duplex = Duplex.from({ readable, writable });
  // The server listens for errors once it has the stream; one that arrives
  // before must not be an unhandled 'error' event (it would end the gateway).
  duplex.on('error', () => undefined);
  void pipe.done.then((end) => {
    const err = pipeEndError(end, what);
    if (err) duplex.destroy(err);
  });
  duplex.once('close', () => pipe.close());
  return duplex;
}
