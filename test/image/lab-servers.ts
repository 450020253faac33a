// Loopback servers for failure tests: a registry that lies about content,
// and a proxy that stalls one blob download halfway so the test can kill the
// real registry behind it mid-pull.
import { request as httpRequest } from 'node:http';
import type { ServerResponse } from 'node:http';
import { startServer, type LoopbackServer } from '../fixtures/http-server.js';
import type { Blob, OciImage } from '../fixtures/oci-image.js';

export interface Lies {
  /** Serve these bytes instead of the real blob with this digest. */
  blobs?: Record<string, Buffer>;
  /** Serve these bytes for GET manifests/<digest>. */
  manifests?: Record<string, Buffer>;
}

/** Serves `image` as repository `app` under tag `1`, telling the given lies. */
export function startLyingRegistry(image: OciImage, lies: Lies): Promise<LoopbackServer> {
  const blobs = new Map<string, Blob>([image.config, ...image.layers].map((b) => [b.digest, b]));
  return startServer((req, res) => {
    const url = req.url ?? '';
    const manifest = /^\/v2\/app\/manifests\/(.+)$/.exec(url);
    if (manifest) {
      const key = manifest[1]!;
      const body = lies.manifests?.[key] ?? (key === '1' || key === image.manifest.digest ? image.manifest.data : undefined);
      return send(res, body, image.manifest.mediaType);
    }
    const blob = /^\/v2\/app\/blobs\/(sha256:[a-f0-9]{64})$/.exec(url);
    if (blob) return send(res, lies.blobs?.[blob[1]!] ?? blobs.get(blob[1]!)?.data, 'application/octet-stream');
    send(res, url === '/v2/' ? Buffer.from('{}') : undefined, 'application/json');
  });
}

function send(res: ServerResponse, body: Buffer | undefined, type: string): void {
  if (!body) {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"errors":[{"code":"NOT_FOUND","message":"not here"}]}');
    return;
  }
  res.writeHead(200, { 'content-type': type, 'content-length': body.length });
  res.end(body);
}

export interface StallingProxy {
  server: LoopbackServer;
  /** Resolves once the stalled download has sent `afterBytes`. */
  stalled: Promise<void>;
  /** Cuts the stalled connection, as the dying registry would. */
  cut(): void;
}

/**
 * Forwards to `upstream`; the first GET of `stallPath` is cut off after
 * `afterBytes` and held. Requests the upstream refuses get their socket reset.
 */
export async function startStallingProxy(upstream: string, stallPath: string, afterBytes: number): Promise<StallingProxy> {
  let stalledResponse: ServerResponse | undefined;
  let markStalled!: () => void;
  const stalled = new Promise<void>((resolve) => (markStalled = resolve));
  const server = await startServer((req, res) => {
    const up = httpRequest(`${upstream}${req.url}`, { method: req.method, headers: { ...req.headers, host: new URL(upstream).host } }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      if (req.url !== stallPath || stalledResponse || req.headers.range) {
        upRes.pipe(res);
        return;
      }
      stalledResponse = res;
      let sent = 0;
      upRes.on('data', (chunk: Buffer) => {
        if (sent >= afterBytes) return;
        const part = chunk.subarray(0, afterBytes - sent);
        sent += part.length;
        res.write(part);
        if (sent >= afterBytes) {
          upRes.destroy();
          markStalled();
        }
      });
    });
    up.on('error', () => req.socket.destroy());
    req.pipe(up);
  });
  return { server, stalled, cut: () => stalledResponse?.destroy() };
}
