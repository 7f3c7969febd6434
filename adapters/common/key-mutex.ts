/**
 * Keyed mutual exclusion: calls with the same key run one after another, calls with different
 * keys run concurrently (Coil 2.15's per-container locks; a global lock around kernel work made
 * every ADD wait ~120 s in Coil issue #368). Keys are dropped when idle, so memory stays bounded.
 */
export class KeyedMutex {
  readonly #tails = new Map<string, Promise<void>>();

  /** Run `fn` once every earlier call with `key` has finished. */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.#tails.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }

  /** Keys with a running or queued call. */
  get size(): number {
    return this.#tails.size;
  }
}
