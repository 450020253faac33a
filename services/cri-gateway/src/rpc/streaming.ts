// Exec, Attach and PortForward: answered by the gateway itself. Each checks
// its target with the owning service (the container runs, the pod is ready),
// then returns a single-use URL of the gateway's streaming server; the session
// behind that URL runs over the bus (streaming/bus-backend.ts).
import { FailedPreconditionError, InvalidArgumentError, UnavailableError, type BusClient } from '@crius/common';
import {
  AttachRequest,
  AttachResponse,
  ContainerState,
  ContainerStatusRequest,
  ContainerStatusResponse,
  ExecRequest,
  ExecResponse,
  NamespaceMode,
  PodSandboxState,
  PodSandboxStatusRequest,
  PodSandboxStatusResponse,
  PortForwardRequest,
  PortForwardResponse,
} from '@crius/common/cri';
import type { CallContext } from '../instrument.js';
import type { StreamingServer } from '../streaming/index.js';

export interface StreamingRpcDeps {
  bus: BusClient;
  /** Absent when the gateway runs without a streaming server. */
  streaming?: StreamingServer;
}

type Handler = (bytes: Buffer, ctx: CallContext) => Promise<Buffer>;

function server(deps: StreamingRpcDeps, method: string): StreamingServer {
  if (!deps.streaming) throw new UnavailableError(`${method}: the streaming server is not running in this gateway`);
  return deps.streaming;
}

/** The container's full id once it is running; NotFound from runtime-svc passes through. */
async function runningContainer(deps: StreamingRpcDeps, method: string, containerId: string, ctx: CallContext): Promise<string> {
  const opts = { deadline: ctx.deadline, requestId: ctx.requestId };
  const { status } = await deps.bus.call('runtime', 'ContainerStatus', ContainerStatusRequest, ContainerStatusResponse, { containerId, verbose: false }, opts);
  if (!status) throw new UnavailableError(`${method}: runtime-svc returned no status for container ${containerId}`);
  if (status.state !== ContainerState.CONTAINER_RUNNING) {
    const state = ['created', 'running', 'exited', 'unknown'][status.state] ?? String(status.state);
    throw new FailedPreconditionError(`${method}: container ${containerId} is not running (state ${state})`);
  }
  return status.id;
}

function checkStreams(method: string, r: { stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean }): void {
  if (!r.stdin && !r.stdout && !r.stderr) throw new InvalidArgumentError(`${method}: one of stdin, stdout and stderr must be requested`);
  if (r.tty && r.stderr) throw new InvalidArgumentError(`${method}: tty and stderr cannot both be requested (a terminal has one output stream)`);
}

export function streamingHandlers(deps: StreamingRpcDeps): Record<'Exec' | 'Attach' | 'PortForward', Handler> {
  return {
    Exec: async (bytes, ctx) => {
      const r = ExecRequest.decode(bytes);
      checkStreams('Exec', r);
      const srv = server(deps, 'Exec');
      const containerId = await runningContainer(deps, 'Exec', r.containerId, ctx);
      const url = srv.getUrl('exec', { containerId, cmd: r.cmd, tty: r.tty, stdin: r.stdin, stdout: r.stdout, stderr: r.stderr });
      return Buffer.from(ExecResponse.encode({ url }).finish());
    },
    Attach: async (bytes, ctx) => {
      const r = AttachRequest.decode(bytes);
      checkStreams('Attach', r);
      const srv = server(deps, 'Attach');
      const containerId = await runningContainer(deps, 'Attach', r.containerId, ctx);
      const url = srv.getUrl('attach', { containerId, tty: r.tty, stdin: r.stdin, stdout: r.stdout, stderr: r.stderr });
      return Buffer.from(AttachResponse.encode({ url }).finish());
    },
    PortForward: async (bytes, ctx) => {
      const r = PortForwardRequest.decode(bytes);
      const bad = r.port.find((p) => !Number.isInteger(p) || p < 1 || p > 65535);
      if (bad !== undefined) throw new InvalidArgumentError(`PortForward: port ${bad} is not a TCP port (1-65535)`);
      const srv = server(deps, 'PortForward');
      const opts = { deadline: ctx.deadline, requestId: ctx.requestId };
      const { status } = await deps.bus.call('runtime', 'PodSandboxStatus', PodSandboxStatusRequest, PodSandboxStatusResponse, { podSandboxId: r.podSandboxId, verbose: false }, opts);
      if (!status) throw new UnavailableError(`PortForward: runtime-svc returned no status for pod ${r.podSandboxId}`);
      if (status.state !== PodSandboxState.SANDBOX_READY) throw new FailedPreconditionError(`PortForward: pod ${r.podSandboxId} is not ready`);
      // A host-network pod has no namespace of its own: network-svc connects to the node's loopback.
      const hostNetwork = status.linux?.namespaces?.options?.network === NamespaceMode.NODE;
      const url = srv.getUrl('portforward', { podSandboxId: status.id, ports: r.port, hostNetwork });
      return Buffer.from(PortForwardResponse.encode({ url }).finish());
    },
  };
}
