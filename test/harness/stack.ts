// Test harness: a whole crius stack in a private temp dir with its own NATS
// port and CRI socket, started from the built services, torn down after.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseConfig, type CriusConfig } from '@crius/common';
import { Stack } from '../../services/cli/src/launcher/stack.js';
import { connectCri, type CriClient } from '../../services/cli/src/cri-client.js';

export interface TestStack {
  dir: string;
  config: CriusConfig;
  configPath: string;
  stack: Stack;
  cri: CriClient;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Start a private stack; `extraToml` is appended to the generated config. */
export async function startStack(extraToml = ''): Promise<TestStack> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crius-test-'));
  const port = await freePort();
  const toml = `[log]
level = "debug"
[state]
root = "${dir}/lib"
run_root = "${dir}/run"
[api]
listen = "${dir}/run/crius.sock"
metrics_address = ""
[bus]
address = "127.0.0.1:${port}"
${extraToml}`;
  const configPath = path.join(dir, 'crius.toml');
  await writeFile(configPath, toml);
  const config = parseConfig(toml, configPath);
  const stack = new Stack({ config, configPath });
  try {
    await stack.start();
  } catch (err) {
    await stack.stop();
    throw err;
  }
  const cri = connectCri(config.api.listen);
  return {
    dir,
    config,
    configPath,
    stack,
    cri,
    async stop() {
      cri.close();
      await stack.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
