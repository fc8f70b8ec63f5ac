/**
 * A bounded pool of PKCS#11 sessions. A session runs one operation at a time
 * (PKCS#11 v2.40 §5.6), so concurrent signatures need one session each; the
 * pool opens up to `size` lazily and queues callers beyond that.
 *
 * @module
 */
export class SessionPool<S> {
  readonly #size: number;
  readonly #open: () => S;
  readonly #close: (session: S) => void;
  readonly #idle: S[] = [];
  readonly #waiting: { resolve: (session: S) => void; reject: (error: unknown) => void }[] = [];
  #count = 0;
  #busy = 0;
  #drained: (() => void) | undefined;

  constructor(size: number, open: () => S, close: (session: S) => void) {
    this.#size = size;
    this.#open = open;
    this.#close = close;
  }

  /** An idle session, a newly opened one, or the next one released. Rejects with the open error. */
  acquire(): Promise<S> {
    const idle = this.#idle.pop();
    if (idle !== undefined) {
      this.#busy++;
      return Promise.resolve(idle);
    }
    if (this.#count < this.#size) {
      try {
        const session = this.#openOne();
        this.#busy++;
        return Promise.resolve(session);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  /** Give a session back; `healthy: false` closes it (its handle went bad) and opens a new one for a waiting caller. */
  release(session: S, healthy: boolean): void {
    if (!healthy) {
      this.#closeOne(session);
      const next = this.#waiting.shift();
      if (next !== undefined) {
        try {
          next.resolve(this.#openOne());
          return;
        } catch (error) {
          next.reject(error);
        }
      }
    } else {
      const next = this.#waiting.shift();
      if (next !== undefined) return next.resolve(session);
      this.#idle.push(session);
    }
    this.#busy--;
    if (this.#busy === 0) this.#drained?.();
  }

  /** Close every idle session (after the token went away, they are all stale). */
  discardIdle(): void {
    for (const session of this.#idle.splice(0)) this.#closeOne(session);
  }

  /** Resolves when no session is in use. */
  drain(): Promise<void> {
    if (this.#busy === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#drained = () => {
        this.#drained = undefined;
        resolve();
      };
    });
  }

  /** Close every idle session; call after {@link drain}. */
  close(): void {
    this.discardIdle();
  }

  #openOne(): S {
    const session = this.#open();
    this.#count++;
    return session;
  }

  #closeOne(session: S): void {
    this.#count--;
    try {
      this.#close(session);
    } catch {
      // a session the token already dropped: nothing left to close
    }
  }
}
