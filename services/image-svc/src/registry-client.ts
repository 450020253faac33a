// OCI distribution API client for one repository on one endpoint (origin or
// mirror): manifests and configs read with size limits and digest checks,
// blobs streamed into the content store with retry and Range resume. Owner: image-svc.
import { request, type Dispatcher } from 'undici';
import {
  CriusError, FailedPreconditionError, InternalError, NotFoundError, ResourceExhaustedError, UnavailableError,
} from '@crius/common';
import { pullScope, type Authorizer } from './auth.js';
import type { BlobDescriptor, ContentStore, IngestHooks } from './content-store.js';
import { isSha256Digest, sha256Digest } from './digest.js';
import { DEFAULT_RETRY, HttpPool, discard, readLimited, tlsErrorCode, toUnavailable, withRetry, type RetryOptions } from './http.js';
import { MANIFEST_ACCEPT, MediaType } from './manifest.js';
import type { Endpoint } from './registries.js';

export const MANIFEST_LIMIT = 4 << 20;
export const CONFIG_LIMIT = 8 << 20;
const ERROR_BODY_LIMIT = 16 << 10;

export interface RegistryClientOptions {
  http: HttpPool;
  authorizer: Authorizer;
  retry?: RetryOptions;
  manifestLimit?: number;
  configLimit?: number;
}

export interface FetchedManifest {
  digest: string;
  /** Content-Type the registry declared, if any. */
  contentType?: string;
  bytes: Buffer;
}

type Response = Dispatcher.ResponseData;

export class RegistryClient {
  private readonly retry: RetryOptions;

  /** `label` names the user's reference in every message. */
  constructor(
    readonly endpoint: Endpoint,
    readonly repository: string,
    private readonly label: string,
    private readonly options: RegistryClientOptions,
  ) {
    this.retry = options.retry ?? DEFAULT_RETRY;
  }

  /** GET a manifest or index by tag or digest; verifies the digest it is addressed by. */
  getManifest(selector: string): Promise<FetchedManifest> {
    return withRetry(this.retry, () => this.getManifestOnce(selector));
  }

  /** Streams a blob into the store (shared with concurrent callers), retrying and resuming. */
  fetchBlob(store: ContentStore, desc: BlobDescriptor, hooks: IngestHooks = {}): Promise<void> {
    const what = this.what(`blob ${desc.digest}`);
    return store.fetchOnce(desc.digest, () =>
      withRetry(this.retry, async () => {
        try {
          await store.ingest(desc, (offset) => this.openBlob(desc, offset, what), hooks);
        } catch (err) {
          throw this.contextualise(toUnavailable(err, what, this.endpoint.host), what);
        }
      }),
    );
  }

  /** An image config: size-limited, stored like any blob (so shared), returned as bytes. */
  async fetchConfig(store: ContentStore, desc: BlobDescriptor): Promise<Buffer> {
    const limit = this.options.configLimit ?? CONFIG_LIMIT;
    if (desc.size > limit) {
      throw new ResourceExhaustedError(`${this.what(`config ${desc.digest}`)}: size ${desc.size} exceeds the ${limit}-byte limit`);
    }
    await this.fetchBlob(store, desc);
    return store.read(desc.digest);
  }

  /** A manifest by digest, from the store when an earlier pull kept it. */
  async manifestByDigest(store: ContentStore, digest: string): Promise<FetchedManifest> {
    if (await store.has(digest)) return { digest, bytes: await store.read(digest) };
    return this.getManifest(digest);
  }

  /** A small blob (a signature payload) read into memory, never stored: size-limited and digest-checked. */
  readBlob(desc: BlobDescriptor, limit: number): Promise<Buffer> {
    const what = this.what(`blob ${desc.digest}`);
    if (!isSha256Digest(desc.digest)) throw new FailedPreconditionError(`${what}: only sha256 digests are supported`);
    if (desc.size > limit) throw new ResourceExhaustedError(`${what}: size ${desc.size} exceeds the ${limit}-byte limit`);
    return withRetry(this.retry, async () => {
      const res = await this.send(`/blobs/${desc.digest}`, {}, what);
      const bytes = await this.readBody(res, limit, what);
      this.verify(desc.digest, sha256Digest(bytes), what);
      return bytes;
    });
  }

  /**
   * The OCI referrers index of `digest` (distribution spec 1.1 referrers API), or
   * undefined when the registry has no such API (404); callers then try the
   * `sha256-<hex>` fallback tag.
   */
  async referrers(digest: string): Promise<Buffer | undefined> {
    const what = this.what(`referrers of ${digest}`);
    try {
      return await withRetry(this.retry, async () => {
        const res = await this.send(`/referrers/${digest}`, { accept: MediaType.OciIndex }, what);
        return this.readBody(res, this.options.manifestLimit ?? MANIFEST_LIMIT, what);
      });
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  private what(object: string): string {
    return `${this.label}: ${object} from registry ${this.endpoint.host}`;
  }

  private async getManifestOnce(selector: string): Promise<FetchedManifest> {
    const what = this.what(`manifest ${selector}`);
    const res = await this.send(`/manifests/${selector}`, { accept: MANIFEST_ACCEPT }, what);
    const bytes = await this.readBody(res, this.options.manifestLimit ?? MANIFEST_LIMIT, what);
    const digest = sha256Digest(bytes);
    if (isSha256Digest(selector)) this.verify(selector, digest, what);
    const declared = header(res, 'docker-content-digest');
    if (declared && isSha256Digest(declared)) this.verify(declared, digest, `${what} (Docker-Content-Digest)`);
    return { digest, contentType: header(res, 'content-type'), bytes };
  }

  private async openBlob(desc: BlobDescriptor, offset: number, what: string) {
    if (offset > 0) {
      const res = await this.send(`/blobs/${desc.digest}`, { range: `bytes=${offset}-` }, what, [416]);
      const start = res.statusCode === 206 ? rangeStart(header(res, 'content-range')) : undefined;
      if (start === offset) return { body: res.body, offset };
      if (res.statusCode === 200) return { body: res.body, offset: 0 };
      // Range refused or answered oddly: start over from the first byte.
      await discard(res.body);
    }
    const res = await this.send(`/blobs/${desc.digest}`, {}, what);
    if (res.statusCode !== 200) {
      await discard(res.body);
      throw new UnavailableError(`${what}: unexpected HTTP ${res.statusCode} for a full GET`);
    }
    return { body: res.body, offset: 0 };
  }

  private verify(expected: string, actual: string, what: string): void {
    if (expected !== actual) throw new FailedPreconditionError(`${what}: digest mismatch: expected ${expected}, got ${actual}`);
  }

  private async readBody(res: Response, limit: number, what: string): Promise<Buffer> {
    try {
      return await readLimited(res.body, limit, what, res.headers['content-length']);
    } catch (err) {
      throw toUnavailable(err, what, this.endpoint.host);
    }
  }

  /** Prefixes store errors (which know only the digest) with the reference and registry. */
  private contextualise(err: unknown, what: string): unknown {
    if (!(err instanceof CriusError) || err.message.startsWith(this.label)) return err;
    if (err instanceof FailedPreconditionError) return new FailedPreconditionError(`${what}: ${err.message}`, { cause: err });
    if (err instanceof UnavailableError) return new UnavailableError(`${what}: ${err.message}`, { cause: err });
    return err;
  }

  /** One GET under /v2/<repo>, answering one auth challenge; non-2xx becomes a typed error. */
  private async send(path: string, headers: Record<string, string>, what: string, passStatuses: number[] = []): Promise<Response> {
    const { authorizer } = this.options;
    const scope = pullScope(this.repository);
    const url = `${this.endpoint.baseUrl}/v2/${this.repository}${path}`;
    let auth = await authorizer.headerFor(this.endpoint.host, scope);
    for (let round = 0; ; round++) {
      const res = await this.get(url, auth ? { ...headers, authorization: auth } : headers, what);
      if (res.statusCode === 401 && round === 0) {
        await discard(res.body);
        auth = await authorizer.answer(this.endpoint.host, header(res, 'www-authenticate'), scope, what, auth);
        continue;
      }
      if ((res.statusCode >= 200 && res.statusCode < 300) || passStatuses.includes(res.statusCode)) return res;
      throw await this.statusError(res, what, auth !== undefined);
    }
  }

  private async get(url: string, headers: Record<string, string>, what: string): Promise<Response> {
    try {
      return await request(url, { method: 'GET', headers, dispatcher: this.options.http.dispatcher(this.endpoint.caFile) });
    } catch (err) {
      const tls = tlsErrorCode(err);
      if (tls) {
        const hint = this.endpoint.caFile ? `CA file ${this.endpoint.caFile}` : 'system CAs (set caFile for this registry)';
        throw new FailedPreconditionError(`${what}: TLS verification of registry ${this.endpoint.host} failed (${tls}) with ${hint}`, { cause: err });
      }
      const mapped = toUnavailable(err, what, this.endpoint.host);
      if (mapped instanceof CriusError) throw mapped;
      throw new InternalError(`${what}: request failed`, { cause: err });
    }
  }

  private async statusError(res: Response, what: string, authenticated: boolean): Promise<Error> {
    const detail = await errorDetail(res);
    const msg = `${what}: HTTP ${res.statusCode}${detail ? ` ${detail}` : ''}`;
    const status = res.statusCode;
    if (status === 404) return new NotFoundError(msg);
    if (status === 401) {
      return new FailedPreconditionError(authenticated ? `${msg}: credentials rejected` : `${msg}: authentication required`);
    }
    if (status === 403) return new FailedPreconditionError(`${msg}: access denied`);
    if (status === 429 || status >= 500) return new UnavailableError(msg);
    return new FailedPreconditionError(msg);
  }
}

function header(res: Response, name: string): string | undefined {
  const value = res.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** `bytes 100-199/200` → 100 */
function rangeStart(contentRange: string | undefined): number | undefined {
  const match = /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(contentRange ?? '');
  return match ? Number(match[1]) : undefined;
}

/** The registry's own error code and message (`MANIFEST_UNKNOWN: manifest unknown`). */
async function errorDetail(res: Response): Promise<string> {
  try {
    const bytes = await readLimited(res.body, ERROR_BODY_LIMIT, 'error body');
    const json = JSON.parse(bytes.toString('utf8')) as { errors?: { code?: unknown; message?: unknown }[] };
    const first = json.errors?.[0];
    if (!first) return '';
    return [first.code, first.message].filter((v) => typeof v === 'string' && v).join(': ');
  } catch {
    await discard(res.body);
    return '';
  }
}
