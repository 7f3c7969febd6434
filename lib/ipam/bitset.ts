/**
 * A bitset of 32-bit words with a fixed logical size (`limit`). Words are allocated lazily up to
 * the highest bit ever set, so a limit of 2^31 costs nothing until bits are used. Finding the
 * first clear bit scans whole words (`Math.clz32` on the isolated lowest zero), 32 bits a step.
 */
export class Bitset {
  /** Number of addressable bits: indexes `[0, limit)`. */
  readonly limit: number;
  #words: Uint32Array;
  #count = 0;

  /** A bitset of `limit` bits, all clear; `preallocate` sizes the word array up front. */
  constructor(limit: number, options: { readonly preallocate?: boolean } = {}) {
    this.limit = limit;
    this.#words = new Uint32Array(options.preallocate === true ? Math.ceil(limit / 32) : 0);
  }

  /** Number of set bits. */
  get count(): number {
    return this.#count;
  }

  /** Whether bit `i` is set (out-of-range bits read as clear). */
  has(i: number): boolean {
    const w = i >>> 5;
    return i >= 0 && i < this.limit && w < this.#words.length && ((this.#words[w]! >>> (i & 31)) & 1) === 1;
  }

  /** Set bit `i`; returns false when `i` is out of range. */
  set(i: number): boolean {
    if (!Number.isInteger(i) || i < 0 || i >= this.limit) return false;
    const w = i >>> 5;
    if (w >= this.#words.length) this.#grow(w + 1);
    const bit = 1 << (i & 31);
    const old = this.#words[w]!;
    if ((old & bit) === 0) {
      this.#words[w] = old | bit;
      this.#count++;
    }
    return true;
  }

  /** Clear bit `i` (idempotent; out-of-range is ignored). */
  clear(i: number): void {
    if (!this.has(i)) return;
    const w = i >>> 5;
    this.#words[w] = this.#words[w]! & ~(1 << (i & 31));
    this.#count--;
  }

  /** Set every bit. */
  fill(): void {
    this.#grow(Math.ceil(this.limit / 32));
    this.#words.fill(0xffffffff);
    const rest = this.limit & 31;
    if (rest !== 0) this.#words[this.#words.length - 1] = (1 << rest) - 1;
    this.#count = this.limit;
  }

  /** Clear every bit. */
  reset(): void {
    this.#words.fill(0);
    this.#count = 0;
  }

  /** The lowest clear bit at or after `from`, or -1 when there is none below `limit`. */
  nextClear(from: number): number {
    let i = Math.max(0, from);
    const words = this.#words;
    while (i < this.limit) {
      const w = i >>> 5;
      if (w >= words.length) return i;
      const free = ~words[w]! & (0xffffffff << (i & 31));
      if (free !== 0) {
        const found = (w << 5) + (31 - Math.clz32(free & -free));
        return found < this.limit ? found : -1;
      }
      i = (w + 1) << 5;
    }
    return -1;
  }

  /** The set bits in ascending order. */
  *ones(): Generator<number> {
    const words = this.#words;
    for (let w = 0; w < words.length; w++) {
      let word = words[w]!;
      while (word !== 0) {
        const low = word & -word;
        yield (w << 5) + (31 - Math.clz32(low));
        word ^= low;
      }
    }
  }

  #grow(nWords: number): void {
    if (nWords <= this.#words.length) return;
    const max = Math.ceil(this.limit / 32);
    const next = new Uint32Array(Math.min(max, Math.max(nWords, this.#words.length * 2)));
    next.set(this.#words);
    this.#words = next;
  }
}
