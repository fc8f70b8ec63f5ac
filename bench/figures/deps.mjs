// Runtime dependencies and install size: the production dependency tree of
// a package (following `dependencies` and installed `optionalDependencies`,
// resolved as Node resolves them from each package's real directory), and
// the bytes of the files each package ships (`files` of a workspace
// package; the whole installed directory otherwise; nested node_modules
// never counted twice). Run in the parent process: no timing involved.
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The real directory of `name` as seen from `fromDir`, walking up node_modules. */
function resolvePackage(name, fromDir) {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate);
    if (dirname(dir) === dir) return undefined;
  }
}

function sizeOf(path) {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (stat === undefined) return 0;
  if (!stat.isDirectory()) return stat.size;
  let total = 0;
  for (const entry of readdirSync(path)) if (entry !== 'node_modules') total += sizeOf(join(path, entry));
  return total;
}

/** Bytes a package ships: its `files` (+ package.json, README, LICENSE) when not installed from a registry. */
function packageBytes(dir, manifest) {
  const fromRegistry = dir.includes(`${'/node_modules/'}`);
  if (fromRegistry || !Array.isArray(manifest.files)) return sizeOf(dir);
  const always = readdirSync(dir).filter((f) => /^(package\.json|readme|license|licence)/i.test(f));
  return [...new Set([...always, ...manifest.files])].reduce((sum, f) => sum + sizeOf(join(dir, f)), 0);
}

/**
 * @param {string} name - the package, resolved from `fromDir`
 * @param {string} fromDir
 */
export function dependencyTree(name, fromDir) {
  const root = resolvePackage(name, fromDir);
  if (root === undefined) throw new Error(`${name} is not installed under ${fromDir}`);
  const seen = new Map(); // real dir → { name, version, bytes }
  const queue = [root];
  while (queue.length > 0) {
    const dir = queue.shift();
    if (seen.has(dir)) continue;
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    seen.set(dir, { name: manifest.name, version: manifest.version, bytes: packageBytes(dir, manifest) });
    const deps = { ...manifest.optionalDependencies, ...manifest.dependencies };
    for (const dep of Object.keys(deps)) {
      const resolved = resolvePackage(dep, dir);
      if (resolved !== undefined) queue.push(resolved);
      else if (!(dep in (manifest.optionalDependencies ?? {}))) throw new Error(`${manifest.name}: dependency ${dep} not installed`);
    }
  }
  const packages = [...seen.values()];
  const [self, ...dependencies] = packages;
  return {
    name,
    version: self.version,
    dependencies: dependencies.length,
    packages: dependencies.map((p) => `${p.name}@${p.version}`).sort(),
    ownBytes: self.bytes,
    totalBytes: packages.reduce((sum, p) => sum + p.bytes, 0),
    bytesByPackage: Object.fromEntries(dependencies.map((p) => [`${p.name}@${p.version}`, p.bytes])),
  };
}
