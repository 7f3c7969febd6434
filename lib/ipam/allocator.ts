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
import { intervalHolding, mergeIntervals, type Interval } from "./intervals.js";

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

/**
 * Beyond Coil (docs/static-addresses.md): offsets never handed out by {@link AddressAllocator.allocate}
 * and the reuse quarantine. The default (nothing excluded, quarantine 0) is Coil's behaviour.
 */
export interface AllocatorPolicy {
  /** Inclusive offset intervals `allocate` skips (reserved and static-only addresses). */
  readonly excluded?: readonly (readonly [number, number])[];
  /** A freed offset is skipped while `now − freedAt < quarantineMs`, unless nothing else is free. */
  readonly quarantineMs?: number;
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
  /** `[offset, freedAt]` of free offsets whose release time is known (the reuse quarantine); absent when none. */
  readonly freedAt?: readonly (readonly [number, number])[];
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
  /** Sorted, merged offset intervals `allocate` skips. */
  #excluded: readonly Interval[] = [];
  #quarantineMs = 0;
  /** offset → time it was freed (ms), for free offsets freed with a time. */
  readonly #freedAt = new Map<number, number>();
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
      const freed = state.freedAt ?? [];
      if (freed.some(([i, at]) => !Number.isInteger(i) || i < 0 || i >= a.size || !Number.isFinite(at))) {
        return err(invalid("allocator state out of range"));
      }
      for (const i of state.used) a.#usage.set(i);
      for (const [i, at] of freed) if (!a.#usage.has(i)) a.#freedAt.set(i, at);
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

  /**
   * Set the policy (beyond Coil): excluded offsets (clipped to the block, merged) and the reuse
   * quarantine. Offsets in use stay in use; an excluded one is not handed out again once freed.
   */
  setPolicy(policy: AllocatorPolicy): void {
    const size = this.size;
    this.#excluded = mergeIntervals((policy.excluded ?? []).map(([lo, hi]) => [Math.max(0, lo), Math.min(size - 1, hi)] as const));
    const q = policy.quarantineMs ?? 0;
    this.#quarantineMs = Number.isFinite(q) && q > 0 ? q : 0;
  }

  /** The policy in force (see {@link AllocatorPolicy}). */
  get policy(): Required<AllocatorPolicy> {
    return { excluded: this.#excluded, quarantineMs: this.#quarantineMs };
  }

  /** Whether no offset can be handed out: every offset is in use or excluded (Coil: every offset in use). */
  isFull(): boolean {
    if (this.#excluded.length === 0) return this.#usage.count === this.#usage.limit;
    return this.#nextFree(0) < 0;
  }

  /**
   * Whether {@link allocate} at `now` would hand out an offset out of quarantine (not freed within
   * the quarantine). Without a quarantine this is `!isFull()`.
   */
  hasFresh(now: number): boolean {
    if (this.#quarantineMs === 0 || this.#freedAt.size === 0) return !this.isFull();
    for (let i = this.#nextFree(0); i >= 0; i = this.#nextFree(i + 1)) if (!this.#quarantined(i, now)) return true;
    return false;
  }

  /** Whether offset `index` is excluded by the policy. */
  isExcluded(index: number): boolean {
    return intervalHolding(this.#excluded, index) !== undefined;
  }

  /** The lowest clear, non-excluded offset at or after `from`, or −1. */
  #nextFree(from: number): number {
    let i = this.#usage.nextClear(from);
    const ex = this.#excluded;
    if (ex.length === 0) return i;
    while (i >= 0) {
      const iv = intervalHolding(ex, i);
      if (iv === undefined) return i;
      i = this.#usage.nextClear(iv[1] + 1);
    }
    return i;
  }

  #quarantined(i: number, now: number): boolean {
    const at = this.#freedAt.get(i);
    return at !== undefined && now - at < this.#quarantineMs;
  }

  /**
   * Pick with a policy: the first free, non-excluded offset cyclically after the cursor that is out
   * of quarantine; when every candidate is in quarantine, the one freed longest ago (ties: cyclic
   * order); −1 when none.
   */
  #pick(now: number | undefined): number {
    const useQ = now !== undefined && this.#quarantineMs > 0 && this.#freedAt.size > 0;
    let fallback = -1;
    let fallbackAt = Infinity;
    const scan = (from: number, to: number): number => {
      for (let i = this.#nextFree(from); i >= 0 && i < to; i = this.#nextFree(i + 1)) {
        if (!useQ || !this.#quarantined(i, now)) return i;
        const at = this.#freedAt.get(i) ?? -Infinity;
        if (at < fallbackAt) {
          fallback = i;
          fallbackAt = at;
        }
      }
      return -1;
    };
    const after = scan(this.#last + 1, this.size);
    if (after >= 0) return after;
    const before = scan(0, this.#last + 1);
    return before >= 0 ? before : fallback;
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

  /**
   * Take the next free offset after the last one (wrapping to 0); `block-full` when none. With a
   * policy (see {@link setPolicy}) excluded offsets are skipped and, given `now` (ms), offsets freed
   * less than the quarantine ago are skipped too unless every free offset is (then the one freed
   * longest ago is taken). Without `now` the quarantine is not applied.
   */
  allocate(now?: number): Result<BlockAddress, AllocatorError> {
    let idx: number;
    if (this.#excluded.length === 0 && (now === undefined || this.#quarantineMs === 0 || this.#freedAt.size === 0)) {
      idx = this.#usage.nextClear(this.#last + 1);
      if (idx < 0) idx = this.#usage.nextClear(0);
    } else {
      idx = this.#pick(now);
    }
    if (idx < 0) return err({ kind: "block-full", message: `block ${this.ipv4 ?? this.ipv6} is full` });
    this.#usage.set(idx);
    this.#last = idx;
    if (this.#freedAt.size > 0) this.#freedAt.delete(idx);
    return ok(this.#at(idx));
  }

  /**
   * Take offset `index` itself (a static address): `address-not-in-block` outside the block,
   * `address-in-use` when used. Exclusions and the quarantine do not apply (the caller checks
   * reserved addresses); the cursor does not move.
   */
  allocateAt(index: number): Result<BlockAddress, AllocatorError> {
    if (!Number.isInteger(index) || index < 0 || index >= this.size) {
      return err({ kind: "address-not-in-block", message: `offset ${index} is not in block ${this.ipv4 ?? this.ipv6}` });
    }
    const a = this.#at(index);
    if (this.#usage.has(index)) {
      return err({ kind: "address-in-use", message: `${[a.ipv4, a.ipv6].filter((x) => x !== undefined).join(", ")} is in use` });
    }
    this.#usage.set(index);
    this.#freedAt.delete(index);
    return ok(a);
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
    this.#freedAt.delete(offset);
    return ok(offset);
  }

  /**
   * Release offset `index` (idempotent; out-of-range is ignored). Given `now` (ms), the release
   * time is remembered for the reuse quarantine (a repeated free keeps the first time).
   */
  free(index: number, now?: number): void {
    if (!this.#usage.has(index)) return;
    this.#usage.clear(index);
    if (now !== undefined) this.#freedAt.set(index, now);
  }

  /** Mark every offset used and set `lastAllocIdx` to the last one (reserved blocks). */
  fill(): void {
    this.#freedAt.clear();
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
      ...(this.#freedAt.size === 0 ? {} : { freedAt: [...this.#freedAt.entries()].sort((a, b) => a[0] - b[0]) }),
    };
  }
}
