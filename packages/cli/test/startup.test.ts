/**
 * Issue 12: a command loads its own code only. Counted, not timed: the
 * modules a `thumbprint` process loads, listed by a module loader hook.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, makeFixtures, requireBuilt, type Fixtures } from './helpers.js';

let fx: Fixtures;
beforeAll(() => {
  requireBuilt();
  fx = makeFixtures();
});
afterAll(() => fx?.cleanup());

/** The file: URLs of the modules `x-assertion …args` loads, in load order. */
function loadedModules(args: string[]): string[] {
  const hooks = join(fx.dir, 'hooks.mjs');
  writeFileSync(hooks, 'export async function load(url, context, next) { process._rawDebug(`loaded ${url}`); return next(url, context); }\n');
  const register = join(fx.dir, 'register.mjs');
  writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(`file://${hooks}`)});\n`);
  const r = spawnSync(process.execPath, ['--import', register, BIN, ...args], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stderr.split('\n').filter((l) => l.startsWith('loaded file:')).map((l) => l.slice('loaded '.length));
}

describe('cold start', () => {
  it('thumbprint loads no other command, nor @x/token', () => {
    const modules = loadedModules(['thumbprint', fx.rsaCert]);
    expect(modules.some((m) => m.endsWith('/cli/dist/commands/thumbprint.js'))).toBe(true);
    expect(modules.filter((m) => /\/cli\/dist\/commands\/(?!thumbprint)/.test(m))).toEqual([]);
    expect(modules.filter((m) => /\/token\/dist\/|undici/.test(m))).toEqual([]);
  });

  it('--help and --version load no command at all', () => {
    for (const args of [['--help'], ['--version']]) {
      expect(loadedModules(args).filter((m) => /\/commands\/|\/assertion\/dist\//.test(m))).toEqual([]);
    }
  });
});
