#!/usr/bin/env node
// The published library packages' JavaScript as users load it: each package's
// own modules bundled by esbuild into dist/bundle/ (one file per entry point of
// `exports`, code shared between entry points in chunks, so each class exists
// once), dependencies left as imports (npm installs and dedupes them). tsc
// (`tsc -b`, before this) still type-checks and writes the .d.ts that `exports`
// names. Why: loading one file instead of 20–30 ES modules is most of a cold
// start (issue 12); bench/figures/first-token.mjs measures it.
//
// The CLI (packages/cli) is bundled too, into ONE CommonJS file,
// dist/x-assertion.cjs, that bin/x-assertion.js (CommonJS, bin/package.json)
// requires: on Node 20 a CommonJS entry skips the ES module loader and the
// facades of builtin modules (`x-assertion thumbprint`, one run of 41 rounds:
// 1.43× bare `node` so, 1.60× as an ES module bundle). Only
// the CLI's own modules are in it: @x/* and every other package stay imports,
// so each @x class exists once in a process (the `token` command hands a
// credential to @x/token, and @x/pkcs11 imports @x/assertion: a second copy
// inlined here would fail their instanceof checks). A command's modules run
// only when it does (esbuild wraps what `import()` loads), and the first
// command that needs @x/assertion loads it with require() (an ES module; Node
// ≥ 20.19). In dist/, not dist/bundle/, so `../package.json` (--version) is
// the same file for it and for tsc's dist/main.js.
//
// Output is written only where it changed, each file by rename, and files of
// an earlier build are removed only after: a process that loads a package
// while `pnpm build` (or `pnpm demo`) runs beside it sees the old file or the
// new one, never a missing or half-written one (the test suite runs the CLI
// while demo.test.ts rebuilds).
// usage: node scripts/bundle.mjs   (part of `pnpm build`)
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const PACKAGES = ['assertion', 'token', 'token-redis', 'pkcs11'];
const root = fileURLToPath(new URL('../', import.meta.url));
const OUT = './dist/bundle/';

/** src/<name>.ts for every `exports` target ./dist/bundle/<name>.js. */
function entryPoints(dir) {
  const { exports } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  return Object.values(exports).map(({ default: target }) => {
    if (!target.startsWith(OUT) || !target.endsWith('.js')) throw new Error(`${dir}: export ${target} is not under ${OUT}`);
    return join(dir, 'src', `${target.slice(OUT.length, -'.js'.length)}.ts`);
  });
}

/** Writes esbuild's output files that differ from what is on disk (temporary file, then rename); returns their paths. */
function publish({ outputFiles }) {
  for (const { path, contents } of outputFiles) {
    let current;
    try {
      current = readFileSync(path);
    } catch {
      current = undefined;
    }
    if (current?.equals(contents)) continue;
    mkdirSync(dirname(path), { recursive: true });
    const temporary = `${path}.${process.pid}.tmp`;
    writeFileSync(temporary, contents);
    renameSync(temporary, path);
  }
  return new Set(outputFiles.map(({ path }) => path));
}

/** Removes the files under `dir` that this build did not write (chunks of an earlier build). */
function prune(dir, written) {
  for (const name of readdirSync(dir, { recursive: true })) {
    const path = join(dir, name);
    if (!written.has(path) && statSync(path).isFile()) rmSync(path);
  }
}

await Promise.all(
  PACKAGES.map(async (name) => {
    const dir = join(root, 'packages', name);
    const result = await build({
      entryPoints: entryPoints(dir),
      outdir: join(dir, OUT),
      outbase: join(dir, 'src'),
      bundle: true,
      splitting: true,
      chunkNames: 'chunks/[name]-[hash]',
      format: 'esm',
      platform: 'node',
      target: 'node20.19',
      packages: 'external',
      sourcemap: 'linked',
      sourcesContent: false, // the maps name ../../src/*.ts, which the package ships
      legalComments: 'none',
      logLevel: 'warning',
      write: false,
    });
    prune(join(dir, OUT), publish(result));
  }),
);

const cli = join(root, 'packages', 'cli');
const cliBundle = await build({
  entryPoints: [join(cli, 'src', 'main.ts')],
  outfile: join(cli, 'dist', 'x-assertion.cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20.19',
  packages: 'external',
  // CommonJS has no import.meta: the bundle's own file URL instead.
  define: { 'import.meta.url': 'importMetaUrl' },
  banner: { js: "'use strict';\nconst importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  sourcemap: 'linked',
  sourcesContent: false, // the map names ../src/*.ts, which the package ships
  legalComments: 'none',
  logLevel: 'warning',
  write: false,
});
publish(cliBundle);
