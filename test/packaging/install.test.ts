// The published packages as a user gets them: `pnpm pack` each one, `npm install`
// the tarballs into an empty project (dependencies from the npm registry; pkcs11js
// compiled against the local Node headers), then use them the ways users do —
// ESM import, CommonJS require, the CLI, and TypeScript (node16 from an ESM and a
// CommonJS project, node20, nodenext, bundler; strict + exactOptionalPropertyTypes),
// including the README's quick-start code, extracted from README.md. Runs the
// BUILT dist (`pnpm test` builds first). Slow by nature (one npm install).
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../../', import.meta.url));
const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
const PUBLISHED = ['assertion', 'token', 'cli', 'token-redis', 'pkcs11'] as const;
const NAMES = PUBLISHED.map((p) => `@x/${p}`);

let dir: string;
let project: string;
const tarballs: string[] = [];

async function sh(file: string, args: readonly string[], cwd: string, timeout = 240_000): Promise<string> {
  const env = { ...process.env, npm_config_nodedir: '/usr', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
  const { stdout } = await run(file, args, { cwd, env, timeout, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

/** A file of the packed package, read from the tarball. */
async function packed(tarball: string, path: string): Promise<string> {
  return sh('tar', ['-xzOf', tarball, `package/${path}`], dir);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'x-packaging-'));
  const packs = join(dir, 'packs');
  await mkdir(packs);
  for (const name of PUBLISHED) {
    await sh('npx', ['-y', 'pnpm@10.34.9', 'pack', '--pack-destination', packs], join(repo, 'packages', name));
  }
  tarballs.push(...(await readdir(packs)).filter((f) => f.endsWith('.tgz')).map((f) => join(packs, f)));

  project = join(dir, 'consumer');
  await mkdir(join(project, 'cjs'), { recursive: true });
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  await writeFile(join(project, 'cjs', 'package.json'), JSON.stringify({ type: 'commonjs' }));
  await sh('npm', ['install', '--no-package-lock', ...tarballs, '@types/node@^20.19'], project, 480_000);
  await sh('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-subj', '/CN=consumer', '-days', '2'], project);
  await writeFile(join(project, 'bundle.pem'), (await readFile(join(project, 'cert.pem'), 'utf8')) + (await readFile(join(project, 'key.pem'), 'utf8')));
}, 600_000);

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('published manifests', () => {
  it('one tarball per published package, each with its LICENSE, no workspace: or private dependency', async () => {
    expect(tarballs).toHaveLength(PUBLISHED.length);
    for (const tarball of tarballs) {
      const manifest = JSON.parse(await packed(tarball, 'package.json')) as Record<string, Record<string, string> | undefined>;
      expect(await packed(tarball, 'LICENSE')).toMatch(/^MIT License/);
      for (const field of ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies']) {
        for (const [name, range] of Object.entries(manifest[field] ?? {})) {
          expect(range, `${tarball}: ${field} ${name}`).not.toMatch(/^workspace:/);
          expect(name, `${tarball}: ${field}`).not.toBe('@x/devserver');
        }
      }
    }
  });

  it('every source map names sources that ship in the tarball', async () => {
    for (const tarball of tarballs) {
      const files = new Set((await sh('tar', ['-tzf', tarball], dir)).split('\n').filter(Boolean));
      const maps = [...files].filter((f) => f.endsWith('.map'));
      expect(maps.length).toBeGreaterThan(0);
      for (const map of maps) {
        const { sources } = JSON.parse(await packed(tarball, map.slice('package/'.length))) as { sources: string[] };
        for (const source of sources) {
          const resolved = new URL(source, `file:///${map}`).pathname.slice(1);
          expect(files.has(resolved), `${map} → ${source}`).toBe(true);
        }
      }
    }
  });
});

describe('installed from the tarballs', () => {
  it('ESM: import every package; a client assertion signed by the installed @x/assertion verifies with jose', async () => {
    await writeFile(
      join(project, 'esm.mjs'),
      `import { createClientAssertion, loadCredentialFile } from '@x/assertion';
       import { createLocalJWKSet, jwtVerify } from 'jose';
       const loaded = await Promise.all(${JSON.stringify(NAMES)}.map(async (name) => [name, Object.keys(await import(name)).length]));
       const credential = await loadCredentialFile('bundle.pem');
       const assertion = await createClientAssertion(credential, { clientId: 'consumer', audience: 'https://idp.example/token' });
       const { payload } = await jwtVerify(assertion, createLocalJWKSet({ keys: [await credential.toJwk()] }), { audience: 'https://idp.example/token' });
       console.log(JSON.stringify({ loaded: Object.fromEntries(loaded), sub: payload.sub, x5t: credential.thumbprints['x5t#S256'] }));`,
    );
    const out = JSON.parse(await sh(process.execPath, ['esm.mjs'], project)) as { loaded: Record<string, number>; sub: string; x5t: string };
    for (const name of NAMES) expect(out.loaded[name], name).toBeGreaterThan(0);
    expect(out.sub).toBe('consumer');
    const openssl = await sh('sh', ['-c', 'openssl x509 -in cert.pem -outform DER | openssl dgst -sha256 -binary | openssl base64 -A'], project);
    expect(out.x5t).toBe(Buffer.from(openssl.trim(), 'base64').toString('base64url'));
  });

  it('CommonJS: require() every package (Node ≥ 20.19 loads ES modules with require)', async () => {
    await writeFile(join(project, 'cjs', 'check.cjs'), `console.log(JSON.stringify(${JSON.stringify(NAMES)}.map((name) => typeof require(name))));`);
    const out = JSON.parse(await sh(process.execPath, ['--no-warnings', 'check.cjs'], join(project, 'cjs')));
    expect(out).toStrictEqual(NAMES.map(() => 'object'));
  });

  it('the x-assertion bin: thumbprint equals openssl’s SHA-1 fingerprint', async () => {
    const out = await sh(join(project, 'node_modules', '.bin', 'x-assertion'), ['thumbprint', 'cert.pem', '--json'], project);
    const fingerprint = (await sh('openssl', ['x509', '-in', 'cert.pem', '-noout', '-fingerprint', '-sha1'], project)).split('=')[1]!.trim().replaceAll(':', '');
    expect(JSON.stringify(JSON.parse(out)).toUpperCase()).toContain(fingerprint);
  });
});

describe('TypeScript consumers (strict, exactOptionalPropertyTypes)', () => {
  const strict = { strict: true, exactOptionalPropertyTypes: true, noEmit: true, skipLibCheck: false, types: ['node'], target: 'ES2022', lib: ['ES2023'] };

  /** The README's quick-start TypeScript blocks, as a user pastes them. */
  async function quickStart(): Promise<string> {
    const readme = await readFile(join(repo, 'README.md'), 'utf8');
    const section = (title: string) => readme.slice(readme.indexOf(title), readme.indexOf('\n## ', readme.indexOf(title) + 1));
    const blocks = [section('## Quick start: Microsoft Entra ID'), section('## Quick start: any RFC 7523 server')].map(
      (text) => [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!.replace(/^ {3}/gm, '')).join('\n'),
    );
    expect(blocks.every((b) => b.includes('ClientCertificateCredential'))).toBe(true);
    // Two blocks, two scopes; the second one uses the import of the first.
    return `${blocks[0]}\n{\n${blocks[1]}\n}\nexport {};\n`;
  }

  async function typecheck(where: string, name: string, compilerOptions: Record<string, unknown>, files: Record<string, string>): Promise<void> {
    const folder = join(where, name);
    await mkdir(folder, { recursive: true });
    for (const [file, text] of Object.entries(files)) await writeFile(join(folder, file), text);
    await writeFile(join(folder, 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...strict, ...compilerOptions }, files: Object.keys(files) }));
    try {
      await sh(process.execPath, [tsc, '-p', join(folder, 'tsconfig.json')], folder);
    } catch (error) {
      throw new Error(`tsc (${name}) failed:\n${(error as { stdout?: string }).stdout ?? String(error)}`);
    }
  }

  const every = NAMES.map((name, i) => `import * as p${i} from '${name}';\nvoid p${i};`).join('\n');

  it.each([
    ['node16', { module: 'node16', moduleResolution: 'node16' }],
    ['nodenext', { module: 'nodenext', moduleResolution: 'nodenext' }],
    ['bundler', { module: 'esnext', moduleResolution: 'bundler' }],
  ])('ESM project, %s: the README quick start and every package type-check', async (name, options) => {
    await typecheck(project, `ts-${name}`, options, { 'quick-start.ts': await quickStart(), 'all.ts': `${every}\nexport {};\n` });
  });

  it('CommonJS project, node16: dynamic import() of the ES modules type-checks', async () => {
    const dynamic = `export async function token(): Promise<string> {
      const { ClientCertificateCredential } = await import('@x/token');
      const credential = new ClientCertificateCredential('tenant', 'client', { certificatePath: 'bundle.pem' });
      return (await credential.getToken('https://graph.microsoft.com/.default')).token;
    }\n`;
    await typecheck(join(project, 'cjs'), 'ts-node16', { module: 'node16', moduleResolution: 'node16' }, { 'dynamic.ts': dynamic });
  });

  it('CommonJS project, node20 (require of ES modules): static imports type-check, compile and run', async () => {
    const folder = join(project, 'cjs', 'ts-node20');
    await typecheck(join(project, 'cjs'), 'ts-node20', { module: 'node20', moduleResolution: 'node16' }, {
      'static.ts': `import { loadCredentialFile } from '@x/assertion';\nimport { ClientCertificateCredential } from '@x/token';\nexport const kinds = [typeof loadCredentialFile, typeof ClientCertificateCredential];\nconsole.log(JSON.stringify(kinds));\n`,
    });
    await sh(process.execPath, [tsc, '-p', join(folder, 'tsconfig.json'), '--noEmit', 'false', '--outDir', 'out'], folder);
    expect(JSON.parse(await sh(process.execPath, ['--no-warnings', join(folder, 'out', 'static.js')], folder))).toStrictEqual(['function', 'function']);
  });
});
