/**
 * Issue 12: a command loads its own code only. Counted, not timed: the files
 * an `x-assertion …` process loads — CommonJS ones (the bin, the bundled CLI,
 * what `require` loads: an ES module such as @x/assertion, zod, node-forge)
 * from `require.cache` at exit, ES modules that `import()` loads (@x/token,
 * undici, jose) from a module loader hook.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, makeFixtures, requireBuilt, type Fixtures } from './helpers.js';

let fx: Fixtures;
beforeAll(() => {
  requireBuilt();
  fx = makeFixtures();
});
afterAll(() => fx?.cleanup());

/** The paths of the files `x-assertion …args` loads (no node: builtins). */
function loadedFiles(args: string[]): string[] {
  const hooks = join(fx.dir, 'hooks.mjs');
  writeFileSync(hooks, 'export async function load(url, context, next) { process._rawDebug(`loaded ${url}`); return next(url, context); }\n');
  const preload = join(fx.dir, 'preload.cjs');
  writeFileSync(
    preload,
    `require('node:module').register(${JSON.stringify(pathToFileURL(hooks).href)});
process.on('exit', () => { for (const file of Object.keys(require.cache)) process._rawDebug(\`loaded \${require('node:url').pathToFileURL(file).href}\`); });\n`,
  );
  const r = spawnSync(process.execPath, ['-r', preload, BIN, ...args], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  const files = r.stderr.split('\n').filter((l) => l.startsWith('loaded file:')).map((l) => l.slice('loaded file://'.length));
  return [...new Set(files)].filter((f) => f !== preload);
}

const LATER = /\/(token|token-redis|pkcs11)\/dist\/|\/node_modules\/(\.pnpm\/)?(undici|zod|node-forge|jose|ioredis|@noble)/;

describe('cold start', () => {
  it('thumbprint loads the bundled CLI and @x/assertion, nothing else (no @x/token, zod, node-forge, jose, undici)', () => {
    const files = loadedFiles(['thumbprint', fx.rsaCert]);
    expect(files.some((f) => f.endsWith('/cli/dist/x-assertion.cjs'))).toBe(true);
    expect(files.some((f) => f.endsWith('/assertion/dist/bundle/index.js'))).toBe(true);
    expect(files.filter((f) => !/\/cli\/(bin\/x-assertion\.js|dist\/x-assertion\.cjs)$|\/assertion\/dist\/bundle\//.test(f))).toEqual([]);
  });

  it('the listing sees what require() and import() load: sign loads zod, jwks loads jose', () => {
    const signed = loadedFiles(['sign', fx.rsaBundle, '--client-id', 'c', '--audience', 'https://login.example/token']);
    expect(signed.some((f) => /\/node_modules\/(\.pnpm\/)?zod/.test(f))).toBe(true);
    expect(loadedFiles(['jwks', fx.rsaCert]).some((f) => /\/node_modules\/(\.pnpm\/)?jose/.test(f))).toBe(true);
  });

  it('--help and --version load no command at all', () => {
    for (const args of [['--help'], ['--version']]) {
      expect(loadedFiles(args).filter((f) => /\/assertion\/dist\/|\/commands\//.test(f) || LATER.test(f))).toEqual([]);
    }
  });
});
