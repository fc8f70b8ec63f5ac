// `pnpm build` beside processes that load the built packages: the suite itself
// does this (examples/demo rebuilds while the CLI tests run), and so does a
// developer who runs `pnpm demo` next to a daemon. scripts/bundle.mjs must then
// leave every file in place — unchanged output is not rewritten, changed output
// is replaced by rename — so a process never finds a bundle missing or half
// written. Counts outcomes and file identities, never time.
import { execFile, spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(repo, 'packages', 'cli', 'bin', 'x-assertion.js');
const BUNDLED = ['assertion', 'token', 'token-redis', 'pkcs11'].map((name) => join(repo, 'packages', name, 'dist', 'bundle'));
const CLI_BUNDLE = join(repo, 'packages', 'cli', 'dist', 'x-assertion.cjs');

/** Every bundle file with its inode and modification time (ns). */
function identities(): Map<string, string> {
  const files = [CLI_BUNDLE, `${CLI_BUNDLE}.map`];
  for (const dir of BUNDLED) for (const name of readdirSync(dir, { recursive: true }) as string[]) files.push(join(dir, name));
  const out = new Map<string, string>();
  for (const file of files) {
    const s = statSync(file, { bigint: true });
    if (s.isFile()) out.set(file, `${s.ino}:${s.mtimeNs}`);
  }
  return out;
}

/**
 * A usage error found after the `sign` command's code, and with it the
 * @x/assertion bundle, is loaded: exit 2 when both were whole (1 when a file
 * was missing, as the old build script made it).
 */
function usageError(): Promise<number | null> {
  const args = ['sign', 'x.pem', '--passphrase', 'p', '--client-id', 'c', '--audience', 'a'];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', resolve);
  });
}

describe('scripts/bundle.mjs beside running processes', () => {
  it('a rebuild of unchanged sources touches no file, and CLI processes started meanwhile all find their bundles', async () => {
    const before = identities();
    expect(before.size).toBeGreaterThan(4);
    const codes: (number | null)[] = [];
    let building = true;
    const rebuilds = (async () => {
      try {
        for (let i = 0; i < 3; i++) await run(process.execPath, ['scripts/bundle.mjs'], { cwd: repo, timeout: 120_000 });
      } finally {
        building = false;
      }
    })();
    while (building || codes.length < 4) codes.push(await usageError());
    await rebuilds;
    expect(codes.every((code) => code === 2), JSON.stringify(codes)).toBe(true);
    expect(identities()).toStrictEqual(before);
  }, 240_000);
});
