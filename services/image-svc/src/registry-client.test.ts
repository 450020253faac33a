// RegistryClient against small loopback servers that misbehave on purpose;
// the real registry is exercised in test/image/.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FailedPreconditionError, NotFoundError, ResourceExhaustedError, UnavailableError } from '@crius/common';
import { startServer, type Handler, type LoopbackServer } from '../../../test/fixtures/http-server.js';
import { Authorizer, TokenCache } from './auth.js';
import { ContentStore } from './content-store.js';
import { sha256Digest } from './digest.js';
import { HttpPool } from './http.js';
import { RegistryClient } from './registry-client.js';
import { endpointsFor, DEFAULT_REGISTRIES } from './registries.js';
import { parseReference } from './reference.js';

const servers: LoopbackServer[] = [];
const http = new HttpPool();
let root: string;
let store: ContentStore;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'crius-rc-'));
  store = new ContentStore(root);
  await store.init();
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await rm(root, { recursive: true, force: true });
});

async function serve(handler: Handler): Promise<LoopbackServer> {
  const s = await startServer(handler);
  servers.push(s);
  return s;
}

function client(server: LoopbackServer, auth?: { username: string; password: string }): RegistryClient {
  const endpoint = endpointsFor(DEFAULT_REGISTRIES, parseReference(`${server.host}/app`))[0]!;
  const creds = auth ? { kind: 'basic' as const, ...auth } : undefined;
  const authorizer = new Authorizer(creds, http, new TokenCache());
  return new RegistryClient(endpoint, 'app', `pull ${server.host}/app:1`, {
    http, authorizer, retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 }, manifestLimit: 1000,
  });
}

const blob = Buffer.alloc(64 * 1024, 7);
const blobDesc = { digest: sha256Digest(blob), size: blob.length };

describe('RegistryClient', () => {
  it('fetches a manifest by tag with the Accept list and verifies Docker-Content-Digest', async () => {
    const doc = Buffer.from('{"schemaVersion":2}');
    let lie = false;
    const server = await serve((req, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'docker-content-digest': lie ? sha256Digest('x') : sha256Digest(doc) });
      res.end(doc);
    });
    const m = await client(server).getManifest('1');
    expect(m).toEqual({ digest: sha256Digest(doc), contentType: 'application/vnd.oci.image.manifest.v1+json', bytes: doc });
    expect(server.requests[0]!.url).toBe('/v2/app/manifests/1');
    expect(server.requests[0]!.headers.accept).toContain('application/vnd.oci.image.index.v1+json');
    expect(server.requests[0]!.headers.accept).toContain('application/vnd.docker.distribution.manifest.v2+json');
    lie = true;
    await expect(client(server).getManifest('1')).rejects.toThrow(`digest mismatch: expected ${sha256Digest('x')}, got ${sha256Digest(doc)}`);
  });

  it('refuses a manifest whose bytes do not match the digest asked for', async () => {
    const server = await serve((_req, res) => res.end('{"schemaVersion":2,"evil":true}'));
    const want = sha256Digest('{"schemaVersion":2}');
    const err = await client(server).getManifest(want).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FailedPreconditionError);
    expect((err as Error).message).toContain(`pull ${server.host}/app:1: manifest ${want} from registry ${server.host}: digest mismatch: expected ${want}`);
  });

  it('limits manifest and config size', async () => {
    const server = await serve((_req, res) => res.end(Buffer.alloc(2000, 32)));
    await expect(client(server).getManifest('1')).rejects.toBeInstanceOf(ResourceExhaustedError);
    await expect(client(server).fetchConfig(store, { digest: blobDesc.digest, size: 9 << 20 })).rejects.toThrow(/exceeds the 8388608-byte limit/);
    expect(server.requests).toHaveLength(1);
  });

  it('maps 404 to NotFound with the registry error code, and retries 5xx within the bound', async () => {
    let calls = 0;
    const server = await serve((req, res) => {
      if (req.url!.includes('/manifests/missing')) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}');
        return;
      }
      calls++;
      res.writeHead(calls < 3 ? 503 : 200);
      res.end('{}');
    });
    await expect(client(server).getManifest('missing')).rejects.toThrow(new NotFoundError(`pull ${server.host}/app:1: manifest missing from registry ${server.host}: HTTP 404 MANIFEST_UNKNOWN: manifest unknown`));
    expect((await client(server).getManifest('1')).bytes.toString()).toBe('{}');
    expect(calls).toBe(3);
    calls = -10;
    await expect(client(server).getManifest('1')).rejects.toBeInstanceOf(UnavailableError);
  });

  it('reports an unreachable registry as Unavailable naming the host', async () => {
    const server = await serve(() => undefined);
    await server.close();
    const err = await client(server).getManifest('1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as Error).message).toContain(`registry ${server.host} unreachable (ECONNREFUSED)`);
  });

  it('answers a basic challenge and remembers it for later requests', async () => {
    const good = `Basic ${Buffer.from('u:p').toString('base64')}`;
    const server = await serve((req, res) => {
      if (req.headers.authorization !== good) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' });
        res.end();
        return;
      }
      res.end(blob);
    });
    const c = client(server, { username: 'u', password: 'p' });
    await c.fetchBlob(store, blobDesc);
    expect(await c.fetchConfig(store, blobDesc)).toEqual(blob);
    expect(server.requests.map((r) => r.headers.authorization ?? 'none')).toEqual(['none', good]);
    await store.delete(blobDesc.digest);
    await c.fetchBlob(store, blobDesc);
    expect(server.requests.at(-1)!.headers.authorization).toBe(good);
    await expect(client(server).getManifest('1')).rejects.toThrow(/requires credentials \(basic auth\) and none were given/);
    await expect(client(server, { username: 'u', password: 'bad' }).getManifest('1')).rejects.toThrow(/HTTP 401: credentials rejected/);
  });

  it('runs the anonymous bearer flow once and reuses the token for blobs', async () => {
    const tokens = await serve((_req, res) => res.end(JSON.stringify({ token: 'tok-1', expires_in: 300 })));
    const server = await serve((req, res) => {
      if (req.headers.authorization !== 'Bearer tok-1') {
        res.writeHead(401, { 'www-authenticate': `Bearer realm="${tokens.url}/token",service="loopback",scope="repository:app:pull"` });
        res.end();
        return;
      }
      res.end(req.url!.includes('/blobs/') ? blob : '{}');
    });
    const c = client(server);
    await c.getManifest('1');
    await c.fetchBlob(store, blobDesc);
    expect(tokens.requests).toHaveLength(1);
    expect(new URL(tokens.requests[0]!.url, tokens.url).searchParams.get('scope')).toBe('repository:app:pull');
    expect(server.requests.map((r) => r.headers.authorization ?? 'none')).toEqual(['none', 'Bearer tok-1', 'Bearer tok-1']);
  });

  it('resumes a broken blob download with Range', async () => {
    let broke = false;
    const server = await serve((req, res) => {
      const range = /bytes=(\d+)-/.exec(req.headers.range ?? '');
      if (range) {
        const start = Number(range[1]);
        res.writeHead(206, { 'content-range': `bytes ${start}-${blob.length - 1}/${blob.length}`, 'content-length': blob.length - start });
        res.end(blob.subarray(start));
        return;
      }
      res.writeHead(200, { 'content-length': blob.length });
      if (!broke) {
        broke = true;
        res.write(blob.subarray(0, 20_000), () => setTimeout(() => res.destroy(), 20));
        return;
      }
      res.end(blob);
    });
    await client(server).fetchBlob(store, blobDesc);
    expect(await readFile(store.path(blobDesc.digest))).toEqual(blob);
    expect(server.requests).toHaveLength(2);
    expect(server.requests[1]!.headers.range).toMatch(/^bytes=\d+-$/);
    expect(Number(/bytes=(\d+)-/.exec(server.requests[1]!.headers.range!)![1])).toBeGreaterThan(0);
  });

  it('follows redirects to another origin without forwarding credentials', async () => {
    const storage = await serve((_req, res) => res.end(blob));
    const server = await serve((req, res) => {
      if (!req.headers.authorization) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' });
        res.end();
        return;
      }
      res.writeHead(307, { location: `${storage.url}/signed/blob?sig=1` });
      res.end();
    });
    await client(server, { username: 'u', password: 'p' }).fetchBlob(store, blobDesc);
    expect(await store.has(blobDesc.digest)).toBe(true);
    expect(storage.requests).toHaveLength(1);
    expect(storage.requests[0]!.headers.authorization).toBeUndefined();
  });

  it('rejects a blob with wrong content naming expected and actual digest', async () => {
    const server = await serve((_req, res) => res.end(Buffer.alloc(blob.length, 8)));
    const err = await client(server).fetchBlob(store, blobDesc).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FailedPreconditionError);
    expect((err as Error).message).toBe(
      `pull ${server.host}/app:1: blob ${blobDesc.digest} from registry ${server.host}: digest mismatch: expected ${blobDesc.digest}, got ${sha256Digest(Buffer.alloc(blob.length, 8))}`,
    );
    expect(await store.list()).toEqual([]);
  });
});
