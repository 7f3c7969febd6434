import { err, ok, type Result } from "neverthrow";
import {
  ANNOTATION_RESERVED_RANGES,
  ANNOTATION_REUSE_QUARANTINE,
  ANNOTATION_STATIC_RANGES,
  MAX_REUSE_QUARANTINE_MS,
} from "../constants.js";
import { cidrAddress, cidrFamily, cidrHostBits, cidrNetwork, ipFamily, ipFromBigInt, ipToBigInt, parseCidr, parseIp, type Cidr, type Family, type Ip } from "../net/index.js";
import { layoutBlockAt, poolLayout, type PoolLayout } from "./block.js";
import { MAX_BLOCK_INDEXES } from "./block-allocator.js";
import type { ErrorOf, PoolFieldError } from "./errors.js";
import { mergeIntervals, type Interval } from "./intervals.js";
import { parseDuration } from "../util/index.js";
import type { AddressPoolSpec } from "./pool.js";
import type { Block } from "./subnet.js";

export type { Interval } from "./intervals.js";

/** An inclusive range of addresses of one family, as written in a pool annotation. */
export interface AddressRange {
  /** Address family. */
  readonly family: Family;
  /** First address, as an integer. */
  readonly first: bigint;
  /** Last address (inclusive), as an integer. */
  readonly last: bigint;
  /** The item as written (trimmed), for messages. */
  readonly text: string;
}

/**
 * What a pool's annotations add to Coil (docs/static-addresses.md): addresses never handed out,
 * addresses handed out only to static requests, and how long a freed address is kept back.
 */
export interface PoolPolicy {
  /** `coil-ts.cybozu.com/reserved-ranges`: never handed out, dynamically or statically. */
  readonly reserved: readonly AddressRange[];
  /** `coil-ts.cybozu.com/static-ranges`: handed out to static requests only. */
  readonly staticOnly: readonly AddressRange[];
  /** `coil-ts.cybozu.com/reuse-quarantine` in milliseconds; 0 = off (Coil's behaviour). */
  readonly quarantineMs: number;
}

/** The policy of a pool without annotations: Coil's behaviour. */
export const NO_POLICY: PoolPolicy = { reserved: [], staticOnly: [], quarantineMs: 0 };

/** Why one range text is invalid. */
export type PolicyParseError = ErrorOf<"invalid-range">;

/** Why a static address request cannot be served (nothing was changed). */
export type StaticError =
  | ErrorOf<"invalid-static-ip">
  | ErrorOf<"outside-pool">
  | ErrorOf<"address-reserved">
  | ErrorOf<"slot-mismatch">
  | ErrorOf<"invalid-pool">;

/** A static address placed in its pool: block index, slot (offset) in the block, the block and the addresses. */
export interface StaticSlot {
  /** Global block index in the pool. */
  readonly index: number;
  /** Offset of the address in the block (shared by both families). */
  readonly offset: number;
  /** The block (CIDRs per family of its subnet item). */
  readonly block: Block;
  /** IPv4 address at the slot, if the block has IPv4. */
  readonly ipv4?: Ip;
  /** IPv6 address at the slot, if the block has IPv6. */
  readonly ipv6?: Ip;
}

const badRange = (message: string): PolicyParseError => ({ kind: "invalid-range", message });

function parseRangeItem(item: string): Result<AddressRange, PolicyParseError> {
  if (item.includes("/")) {
    const c = parseCidr(item);
    if (c.isErr()) return err(badRange(`${JSON.stringify(item)} is not a CIDR`));
    const net = cidrNetwork(c.value);
    const first = ipToBigInt(cidrAddress(net));
    return ok({ family: cidrFamily(net), first, last: first + (1n << BigInt(cidrHostBits(net))) - 1n, text: item });
  }
  const dash = item.indexOf("-");
  if (dash >= 0) {
    const a = parseIp(item.slice(0, dash).trim());
    const b = parseIp(item.slice(dash + 1).trim());
    if (a.isErr() || b.isErr()) return err(badRange(`${JSON.stringify(item)} is not a range first-last of two addresses`));
    if (ipFamily(a.value) !== ipFamily(b.value)) return err(badRange(`${JSON.stringify(item)} mixes IPv4 and IPv6`));
    const first = ipToBigInt(a.value);
    const last = ipToBigInt(b.value);
    if (first > last) return err(badRange(`${JSON.stringify(item)} ends before it starts`));
    return ok({ family: ipFamily(a.value), first, last, text: item });
  }
  const ip = parseIp(item);
  if (ip.isErr()) return err(badRange(`${JSON.stringify(item)} is not an IP address, CIDR or first-last range`));
  const n = ipToBigInt(ip.value);
  return ok({ family: ipFamily(ip.value), first: n, last: n, text: item });
}

/**
 * Parse a range list: comma-separated CIDRs (`10.0.0.0/28`, host bits ignored), single addresses
 * and inclusive `first-last` ranges of one family; whitespace around items is ignored and empty
 * items are skipped. The first bad item is reported.
 */
export function parseAddressRanges(text: string): Result<AddressRange[], PolicyParseError> {
  const out: AddressRange[] = [];
  for (const raw of text.split(",")) {
    const item = raw.trim();
    if (item === "") continue;
    const r = parseRangeItem(item);
    if (r.isErr()) return err(r.error);
    out.push(r.value);
  }
  return ok(out);
}

/** Where an address lies in a pool: the layout item and its offset from the item's network. */
function locate(layout: PoolLayout, family: Family, n: bigint): { first: bigint; offset: bigint } | undefined {
  for (const it of layout.items) {
    const side = family === 4 ? it.subnet.ipv4 : it.subnet.ipv6;
    if (side === undefined) continue;
    const base = ipToBigInt(cidrAddress(side));
    if (n >= base && n < base + (1n << BigInt(cidrHostBits(side)))) return { first: it.first, offset: n - base };
  }
  return undefined;
}

/** The subnets of a pool, for messages. */
function subnetsText(layout: PoolLayout): string {
  return layout.items.flatMap((it) => [it.subnet.ipv4, it.subnet.ipv6].filter((c) => c !== undefined)).join(", ");
}

function annotationError(key: string, value: string, message: string): PoolFieldError {
  return { kind: "invalid-annotation", type: "Invalid", field: `metadata.annotations[${key}]`, value: JSON.stringify(value), source: "webhook", message };
}

/**
 * The pool's policy from its annotations (see {@link PoolPolicy}), validated against its spec: every
 * range must lie inside one subnet item of its family; the quarantine must be a duration of at most
 * 24 h. All field errors are returned at once (`metadata.annotations[<key>]`, type `Invalid`). An
 * invalid spec yields only the annotation syntax checks (the spec has its own errors).
 */
export function poolPolicy(
  spec: AddressPoolSpec,
  annotations: Readonly<Record<string, string>> | undefined,
): Result<PoolPolicy, PoolFieldError[]> {
  const layout = poolLayout(spec);
  const errors: PoolFieldError[] = [];
  const ranges = (key: string): AddressRange[] => {
    const text = annotations?.[key];
    if (text === undefined) return [];
    const r = parseAddressRanges(text);
    if (r.isErr()) {
      errors.push(annotationError(key, text, r.error.message));
      return [];
    }
    if (layout.isOk()) {
      for (const rg of r.value) {
        const a = locate(layout.value, rg.family, rg.first);
        const b = locate(layout.value, rg.family, rg.last);
        if (a === undefined || b === undefined || a.first !== b.first) {
          errors.push(annotationError(key, text, `${rg.text} is not inside one subnet of the pool (${subnetsText(layout.value)})`));
        }
      }
    }
    return r.value;
  };
  const reserved = ranges(ANNOTATION_RESERVED_RANGES);
  const staticOnly = ranges(ANNOTATION_STATIC_RANGES);
  let quarantineMs = 0;
  const q = annotations?.[ANNOTATION_REUSE_QUARANTINE];
  if (q !== undefined) {
    const d = parseDuration(q.trim());
    if (d.isErr()) errors.push(annotationError(ANNOTATION_REUSE_QUARANTINE, q, `${d.error.message}: a duration such as 30s, 5m or 1h30m`));
    else if (d.value < 0) errors.push(annotationError(ANNOTATION_REUSE_QUARANTINE, q, `${JSON.stringify(q)} is negative`));
    else if (d.value > MAX_REUSE_QUARANTINE_MS) errors.push(annotationError(ANNOTATION_REUSE_QUARANTINE, q, `${q} is longer than 24h`));
    else quarantineMs = d.value;
  }
  return errors.length > 0 ? err(errors) : ok({ reserved, staticOnly, quarantineMs });
}

/**
 * The block indexes of the pool whose every address lies in `ranges` (sorted, merged, inclusive;
 * below 2^31). In a dual-stack item a range of either family excludes its slots (both families
 * share an offset). Dynamic block allocation skips these indexes.
 */
export function blockExclusions(layout: PoolLayout, ranges: readonly AddressRange[]): Interval[] {
  const out: Interval[] = [];
  const bs = 1n << BigInt(layout.blockSizeBits);
  const cap = BigInt(MAX_BLOCK_INDEXES) - 1n;
  for (const it of layout.items) {
    // Offsets of the item covered by a range of either family, merged: a block can be covered by
    // several ranges together (and, in a dual-stack item, by ranges of both families).
    const spans: { first: bigint; last: bigint }[] = [];
    for (const side of [it.subnet.ipv4, it.subnet.ipv6]) {
      if (side === undefined) continue;
      const base = ipToBigInt(cidrAddress(side));
      const end = base + (1n << BigInt(cidrHostBits(side))) - 1n;
      for (const rg of ranges) {
        if (rg.family !== cidrFamily(side)) continue;
        const lo = rg.first > base ? rg.first : base;
        const hi = rg.last < end ? rg.last : end;
        if (lo <= hi) spans.push({ first: lo - base, last: hi - base });
      }
    }
    for (const sp of mergeSpans(spans)) {
      const firstBlock = it.first + (sp.first + bs - 1n) / bs;
      const lastBlock = it.first + (sp.last + 1n) / bs - 1n;
      if (firstBlock > lastBlock || firstBlock > cap) continue;
      out.push([Number(firstBlock), Number(lastBlock < cap ? lastBlock : cap)]);
    }
  }
  return mergeIntervals(out);
}

/** Union of bigint spans: sorted, overlapping and adjacent spans joined. */
function mergeSpans(spans: readonly { first: bigint; last: bigint }[]): { first: bigint; last: bigint }[] {
  const sorted = [...spans].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const out: { first: bigint; last: bigint }[] = [];
  for (const r of sorted) {
    const top = out[out.length - 1];
    if (top !== undefined && r.first <= top.last + 1n) {
      if (r.last > top.last) top.last = r.last;
    } else out.push({ first: r.first, last: r.last });
  }
  return out;
}

/** The offsets of a block (CIDRs per family) covered by `ranges`: sorted, merged, inclusive. */
export function blockOffsetExclusions(block: { readonly ipv4?: string; readonly ipv6?: string }, ranges: readonly AddressRange[]): Interval[] {
  // No ranges (a pool without the annotations, Coil's case): nothing to parse. Applied to every
  // block of a pool each time the pool's policy is read, so this matters on a node with many blocks.
  if (ranges.length === 0) return [];
  const out: Interval[] = [];
  for (const text of [block.ipv4, block.ipv6]) {
    if (text === undefined) continue;
    const c = parseCidr(text);
    if (c.isErr()) continue;
    const net: Cidr = cidrNetwork(c.value);
    const base = ipToBigInt(cidrAddress(net));
    const end = base + (1n << BigInt(cidrHostBits(net))) - 1n;
    for (const rg of ranges) {
      if (rg.family !== cidrFamily(net)) continue;
      const lo = rg.first > base ? rg.first : base;
      const hi = rg.last < end ? rg.last : end;
      if (lo <= hi) out.push([Number(lo - base), Number(hi - base)]);
    }
  }
  return mergeIntervals(out);
}

/** The address(es) a pod asks for in `coil-ts.cybozu.com/static-ip`. */
export interface StaticAddresses {
  /** The IPv4 address, if one is asked for. */
  readonly ipv4?: Ip;
  /** The IPv6 address, if one is asked for. */
  readonly ipv6?: Ip;
}

/**
 * Parse the pod annotation `coil-ts.cybozu.com/static-ip`: one IPv4 and/or one IPv6 address,
 * comma separated.
 */
export function parseStaticIps(text: string): Result<StaticAddresses, StaticError> {
  const bad = (why: string): Result<StaticAddresses, StaticError> =>
    err({ kind: "invalid-static-ip", message: `${JSON.stringify(text)}: ${why}` });
  const out: { ipv4?: Ip; ipv6?: Ip } = {};
  for (const raw of text.split(",")) {
    const item = raw.trim();
    if (item === "") continue;
    const ip = parseIp(item);
    if (ip.isErr()) return bad(`${JSON.stringify(item)} is not an IP address`);
    const key = ipFamily(ip.value) === 4 ? "ipv4" : "ipv6";
    if (out[key] !== undefined) return bad(`more than one IPv${ipFamily(ip.value)} address`);
    out[key] = ip.value;
  }
  if (out.ipv4 === undefined && out.ipv6 === undefined) return bad("no address");
  return ok(out);
}

/**
 * Place a static address request in pool `pool` (name for messages): the block index and slot of
 * each given address, which must agree when both families are given (a dual-stack block gives both
 * at one offset), and must not be reserved. Fails with a precise message; pure.
 */
export function staticSlot(
  pool: string,
  spec: AddressPoolSpec,
  policy: PoolPolicy,
  addrs: { readonly ipv4?: string; readonly ipv6?: string },
): Result<StaticSlot, StaticError> {
  const layout = poolLayout(spec);
  if (layout.isErr()) return err({ kind: "invalid-pool", message: `pool ${pool} is invalid: ${layout.error.message}` });
  const l = layout.value;
  const bs = 1n << BigInt(l.blockSizeBits);
  const places: { ip: Ip; index: bigint; offset: number }[] = [];
  for (const [key, family] of [["ipv4", 4], ["ipv6", 6]] as const) {
    const text = addrs[key];
    if (text === undefined) continue;
    const ip = parseIp(text);
    if (ip.isErr() || ipFamily(ip.value) !== family) {
      return err({ kind: "invalid-static-ip", message: `${JSON.stringify(text)} is not an IPv${family} address` });
    }
    const at = locate(l, family, ipToBigInt(ip.value));
    if (at === undefined) return err({ kind: "outside-pool", message: `${ip.value} is outside pool ${pool} (subnets ${subnetsText(l)})` });
    places.push({ ip: ip.value, index: at.first + at.offset / bs, offset: Number(at.offset % bs) });
  }
  const [p, q] = places;
  if (p === undefined) return err({ kind: "invalid-static-ip", message: "no address given" });
  if (q !== undefined && (p.index !== q.index || p.offset !== q.offset)) {
    return err({
      kind: "slot-mismatch",
      message: `${p.ip} and ${q.ip} are not the same slot of pool ${pool} (block ${p.index} slot ${p.offset}, block ${q.index} slot ${q.offset})`,
    });
  }
  if (p.index >= BigInt(MAX_BLOCK_INDEXES)) return err({ kind: "outside-pool", message: `${p.ip} is beyond block index 2^31 of pool ${pool}` });
  const block = layoutBlockAt(l, Number(p.index));
  if (block.isErr()) return err({ kind: "outside-pool", message: `${p.ip} is outside pool ${pool}: ${block.error.message}` });
  const b = block.value;
  const v4 = b.ipv4 === undefined ? undefined : slotAddress(b.ipv4, p.offset);
  const v6 = b.ipv6 === undefined ? undefined : slotAddress(b.ipv6, p.offset);
  for (const [family, ip] of [[4, v4], [6, v6]] as const) {
    if (ip === undefined) continue;
    const n = ipToBigInt(ip);
    const hit = policy.reserved.find((r) => r.family === family && r.first <= n && n <= r.last);
    if (hit !== undefined) {
      return err({ kind: "address-reserved", message: `${ip} is reserved in pool ${pool} (${ANNOTATION_RESERVED_RANGES}: ${hit.text})` });
    }
  }
  return ok({ index: b.index, offset: p.offset, block: b, ...(v4 === undefined ? {} : { ipv4: v4 }), ...(v6 === undefined ? {} : { ipv6: v6 }) });
}

function slotAddress(block: Cidr, offset: number): Ip {
  // Inside the block by construction, so the conversion cannot fail.
  return ipFromBigInt(cidrFamily(block), ipToBigInt(cidrAddress(block)) + BigInt(offset)).unwrapOr(cidrAddress(block));
}
