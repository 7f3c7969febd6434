import { err, ok, type Result } from "neverthrow";
import {
  cidrFamily,
  cidrHostBits,
  cidrNetwork,
  cidrOffset,
  parseCidr,
  parseIp,
  type Cidr,
  type Ip,
} from "../net/index.js";
import { addrAt, addrBase, type AddrBase } from "./addr-math.js";
import { Bitset } from "./bitset.js";
import type { AllocatorError } from "./errors.js";

/** Largest block this allocator accepts: 2^24 addresses (a 2 MiB bitset). */
export const MAX_BLOCK_HOST_BITS = 24;

/** An address (or address pair) handed out from a block, with its offset in the block. */
export interface BlockAddress {
  /** Offset in the block (same for both families). */
  readonly index: number;
  /** IPv4 address, if the block has IPv4. */
  readonly ipv4?: Ip;
  /** IPv6 address, if the block has IPv6. */
  readonly ipv6?: Ip;
}

/** JSON form of an {@link AddressAllocator}: block CIDRs, used offsets (ascending), last allocated offset. */
export interface AllocatorState {
  /** IPv4 CIDR of the block. */
  readonly ipv4?: string;
  /** IPv6 CIDR of the block. */
  readonly ipv6?: string;
  /** Offsets in use, ascending. */
  readonly used: readonly number[];
  /** Offset most recently allocated (−1 initially). */
  readonly lastAllocIdx: number;
}

const invalid = (message: string): AllocatorError => ({ kind: "invalid-block", message });

function parseSide(input: string | undefined, family: 4 | 6): Result<Cidr | undefined, AllocatorError> {
  if (input === undefined) return ok(undefined);
  const c = parseCidr(input);
  if (c.isErr() || cidrFamily(c.value) !== family) return err(invalid(`invalid IPv${family} block: ${input}`));
  return ok(cidrNetwork(c.value));
}

/**
 * The per-block address allocator (port of Coil's `pkg/ipam/allocator.go`): a bitset of
 * `2^hostBits` offsets (IPv4 size if present, else IPv6) and `lastAllocIdx`, starting at −1.
 * Allocation searches from `lastAllocIdx + 1` and then wraps to 0, so a just-freed address is
 * not handed out again while another is free (Coil #234). Both families share the offset.
 *
 * Mutable; serialise with {@link AddressAllocator.toJSON} and restore with {@link AddressAllocator.fromJSON}.
 */
export class AddressAllocator {
  /** The block's IPv4 network, if any. */
  readonly ipv4: Cidr | undefined;
  /** The block's IPv6 network, if any. */
  readonly ipv6: Cidr | undefined;
  #usage: Bitset;
  #last = -1;
  readonly #base4: AddrBase | undefined;
  readonly #base6: AddrBase | undefined;

  private constructor(ipv4: Cidr | undefined, ipv6: Cidr | undefined, size: number) {
    this.ipv4 = ipv4;
    this.ipv6 = ipv6;
    this.#base4 = ipv4 === undefined ? undefined : addrBase(ipv4);
    this.#base6 = ipv6 === undefined ? undefined : addrBase(ipv6);
    this.#usage = new Bitset(size);
  }

  /** An empty allocator over a block given as CIDR strings (one or both families, same size). */
  static create(block: { readonly ipv4?: string; readonly ipv6?: string }): Result<AddressAllocator, AllocatorError> {
    const v4 = parseSide(block.ipv4, 4);
    if (v4.isErr()) return err(v4.error);
    const v6 = parseSide(block.ipv6, 6);
    if (v6.isErr()) return err(v6.error);
    const main = v4.value ?? v6.value;
    if (main === undefined) return err(invalid("a block needs an IPv4 or IPv6 CIDR"));
    const bits = cidrHostBits(main);
    if (v4.value !== undefined && v6.value !== undefined && cidrHostBits(v6.value) !== bits) {
      return err(invalid("dual stack block must be the same size"));
    }
    if (bits > MAX_BLOCK_HOST_BITS) return err(invalid(`block of 2^${bits} addresses is too large`));
    return ok(new AddressAllocator(v4.value, v6.value, 2 ** bits));
  }

  /** Restore from {@link AllocatorState}. */
  static fromJSON(state: AllocatorState): Result<AddressAllocator, AllocatorError> {
    return AddressAllocator.create(state).andThen((a) => {
      const bad = state.used.find((i) => !Number.isInteger(i) || i < 0 || i >= a.size);
      const lastOk = Number.isInteger(state.lastAllocIdx) && state.lastAllocIdx >= -1 && state.lastAllocIdx < a.size;
      if (bad !== undefined || !lastOk) return err(invalid("allocator state out of range"));
      for (const i of state.used) a.#usage.set(i);
      a.#last = state.lastAllocIdx;
      return ok(a);
    });
  }

  /** Number of addresses (offsets) in the block. */
  get size(): number {
    return this.#usage.limit;
  }

  /** Number of offsets in use. */
  get usedCount(): number {
    return this.#usage.count;
  }

  /** The offset most recently allocated, registered or filled (−1 initially). */
  get lastAllocIdx(): number {
    return this.#last;
  }

  /** Whether every offset is in use. */
  isFull(): boolean {
    return this.#usage.count === this.#usage.limit;
  }

  /** Whether no offset is in use. */
  isEmpty(): boolean {
    return this.#usage.count === 0;
  }

  /** Whether offset `index` is in use. */
  isUsed(index: number): boolean {
    return this.#usage.has(index);
  }

  /** The addresses at `index` (no state change); families absent from the block, or an index outside it, give none. */
  addressesAt(index: number): BlockAddress {
    const inside = Number.isInteger(index) && index >= 0 && index < this.size;
    return inside ? this.#at(index) : { index };
  }

  /** The addresses at an offset known to be inside the block. */
  #at(index: number): BlockAddress {
    const b4 = this.#base4;
    const b6 = this.#base6;
    if (b4 !== undefined && b6 !== undefined) return { index, ipv4: addrAt(b4, index), ipv6: addrAt(b6, index) };
    if (b4 !== undefined) return { index, ipv4: addrAt(b4, index) };
    if (b6 !== undefined) return { index, ipv6: addrAt(b6, index) };
    return { index };
  }

  /** Take the next free offset after the last one (wrapping to 0); `block-full` when none. */
  allocate(): Result<BlockAddress, AllocatorError> {
    let idx = this.#usage.nextClear(this.#last + 1);
    if (idx < 0) idx = this.#usage.nextClear(0);
    if (idx < 0) return err({ kind: "block-full", message: `block ${this.ipv4 ?? this.ipv6} is full` });
    this.#usage.set(idx);
    this.#last = idx;
    return ok(this.#at(idx));
  }

  /**
   * Mark an existing address used (restore after restart). The IPv4 address is tried first, then
   * IPv6, as in Coil; `address-not-in-block` when neither lies in the block.
   */
  register(addrs: { readonly ipv4?: string; readonly ipv6?: string }): Result<number, AllocatorError> {
    const offsetIn = (c: Cidr | undefined, s: string | undefined): number | undefined => {
      if (c === undefined || s === undefined) return undefined;
      const ip = parseIp(s);
      return ip.isErr() ? undefined : cidrOffset(c, ip.value).map(Number).unwrapOr(undefined);
    };
    const offset = offsetIn(this.ipv4, addrs.ipv4) ?? offsetIn(this.ipv6, addrs.ipv6);
    if (offset === undefined) {
      const what = [addrs.ipv4, addrs.ipv6].filter((x) => x !== undefined).join(", ");
      return err({ kind: "address-not-in-block", message: `${what} not in block ${this.ipv4 ?? this.ipv6}` });
    }
    this.#usage.set(offset);
    this.#last = offset;
    return ok(offset);
  }

  /** Release offset `index` (idempotent; out-of-range is ignored). */
  free(index: number): void {
    this.#usage.clear(index);
  }

  /** Mark every offset used and set `lastAllocIdx` to the last one (reserved blocks). */
  fill(): void {
    this.#usage.fill();
    this.#last = this.#usage.limit - 1;
  }

  /** The JSON state (see {@link AllocatorState}). */
  toJSON(): AllocatorState {
    return {
      ...(this.ipv4 === undefined ? {} : { ipv4: this.ipv4 }),
      ...(this.ipv6 === undefined ? {} : { ipv6: this.ipv6 }),
      used: [...this.#usage.ones()],
      lastAllocIdx: this.#last,
    };
  }
}
