/**
 * The leak check of `coilctl ipam check` (docs/coilctl.md): six categories of findings from one
 * {@link ClusterSnapshot}, each with its evidence and, where `release` may act, the action and the
 * identity it acts on.
 *
 * A pod is *live* when it is scheduled, not host-network and not finished (`Succeeded`/`Failed`:
 * the runtime has torn its sandbox down). Something created no longer ago than the grace period is
 * never reported as leaked, nor is anything of a node where a live pod created within the grace
 * period has no address yet (that pod may be the holder whose status is not written yet).
 */
import { err, ok, type Result } from "neverthrow";
import { cidrContains, parseCidr, parseIp, type Cidr, type Ip } from "../net/index.js";
import type { ClusterSnapshot, SnapshotBlock, SnapshotPod } from "./snapshot.js";
import type { ViewAddress } from "./view.js";

/** The leak categories, in report order. */
export const LEAK_CATEGORIES = [
  "block-of-missing-node",
  "block-without-pods",
  "address-of-missing-pod",
  "pod-outside-blocks",
  "duplicate-address",
  "stale-block-request",
] as const;

/** One of {@link LEAK_CATEGORIES}. */
export type LeakCategory = (typeof LEAK_CATEGORIES)[number];

/** What `coilctl ipam release` does for a finding. */
export type ReleaseAction =
  | {
      /** Remove the finalizer and delete the AddressBlock (UID precondition). */
      readonly kind: "delete-block";
      /** AddressBlock name. */
      readonly name: string;
      /** Its UID when reported. */
      readonly uid: string;
    }
  | {
      /** Delete the BlockRequest (UID precondition). */
      readonly kind: "delete-block-request";
      /** BlockRequest name. */
      readonly name: string;
      /** Its UID when reported. */
      readonly uid: string;
    }
  | {
      /** A CNI DEL for the attachment on the node's coild socket (coilctl must run on that node). */
      readonly kind: "free-address";
      /** Node whose coild holds it. */
      readonly node: string;
      /** Container ID of the attachment. */
      readonly containerId: string;
      /** Interface name of the attachment. */
      readonly ifname: string;
    };

/** One finding. */
export interface Finding {
  /** Category. */
  readonly category: LeakCategory;
  /** What it is about: `AddressBlock default-3`, `BlockRequest x`, `Pod ns/p`, `address 10.0.0.5`, `container <id>:eth0`. */
  readonly subject: string;
  /** The node concerned, when there is one. */
  readonly node: string | null;
  /** The pool concerned, when known. */
  readonly pool: string | null;
  /** The addresses or CIDRs concerned. */
  readonly addresses: readonly string[];
  /** Why it is reported, in words. */
  readonly evidence: string;
  /** What release does; null: report only. */
  readonly action: ReleaseAction | null;
}

/** A node whose coild view could not be read: the checks that need it skipped that node. */
export interface UncheckedNode {
  /** Node name. */
  readonly node: string;
  /** Why. */
  readonly error: string;
}

/** A node not judged yet: `pod` (live, created within the grace period) has no address yet. */
export interface DeferredNode {
  /** Node name. */
  readonly node: string;
  /** `namespace/name` of one such pod. */
  readonly pod: string;
}

/** The result of {@link checkLeaks}. */
export interface LeakReport {
  /** "now" of the check, ms since the epoch. */
  readonly checkedAtMs: number;
  /** The grace period used, ms. */
  readonly gracePeriodMs: number;
  /** Every finding, by category (in {@link LEAK_CATEGORIES} order), then subject. */
  readonly findings: readonly Finding[];
  /** Number of findings per category (every category present). */
  readonly counts: Readonly<Record<LeakCategory, number>>;
  /** Nodes whose coild view is missing (address checks incomplete there). */
  readonly uncheckedNodes: readonly UncheckedNode[];
  /**
   * Nodes where a live pod created within the grace period has no address yet: their blocks and
   * coild addresses are not judged (that pod may hold one), `pod` names one such pod.
   */
  readonly deferredNodes: readonly DeferredNode[];
}

/** Options of {@link checkLeaks}. */
export interface CheckOptions {
  /** "now", ms since the epoch. */
  readonly nowMs: number;
  /** Anything younger than this (or exactly this old) is never reported as leaked, ms. */
  readonly gracePeriodMs: number;
}

/** Why a snapshot was refused: a value that should be an address or CIDR is not. */
export interface SnapshotError {
  /** Discriminant. */
  readonly kind: "invalid-snapshot";
  /** The object and field, e.g. `AddressBlock default-3 ipv4`. */
  readonly where: string;
  /** What is wrong. */
  readonly message: string;
}

/** A block with parsed CIDRs. */
interface Blk {
  readonly b: SnapshotBlock;
  readonly cidrs: readonly Cidr[];
}

/** A live pod with parsed IPs. */
interface LivePod {
  readonly p: SnapshotPod;
  readonly node: string;
  readonly ips: readonly Ip[];
}

const FINISHED = new Set(["Succeeded", "Failed"]);

/** Whether a pod can hold a Coil address now. */
export function isLivePod(p: SnapshotPod): boolean {
  return p.node !== undefined && !p.hostNetwork && !FINISHED.has(p.phase);
}

function parsed<T>(r: Result<T, { message: string }>, where: string): Result<T, SnapshotError> {
  return r.mapErr((e) => ({ kind: "invalid-snapshot", where, message: e.message }));
}

function parseBlocks(s: ClusterSnapshot): Result<Blk[], SnapshotError> {
  const out: Blk[] = [];
  for (const b of s.blocks) {
    const cidrs: Cidr[] = [];
    for (const [f, v] of [["ipv4", b.ipv4], ["ipv6", b.ipv6]] as const) {
      if (v === undefined) continue;
      const c = parsed(parseCidr(v), `AddressBlock ${b.name} ${f}`);
      if (c.isErr()) return err(c.error);
      cidrs.push(c.value);
    }
    out.push({ b, cidrs });
  }
  return ok(out);
}

function parseLivePods(s: ClusterSnapshot): Result<LivePod[], SnapshotError> {
  const out: LivePod[] = [];
  for (const p of s.pods) {
    if (!isLivePod(p) || p.node === undefined) continue;
    const ips: Ip[] = [];
    for (const v of p.ips) {
      const ip = parsed(parseIp(v), `Pod ${p.namespace}/${p.name} podIPs`);
      if (ip.isErr()) return err(ip.error);
      if (!ips.includes(ip.value)) ips.push(ip.value);
    }
    out.push({ p, node: p.node, ips });
  }
  return ok(out);
}

const podName = (p: SnapshotPod): string => `${p.namespace}/${p.name}`;
const addrIps = (a: ViewAddress): Ip[] => [...(a.ipv4 === null ? [] : [a.ipv4]), ...(a.ipv6 === null ? [] : [a.ipv6])];
const ageText = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);

function groupBy<T>(xs: readonly T[], key: (x: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of xs) {
    const k = key(x);
    const l = m.get(k);
    if (l === undefined) m.set(k, [x]);
    else l.push(x);
  }
  return m;
}

/** Everything the six checks share. */
interface Ctx {
  readonly o: CheckOptions;
  readonly nodes: ReadonlySet<string>;
  readonly blocks: readonly Blk[];
  readonly blocksByNode: ReadonlyMap<string, Blk[]>;
  readonly pods: readonly LivePod[];
  readonly podsByNode: ReadonlyMap<string, LivePod[]>;
  /** Nodes with a live pod created within the grace period that has no address yet. */
  readonly waiting: ReadonlyMap<string, string>;
  readonly views: ClusterSnapshot["views"];
  /** The views by node (the first one, should a node be listed twice). */
  readonly viewsByNode: ReadonlyMap<string, ClusterSnapshot["views"][number]>;
}

const old = (c: Ctx, createdAtMs: number): boolean => c.o.nowMs - createdAtMs > c.o.gracePeriodMs;

function blocksOfMissingNodes(c: Ctx): Finding[] {
  return c.blocks
    .filter(({ b }) => b.node === undefined || !c.nodes.has(b.node))
    .map(({ b, cidrs }) => ({
      category: "block-of-missing-node",
      subject: `AddressBlock ${b.name}`,
      node: b.node ?? null,
      pool: b.pool,
      addresses: cidrs,
      evidence: b.node === undefined ? "the block has no coil.cybozu.com/node label" : `its node label names ${b.node}, and no such Node exists`,
      action: { kind: "delete-block", name: b.name, uid: b.uid },
    }));
}

function blocksWithoutPods(c: Ctx): Finding[] {
  const out: Finding[] = [];
  for (const { b, cidrs } of c.blocks) {
    if (b.node === undefined || !c.nodes.has(b.node) || b.reserved === true || !old(c, b.createdAtMs) || c.waiting.has(b.node)) continue;
    const pods = c.podsByNode.get(b.node) ?? [];
    if (pods.some((p) => p.ips.some((ip) => cidrs.some((cidr) => cidrContains(cidr, ip))))) continue;
    const view = c.viewsByNode.get(b.node);
    const held = view !== undefined && "view" in view ? view.view.addresses.filter((a) => a.block === b.name).length : undefined;
    const coild = held === undefined ? "" : held === 0 ? "; coild holds no address of it" : `; coild still holds ${held} address(es) of it for containers no live pod has`;
    out.push({
      category: "block-without-pods",
      subject: `AddressBlock ${b.name}`,
      node: b.node,
      pool: b.pool,
      addresses: cidrs,
      evidence: `no live pod on ${b.node} has an address of it, and it is older than the grace period (${ageText(c.o.gracePeriodMs)})${coild}`,
      action: { kind: "delete-block", name: b.name, uid: b.uid },
    });
  }
  return out;
}

function addressesOfMissingPods(c: Ctx): Finding[] {
  const out: Finding[] = [];
  for (const v of c.views) {
    if (!("view" in v) || c.waiting.has(v.node)) continue;
    const live = new Set((c.podsByNode.get(v.node) ?? []).flatMap((p) => p.ips));
    for (const a of v.view.addresses) {
      const ips = addrIps(a);
      if (ips.some((ip) => live.has(ip))) continue;
      out.push({
        category: "address-of-missing-pod",
        subject: `container ${a.containerId}:${a.ifname}`,
        node: v.node,
        pool: a.pool,
        addresses: ips,
        evidence: `coild on ${v.node} holds ${ips.join(", ") || "no address"} (block ${a.block}) and no live pod on ${v.node} has ${ips.length > 1 ? "any of them" : "it"}${a.pod === null || a.pod === undefined ? "" : `; coild set it up for pod ${a.pod.namespace}/${a.pod.name}`}`,
        action: { kind: "free-address", node: v.node, containerId: a.containerId, ifname: a.ifname },
      });
    }
  }
  return out;
}

function podsOutsideBlocks(c: Ctx): Finding[] {
  const out: Finding[] = [];
  for (const p of c.pods) {
    const blocks = c.blocksByNode.get(p.node) ?? [];
    const outside = p.ips.filter((ip) => !blocks.some(({ cidrs }) => cidrs.some((cidr) => cidrContains(cidr, ip))));
    if (outside.length === 0) continue;
    out.push({
      category: "pod-outside-blocks",
      subject: `Pod ${podName(p.p)}`,
      node: p.node,
      pool: null,
      addresses: outside,
      evidence: `${outside.join(", ")} ${outside.length > 1 ? "are" : "is"} in none of the AddressBlocks of ${p.node}`,
      action: null,
    });
  }
  return out;
}

function duplicateAddresses(c: Ctx): Finding[] {
  type Holder = { readonly kind: "pod" | "container"; readonly node: string; readonly name: string };
  const holders = new Map<Ip, Holder[]>();
  const add = (ip: Ip, h: Holder): void => {
    const l = holders.get(ip);
    if (l === undefined) holders.set(ip, [h]);
    else l.push(h);
  };
  for (const p of c.pods) for (const ip of p.ips) add(ip, { kind: "pod", node: p.node, name: `pod ${podName(p.p)}` });
  for (const v of c.views) {
    if (!("view" in v)) continue;
    for (const a of v.view.addresses) for (const ip of addrIps(a)) add(ip, { kind: "container", node: v.node, name: `container ${a.containerId}:${a.ifname}` });
  }
  const out: Finding[] = [];
  for (const [ip, hs] of holders) {
    const pods = hs.filter((h) => h.kind === "pod").length;
    const containers = hs.filter((h) => h.kind === "container").length;
    const nodes = new Set(hs.map((h) => h.node));
    if (pods <= 1 && containers <= 1 && nodes.size <= 1) continue;
    out.push({
      category: "duplicate-address",
      subject: `address ${ip}`,
      node: nodes.size === 1 ? [...nodes][0] ?? null : null,
      pool: null,
      addresses: [ip],
      evidence: `held by ${hs.map((h) => `${h.name} on ${h.node}`).sort().join(", ")}`,
      action: null,
    });
  }
  return out;
}

function staleBlockRequests(c: Ctx, s: ClusterSnapshot): Finding[] {
  const blockNames = new Set(s.blocks.map((b) => b.name));
  const out: Finding[] = [];
  for (const r of s.blockRequests) {
    let why: string | undefined;
    if (!c.nodes.has(r.node)) why = `its node ${r.node} does not exist`;
    else if (old(c, r.createdAtMs)) {
      const age = `older than the grace period (${ageText(c.o.gracePeriodMs)})`;
      if (r.failed) why = `it failed and is ${age}`;
      else if (r.addressBlockName === undefined) why = `it has no AddressBlock and is ${age}`;
      else if (!blockNames.has(r.addressBlockName)) why = `its AddressBlock ${r.addressBlockName} does not exist and it is ${age}`;
    }
    if (why === undefined) continue;
    out.push({
      category: "stale-block-request",
      subject: `BlockRequest ${r.name}`,
      node: r.node,
      pool: r.pool,
      addresses: [],
      evidence: why,
      action: { kind: "delete-block-request", name: r.name, uid: r.uid },
    });
  }
  return out;
}

/** Build the shared context of the checks. */
function context(s: ClusterSnapshot, o: CheckOptions): Result<Ctx, SnapshotError> {
  return parseBlocks(s).andThen((blocks) =>
    parseLivePods(s).map((pods): Ctx => {
      const waiting = new Map<string, string>();
      for (const p of pods) if (p.ips.length === 0 && o.nowMs - p.p.createdAtMs <= o.gracePeriodMs && !waiting.has(p.node)) waiting.set(p.node, podName(p.p));
      return {
        o,
        nodes: new Set(s.nodes),
        blocks,
        blocksByNode: groupBy(blocks.filter((b) => b.b.node !== undefined), (b) => b.b.node ?? ""),
        pods,
        podsByNode: groupBy(pods, (p) => p.node),
        waiting,
        views: s.views,
        viewsByNode: new Map([...s.views].reverse().map((v) => [v.node, v])),
      };
    }),
  );
}

/** Run the six checks over `s` (see the module comment); fails only on an unparsable address or CIDR. */
export function checkLeaks(s: ClusterSnapshot, o: CheckOptions): Result<LeakReport, SnapshotError> {
  return context(s, o).map((c) => {
    const all = [...blocksOfMissingNodes(c), ...blocksWithoutPods(c), ...addressesOfMissingPods(c), ...podsOutsideBlocks(c), ...duplicateAddresses(c), ...staleBlockRequests(c, s)];
    const rank = (f: Finding): number => LEAK_CATEGORIES.indexOf(f.category);
    const findings = all.sort((a, b) => rank(a) - rank(b) || (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0));
    const counts = Object.fromEntries(LEAK_CATEGORIES.map((k) => [k, findings.filter((f) => f.category === k).length])) as Record<LeakCategory, number>;
    const uncheckedNodes = s.views.flatMap((v) => ("error" in v ? [{ node: v.node, error: v.error }] : []));
    const deferredNodes = [...c.waiting].map(([node, pod]) => ({ node, pod })).sort((a, b) => (a.node < b.node ? -1 : 1));
    return { checkedAtMs: o.nowMs, gracePeriodMs: o.gracePeriodMs, findings, counts, uncheckedNodes, deferredNodes };
  });
}
