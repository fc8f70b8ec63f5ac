import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string) => fileURLToPath(new URL(`./packages/${p}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: {
      '@x/assertion': src('assertion'),
      '@x/token': src('token'),
      '@x/devserver': src('devserver'),
    },
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts', 'examples/**/*.test.ts'],
    globalSetup: ['./test/setup/fixtures.ts'],
    testTimeout: 120_000, // a hang guard for suites of real processes on a busy machine, not a speed bound
    hookTimeout: 240_000,
    pool: 'forks',
    maxWorkers: 3, // most files wait on real processes and servers: a third worker fills the idle core time (2 cores)
  },
});
