/** Words per chunk (1024 words = 32,768 bits = 4 KiB). */
const CHUNK_WORDS = 1024;
const CHUNK_SHIFT = 10;

/**
 * A bitset of 32-bit words with a fixed logical size (`limit`). Words live in chunks of 4 KiB
 * allocated on first write, so a limit of 2^31 costs nothing until bits are used and a few high
 * indexes cost a few chunks. Finding the first clear bit scans whole words (isolate the lowest
 * zero, `Math.clz32`), 32 bits a step; a missing chunk is all clear.
 */
export class Bitset {
  /** Number of addressable bits: indexes `[0, limit)`. */
  readonly limit: number;
  readonly #chunkWords: number;
  #chunks: (Uint32Array | undefined)[] = [];
  #count = 0;

  /** A bitset of `limit` bits, all clear. */
  constructor(limit: number) {
    this.limit = limit;
    this.#chunkWords = Math.max(1, Math.min(CHUNK_WORDS, Math.ceil(limit / 32)));
  }

  /** Number of set bits. */
  get count(): number {
    return this.#count;
  }

  #word(w: number): number {
    const chunk = this.#chunks[w >>> CHUNK_SHIFT];
    return chunk === undefined ? 0 : chunk[w & (CHUNK_WORDS - 1)]!;
  }

  #chunk(w: number): Uint32Array {
    const c = w >>> CHUNK_SHIFT;
    let chunk = this.#chunks[c];
    if (chunk === undefined) {
      chunk = new Uint32Array(this.#chunkWords);
      this.#chunks[c] = chunk;
    }
    return chunk;
  }

  /** Whether bit `i` is set (out-of-range bits read as clear). */
  has(i: number): boolean {
    return Number.isInteger(i) && i >= 0 && i < this.limit && ((this.#word(i >>> 5) >>> (i & 31)) & 1) === 1;
  }

  /** Set bit `i`; returns false when `i` is out of range. */
  set(i: number): boolean {
    if (!Number.isInteger(i) || i < 0 || i >= this.limit) return false;
    const w = i >>> 5;
    const chunk = this.#chunk(w);
    const k = w & (CHUNK_WORDS - 1);
    const bit = 1 << (i & 31);
    if ((chunk[k]! & bit) === 0) {
      chunk[k] = chunk[k]! | bit;
      this.#count++;
    }
    return true;
  }

  /** Clear bit `i` (idempotent; out-of-range is ignored). */
  clear(i: number): void {
    if (!this.has(i)) return;
    const w = i >>> 5;
    const chunk = this.#chunk(w);
    const k = w & (CHUNK_WORDS - 1);
    chunk[k] = chunk[k]! & ~(1 << (i & 31));
    this.#count--;
  }

  /** Set every bit (allocates every chunk: meant for small bitsets such as one block). */
  fill(): void {
    const words = Math.ceil(this.limit / 32);
    for (let w = 0; w < words; w++) this.#chunk(w)[w & (CHUNK_WORDS - 1)] = 0xffffffff;
    const rest = this.limit & 31;
    if (rest !== 0) this.#chunk(words - 1)[(words - 1) & (CHUNK_WORDS - 1)] = (1 << rest) - 1;
    this.#count = this.limit;
  }

  /** Clear every bit. */
  reset(): void {
    this.#chunks = [];
    this.#count = 0;
  }

  /** The lowest clear bit at or after `from`, or -1 when there is none below `limit`. */
  nextClear(from: number): number {
    let i = Math.max(0, from);
    while (i < this.limit) {
      const w = i >>> 5;
      const chunk = this.#chunks[w >>> CHUNK_SHIFT];
      if (chunk === undefined) return i;
      const free = ~chunk[w & (CHUNK_WORDS - 1)]! & (0xffffffff << (i & 31));
      if (free !== 0) {
        const found = w * 32 + (31 - Math.clz32(free & -free));
        return found < this.limit ? found : -1;
      }
      i = (w + 1) * 32;
    }
    return -1;
  }

  /** The set bits in ascending order. */
  *ones(): Generator<number> {
    for (let c = 0; c < this.#chunks.length; c++) {
      const chunk = this.#chunks[c];
      if (chunk === undefined) continue;
      for (let k = 0; k < chunk.length; k++) {
        let word = chunk[k]!;
        const base = ((c << CHUNK_SHIFT) + k) * 32;
        while (word !== 0) {
          const low = word & -word;
          yield base + (31 - Math.clz32(low));
          word ^= low;
        }
      }
    }
  }
}
