// Test-only: bundles a TypeScript entry (and the network-svc sources it
// imports) into one ESM file that plain `node` runs, for tests that need a
// separate process to kill. @crius/common is bundled from its sources with
// everything it uses, so the bundle runs from any directory.
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

const COMMON = fileURLToPath(new URL('../../../common/src/index.ts', import.meta.url));

export async function bundleEntry(entry: string, outFile: string): Promise<void> {
  await build({
    input: entry,
    platform: 'node',
    logLevel: 'silent',
    resolve: { alias: { '@crius/common': COMMON }, extensionAlias: { '.js': ['.ts', '.js'] } },
    output: { file: outFile, format: 'esm' },
  });
}
