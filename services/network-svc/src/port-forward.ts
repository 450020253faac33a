// Port-forward sessions (crius.v1.network.PortForwardSession): a TCP
// connection to 127.0.0.1:<port> inside a pod's network namespace, relayed
// over the session's bus pipe. Node cannot enter a namespace, so the
// connection is busybox nc run under nsenter; its stdio is the byte stream.
// Either side's end closes the session.
import { spawn, type ChildProcess } from 'node:child_process';
import { finished } from 'node:stream/promises';
import { BusPipe, FailedPreconditionError, InternalError, InvalidArgumentError, UnavailableError, pumpFromPipe, sessionAddress, type BusPipeOptions, type Logger, type PipeAddress } from '@crius/common';
import type { NatsConnection } from 'nats';
import type { PortForwardSessionRequest } from '@crius/common/proto/streams';
import type { NetworkService } from './network-service.js';

export interface PortForwardDeps {
  net: NetworkService;
  nc: NatsConnection;
  log: Logger;
  /** busybox with the nc applet. Default /bin/busybox (busybox-static). */
  busybox?: string;
  pipe?: BusPipeOptions;
}

/** Starts the connection, replies once nc runs; the relay continues in the background. */
export async function startPortForwardSession(deps: PortForwardDeps, req: PortForwardSessionRequest): Promise<void> {
  const address = sessionAddress('network', 'PortForwardSession', req);
  if (!Number.isInteger(req.port) || req.port < 1 || req.port > 65535) throw new InvalidArgumentError(`port-forward to pod ${req.podSandboxId}: port ${req.port} is not a TCP port`);
  const status = await deps.net.podStatus(req.podSandboxId);
  if (!status.netnsExists || !status.netnsPath) {
    throw new FailedPreconditionError(`port-forward to pod ${req.podSandboxId}: the pod has no network namespace (host network pods are not supported yet)`);
  }
  const what = `port-forward to port ${req.port} of pod ${req.podSandboxId}`;
  const child = spawn('nsenter', [`--net=${status.netnsPath}`, deps.busybox ?? '/bin/busybox', 'nc', '127.0.0.1', String(req.port)], { stdio: ['pipe', 'pipe', 'pipe'] });
  const err = { text: '' };
  child.stderr!.on('data', (d: Buffer) => (err.text = (err.text + d.toString()).slice(-2000)));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code))); // after stderr is read
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (e) => reject(new InternalError(`${what}: cannot run nsenter: ${e.message}`, { cause: e })));
  });
  // A refused connection ends nc within milliseconds: report it as the
  // start's failure, which the client gets on the port's error stream.
  const early = await Promise.race([exited, new Promise<'running'>((r) => setTimeout(() => r('running'), CONNECT_GRACE_MS))]);
  if (early !== 'running' && early !== 0) {
    throw new UnavailableError(`${what}: ${err.text.trim().replace(/^nc: /, '') || `nc exited with ${early}`}`);
  }
  void relay(deps, address, child, exited, err, what);
}

/** How long a connect failure has to show before the session counts as started. */
const CONNECT_GRACE_MS = 150;

async function relay(deps: PortForwardDeps, address: PipeAddress, child: ChildProcess, exited: Promise<number | null>, err: { text: string }, what: string): Promise<void> {
  const pipe = new BusPipe(deps.nc, address, 'service', deps.pipe);
  child.stdin!.on('error', () => undefined);
  void pumpFromPipe(pipe, 'port', child.stdin!);
  // Not ended with nc's stdout: a failed connection must reach the client as
  // an error frame before (instead of) the eof that would close the stream quietly.
  const out = pipe.writable('port');
  child.stdout!.pipe(out, { end: false });
  const sent = new Promise((resolve) => child.stdout!.once('close', resolve));
  const first = await Promise.race([exited.then((code) => ({ code })), pipe.done.then((end) => ({ end }))]);
  if ('end' in first) {
    child.kill('SIGKILL');
    await exited;
    deps.log.debug({ session: address.sid, ended: first.end.kind }, `${what}: closed by the gateway`);
    return;
  }
  await sent;
  if (first.code !== 0 && err.text.trim()) {
    // nc broke later: tell the client why.
    pipe.sendError(new UnavailableError(`${what}: ${err.text.trim().replace(/^nc: /, '')}`));
    return;
  }
  out.end();
  await finished(out).catch(() => undefined);
  pipe.sendExit(0);
}
