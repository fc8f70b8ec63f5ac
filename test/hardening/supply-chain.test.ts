/**
 * Supply chain of @x/assertion (hardening issue, part 5):
 * - its production dependency tree is exactly `@noble/hashes` (the PKCS#12
 *   KDF's SHA loop, audited, no dependencies), `jose`, `node-forge` (≥ 1.4.3:
 *   the ASN.1 depth limit and the signature-forgery fixes) and `zod` — as
 *   declared in packages/assertion/package.json and as installed under
 *   packages/assertion/node_modules, transitive dependencies included;
 * - no file of packages/assertion/src, nor of the built dist, imports a
 *   network module or calls `fetch(`, and importing the built package loads
 *   no network module of Node at run time.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './support.js';

const pkgDir = path.join(repoRoot, 'packages/assertion');
const manifest = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as PackageJson;
const EXPECTED = ['@noble/hashes', 'jose', 'node-forge', 'zod'];

interface PackageJson {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  bundleDependencies?: string[] | boolean;
  bundledDependencies?: string[] | boolean;
}

/** `[major, minor, patch]` of a version or the lower bound of a `^`/`~`/`>=` range. */
function parseVersion(v: string): [number, number, number] {
  const m = /(\d+)\.(\d+)\.(\d+)/.exec(v);
  if (!m) throw new Error(`not a version: ${v}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}
const atLeast = (v: string, min: string) => {
  const [a, b] = [parseVersion(v), parseVersion(min)];
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! > b[i]!;
  return true;
};
/**
 * Whether `version` satisfies a caret range, or is the exact version pinned (all this package declares;
 * `@noble/hashes` is pinned because the PKCS#12 KDF calls its protected compression function).
 */
function satisfies(version: string, range: string): boolean {
  if (/^\d+\.\d+\.\d+$/.test(range)) return version === range;
  expect(range, `only ^ ranges or exact versions are expected: ${range}`).toMatch(/^\^\d+\.\d+\.\d+$/);
  const [v, r] = [parseVersion(version), parseVersion(range)];
  return v[0] === r[0] && (r[0] !== 0 || v[1] === r[1]) && atLeast(version, range);
}

/** The directory of package `name` as Node resolves it from `fromDir` (walking up node_modules). */
function packageDir(fromDir: string, name: string): string {
  for (let dir = fromDir; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return realpathSync(candidate);
    if (path.dirname(dir) === dir) throw new Error(`${name} is not installed for ${fromDir}`);
  }
}

/** Every installed production dependency, transitively: name → version. */
function productionTree(dir: string, pkg: PackageJson, seen = new Map<string, string>()): Map<string, string> {
  const deps = { ...pkg.dependencies, ...pkg.optionalDependencies };
  for (const name of Object.keys(deps)) {
    const depDir = packageDir(dir, name);
    const dep = JSON.parse(readFileSync(path.join(depDir, 'package.json'), 'utf8')) as PackageJson;
    if (seen.has(`${name}@${dep.version}`)) continue;
    seen.set(`${name}@${dep.version}`, depDir);
    productionTree(depDir, dep, seen);
  }
  return seen;
}

describe('@x/assertion production dependencies', () => {
  it('declares exactly @noble/hashes, jose, node-forge and zod (no optional or bundled dependencies; @types/node the only, optional, peer)', () => {
    expect(Object.keys(manifest.dependencies ?? {}).sort()).toEqual(EXPECTED);
    expect(manifest.optionalDependencies ?? {}).toEqual({});
    expect(Object.keys(manifest.peerDependencies ?? {})).toEqual(['@types/node']);
    expect(manifest.bundleDependencies ?? manifest.bundledDependencies ?? []).toEqual([]);
    expect(atLeast(manifest.dependencies!['node-forge']!, '1.4.3'), `node-forge range ${manifest.dependencies!['node-forge']}`).toBe(true);
  });

  it('installs exactly those four, in versions that satisfy the ranges, node-forge ≥ 1.4.3, with no dependencies of their own', () => {
    const tree = productionTree(pkgDir, manifest);
    const names = [...tree.keys()].map((k) => k.slice(0, k.lastIndexOf('@')));
    expect(names.sort()).toEqual(EXPECTED);
    for (const [id, dir] of tree) {
      const name = id.slice(0, id.lastIndexOf('@'));
      const version = id.slice(id.lastIndexOf('@') + 1);
      expect(satisfies(version, manifest.dependencies![name]!), `${id} satisfies ${manifest.dependencies![name]}`).toBe(true);
      const dep = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as PackageJson;
      expect(Object.keys({ ...dep.dependencies, ...dep.optionalDependencies }), `${id} has dependencies`).toEqual([]);
      // It is the copy the package resolves, under packages/assertion/node_modules.
      expect(realpathSync(path.join(pkgDir, 'node_modules', name))).toBe(dir);
    }
    const forge = [...tree.keys()].find((k) => k.startsWith('node-forge@'))!;
    expect(atLeast(forge.split('@')[1]!, '1.4.3'), forge).toBe(true);
  });
});

const NETWORK_MODULES = ['http', 'https', 'net', 'tls', 'dgram', 'dns', 'dns/promises', 'http2', 'undici', '_http_agent', '_http_client', 'inspector'];

/** Every file under `dir` with one of the extensions. */
function files(dir: string, extensions: readonly string[]): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return files(p, extensions);
    return extensions.some((e) => name.endsWith(e)) ? [p] : [];
  });
}

/** Module specifiers imported, re-exported, required or dynamically imported by a source text. */
function specifiers(text: string): string[] {
  const patterns = [
    /\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"`]([^'"`]+)['"`]\s*\)/g,
    /\brequire\s*\(\s*['"`]([^'"`]+)['"`]\s*\)/g,
  ];
  return patterns.flatMap((p) => [...text.matchAll(p)].map((m) => m[1]!));
}

describe('@x/assertion has no network code', () => {
  const check = (root: string, extensions: readonly string[]) => {
    const list = files(root, extensions);
    expect(list.length).toBeGreaterThan(5);
    for (const file of list) {
      const text = readFileSync(file, 'utf8');
      const rel = path.relative(repoRoot, file);
      for (const spec of specifiers(text)) {
        const bare = spec.replace(/^node:/, '');
        expect(NETWORK_MODULES.includes(bare) || bare.startsWith('undici/'), `${rel} imports ${spec}`).toBe(false);
      }
      expect(/\bfetch\s*\(/.test(text), `${rel} calls fetch(`).toBe(false);
      expect(/\b(WebSocket|XMLHttpRequest|EventSource)\b/.test(text), `${rel} uses a network API`).toBe(false);
      expect(/\bimport\s*\(\s*[^'"`\s]/.test(text), `${rel} has a computed dynamic import`).toBe(false);
      expect(/process\.binding\s*\(/.test(text), `${rel} reaches into process.binding`).toBe(false);
    }
    return list.length;
  };

  it('the sources (packages/assertion/src)', () => {
    check(path.join(pkgDir, 'src'), ['.ts']);
  });

  it('the built dist (packages/assertion/dist)', () => {
    const dist = path.join(pkgDir, 'dist');
    expect(existsSync(path.join(dist, 'index.js')), `${dist} is missing: run \`npx -y pnpm@10.34.9 run build\``).toBe(true);
    check(dist, ['.js']);
    // Every source file was built: the dist is not stale or partial.
    const sources = files(path.join(pkgDir, 'src'), ['.ts']).map((f) => path.relative(path.join(pkgDir, 'src'), f).replace(/\.ts$/, '.js'));
    for (const js of sources) expect(existsSync(path.join(dist, js)), `dist/${js}`).toBe(true);
  });

  it('importing the built package loads no network module of Node', () => {
    const script = `
      const before = new Set(process.moduleLoadList);
      await import(${JSON.stringify(path.join(pkgDir, 'dist/index.js'))});
      console.log(JSON.stringify(process.moduleLoadList.filter((m) => !before.has(m))));
    `;
    const loaded = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as string[];
    expect(loaded.length).toBeGreaterThan(0);
    const network = loaded.filter((m) => /^NativeModule (node:)?(https?|net|tls|dgram|dns|http2|_http_\w+|_tls_\w+|internal\/deps\/undici\/.*|internal\/dns\/.*|internal\/http2\/.*)$/.test(m));
    expect(network).toEqual([]);
  });
});
