// PFX load, OpenSSL 3 defaults (PBES2 / PBKDF2-HMAC-SHA256 / AES-256-CBC,
// 2048 iterations; SHA-256 MAC, 2048 iterations): ours (`loadCredential`,
// which also parses the certificate, pairs it with the key, checks validity
// and strength) against node-forge's own `pkcs12FromAsn1` plus its key and
// certificate bag extraction, on the same bytes, alternating, each load timed.
import { readFileSync } from 'node:fs';
import forge from 'node-forge';
import { loadCredential } from '@x/assertion';
import { report } from '../lib/child.mjs';
import { alternate, median, ratios } from '../lib/stats.mjs';

report(async ({ pfxPath, passphrase, rounds, oursPerRound, forgePerRound }) => {
  const bytes = readFileSync(pfxPath);
  const binary = bytes.toString('binary'); // forge's input form, made once (not timed)

  const ours = async () => {
    const credential = await loadCredential({ pfx: bytes, passphrase });
    if (credential.keyType !== 'RSA') throw new Error('no key');
  };
  const withForge = async () => {
    const p12 = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(binary), passphrase);
    const keyBag = p12.getBags({ bagType: forge.pki.oids.pkcs8ShroudedKeyBag })[forge.pki.oids.pkcs8ShroudedKeyBag]?.[0];
    const certBag = p12.getBags({ bagType: forge.pki.oids.certBag })[forge.pki.oids.certBag]?.[0];
    if (!keyBag?.key || !certBag?.cert) throw new Error('forge found no key or certificate');
  };
  /** Median ms of `n` loads, each timed alone. */
  const timed = (fn, n) => async () => {
    const ms = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await fn();
      ms.push(performance.now() - t);
    }
    return median(ms);
  };

  await timed(ours, 3)(); // warm-up
  await timed(withForge, 2)();
  const perRound = await alternate(rounds, { ours: timed(ours, oursPerRound), forge: timed(withForge, forgePerRound) });
  return {
    unit: 'ms per load',
    ours: median(perRound.ours),
    reference: median(perRound.forge),
    speedup: median(ratios(perRound.forge, perRound.ours)),
    rounds: { ours: perRound.ours, forge: perRound.forge, speedup: ratios(perRound.forge, perRound.ours) },
    loadsPerRound: { ours: oursPerRound, forge: forgePerRound },
  };
});
