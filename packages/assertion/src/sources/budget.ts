import { CredentialError } from '../errors.js';

/**
 * Password-based key derivations one PFX load may run, all passphrase
 * candidates together: each PBKDF2 or PKCS#12 KDF run (a key, an IV or a MAC
 * key; RFC 8018 §5.2, RFC 7292 Appendix B) and each key OpenSSL decrypts
 * counts one, and each runs at most `maxIterations` iterations.
 */
export const MAX_DERIVATIONS = 16;

/**
 * The derivations of one PFX load, owned by that load's call and passed down
 * to every derivation (no process-wide state). They run one after another,
 * except key bags OpenSSL decrypts in the load's own workers meanwhile, which
 * are terminated when the load ends: a load that fails has nothing left running.
 */
export class DerivationBudget {
  /** Derivations started so far. */
  spent = 0;

  constructor(readonly limit: number = MAX_DERIVATIONS) {}

  /** Refuse, before deriving anything, `count` more derivations than are left. @throws {@link CredentialError} `ERR_ITERATION_LIMIT` */
  require(count: number): void {
    if (this.spent + count > this.limit) throw new CredentialError('ERR_ITERATION_LIMIT', `The PKCS#12 file needs ${this.spent + count} password-based key derivations (keys, IVs and MACs, for every passphrase tried); the limit is ${this.limit}.`);
  }

  /** Count derivations, before they run. @throws {@link CredentialError} `ERR_ITERATION_LIMIT` */
  spend(count = 1): void {
    this.require(count);
    this.spent += count;
  }
}
