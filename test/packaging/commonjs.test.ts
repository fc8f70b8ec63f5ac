import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Node ≥ 20.19 loads ES modules with require() (no top-level await allowed in
// them): CommonJS daemons use the packages as they are. Runs the BUILT dist
// (`pnpm test` builds first), resolved as a dependent package would.
const tokenPackage = fileURLToPath(new URL('../../packages/token/', import.meta.url));

describe('CommonJS consumers', () => {
  it('require() the built @x/assertion and @x/token', () => {
    const script = `
      const a = require('@x/assertion');
      const t = require('@x/token');
      console.log(JSON.stringify([typeof a.loadCredential, typeof a.createClientAssertion, typeof t.ClientCertificateCredential, a.CLIENT_ASSERTION_TYPE]));
    `;
    const out = execFileSync(process.execPath, ['--no-warnings', '-e', script], { cwd: tokenPackage }).toString();
    expect(JSON.parse(out)).toStrictEqual(['function', 'function', 'function', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer']);
  });
});
