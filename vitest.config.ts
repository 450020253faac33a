import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

const src = (p: string) => fileURLToPath(new URL(`./services/common/src/${p}`, import.meta.url));

// Tests import workspace packages from source so a unit run needs no build;
// integration tests spawn the built services (npm test builds first).
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@crius\/common\/cri$/, replacement: src('gen/cri/runtime/v1/api.ts') },
      { find: /^@crius\/common\/proto\/(.+)$/, replacement: src('gen/crius/v1/$1.ts') },
      { find: /^@crius\/common$/, replacement: src('index.ts') },
    ],
  },
  test: {
    include: ['services/**/src/**/*.test.ts', 'test/**/*.test.ts', 'native/**/test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
