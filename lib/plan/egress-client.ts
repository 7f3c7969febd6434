import { err, ok, type Result } from "neverthrow";
import {
  concatChangesets,
  diffRoutes,
  diffRules,
  diffSysctls,
  EMPTY_NETNS_STATE,
  HOST_NETNS,
  netnsPath as pathRef,
  routeTable,
  step,
  type Changeset,
  type NetnsRef,
  type NetnsState,
  type NetlinkOp,
  type NftCommand,
  type NftRule,
  type Route,
  type Rule,
} from "../changeset/index.js";
import { cidrAddress, cidrContains, cidrFamily, cidrNetwork, ipFamily, parseCidr, type Cidr, type Family, type Ip } from "../net/index.js";
import { EGRESS_RULE_PRIO, EGRESS_TABLE_NARROW, EGRESS_TABLE_WIDE, FOU_DUMMY_LINK, FOU_EXTERNAL_V4, FOU_EXTERNAL_V6, MAIN_TABLE, PROTOCOL_COILD } from "../constants.js";
import { validateNetnsPath, type PlanError } from "./errors.js";
import { fouInitOps, linkUpOps, tunnelSysctls, tunnelLinkName, tunnelLinkOps, tunnelLocal, tunnelVia, validateTunnel, type TunnelSpec } from "./tunnel.js";
import { originatingOnlyPlan } from "./originating-only.js";

const cidr = (s: string): Cidr => parseCidr(s).unwrapOr(s as Cidr);

/** Coil's default in-cluster networks (RFC 1918 and the IPv6 ULA range), used when none are given. */
export const DEFAULT_IN_CLUSTER_NETWORKS: readonly Cidr[] = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"].map(cidr);
const LINK_LOCAL: Readonly<Record<Family, Cidr>> = { 4: cidr("169.254.0.0/16"), 6: cidr("fe80::/10") };

function netnsOf(path: string | undefined): Result<NetnsRef, PlanError> {
  if (path === undefined) return ok(HOST_NETNS);
  return validateNetnsPath(path).map(pathRef);
}

/** Options of {@link planEgressClientInit}. */
export interface EgressClientInitOptions {
  /** The client pod's netns file; omitted = the namespace the changeset is applied in. */
  readonly netnsPath?: string;
  /** Families of the pod's addresses. */
  readonly families: readonly Family[];
  /** Destinations that stay on the cluster network; default {@link DEFAULT_IN_CLUSTER_NETWORKS}. */
  readonly inClusterNetworks?: readonly Cidr[];
  /** Observed pod netns (rules and routes). */
  readonly observed?: NetnsState;
}

/** The NAT client's policy rules of one family (Coil §6.4 table). */
export function egressClientRules(family: Family, inCluster: readonly Cidr[]): Rule[] {
  const nets = inCluster.filter((c) => cidrFamily(c) === family);
  return [
    { family, priority: EGRESS_RULE_PRIO.linkLocal, table: MAIN_TABLE, to: LINK_LOCAL[family] },
    { family, priority: EGRESS_RULE_PRIO.narrow, table: EGRESS_TABLE_NARROW },
    ...nets.map((to, i): Rule => ({ family, priority: EGRESS_RULE_PRIO.inClusterBase + i, table: MAIN_TABLE, to })),
    { family, priority: EGRESS_RULE_PRIO.wide, table: EGRESS_TABLE_WIDE },
  ];
}

/**
 * Plan the NAT client's policy routing in a client pod (Coil `NatClient.Init`, §6.4). End state (IPv4):
 * ```
 * ip rule add to 169.254.0.0/16 lookup main priority 1800
 * ip rule add lookup 117 priority 1900
 * ip rule add to 10.0.0.0/8 lookup main priority 2000
 * ip rule add to 172.16.0.0/12 lookup main priority 2001
 * ip rule add to 192.168.0.0/16 lookup main priority 2002
 * ip rule add lookup 118 priority 2100
 * ```
 * (IPv6: `fe80::/10` at 1800 and `fc00::/7` at 2000), tables 117 and 118 empty, and no other rule of
 * a configured family in [1800, 2100]. Why: table 117 ("narrow") holds NAT destinations inside
 * the private ranges and is consulted before those ranges are sent to main; table 118 ("wide")
 * holds the other destinations (e.g. `0.0.0.0/0`), consulted only after cluster traffic went to
 * main, so the pod keeps reaching the cluster directly. Like Coil's Init, routes in 117/118 are cleared.
 */
export function planEgressClientInit(opts: EgressClientInitOptions): Result<Changeset, PlanError> {
  return netnsOf(opts.netnsPath).map((ns) => {
    const observed = opts.observed ?? EMPTY_NETNS_STATE;
    const inCluster = opts.inClusterNetworks ?? DEFAULT_IN_CLUSTER_NETWORKS;
    const desired = opts.families.flatMap((f) => egressClientRules(f, inCluster));
    const owned = (r: Rule): boolean =>
      opts.families.includes(r.family) && r.priority >= EGRESS_RULE_PRIO.linkLocal && r.priority <= EGRESS_RULE_PRIO.wide;
    const isNat = (r: Route): boolean => routeTable(r) === EGRESS_TABLE_NARROW || routeTable(r) === EGRESS_TABLE_WIDE;
    const routeOps = diffRoutes([], observed.routes, isNat);
    return concatChangesets({ steps: [step(ns, [...diffRules(desired, observed.rules, owned), ...routeOps])] });
  });
}

/** Options of {@link planEgressClientSync}. */
export interface EgressClientSyncOptions {
  /** The client pod's netns file; omitted = the namespace the changeset is applied in. */
  readonly netnsPath?: string;
  /** The tunnel to the Egress Service's ClusterIP. */
  readonly tunnel: TunnelSpec;
  /** Egress destinations; those of another family than the peer are ignored (as Coil's SyncNat). */
  readonly destinations: readonly Cidr[];
  /** Destinations that stay on the cluster network; default {@link DEFAULT_IN_CLUSTER_NETWORKS}. Must equal what `planEgressClientInit` was given. */
  readonly inClusterNetworks?: readonly Cidr[];
  /** `--enable-originating-only`: route only pod-originated connections through the tunnel. */
  readonly originatingOnly?: boolean;
  /** Observed pod netns (links with ifindex, addresses, routes, rules, sysctls). */
  readonly observed?: NetnsState;
  /** Observed nftables rules of the pod netns (as listed by `nft -j list ruleset`). */
  readonly observedNft?: readonly NftRule[];
  /** Encap source port of the existing FoU link, if known (a change forces recreation). */
  readonly observedSport?: number;
  /** Route protocol (30). */
  readonly protocol?: number;
}

/** The NAT table of a destination: 117 when its address is inside an in-cluster network, else 118. */
export function natTableFor(dst: Cidr, inCluster: readonly Cidr[]): number {
  return inCluster.some((n) => cidrContains(n, cidrAddress(dst))) ? EGRESS_TABLE_NARROW : EGRESS_TABLE_WIDE;
}

/**
 * Plan one client tunnel and its NAT routes (Coil `fou.AddPeer` + `NatClient.SyncNat`, §6.3-6.4).
 * End state for peer `10.96.0.10` (the Egress Service ClusterIP), FoU port 5555, destinations
 * `0.0.0.0/0` and `10.1.2.0/24`:
 * ```
 * ip fou add port 5555 ipproto 4; ip link add fou-dummy type dummy
 * ip link add fou4_0a60000a type ipip remote 10.96.0.10 local <podIP> ttl 225 encap fou encap-sport 5555 encap-dport 5555
 * ip link add coil_ipip4 type ipip external; ip link set coil_ipip4 up
 * ip link set fou4_0a60000a up
 * ip route replace 0.0.0.0/0 dev fou4_0a60000a proto 30 table 118
 * ip route replace 10.1.2.0/24 dev fou4_0a60000a proto 30 table 117
 * ```
 * Why: packets to NAT destinations are encapsulated to the ClusterIP (kube-proxy picks an egress
 * pod); replies come from the egress pod's own address and are decapsulated by the flow-based
 * `coil_ipip4`. The link is brought up just before routes are added. Routes of tables 117/118
 * through this link that are not desired are deleted. With `originatingOnly`, see
 * {@link originatingOnlyPlan}; without it, leftovers of that mode are removed.
 * With a `vxlan` tunnel the same routes point at a `vx4_…`/`vx6_…` VXLAN device instead (IPv6
 * routes go `via fe80::1`, the gateway end's inner address, see {@link VXLAN_INNER_LL}).
 */
export function planEgressClientSync(opts: EgressClientSyncOptions): Result<Changeset, PlanError> {
  const checks: Result<unknown, PlanError>[] = [netnsOf(opts.netnsPath), validateTunnel(opts.tunnel), tunnelLocal(opts.tunnel)];
  for (const c of checks) if (c.isErr()) return err(c.error);
  const ns = netnsOf(opts.netnsPath).unwrapOr(HOST_NETNS);
  const observed = opts.observed ?? EMPTY_NETNS_STATE;
  const t = opts.tunnel;
  const family = ipFamily(t.peer);
  const link = tunnelLinkName(t);
  const init = t.kind === "fou" ? fouInitOps(localFamilies(t), t.port, observed) : diffSysctls(tunnelSysctls([family]), observed.sysctls);
  const linkOps = tunnelLinkOps(t, { observed, ...(opts.observedSport !== undefined ? { observedSport: opts.observedSport } : {}) });
  if (linkOps.isErr()) return err(linkOps.error);
  const routes = desiredNatRoutes(opts, family, link, tunnelVia(t));
  const owned = (r: Route): boolean => r.dev === link && (routeTable(r) === EGRESS_TABLE_NARROW || routeTable(r) === EGRESS_TABLE_WIDE);
  const recreated = linkOps.value.some((op) => op.kind === "link.add-tunnel" && op.name === link);
  // A link deleted and added again (FoU sport change) loses its routes with it: plan them as absent.
  const current = recreated ? observed.routes.filter((r) => r.dev !== link) : observed.routes;
  const routeOps = diffRoutes(routes, current, owned);
  const up = routes.length > 0 ? linkUpOps(link, observed, recreated) : [];
  const orig = originatingOnlyPlan({
    family,
    enabled: opts.originatingOnly === true && routes.length > 0,
    observed,
    observedNft: opts.observedNft ?? [],
  });
  if (orig.isErr()) return err(orig.error);
  const netlink = [...init, ...linkOps.value, ...up, ...routeOps, ...orig.value.netlink];
  return ok(concatChangesets({ steps: [step(ns, netlink, orig.value.nft)] }));
}

function localFamilies(t: TunnelSpec & { kind: "fou" }): Family[] {
  return [...(t.localIPv4 !== undefined ? [4 as const] : []), ...(t.localIPv6 !== undefined ? [6 as const] : [])];
}

function desiredNatRoutes(opts: EgressClientSyncOptions, family: Family, link: string, via: Ip | undefined): Route[] {
  const inCluster = opts.inClusterNetworks ?? DEFAULT_IN_CLUSTER_NETWORKS;
  const protocol = opts.protocol ?? PROTOCOL_COILD;
  return opts.destinations
    .filter((d) => cidrFamily(d) === family)
    .map((d): Route => ({ family, dst: cidrNetwork(d), dev: link, ...(via !== undefined ? { via } : {}), scope: "universe", protocol, table: natTableFor(d, inCluster) }));
}

/** Options of {@link planEgressClientTeardown}. */
export interface EgressClientTeardownOptions {
  /** The client pod's netns file; omitted = the namespace the changeset is applied in. */
  readonly netnsPath?: string;
  /** Observed pod netns (links, routes, rules). */
  readonly observed: NetnsState;
  /** Observed nftables rules of the pod netns (originating-only mode's `mangle` tables). */
  readonly observedNft?: readonly NftRule[];
  /** The FoU receive port (`--egress-port`), removed for `fouFamilies` when the FoU marker link is there. */
  readonly fouPort: number;
  /** The families whose FoU receive port the set-up opened (the pod's address families). */
  readonly fouFamilies: readonly Family[];
}

/** Coil's client tunnel links: `fou4_<hex>`, `fou6_<hex>`, and this project's VXLAN `vx4_<hex>`, `vx6_<hex>`. */
const CLIENT_TUNNEL_LINK = /^(fou|vx)[46]_[0-9a-f]+$/;

/**
 * Plan the removal of everything the NAT client set-up ({@link planEgressClientInit},
 * {@link planEgressClientSync}) put into a client pod, leaving the rest of the namespace alone
 * (egress-only mode: the pod network belongs to the plugin that ran first). Removed: originating-only
 * mode's fwmark rules, their tables and `mangle` tables; the rules at priorities 1800-2100; the
 * routes of tables 117/118; the client tunnel links and the flow-based `coil_ipip4`/`coil_ipip6`;
 * with the `fou-dummy` marker, the FoU receive ports and the marker. Left: sysctls the tunnels
 * needed, and the kernel's fallback tunnel devices renamed `coil_tunl`/`coil_ip6tnl` (the kernel
 * cannot delete those). Nothing observed → an empty changeset.
 */
export function planEgressClientTeardown(o: EgressClientTeardownOptions): Result<Changeset, PlanError> {
  const ns = netnsOf(o.netnsPath);
  if (ns.isErr()) return err(ns.error);
  const observed = o.observed;
  const netlink: NetlinkOp[] = [];
  const nft: NftCommand[] = [];
  for (const family of [4, 6] as const) {
    const orig = originatingOnlyPlan({ family, enabled: false, observed, observedNft: o.observedNft ?? [] });
    if (orig.isErr()) return err(orig.error);
    netlink.push(...orig.value.netlink);
    nft.push(...orig.value.nft);
  }
  netlink.push(...diffRules([], observed.rules, (r) => r.priority >= EGRESS_RULE_PRIO.linkLocal && r.priority <= EGRESS_RULE_PRIO.wide));
  netlink.push(...diffRoutes([], observed.routes, (r) => routeTable(r) === EGRESS_TABLE_NARROW || routeTable(r) === EGRESS_TABLE_WIDE));
  for (const l of observed.links) {
    if (CLIENT_TUNNEL_LINK.test(l.name) || l.name === FOU_EXTERNAL_V4 || l.name === FOU_EXTERNAL_V6) netlink.push({ kind: "link.del", name: l.name });
  }
  if (observed.links.some((l) => l.name === FOU_DUMMY_LINK)) {
    for (const family of o.fouFamilies) netlink.push({ kind: "fou.del", family, port: o.fouPort });
    netlink.push({ kind: "link.del", name: FOU_DUMMY_LINK });
  }
  return ok(concatChangesets({ steps: [step(ns.value, netlink, nft)] }));
}
