// Port-forward sessions (crius.v1.network.PortForwardSession): a TCP
// connection to localhost:<port> in a pod's network namespace, relayed over
// the session's bus pipe. Node cannot enter a namespace, so the connection is
// native/conmon's port-bridge (its contract is at the top of
// src/tools/port-bridge.c): it joins the pod's netns (a host-network pod has
// none: it connects from ours), tries 127.0.0.1 then ::1 as containerd does,
// and relays its stdio. Nothing from the pod's image is used.
// Half-closes travel both ways; the session ends once both directions have,
// or when the client goes away. Owned by network-svc.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { BusPipe, FailedPreconditionError, InternalError, InvalidArgumentError, UnavailableError, pumpFromPipe, sessionAddress, type BusPipeOptions, type Logger, type PipeAddress } from '@crius/common';
import type { NatsConnection } from 'nats';
import type { PortForwardSessionRequest } from '@crius/common/proto/streams';
import type { NetworkService } from './network-service.js';

export interface PortForwardDeps {
  net: NetworkService;
  nc: NatsConnection;
  log: Logger;
  /** The port-bridge program (portBridgePath()). */
  portBridge: string;
  pipe?: BusPipeOptions;
}

/** port-bridge's exit status when neither loopback address took the connection. */
const EXIT_CONNECT = 3;

/** native/conmon's port-bridge: beside a configured monitor (runtime.conmon), else the one the build made. */
export function portBridgePath(conmon = ''): string {
  const beside = conmon ? path.join(path.dirname(conmon), 'port-bridge') : '';
  if (beside && existsSync(beside)) return beside;
  return path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../native/conmon/build/port-bridge');
}

/** Connects, replies once connected (a refused port is this call's error); the relay continues in the background. */
export async function startPortForwardSession(deps: PortForwardDeps, req: PortForwardSessionRequest): Promise<void> {
  const address = sessionAddress('network', 'PortForwardSession', req);
  if (!Number.isInteger(req.port) || req.port < 1 || req.port > 65535) throw new InvalidArgumentError(`port-forward to pod ${req.podSandboxId}: port ${req.port} is not a TCP port`);
  const what = `port-forward to port ${req.port} of pod ${req.podSandboxId}`;
  const args = ['--status-fd', '3', String(req.port)];
  if (!req.hostNetwork) {
    const status = await deps.net.podStatus(req.podSandboxId);
    if (!status.netnsExists || !status.netnsPath) throw new FailedPreconditionError(`${what}: the pod's network namespace ${status.netnsPath || ''} is gone`);
    args.unshift('--netns', status.netnsPath);
  }
  const child = spawn(deps.portBridge, args, { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
  const bridge = new Bridge(child);
  const connected = await bridge.connected;
  if (connected !== true) {
    const reason = bridge.reason(connected);
    throw connected === EXIT_CONNECT ? new UnavailableError(`${what}: ${reason}`) : new InternalError(`${what}: ${reason}`);
  }
  void relay(deps, address, bridge, what);
}

/** A running port-bridge: its status lines and its exit. */
class Bridge {
  stderr = '';
  private status = '';
  /** true once connected; else the exit code (or -1: could not run). */
  readonly connected: Promise<true | number>;
  /** Settles after stdio is closed, so every status line and all of stderr were read. */
  readonly exited: Promise<number>;
  private sawEof?: () => void;
  readonly serverEnded: Promise<void>;

  constructor(readonly child: ChildProcess) {
    child.stderr!.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-2000)));
    this.exited = new Promise((resolve) => {
      child.once('error', (err) => {
        this.stderr ||= `cannot run ${child.spawnfile}: ${err.message}`;
        resolve(-1);
      });
      child.once('close', (code, signal) => resolve(code ?? (signal ? 128 : -1)));
    });
    this.serverEnded = new Promise((resolve) => (this.sawEof = resolve));
    const status = child.stdio[3] as Readable;
    status.on('error', () => undefined);
    this.connected = new Promise((resolve) => {
      status.on('data', (d: Buffer) => {
        this.status += d.toString();
        if (/^connected /m.test(this.status)) resolve(true);
        if (/^eof$/m.test(this.status)) this.sawEof!();
      });
      void this.exited.then(resolve);
    });
  }

  reason(code: number): string {
    return this.stderr.trim().replace(/^port-bridge: /, '') || `port-bridge exited with ${code}`;
  }
}

async function relay(deps: PortForwardDeps, address: PipeAddress, b: Bridge, what: string): Promise<void> {
  const pipe = new BusPipe(deps.nc, address, 'service', deps.pipe);
  const child = b.child;
  child.stdin!.on('error', () => undefined); // EPIPE once the bridge is gone
  void pumpFromPipe(pipe, 'port', child.stdin!); // the client's FIN ends stdin: the bridge half-closes the socket
  const out = pipe.writable('port');
  // Not ended with stdout: only a clean end of the server's side (port-bridge
  // says "eof" first) becomes the client's FIN; a broken connection must
  // reach it as an error instead.
  child.stdout!.pipe(out, { end: false });
  const stdoutDone = finished(child.stdout!).catch(() => undefined);
  void stdoutDone.then(async () => {
    const clean = await Promise.race([b.serverEnded.then(() => true), b.exited.then(() => false)]);
    if (clean) out.end();
  });
  const first = await Promise.race([b.exited.then((code) => ({ code })), pipe.done.then((end) => ({ end }))]);
  if ('end' in first) {
    child.kill('SIGKILL');
    await b.exited;
    deps.log.debug({ session: address.sid, ended: first.end.kind }, `${what}: closed by the gateway`);
    return;
  }
  await stdoutDone;
  if (first.code !== 0) {
    pipe.sendError(new UnavailableError(`${what}: ${b.reason(first.code)}`));
    return;
  }
  out.end();
  await finished(out).catch(() => undefined);
  pipe.sendExit(0);
}
