import { err, ok, type Result } from "neverthrow";
import {
  diffNftRules,
  diffRoutes,
  diffRules,
  routeTable,
  type LinkState,
  type NetlinkOp,
  type NetnsState,
  type NftCommand,
  type NftFamily,
  type NftRule,
  type Route,
  type Rule,
} from "../changeset/index.js";
import { cidrAddress, cidrContains, cidrFamily, parseCidr, type Cidr, type Family } from "../net/index.js";
import { EGRESS_RULE_PRIO, MAIN_TABLE, ORIGINATING_ONLY_TABLE_BASE } from "../constants.js";
import type { PlanError } from "./errors.js";

/** nftables priority `mangle` (NF_IP_PRI_MANGLE). */
export const NFT_PRIO_MANGLE = -150;
/** Name of the nftables table of originating-only mode. */
export const MANGLE_TABLE = "mangle";

const NON_GLOBAL: readonly Cidr[] = ["127.0.0.0/8", "169.254.0.0/16", "::1/128", "fe80::/10"].map((s) =>
  parseCidr(s).unwrapOr(s as Cidr),
);

/** Options of {@link originatingOnlyPlan}. */
export interface OriginatingOnlyOptions {
  /** Address family the plan is for (call once per family). */
  readonly family: Family;
  /** Whether originating-only mode is on (and the family has NAT routes). Off removes its leftovers. */
  readonly enabled: boolean;
  /** Observed pod namespace: links with ifindex, addresses, routes and rules. */
  readonly observed: NetnsState;
  /** Observed nftables rules of the pod namespace. */
  readonly observedNft: readonly NftRule[];
}

/** The netlink ops and nft commands of originating-only mode for one family. */
export interface OriginatingOnlyPlan {
  /** Rules and per-link routing tables (1000 + ifindex) to add or remove. */
  readonly netlink: readonly NetlinkOp[];
  /** nftables commands for the connmark rules in the `mangle` table. */
  readonly nft: readonly NftCommand[];
}

function isGlobal(c: Cidr, family: Family): boolean {
  return cidrFamily(c) === family && !NON_GLOBAL.some((n) => cidrContains(n, cidrAddress(c)));
}

function mainRoutesOf(link: string, family: Family, s: NetnsState): Route[] {
  return s.routes.filter((r) => r.family === family && r.dev === link && routeTable(r) === MAIN_TABLE);
}

/** Links with a global address of `family` and at least one main-table route (Coil's selection of the links originating-only mode marks). */
export function candidateLinks(family: Family, s: NetnsState): LinkState[] {
  return s.links.filter(
    (l) => s.addrs.some((a) => a.dev === l.name && isGlobal(a.cidr, family)) && mainRoutesOf(l.name, family, s).length > 0,
  );
}

const nftFamilyOf = (family: Family): NftFamily => (family === 4 ? "ip" : "ip6");

/** The nft rules of one link: mark incoming connections with the ifindex, restore the mark on output. */
export function originatingOnlyNftRules(family: Family, link: string, ifindex: number): NftRule[] {
  const f = nftFamilyOf(family);
  const input: NftRule = {
    family: f,
    table: MANGLE_TABLE,
    chain: "input",
    expr: [
      { match: { op: "==", left: { meta: { key: "iifname" } }, right: `@${link}` } },
      { match: { op: "in", left: { ct: { key: "state" } }, right: ["new", "established", "related"] } },
      { counter: null },
      { mangle: { key: { ct: { key: "mark" } }, value: ifindex } },
    ],
    comment: `coil-input-${link}`,
  };
  const output: NftRule = {
    family: f,
    table: MANGLE_TABLE,
    chain: "output",
    expr: [
      { match: { op: "==", left: { ct: { key: "mark" } }, right: ifindex } },
      { counter: null },
      { mangle: { key: { meta: { key: "mark" } }, value: { ct: { key: "mark" } } } },
    ],
    comment: `coil-output-${link}`,
  };
  return [input, output];
}

function nftPrelude(family: Family, links: readonly string[]): NftCommand[] {
  const f = nftFamilyOf(family);
  const base = { family: f, table: MANGLE_TABLE };
  return [
    { add: { table: { family: f, name: MANGLE_TABLE } } },
    { add: { chain: { ...base, name: "input", type: "filter", hook: "input", prio: NFT_PRIO_MANGLE, policy: "accept" } } },
    { add: { chain: { ...base, name: "output", type: "route", hook: "output", prio: NFT_PRIO_MANGLE, policy: "accept" } } },
    ...links.flatMap((name): NftCommand[] => [
      { add: { set: { ...base, name, type: "ifname" } } },
      { add: { element: { ...base, name, elem: [name] } } },
    ]),
  ];
}

/**
 * Originating-only mode (§6.4), for one family. End state for `eth0` (ifindex 2), IPv4:
 * ```
 * ip route replace <each main route of eth0> table 1002
 * ip rule add fwmark 2 lookup 1002 priority 1000
 * nft add table ip mangle
 * nft add chain ip mangle input { type filter hook input priority mangle; policy accept; }
 * nft add chain ip mangle output { type route hook output priority mangle; policy accept; }
 * nft add set ip mangle eth0 { type ifname; }; nft add element ip mangle eth0 { "eth0" }
 * nft add rule ip mangle input iifname @eth0 ct state { new, established, related } counter ct mark set 2 comment "coil-input-eth0"
 * nft add rule ip mangle output ct mark 2 counter meta mark set ct mark comment "coil-output-eth0"
 * ```
 * Why: connections that arrive on eth0 are marked with its ifindex; replies carry the mark and
 * rule 1000 routes them by a copy of eth0's main routes, before rules 1900/2100 could send them
 * into the tunnel. So only pod-originated connections use the egress, and the pod still serves.
 * Links: every link with a global address of the family and at least one main-table route; each
 * needs a known ifindex (`missing-ifindex` otherwise). Rules are identified by their comment.
 * Disabled: priority-1000 fwmark rules and their tables are deleted, and the family's `mangle`
 * table is deleted when an observed rule in it carries a `coil-` comment.
 */
export function originatingOnlyPlan(o: OriginatingOnlyOptions): Result<OriginatingOnlyPlan, PlanError> {
  return o.enabled ? enabledPlan(o) : ok(disabledPlan(o));
}

function enabledPlan(o: OriginatingOnlyOptions): Result<OriginatingOnlyPlan, PlanError> {
  const links = candidateLinks(o.family, o.observed);
  const missing = links.find((l) => l.index === undefined);
  if (missing !== undefined) {
    return err({ kind: "missing-ifindex", link: missing.name, message: `ifindex of ${missing.name} is unknown` });
  }
  const rules: Rule[] = [];
  const routes: Route[] = [];
  const nftRules: NftRule[] = [];
  for (const l of links) {
    const idx = l.index ?? 0;
    const table = ORIGINATING_ONLY_TABLE_BASE + idx;
    rules.push({ family: o.family, priority: EGRESS_RULE_PRIO.originatingOnly, table, fwmark: idx });
    routes.push(...mainRoutesOf(l.name, o.family, o.observed).map((r): Route => ({ ...r, table })));
    nftRules.push(...originatingOnlyNftRules(o.family, l.name, idx));
  }
  const tables = new Set(routes.map(routeTable));
  const netlink = [
    ...diffRoutes(routes, o.observed.routes, (r) => r.family === o.family && tables.has(routeTable(r))),
    ...diffRules(rules, o.observed.rules, (r) => isOrigRule(r, o.family)),
  ];
  const prelude = nftPrelude(o.family, links.map((l) => l.name));
  return ok({ netlink, nft: diffNftRules(prelude, nftRules, o.observedNft) });
}

function isOrigRule(r: Rule, family: Family): boolean {
  return r.family === family && r.priority === EGRESS_RULE_PRIO.originatingOnly && r.fwmark !== undefined;
}

function disabledPlan(o: OriginatingOnlyOptions): OriginatingOnlyPlan {
  const stale = o.observed.rules.filter((r) => isOrigRule(r, o.family));
  const tables = new Set(stale.map((r) => r.table));
  const netlink = [
    ...diffRules([], o.observed.rules, (r) => isOrigRule(r, o.family)),
    ...diffRoutes([], o.observed.routes, (r) => r.family === o.family && tables.has(routeTable(r))),
  ];
  const f = nftFamilyOf(o.family);
  const ours = o.observedNft.some((r) => r.family === f && r.table === MANGLE_TABLE && (r.comment ?? "").startsWith("coil-"));
  return { netlink, nft: ours ? [{ delete: { table: { family: f, name: MANGLE_TABLE } } }] : [] };
}
