import { err, ok, type Result } from "neverthrow";
import { cidrAddress, cidrPrefix, familyBits, ipFamily, ipToBigInt, parseIp, type Cidr, type Family, type Ip } from "../net/index.js";
import { AddressAllocator, type AllocatorState } from "./allocator.js";
import type { NodeIpamError } from "./errors.js";
import { intervalHolding, type Interval } from "./intervals.js";
import { blockOffsetExclusions, type PoolPolicy } from "./policy.js";

/** An AddressBlock as the node sees it: name, pool label, index, CIDRs and the `reserved` label. */
export interface ObservedBlock {
  /** AddressBlock name (`<pool>-<index>`). */
  readonly name: string;
  /** Pool label of the block. */
  readonly pool: string;
  /** Block index in the pool. */
  readonly index: number;
  /** IPv4 CIDR of the block. */
  readonly ipv4?: string;
  /** IPv6 CIDR of the block. */
  readonly ipv6?: string;
  /** Label `coil.cybozu.com/reserved=true`: every address counts as used. */
  readonly reserved?: boolean;
}

/** A block owned by the node, with its usage. */
export interface NodeBlockInfo {
  /** AddressBlock name. */
  readonly name: string;
  /** Pool of the block. */
  readonly pool: string;
  /** Block index in the pool. */
  readonly index: number;
  /** IPv4 CIDR of the block. */
  readonly ipv4?: Cidr;
  /** IPv6 CIDR of the block. */
  readonly ipv6?: Cidr;
  /** Whether the block is reserved (filled). */
  readonly reserved: boolean;
  /** Offsets in use. */
  readonly used: number;
  /** Addresses in the block. */
  readonly size: number;
}

/** Identifies a block to return to the controller (delete the AddressBlock, then `removeBlock`). */
export interface BlockRef {
  /** Pool of the block. */
  readonly pool: string;
  /** AddressBlock name. */
  readonly name: string;
}

/** Addresses held by one pod interface, keyed by `"<containerId>:<ifname>"`. */
export interface Allocation {
  /** Pool the addresses come from. */
  readonly pool: string;
  /** CNI container ID. */
  readonly containerId: string;
  /** Interface name inside the pod. */
  readonly ifname: string;
  /** AddressBlock holding the addresses. */
  readonly block: string;
  /** Offset in the block. */
  readonly index: number;
  /** IPv4 address, if the pool has IPv4. */
  readonly ipv4?: Ip;
  /** IPv6 address, if the pool has IPv6. */
  readonly ipv6?: Ip;
}

/** What {@link NodeIpam.free} did: the allocation released (if any) and a block that became empty. */
export interface FreeOutcome {
  /** The allocation released; absent for an unknown key. */
  readonly freed?: Allocation;
  /** The block is now empty: Coil returns it at once (delete the AddressBlock, then `removeBlock`). */
  readonly emptyBlock?: BlockRef;
}

/** JSON state of a {@link NodeIpam}. */
export interface NodeIpamState {
  /** Every block with its allocator state. */
  readonly blocks: readonly (ObservedBlock & {
    /** The block's allocator state. */
    readonly allocator: AllocatorState;
  })[];
  /** Every allocation. */
  readonly allocations: readonly Allocation[];
}

interface NodeBlock {
  readonly name: string;
  readonly pool: string;
  readonly index: number;
  readonly reserved: boolean;
  readonly alloc: AddressAllocator;
  /** Offsets inside the pool's reserved ranges (refused to static requests too). */
  reservedOffsets: readonly Interval[];
}

/** The order of a pool's blocks: ascending block index, then name. */
const blockOrder = (a: NodeBlock, b: NodeBlock): number => a.index - b.index || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** Index key of a network of `pool`: family, network address as an integer, prefix length. */
const networkKey = (pool: string, family: Family, base: bigint, prefix: number): string => `${pool}|${family}|${base}/${prefix}`;

/** Whether two policies set the same ranges and quarantine (their texts aside). */
function samePolicy(a: PoolPolicy | undefined, b: PoolPolicy): boolean {
  const sameRanges = (x: PoolPolicy["reserved"], y: PoolPolicy["reserved"]): boolean =>
    x.length === y.length && x.every((r, i) => y[i]?.family === r.family && y[i]?.first === r.first && y[i]?.last === r.last);
  return a !== undefined && a.quarantineMs === b.quarantineMs && sameRanges(a.reserved, b.reserved) && sameRanges(a.staticOnly, b.staticOnly);
}

/** The allocation key Coil uses: `"<containerId>:<ifname>"`. */
export function allocationKey(containerId: string, ifname: string): string {
  return `${containerId}:${ifname}`;
}

const notFound = (name: string): NodeIpamError => ({ kind: "block-not-found", message: `unknown block ${name}` });

/**
 * The node allocator (Coil's `nodeIPAM` minus its I/O): the node's blocks per pool, one
 * {@link AddressAllocator} each, and the allocations by `containerId:ifname`.
 *
 * Block choice is deterministic: the pool's blocks in ascending block index, first non-full one.
 * (Coil iterates a Go map, i.e. an unspecified order; any order is valid, this one is testable.)
 * When none has room, {@link NodeIpam.allocate} fails with `need-block`: the adapter obtains a
 * block (BlockRequest), passes it to {@link NodeIpam.addBlock} and allocates again.
 *
 * Mutable; the adapter serialises calls. `toJSON`/`fromJSON` round-trip the whole state.
 */
export class NodeIpam {
  readonly #blocks = new Map<string, NodeBlock>();
  readonly #byPool = new Map<string, NodeBlock[]>();
  readonly #allocs = new Map<string, Allocation>();
  readonly #policies = new Map<string, PoolPolicy>();
  /**
   * The blocks by network ({@link networkKey}), and per `pool|family` the prefix lengths in use
   * with their block counts: {@link NodeIpam.register} finds the block holding an address by
   * lookups instead of trying every block (a node with thousands of blocks registers thousands of
   * pods at start-up).
   */
  readonly #byNetwork = new Map<string, NodeBlock[]>();
  readonly #prefixes = new Map<string, Map<number, number>>();

  /**
   * Set a pool's policy (beyond Coil, docs/static-addresses.md): its blocks, present and future,
   * skip reserved and static-only offsets in {@link allocate}, refuse reserved ones in
   * {@link allocateStatic}, and apply the reuse quarantine when calls carry `now`.
   */
  setPoolPolicy(pool: string, policy: PoolPolicy): void {
    // coild reads the pool again at every new block: the same policy changes no block (each block
    // got the policy in force when it was added), so it is not applied to every block again.
    const unchanged = samePolicy(this.#policies.get(pool), policy);
    this.#policies.set(pool, policy);
    if (unchanged) return;
    for (const nb of this.#byPool.get(pool) ?? []) this.#applyPolicy(nb, policy);
  }

  /** The policy set for `pool`, if any. */
  poolPolicy(pool: string): PoolPolicy | undefined {
    return this.#policies.get(pool);
  }

  #applyPolicy(nb: NodeBlock, policy: PoolPolicy | undefined): void {
    if (policy === undefined) return;
    const cidrs = { ...(nb.alloc.ipv4 === undefined ? {} : { ipv4: nb.alloc.ipv4 }), ...(nb.alloc.ipv6 === undefined ? {} : { ipv6: nb.alloc.ipv6 }) };
    nb.alloc.setPolicy({ excluded: blockOffsetExclusions(cidrs, [...policy.reserved, ...policy.staticOnly]), quarantineMs: policy.quarantineMs });
    nb.reservedOffsets = blockOffsetExclusions(cidrs, policy.reserved);
  }

  /**
   * Add a block the node owns (idempotent by name, like Coil's `syncBlock`). A reserved block is
   * filled: none of its addresses is ever handed out.
   */
  addBlock(b: ObservedBlock): Result<NodeBlockInfo, NodeIpamError> {
    const known = this.#blocks.get(b.name);
    if (known !== undefined) return ok(info(known));
    return AddressAllocator.create(b).map((alloc) => {
      const reserved = b.reserved === true;
      if (reserved) alloc.fill();
      const nb: NodeBlock = { name: b.name, pool: b.pool, index: b.index, reserved, alloc, reservedOffsets: [] };
      this.#applyPolicy(nb, this.#policies.get(b.pool));
      return info(this.#insert(nb));
    });
  }

  #insert(nb: NodeBlock): NodeBlock {
    this.#blocks.set(nb.name, nb);
    const list = this.#byPool.get(nb.pool) ?? [];
    // Binary search for the place in block order (the list is kept sorted; blocks arrive mostly in order).
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (blockOrder(list[mid] as NodeBlock, nb) <= 0) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, nb);
    this.#byPool.set(nb.pool, list);
    this.#indexNetworks(nb, +1);
    return nb;
  }

  /** Add (`+1`) or remove (`-1`) a block's networks in the lookup index. */
  #indexNetworks(nb: NodeBlock, delta: 1 | -1): void {
    for (const c of [nb.alloc.ipv4, nb.alloc.ipv6]) {
      if (c === undefined) continue;
      const family = ipFamily(cidrAddress(c));
      const prefix = cidrPrefix(c);
      const key = networkKey(nb.pool, family, ipToBigInt(cidrAddress(c)), prefix);
      const same = (this.#byNetwork.get(key) ?? []).filter((b) => b !== nb);
      if (delta > 0) same.push(nb);
      if (same.length > 0) this.#byNetwork.set(key, same);
      else this.#byNetwork.delete(key);
      const fk = `${nb.pool}|${family}`;
      const counts = this.#prefixes.get(fk) ?? new Map<number, number>();
      const n = (counts.get(prefix) ?? 0) + delta;
      if (n > 0) counts.set(prefix, n);
      else counts.delete(prefix);
      if (counts.size > 0) this.#prefixes.set(fk, counts);
      else this.#prefixes.delete(fk);
    }
  }

  /** The pool's blocks whose `family` network holds `text` (an address of that family), by lookups. */
  #holding(pool: string, family: Family, text: string | undefined): NodeBlock[] {
    if (text === undefined) return [];
    const ip = parseIp(text);
    if (ip.isErr() || ipFamily(ip.value) !== family) return [];
    const n = ipToBigInt(ip.value);
    const bits = familyBits(family);
    const out: NodeBlock[] = [];
    for (const prefix of this.#prefixes.get(`${pool}|${family}`)?.keys() ?? []) {
      const hb = BigInt(bits - prefix);
      out.push(...(this.#byNetwork.get(networkKey(pool, family, (n >> hb) << hb, prefix)) ?? []));
    }
    return out;
  }

  /**
   * Addresses for `containerId:ifname` from `pool`. The same key always gets the same answer
   * (idempotent ADD). Dual-stack blocks give both families at one offset. `need-block` when no
   * block of the pool owned by the node has a free address. Given `now` (ms) and a pool policy
   * with a reuse quarantine, a block with an address out of quarantine is preferred; a quarantined
   * address is handed out only when no block of the pool has another one (no block is requested
   * just to avoid reuse).
   */
  allocate(req: {
    readonly pool: string;
    readonly containerId: string;
    readonly ifname: string;
    /** Current time in ms, for the reuse quarantine. */
    readonly now?: number;
  }): Result<Allocation, NodeIpamError> {
    const key = allocationKey(req.containerId, req.ifname);
    const existing = this.#allocs.get(key);
    if (existing !== undefined) return ok(existing);
    const list = this.#byPool.get(req.pool) ?? [];
    const now = req.now;
    let nb: NodeBlock | undefined;
    if (now !== undefined && (this.#policies.get(req.pool)?.quarantineMs ?? 0) > 0) nb = list.find((b) => b.alloc.hasFresh(now));
    nb ??= list.find((b) => !b.alloc.isFull());
    if (nb === undefined) {
      return err({ kind: "need-block", pool: req.pool, message: `no free address in the blocks of pool ${req.pool}` });
    }
    const chosen = nb;
    return chosen.alloc.allocate(now).map((a) => this.#record(req, chosen, a));
  }

  /**
   * A static address (beyond Coil): slot `offset` of the pool's block `index` (see `staticSlot`)
   * for `containerId:ifname`. Checks before any change: the same key holding that slot gets it
   * again (idempotent ADD); the key holding another address → `allocation-mismatch`; the node does
   * not own the block → `need-block` with `index` (a static BlockRequest); a reserved block or a
   * slot in the pool's reserved ranges → `address-reserved`; the slot held by another key →
   * `address-in-use` naming it. Static-only ranges do not apply here.
   */
  allocateStatic(req: {
    readonly pool: string;
    readonly containerId: string;
    readonly ifname: string;
    /** Global block index in the pool. */
    readonly index: number;
    /** Offset in the block. */
    readonly offset: number;
  }): Result<Allocation, NodeIpamError> {
    const key = allocationKey(req.containerId, req.ifname);
    const nb = (this.#byPool.get(req.pool) ?? []).find((b) => b.index === req.index);
    const existing = this.#allocs.get(key);
    if (existing !== undefined) {
      if (nb !== undefined && existing.block === nb.name && existing.index === req.offset) return ok(existing);
      const held = [existing.ipv4, existing.ipv6].filter((x) => x !== undefined).join(", ");
      return err({ kind: "allocation-mismatch", message: `${key} already holds ${held} (block ${existing.block}), not slot ${req.offset} of block ${req.index} of pool ${req.pool}` });
    }
    if (nb === undefined) {
      return err({ kind: "need-block", pool: req.pool, index: req.index, message: `the node does not own block ${req.index} of pool ${req.pool}` });
    }
    const a = nb.alloc.addressesAt(req.offset);
    const what = [a.ipv4, a.ipv6].filter((x) => x !== undefined).join(", ");
    if (!Number.isInteger(req.offset) || req.offset < 0 || req.offset >= nb.alloc.size) {
      return err({ kind: "address-not-in-block", message: `offset ${req.offset} is not in block ${nb.name}` });
    }
    if (nb.reserved) return err({ kind: "address-reserved", message: `${what} is in block ${nb.name}, which is reserved (label coil.cybozu.com/reserved)` });
    if (intervalHolding(nb.reservedOffsets, req.offset) !== undefined) {
      return err({ kind: "address-reserved", message: `${what} is reserved in pool ${req.pool}` });
    }
    if (nb.alloc.isUsed(req.offset)) {
      const holder = [...this.#allocs.values()].find((x) => x.block === nb.name && x.index === req.offset);
      const by = holder === undefined ? "an address registered on this node" : allocationKey(holder.containerId, holder.ifname);
      return err({ kind: "address-in-use", message: `${what} is in use by ${by}` });
    }
    return nb.alloc.allocateAt(req.offset).map((got) => this.#record(req, nb, got));
  }

  #record(
    req: { readonly containerId: string; readonly ifname: string },
    nb: NodeBlock,
    a: { readonly index: number; readonly ipv4?: Ip; readonly ipv6?: Ip },
  ): Allocation {
    const allocation: Allocation = { pool: nb.pool, containerId: req.containerId, ifname: req.ifname, block: nb.name, ...a };
    this.#allocs.set(allocationKey(req.containerId, req.ifname), allocation);
    return allocation;
  }

  /**
   * Release the addresses of `containerId:ifname`; unknown keys are a no-op. Reports the block
   * when it became empty, so the adapter can return it to the controller. Given `now` (ms), the
   * release time feeds the pool's reuse quarantine.
   */
  free(containerId: string, ifname: string, now?: number): FreeOutcome {
    const key = allocationKey(containerId, ifname);
    const a = this.#allocs.get(key);
    if (a === undefined) return {};
    this.#allocs.delete(key);
    const nb = this.#blocks.get(a.block);
    if (nb === undefined) return { freed: a };
    nb.alloc.free(a.index, now);
    return nb.alloc.isEmpty() ? { freed: a, emptyBlock: { pool: nb.pool, name: nb.name } } : { freed: a };
  }

  /**
   * Re-register addresses observed on the host after a restart (Coil's `Register`). The pool's
   * blocks are tried in index order; `address-not-in-block` when none holds the address (Coil logs
   * "failed to register IP" and skips it). A key registered again with other addresses releases
   * the old offset first.
   */
  register(req: {
    readonly pool: string;
    readonly containerId: string;
    readonly ifname: string;
    readonly ipv4?: string;
    readonly ipv6?: string;
  }): Result<Allocation, NodeIpamError> {
    const old = this.#allocs.get(allocationKey(req.containerId, req.ifname));
    if (old !== undefined && old.ipv4 === req.ipv4 && old.ipv6 === req.ipv6) return ok(old);
    // The first block in block order whose IPv4 network holds the IPv4 address or whose IPv6
    // network holds the IPv6 one: what trying each block in turn finds, found by lookups.
    const holding = [...this.#holding(req.pool, 4, req.ipv4), ...this.#holding(req.pool, 6, req.ipv6)];
    const nb = holding.reduce<NodeBlock | undefined>((first, b) => (first === undefined || blockOrder(b, first) < 0 ? b : first), undefined);
    const idx = nb?.alloc.register(req);
    if (nb !== undefined && idx !== undefined && idx.isOk()) {
      if (old !== undefined && (old.block !== nb.name || old.index !== idx.value)) this.#blocks.get(old.block)?.alloc.free(old.index);
      return ok(this.#record(req, nb, nb.alloc.addressesAt(idx.value)));
    }
    const what = [req.ipv4, req.ipv6].filter((x) => x !== undefined).join(", ");
    return err({ kind: "address-not-in-block", message: `failed to register IP ${what}: no block of pool ${req.pool} holds it` });
  }

  /** Forget a block after its AddressBlock was deleted. Refuses a block that still has addresses in use. */
  removeBlock(name: string): Result<BlockRef, NodeIpamError> {
    const nb = this.#blocks.get(name);
    if (nb === undefined) return err(notFound(name));
    if (!nb.alloc.isEmpty()) return err({ kind: "block-not-empty", message: `block ${name} has addresses in use` });
    this.#blocks.delete(name);
    this.#indexNetworks(nb, -1);
    const rest = (this.#byPool.get(nb.pool) ?? []).filter((b) => b !== nb);
    if (rest.length > 0) this.#byPool.set(nb.pool, rest);
    else this.#byPool.delete(nb.pool);
    return ok({ pool: nb.pool, name });
  }

  /** Blocks with no address in use (GC candidates), by pool name then block index. */
  emptyBlocks(): BlockRef[] {
    return this.blocks()
      .filter((b) => b.used === 0)
      .map((b) => ({ pool: b.pool, name: b.name }));
  }

  /** The node's blocks (optionally of one pool), by pool name then block index. */
  blocks(pool?: string): NodeBlockInfo[] {
    const pools = pool === undefined ? [...this.#byPool.keys()].sort() : [pool];
    return pools.flatMap((p) => (this.#byPool.get(p) ?? []).map(info));
  }

  /** Every CIDR of the node's blocks (what Coil exports to routing table 119). */
  blockCidrs(): Cidr[] {
    return this.blocks().flatMap((b) => [b.ipv4, b.ipv6].filter((c): c is Cidr => c !== undefined));
  }

  /** The allocation of `containerId:ifname`, if any. */
  allocation(containerId: string, ifname: string): Allocation | undefined {
    return this.#allocs.get(allocationKey(containerId, ifname));
  }

  /** All allocations, in key order. */
  allocations(): Allocation[] {
    return [...this.#allocs.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
  }

  /** The whole state as plain JSON data. */
  toJSON(): NodeIpamState {
    const blocks = [...this.#byPool.keys()].sort().flatMap((p) =>
      (this.#byPool.get(p) ?? []).map((nb) => ({
        name: nb.name,
        pool: nb.pool,
        index: nb.index,
        reserved: nb.reserved,
        allocator: nb.alloc.toJSON(),
      })),
    );
    return { blocks, allocations: this.allocations() };
  }

  /** Rebuild from {@link NodeIpamState}; fails on bad CIDRs, offsets, or allocations naming unknown blocks. */
  static fromJSON(state: NodeIpamState): Result<NodeIpam, NodeIpamError> {
    const n = new NodeIpam();
    for (const b of state.blocks) {
      if (n.#blocks.has(b.name)) return err({ kind: "invalid-state", message: `duplicate block ${b.name}` });
      const alloc = AddressAllocator.fromJSON(b.allocator);
      if (alloc.isErr()) return err(alloc.error);
      n.#insert({ name: b.name, pool: b.pool, index: b.index, reserved: b.reserved === true, alloc: alloc.value, reservedOffsets: [] });
    }
    for (const a of state.allocations) {
      const nb = n.#blocks.get(a.block);
      if (nb === undefined || !nb.alloc.isUsed(a.index)) {
        return err({ kind: "invalid-state", message: `allocation ${allocationKey(a.containerId, a.ifname)} is not in a used offset of ${a.block}` });
      }
      n.#allocs.set(allocationKey(a.containerId, a.ifname), a);
    }
    return ok(n);
  }
}

function info(nb: NodeBlock): NodeBlockInfo {
  const { ipv4, ipv6 } = nb.alloc;
  return {
    name: nb.name,
    pool: nb.pool,
    index: nb.index,
    ...(ipv4 === undefined ? {} : { ipv4 }),
    ...(ipv6 === undefined ? {} : { ipv6 }),
    reserved: nb.reserved,
    used: nb.alloc.usedCount,
    size: nb.alloc.size,
  };
}
