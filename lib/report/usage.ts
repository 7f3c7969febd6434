/**
 * What `coilctl pools`, `coilctl blocks` and `coilctl addresses` show: utilisation per pool and
 * per node and pool, every block with its use, every allocated address with the pod that has it.
 * Block counts come from the AddressBlocks, address counts from the coild views (a dual-stack pair
 * counts once); where a node's view is missing its address counts are unknown (null).
 */
import { err, ok, type Result } from "neverthrow";
import { poolMaxBlocks } from "../ipam/index.js";
import { parseIp, type Ip } from "../net/index.js";
import { isLivePod, type SnapshotError } from "./check.js";
import type { ClusterSnapshot } from "./snapshot.js";

/** One pool's utilisation. */
export interface PoolUsage {
  /** Pool name. */
  readonly pool: string;
  /** Addresses per block (2^blockSizeBits). */
  readonly blockSize: number;
  /** Blocks the pool can be split into. */
  readonly blocksTotal: number;
  /** AddressBlocks of the pool. */
  readonly blocksUsed: number;
  /** `blocksTotal − blocksUsed`. */
  readonly blocksFree: number;
  /** Addresses (pairs, for dual-stack) allocated by the coilds; null when a node holding blocks of the pool was not read. */
  readonly addressesUsed: number | null;
  /** Addresses left in the blocks already taken (`blocksUsed × blockSize − addressesUsed`); null when unknown. */
  readonly addressesFreeInBlocks: number | null;
  /** Addresses never taken into a block (`blocksFree × blockSize`). */
  readonly addressesUnassigned: number;
}

/** One node's share of one pool. */
export interface NodePoolUsage {
  /** Node name (the block label; `""` for blocks without one). */
  readonly node: string;
  /** Pool name. */
  readonly pool: string;
  /** AddressBlocks of the pool labelled with the node. */
  readonly blocks: number;
  /** Addresses allocated there; null when the node's coild view was not read. */
  readonly addressesUsed: number | null;
}

/** Rows of `coilctl blocks`. */
export interface BlockRow {
  /** AddressBlock name. */
  readonly name: string;
  /** Pool. */
  readonly pool: string;
  /** Node label (`""` when missing). */
  readonly node: string;
  /** IPv4 CIDR or null. */
  readonly ipv4: string | null;
  /** IPv6 CIDR or null. */
  readonly ipv6: string | null;
  /** Addresses in use by coild's count; null when the node's view is missing or does not hold the block. */
  readonly used: number | null;
  /** Addresses in the block; null when coild's view does not say. */
  readonly size: number | null;
}

/** Rows of `coilctl addresses`. */
export interface AddressRow {
  /** Node whose coild holds it. */
  readonly node: string;
  /** Pool. */
  readonly pool: string;
  /** Block. */
  readonly block: string;
  /** IPv4 or null. */
  readonly ipv4: string | null;
  /** IPv6 or null. */
  readonly ipv6: string | null;
  /** CNI container ID. */
  readonly containerId: string;
  /** Interface in the pod. */
  readonly ifname: string;
  /** Host veth, when the kernel shows one. */
  readonly hostVeth: string | null;
  /** `namespace/name` of the live pod on that node with this address (matched by IP in `status.podIPs`), or null. */
  readonly pod: string | null;
  /**
   * `namespace/name` of the pod coild set the attachment up for (from the CNI ADD it saw), or null
   * when coild does not know (set up before coild's last start, or no pod name in the ADD).
   */
  readonly coildPod: string | null;
}

/** Utilisation per pool and per node and pool. */
export interface Utilisation {
  /** One row per AddressPool, by name. */
  readonly pools: readonly PoolUsage[];
  /** One row per (node, pool) with blocks, by node then pool. */
  readonly nodes: readonly NodePoolUsage[];
}

const byName = <T>(key: (x: T) => string) => (a: T, b: T): number => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);

/** Utilisation (see the module comment); fails when a pool's spec is invalid. */
export function utilisation(s: ClusterSnapshot): Result<Utilisation, SnapshotError> {
  const views = new Map(s.views.flatMap((v) => ("view" in v ? [[v.node, v.view] as const] : [])));
  const nodeRows = new Map<string, { node: string; pool: string; blocks: number; addressesUsed: number | null }>();
  const row = (node: string, pool: string): { node: string; pool: string; blocks: number; addressesUsed: number | null } => {
    const k = `${node}\u0000${pool}`;
    let r = nodeRows.get(k);
    if (r === undefined) nodeRows.set(k, (r = { node, pool, blocks: 0, addressesUsed: views.has(node) ? 0 : null }));
    return r;
  };
  for (const b of s.blocks) row(b.node ?? "", b.pool).blocks += 1;
  for (const [node, v] of views) {
    for (const a of v.addresses) {
      const r = row(node, a.pool);
      r.addressesUsed = (r.addressesUsed ?? 0) + 1;
    }
  }
  const nodes = [...nodeRows.values()].sort((a, b) => byName<NodePoolUsage>((x) => x.node)(a, b) || byName<NodePoolUsage>((x) => x.pool)(a, b));
  const pools: PoolUsage[] = [];
  for (const p of [...s.pools].sort(byName((x) => x.name))) {
    const max = poolMaxBlocks(p.spec);
    if (max.isErr()) return err({ kind: "invalid-snapshot", where: `AddressPool ${p.name} spec`, message: max.error.message });
    const blockSize = 2 ** (p.spec.blockSizeBits ?? 5);
    const blocksTotal = Number(max.value);
    const blocksUsed = s.blocks.filter((b) => b.pool === p.name).length;
    const mine = nodes.filter((n) => n.pool === p.name);
    const addressesUsed = mine.some((n) => n.addressesUsed === null) ? null : mine.reduce((sum, n) => sum + (n.addressesUsed ?? 0), 0);
    pools.push({
      pool: p.name,
      blockSize,
      blocksTotal,
      blocksUsed,
      blocksFree: Math.max(0, blocksTotal - blocksUsed),
      addressesUsed,
      addressesFreeInBlocks: addressesUsed === null ? null : blocksUsed * blockSize - addressesUsed,
      addressesUnassigned: Math.max(0, blocksTotal - blocksUsed) * blockSize,
    });
  }
  return ok({ pools, nodes });
}

/** Every AddressBlock (of `node` when given) with coild's count of its use. */
export function blockRows(s: ClusterSnapshot, node?: string): BlockRow[] {
  const views = new Map(s.views.flatMap((v) => ("view" in v ? [[v.node, v.view] as const] : [])));
  return s.blocks
    .filter((b) => node === undefined || b.node === node)
    .map((b) => {
      const vb = views.get(b.node ?? "")?.blocks.find((x) => x.name === b.name);
      return { name: b.name, pool: b.pool, node: b.node ?? "", ipv4: b.ipv4 ?? null, ipv6: b.ipv6 ?? null, used: vb?.used ?? null, size: vb?.size ?? null };
    })
    .sort((a, b) => byName<BlockRow>((x) => x.node)(a, b) || byName<BlockRow>((x) => x.pool)(a, b) || byName<BlockRow>((x) => x.name)(a, b));
}

/** Every address the coilds hold (on `node` when given), with the live pod on that node that has it. */
export function addressRows(s: ClusterSnapshot, node?: string): AddressRow[] {
  const out: AddressRow[] = [];
  for (const v of s.views) {
    if (!("view" in v) || (node !== undefined && v.node !== node)) continue;
    const podOf = new Map<string, string>();
    for (const p of s.pods) if (isLivePod(p) && p.node === v.node) for (const ip of p.ips) podOf.set(parseIp(ip).unwrapOr(ip as Ip), `${p.namespace}/${p.name}`);
    for (const a of v.view.addresses) {
      const pod = (a.ipv4 === null ? undefined : podOf.get(a.ipv4)) ?? (a.ipv6 === null ? undefined : podOf.get(a.ipv6)) ?? null;
      const coildPod = a.pod === null || a.pod === undefined ? null : `${a.pod.namespace}/${a.pod.name}`;
      out.push({ node: v.node, pool: a.pool, block: a.block, ipv4: a.ipv4, ipv6: a.ipv6, containerId: a.containerId, ifname: a.ifname, hostVeth: a.hostVeth, pod, coildPod });
    }
  }
  return out.sort((a, b) => byName<AddressRow>((x) => x.node)(a, b) || byName<AddressRow>((x) => x.block)(a, b) || byName<AddressRow>((x) => x.containerId)(a, b));
}
