import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string, entry = 'index') => fileURLToPath(new URL(`./packages/${p}/src/${entry}.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      { find: /^@x\/assertion\/internal$/, replacement: src('assertion', 'internal') },
      { find: /^@x\/assertion$/, replacement: src('assertion') },
      { find: /^@x\/token$/, replacement: src('token') },
      { find: /^@x\/devserver$/, replacement: src('devserver') },
    ],
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
