/**
 * Certificate rotation without a restart: a certificate given as a file path
 * is re-read when the file changes, so replacing the file (a new PFX from a
 * key vault sync, a renewed PEM from cert-manager) takes effect at the next
 * signing.
 *
 * Before a signing, the file is checked with `fs.stat` (modification and
 * change time, size, inode) at most once per `checkIntervalMs`. A changed
 * file is loaded; if it cannot be loaded (half written, wrong passphrase,
 * expired), the certificate in use stays in use, a `rotation-failed` event
 * is emitted, and the load is tried again at the next check. Cached tokens
 * are kept: they stay valid until they expire.
 *
 * @module
 */
import { stat } from 'node:fs/promises';
import { loadCredentialFile, readPassphraseFile, type CertificateCredential } from '@x/assertion';
import { describeError } from './redact.js';
import type { EventSink } from './events.js';

/** A certificate file and how to open it. */
interface CertificateFile {
  /** PEM bundle (certificate and key), PEM certificate (with `keyPath`), or PFX/PKCS#12. */
  readonly path: string;
  /** A separate PEM private key file. */
  readonly keyPath?: string;
  /** Opens an encrypted key or PFX. */
  readonly passphrase?: string | undefined;
  /** A file holding the passphrase, read at each load; a change to it is a change of the certificate. */
  readonly passphraseFile?: string | undefined;
}

/** A certificate loaded from a file and reloaded when the file changes. */
export class ReloadingCertificate {
  readonly #file: CertificateFile;
  readonly #checkIntervalMs: number;
  readonly #now: () => number;
  readonly #events: EventSink;
  #current: CertificateCredential | undefined;
  #stamp: string | undefined;
  #checkedAt = Number.NEGATIVE_INFINITY;
  #pending: Promise<CertificateCredential> | undefined;

  /**
   * @param file - the file(s) and passphrase (kept in a private field)
   * @param checkIntervalMs - at most one `fs.stat` per this many milliseconds
   * @param now - the clock, ms since the epoch
   */
  constructor(file: CertificateFile, checkIntervalMs: number, now: () => number, events: EventSink) {
    this.#file = file;
    this.#checkIntervalMs = checkIntervalMs;
    this.#now = now;
    this.#events = events;
  }

  /**
   * The certificate to sign with now: loaded on first use, reloaded when the
   * file changed. Concurrent callers share one check.
   *
   * @throws `@x/assertion`'s `CredentialError` when the first load fails
   */
  current(): Promise<CertificateCredential> {
    if (this.#current !== undefined && this.#now() - this.#checkedAt < this.#checkIntervalMs) return Promise.resolve(this.#current);
    this.#pending ??= this.#check().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #check(): Promise<CertificateCredential> {
    const stamp = await this.#readStamp();
    this.#checkedAt = this.#now();
    const previous = this.#current;
    if (previous !== undefined && stamp !== undefined && stamp === this.#stamp) return previous;
    const { path, keyPath, passphraseFile } = this.#file;
    try {
      const passphrase = passphraseFile === undefined ? this.#file.passphrase : await readPassphraseFile(passphraseFile);
      this.#current = await loadCredentialFile(path, { passphrase, keyPath });
      this.#stamp = stamp;
    } catch (error) {
      if (previous === undefined) throw error;
      this.#events.emit({ type: 'rotation-failed', path, ...describeError(error) });
      return previous;
    }
    const next = this.#current;
    if (previous !== undefined && previous.kid !== next.kid) {
      this.#events.emit({
        type: 'rotation',
        path,
        previousThumbprint: previous.thumbprints['x5t#S256'],
        thumbprint: next.thumbprints['x5t#S256'],
        notAfter: next.notAfter.toISOString(),
      });
    }
    return next;
  }

  /** What identifies one version of the file(s); `undefined` when one cannot be read. */
  async #readStamp(): Promise<string | undefined> {
    const { path, keyPath, passphraseFile } = this.#file;
    const paths = [path, keyPath, passphraseFile].filter((p) => p !== undefined);
    try {
      const stats = await Promise.all(paths.map((p) => stat(p)));
      return stats.map((s) => `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`).join('|');
    } catch {
      return undefined;
    }
  }

  /** No passphrase, no key: the path and the certificate in use. */
  toJSON(): Record<string, unknown> {
    return { path: this.#file.path, certificate: this.#current?.toJSON() };
  }
}
