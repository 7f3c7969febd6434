import { err, ok, type Result } from "neverthrow";
import {
  concatChangesets,
  diffNftRules,
  diffRoutes,
  diffRules,
  diffSysctls,
  EMPTY_NETNS_STATE,
  HOST_NETNS,
  netnsPath as pathRef,
  routeTable,
  step,
  type Changeset,
  type NetlinkOp,
  type NetnsState,
  type NftCommand,
  type NftFamily,
  type NftRule,
  type Route,
  type Rule,
} from "../changeset/index.js";
import { hostCidr, ipFamily, type Family, type Ip } from "../net/index.js";
import { EGRESS_GATEWAY_RULE_PRIO, EGRESS_TABLE_WIDE, PROTOCOL_COILD } from "../constants.js";
import { validateInt, validateNetnsPath, type PlanError } from "./errors.js";
import { sysctlIfName, validateLinkNames, vxlanVniFor } from "./names.js";
import { fouInitOps, linkUpOps, tunnelSysctls, tunnelLinkName, tunnelLinkOps, tunnelLocal, tunnelVia, type TunnelSpec } from "./tunnel.js";

/** nftables priority `srcnat`. */
export const NFT_PRIO_SRCNAT = 100;
/** nftables priority `filter`. */
export const NFT_PRIO_FILTER = 0;

/** How an egress gateway reaches its clients: the per-client tunnels' kind and port. */
export type EgressGatewayTunnel =
  | {
      /** Coil's FoU tunnels (IPIP/ip6tnl in UDP). */
      readonly kind: "fou";
      /** FoU UDP port (`--fou-port`, default 5555). */
      readonly port: number;
      /** Kernel-chosen UDP source port (`--enable-sport-auto`). */
      readonly sportAuto: boolean;
    }
  | {
      /** Point-to-point VXLAN devices, one per client. */
      readonly kind: "vxlan";
      /** VXLAN UDP destination port. */
      readonly port: number;
      /** VNI for every client; omitted derives one per client with {@link vxlanVniFor}. */
      readonly vni?: number;
    };

/** The NAT server ruleset of one family, split into what must exist first and the identified rules. */
export interface EgressNatNft {
  /** Commands ensuring the `nat` table with its `POSTROUTING` base chain and the `filter` table with its `FORWARD` chain. */
  prelude: NftCommand[];
  /** The masquerade rule (`coil-masquerade-<iface>`) and the invalid-conntrack drop rule (`coil-drop-invalid-<iface>`). */
  rules: NftRule[];
}

/** Options of {@link planEgressGateway}. */
export interface EgressGatewayOptions {
  /** The egress pod's netns file; omitted = the namespace the changeset is applied in. */
  readonly netnsPath?: string;
  /** The uplink interface (`eth0`). */
  readonly iface?: string;
  /** The egress pod's own IPv4 address: the tunnel's local end, excluded from masquerade. Omitted disables IPv4. */
  readonly podIPv4?: Ip;
  /** The egress pod's own IPv6 address. Omitted disables IPv6. */
  readonly podIPv6?: Ip;
  /** Tunnel kind and port (`--fou-port`, 5555); `vni` for VXLAN defaults to {@link vxlanVniFor}(client). */
  readonly tunnel: EgressGatewayTunnel;
  /** Client pod addresses; those of a family the gateway lacks are skipped (Coil `ErrIPFamilyMismatch`). */
  readonly clients: readonly Ip[];
  /** Observed egress pod namespace; when given only the difference is planned. */
  readonly observed?: NetnsState;
  /** Observed nftables rules of the egress pod (as listed by `nft -j list ruleset`). */
  readonly observedNft?: readonly NftRule[];
}

const nftFamilyOf = (family: Family): NftFamily => (family === 4 ? "ip" : "ip6");

/** The NAT server's nftables ruleset of one family (Coil's nftables backend), with identifying comments. */
export function egressNatNft(family: Family, podIP: Ip, iface: string): EgressNatNft {
  const f = nftFamilyOf(family);
  const oif = { match: { op: "==", left: { meta: { key: "oifname" } }, right: iface } } as const;
  const masq: NftRule = {
    family: f,
    table: "nat",
    chain: "POSTROUTING",
    expr: [{ match: { op: "!=", left: { payload: { protocol: f, field: "saddr" } }, right: podIP } }, oif, { counter: null }, { masquerade: null }],
    comment: `coil-masquerade-${iface}`,
  };
  const drop: NftRule = {
    family: f,
    table: "filter",
    chain: "FORWARD",
    expr: [oif, { match: { op: "in", left: { ct: { key: "state" } }, right: ["invalid"] } }, { counter: null }, { drop: null }],
    comment: `coil-drop-invalid-${iface}`,
  };
  const prelude: NftCommand[] = [
    { add: { table: { family: f, name: "nat" } } },
    { add: { chain: { family: f, table: "nat", name: "POSTROUTING", type: "nat", hook: "postrouting", prio: NFT_PRIO_SRCNAT, policy: "accept" } } },
    { add: { table: { family: f, name: "filter" } } },
    { add: { chain: { family: f, table: "filter", name: "FORWARD", type: "filter", hook: "forward", prio: NFT_PRIO_FILTER, policy: "accept" } } },
  ];
  return { prelude, rules: [masq, drop] };
}

function podIPs(o: EgressGatewayOptions): Map<Family, Ip> {
  const m = new Map<Family, Ip>();
  if (o.podIPv4 !== undefined && ipFamily(o.podIPv4) === 4) m.set(4, o.podIPv4);
  if (o.podIPv6 !== undefined && ipFamily(o.podIPv6) === 6) m.set(6, o.podIPv6);
  return m;
}

function validate(o: EgressGatewayOptions): Result<string, PlanError> {
  const iface = o.iface ?? "eth0";
  const checks: Result<unknown, PlanError>[] = [
    validateLinkNames({ iface }),
    validateInt("port", o.tunnel.port, 1, 65535),
    o.netnsPath === undefined ? ok(undefined) : validateNetnsPath(o.netnsPath),
    o.tunnel.kind === "vxlan" && o.tunnel.vni !== undefined ? validateInt("vni", o.tunnel.vni, 1, 0xffffff) : ok(undefined),
  ];
  for (const c of checks) if (c.isErr()) return err(c.error);
  if (podIPs(o).size === 0) return err({ kind: "missing-address", message: "egress pod has neither IPv4 nor IPv6 address" });
  return ok(iface);
}

function clientTunnel(o: EgressGatewayOptions, client: Ip, ips: Map<Family, Ip>): TunnelSpec {
  const t = o.tunnel;
  if (t.kind === "fou") {
    const v4 = ips.get(4);
    const v6 = ips.get(6);
    return { kind: "fou", port: t.port, sportAuto: t.sportAuto, peer: client, ...(v4 !== undefined ? { localIPv4: v4 } : {}), ...(v6 !== undefined ? { localIPv6: v6 } : {}) };
  }
  const local = ips.get(ipFamily(client)) ?? client;
  return { kind: "vxlan", port: t.port, vni: t.vni ?? vxlanVniFor(client), peer: client, local, end: "gateway" };
}

/** Netlink ops of one client: tunnel link, link up, and the table-118 return route. */
function clientOps(o: EgressGatewayOptions, client: Ip, ips: Map<Family, Ip>, observed: NetnsState): { ops: NetlinkOp[]; route: Route; sysctls: (readonly [string, string])[] } {
  const t = clientTunnel(o, client, ips);
  const link = tunnelLinkName(t);
  const linkOps = tunnelLinkOps(t, { observed }).unwrapOr([]);
  const recreated = linkOps.some((op) => (op.kind === "link.add-tunnel" || op.kind === "link.add-vxlan") && op.name === link);
  const family = ipFamily(client);
  const via = tunnelVia(t);
  const route: Route = { family, dst: hostCidr(client), dev: link, ...(via !== undefined ? { via } : {}), scope: "universe", protocol: PROTOCOL_COILD, table: EGRESS_TABLE_WIDE };
  const sysctls = t.kind === "vxlan" && family === 4 ? [[`net.ipv4.conf.${sysctlIfName(link)}.proxy_arp`, "1"] as const] : [];
  return { ops: [...linkOps, ...linkUpOps(link, observed, recreated)], route, sysctls };
}

const TUNNEL_LINK_RE = /^(fou[46]|vx[46])_[0-9a-f]{8}$/;

/**
 * Plan the egress gateway inside an Egress router pod (coil-egress, §6.6). End state, IPv4 pod
 * `10.2.0.9`, client `10.2.0.5`, FoU port 5555:
 * ```
 * nft add table ip nat
 * nft add chain ip nat POSTROUTING { type nat hook postrouting priority srcnat; policy accept; }
 * nft add rule ip nat POSTROUTING ip saddr != 10.2.0.9 oifname "eth0" counter masquerade
 * nft add table ip filter
 * nft add chain ip filter FORWARD { type filter hook forward priority filter; policy accept; }
 * nft add rule ip filter FORWARD oifname "eth0" ct state invalid counter drop
 * ip rule add iif eth0 lookup 118 priority 2000
 * ip fou add port 5555 ipproto 4
 * ip link add fou4_0a020005 type ipip remote 10.2.0.5 local 10.2.0.9 ttl 225 encap fou …; ip link set fou4_0a020005 up
 * ip route replace 10.2.0.5/32 dev fou4_0a020005 proto 30 table 118
 * ```
 * (`ip6` tables and `ip -6` rule for IPv6). Why: decapsulated client packets are forwarded to eth0
 * and masqueraded to the pod's address (its own traffic is exempt); invalid conntrack state is
 * dropped so no un-NATed packet leaks; replies arriving on eth0 are de-NATed and routed by table
 * 118 into the tunnel of the client they belong to. Rules carry comments (`coil-masquerade-eth0`,
 * `coil-drop-invalid-eth0`) so an observed ruleset can be diffed; Coil's rules have none.
 * Tunnel links of clients no longer listed are deleted (their routes go with them).
 * VXLAN variant: one `vx4_…` device per client (VNI per client, see {@link vxlanVniFor}) and
 * `proxy_arp=1` on it, so the client's ARP for any destination across the tunnel is answered.
 */
export function planEgressGateway(opts: EgressGatewayOptions): Result<Changeset, PlanError> {
  return validate(opts).map((iface) => {
    const observed = opts.observed ?? EMPTY_NETNS_STATE;
    const ips = podIPs(opts);
    const families = [...ips.keys()];
    const nft: NftCommand[] = [];
    const rules: Rule[] = [];
    for (const [family, ip] of ips) {
      const { prelude, rules: nftRules } = egressNatNft(family, ip, iface);
      nft.push(...diffNftRules(prelude, nftRules, opts.observedNft ?? []));
      rules.push({ family, priority: EGRESS_GATEWAY_RULE_PRIO, table: EGRESS_TABLE_WIDE, iif: iface });
    }
    const netlink: NetlinkOp[] = [...diffRules(rules, observed.rules, () => false)];
    if (opts.tunnel.kind === "fou") netlink.push(...fouInitOps(families, opts.tunnel.port, observed));
    else netlink.push(...diffSysctls(tunnelSysctls(families), observed.sysctls));
    const clients = opts.clients.filter((c) => ips.has(ipFamily(c)) && tunnelLocal(clientTunnel(opts, c, ips)).isOk());
    const per = clients.map((c) => clientOps(opts, c, ips, observed));
    const keep = new Set(per.map((p) => p.route.dev));
    const stale = observed.links.filter((l) => TUNNEL_LINK_RE.test(l.name) && !keep.has(l.name));
    netlink.push(...stale.map((l): NetlinkOp => ({ kind: "link.del", name: l.name })));
    for (const p of per) netlink.push(...p.ops);
    netlink.push(...diffSysctls(per.flatMap((p) => p.sysctls), observed.sysctls));
    const owned = (r: Route): boolean => routeTable(r) === EGRESS_TABLE_WIDE && keep.has(r.dev ?? "");
    netlink.push(...diffRoutes(per.map((p) => p.route), observed.routes, owned));
    const ns = opts.netnsPath === undefined ? HOST_NETNS : pathRef(opts.netnsPath);
    return concatChangesets({ steps: [step(ns, netlink, nft)] });
  });
}
