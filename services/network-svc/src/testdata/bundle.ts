// Test-only: bundles a TypeScript entry (and the network-svc sources it
// imports) into one ESM file that plain `node` runs, for tests that need a
// separate process to kill. @crius/common is mapped to its errors module,
// the only part network-svc imports, so the bundle has no package deps.
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

const ERRORS = fileURLToPath(new URL('../../../common/src/errors.ts', import.meta.url));

export async function bundleEntry(entry: string, outFile: string): Promise<void> {
  await build({
    input: entry,
    platform: 'node',
    logLevel: 'silent',
    resolve: { alias: { '@crius/common': ERRORS }, extensionAlias: { '.js': ['.ts', '.js'] } },
    output: { file: outFile, format: 'esm' },
  });
}
