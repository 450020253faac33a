// A real registry over HTTPS with a private CA: pulls work when the registry
// config names the CA file, and fail clearly (no retry storm) when it doesn't.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Agent } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FailedPreconditionError } from '@crius/common';
import { buildImage, pushImage, type OciImage } from '../fixtures/oci-image.js';
import { startRegistry, type RunningRegistry } from '../fixtures/registry.js';
import { newService } from './helpers.js';

const run = promisify(execFile);
let dir: string;
let registry: RunningRegistry;
let image: OciImage;

async function makeCerts(into: string): Promise<{ ca: string; cert: string; key: string }> {
  const p = (name: string) => join(into, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', ['req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '1', '-subj', '/CN=crius-test-ca']);
  await run('openssl', ['req', ...ec, '-keyout', p('srv.key'), '-out', p('srv.csr'), '-subj', '/CN=127.0.0.1']);
  await writeFile(p('ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  await run('openssl', ['x509', '-req', '-in', p('srv.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p('srv.pem'), '-days', '1', '-extfile', p('ext.cnf')]);
  return { ca: p('ca.pem'), cert: p('srv.pem'), key: p('srv.key') };
}

let caFile: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crius-tls-'));
  const certs = await makeCerts(dir);
  caFile = certs.ca;
  const ca = await readFile(certs.ca, 'utf8');
  registry = await startRegistry({ tls: { certFile: certs.cert, keyFile: certs.key, ca } });
  image = await buildImage();
  const dispatcher = new Agent({ connect: { ca } });
  await pushImage(registry.url, 'app', '1', image, { dispatcher });
  await dispatcher.close();
});

afterAll(async () => {
  await registry?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('pulls over HTTPS trusting the configured CA file, and fails clearly without it', async () => {
  const trusted = await newService({ registries: { unqualifiedSearchRegistries: [], registries: [{ host: registry.host, insecure: false, caFile }] } });
  const untrusted = await newService({ registries: { unqualifiedSearchRegistries: [], registries: [{ host: registry.host, insecure: false }] } });
  try {
    expect(await trusted.service.pull(`${registry.host}/app:1`)).toBe(image.config.digest);
    const err = await untrusted.service.pull(`${registry.host}/app:1`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FailedPreconditionError);
    expect((err as Error).message).toMatch(new RegExp(`TLS verification of registry ${registry.host} failed \\(\\w+\\) with system CAs`));
  } finally {
    await trusted.close();
    await untrusted.close();
  }
});
