// The gateway's streaming server (exec, attach, port-forward for kubectl and
// crictl): what the rest of cri-gateway uses. The RPC handlers call getUrl;
// main wires a StreamingBackend to runtime-svc and network-svc.
export { StreamingServer, type StreamingServerOptions } from './server.js';
export type {
  AttachSpec,
  ExecSpec,
  PortForwardSpec,
  SessionIO,
  StreamingBackend,
  StreamingLog,
  TerminalSize,
} from './backend.js';
export type { StreamKind } from './tokens.js';
