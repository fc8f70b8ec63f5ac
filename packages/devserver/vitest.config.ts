// Runs this package's tests on their own: the root config's aliases, without
// the root globalSetup (these tests need no shared fixtures).
//   npx vitest run --config packages/devserver/vitest.config.ts
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string) => fileURLToPath(new URL(`../${p}/src/index.ts`, import.meta.url));

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  resolve: {
    alias: {
      '@x/assertion': src('assertion'),
      '@x/token': src('token'),
      '@x/devserver': src('devserver'),
    },
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
