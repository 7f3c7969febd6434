import { err, ok, type Result } from "neverthrow";
import { diffSysctls, routeTable, type LinkState, type NetlinkOp, type NetnsState } from "../changeset/index.js";
import { ipFamily, type Cidr, type Family, type Ip } from "../net/index.js";
import { FOU_DUMMY_LINK, FOU_EXTERNAL_V4, FOU_EXTERNAL_V6, FOU_TTL, MAIN_TABLE } from "../constants.js";
import { validateInt, type PlanError } from "./errors.js";
import { fouLinkName, vxlanGatewayMac, vxlanLinkName } from "./names.js";
import { forwardingSysctl } from "./host-init.js";

/**
 * A tunnel to one peer. `fou`: Coil's IPIP/ip6tnl-in-UDP tunnel (§6.3). `vxlan`: the runnable
 * equivalent on kernels without the fou/ipip/ip6tnl modules: a point-to-point VXLAN device to the
 * peer (`vx4_<hex>` / `vx6_<hex>`, named like `fou4_`/`fou6_`).
 */
export type TunnelSpec = FouTunnelSpec | VxlanTunnelSpec;

/** Coil's FoU tunnel to one peer (`fou4_<hex>`/`fou6_<hex>`, IPIP or ip6tnl in UDP). */
export interface FouTunnelSpec {
  /** Discriminant: `fou`. */
  readonly kind: "fou";
  /** UDP port of the FoU receive socket on both ends (Coil's `--fou-port`, default 5555). */
  readonly port: number;
  /** Let the kernel choose the UDP source port from the flow hash (Coil's `--enable-sport-auto`); otherwise the source port is `port`. */
  readonly sportAuto: boolean;
  /** The remote end: the egress Service's ClusterIP (client side) or a client pod (gateway side). */
  readonly peer: Ip;
  /** Local IPv4 address for an IPv4 peer (the pod's own address). */
  readonly localIPv4?: Ip;
  /** Local IPv6 address for an IPv6 peer. */
  readonly localIPv6?: Ip;
}

/** A point-to-point VXLAN tunnel to one peer (`vx4_<hex>`/`vx6_<hex>`), for kernels without FoU. */
export interface VxlanTunnelSpec {
  /** Discriminant: `vxlan`. */
  readonly kind: "vxlan";
  /** VXLAN network identifier, 1-16777215; both ends derive it with {@link vxlanVniFor}(client). */
  readonly vni: number;
  /** UDP destination port of the encapsulation. */
  readonly port: number;
  /** The remote end's address. */
  readonly peer: Ip;
  /** The local address, of the peer's family. */
  readonly local: Ip;
  /**
   * Which end this is: `client` (a client pod's device towards the Egress Service, the default) or
   * `gateway` (an egress pod's device towards one client). The gateway end gets the MAC address
   * {@link vxlanGatewayMac}(client), the same in every egress pod of the Service, so a client's
   * neighbour entry stays valid when kube-proxy sends its flows to another egress pod.
   */
  readonly end?: "client" | "gateway";
}

/**
 * The inner IPv6 link-local addresses of a VXLAN tunnel's ends. VXLAN carries Ethernet frames, so
 * the inner packets need neighbour resolution, and IPv6 neither proxies NDP for whole prefixes nor
 * answers for an address held by another link: each end holds a fixed link-local address and
 * routes through the tunnel go `via` the other end's (IPv4 needs none: the gateway end answers
 * ARP by `proxy_arp`, the client answers for its own address on any link).
 */
export const VXLAN_INNER_LL: Readonly<Record<"client" | "gateway", Ip>> = { client: "fe80::2" as Ip, gateway: "fe80::1" as Ip };

/** The `via` of routes through a tunnel: the far end's inner link-local address for an IPv6 VXLAN tunnel, else none. */
export function tunnelVia(t: TunnelSpec): Ip | undefined {
  if (t.kind !== "vxlan" || ipFamily(t.peer) !== 6) return undefined;
  return VXLAN_INNER_LL[(t.end ?? "client") === "client" ? "gateway" : "client"];
}

/** The local address a tunnel uses for the peer's family, or a `family-mismatch` error (callers skip the peer). */
export function tunnelLocal(t: TunnelSpec): Result<Ip, PlanError> {
  const family = ipFamily(t.peer);
  const local = t.kind === "vxlan" ? t.local : family === 4 ? t.localIPv4 : t.localIPv6;
  if (local !== undefined && ipFamily(local) === family) return ok(local);
  return err({ kind: "family-mismatch", field: "peer", message: `no local IPv${family} address for peer ${t.peer}` });
}

/** The link name of a tunnel: `fou4_…`/`fou6_…` or `vx4_…`/`vx6_…`. */
export function tunnelLinkName(t: TunnelSpec): string {
  return t.kind === "fou" ? fouLinkName(t.peer) : vxlanLinkName(t.peer);
}

/** Validate ports and VNI of a tunnel. */
export function validateTunnel(t: TunnelSpec): Result<void, PlanError> {
  const port = validateInt("port", t.port, 1, 65535);
  if (port.isErr()) return err(port.error);
  if (t.kind === "vxlan") return validateInt("vni", t.vni, 1, 0xffffff).map(() => undefined);
  return ok(undefined);
}

/** Sysctls of a tunnel endpoint: forwarding per family, and rp_filter off for IPv4 (replies arrive on another link). */
export function tunnelSysctls(families: readonly Family[]): (readonly [string, string])[] {
  const out: (readonly [string, string])[] = [];
  if (families.includes(4)) {
    out.push(["net.ipv4.conf.default.rp_filter", "0"], ["net.ipv4.conf.all.rp_filter", "0"], [forwardingSysctl(4), "1"]);
  }
  if (families.includes(6)) out.push([forwardingSysctl(6), "1"]);
  return out;
}

/**
 * FoU initialisation (Coil `fou.Init`): sysctls, one FoU receive port per local family
 * (`ip fou add port P ipproto 4`, `ip -6 fou add port P ipproto 41`) and the `fou-dummy` marker
 * link. As in Coil, the marker's presence in `observed` means the listeners exist (the FoU port
 * list is not part of {@link NetnsState}), so they are planned only without it.
 */
export function fouInitOps(families: readonly Family[], port: number, observed: NetnsState): NetlinkOp[] {
  const ops = diffSysctls(tunnelSysctls(families), observed.sysctls);
  if (observed.links.some((l) => l.name === FOU_DUMMY_LINK)) return ops;
  for (const family of families) ops.push({ kind: "fou.add", family, port, ipproto: family === 4 ? 4 : 41 });
  ops.push({ kind: "link.add-dummy", name: FOU_DUMMY_LINK });
  return ops;
}

function findLink(observed: NetnsState, name: string): LinkState | undefined {
  return observed.links.find((l) => l.name === name);
}

/** A link renamed from one name to another. */
export interface LinkRename {
  /** The kernel's name. */
  readonly from: string;
  /** Coil's name. */
  readonly to: string;
}

/**
 * The kernel's fallback tunnel device of a family and the name Coil gives it: loading `ipip` /
 * `ip6_tunnel` creates `tunl0` / `ip6tnl0` in every namespace (unless
 * `net.core.fb_tunnels_only_for_init_net` says otherwise); Coil renames them `coil_tunl` /
 * `coil_ip6tnl` to show that it owns the namespace's decapsulation (they stay down, unused).
 */
export const FOU_FALLBACK_RENAME: Readonly<Record<Family, LinkRename>> = {
  4: { from: "tunl0", to: "coil_tunl" },
  6: { from: "ip6tnl0", to: "coil_ip6tnl" },
};

/**
 * The flow-based catch-all device of a family (`coil_ipip4`/`coil_ipip6`), created and set up when
 * missing or down, and the fallback device renamed ({@link FOU_FALLBACK_RENAME}) when observed (a
 * fallback device that appears only when this changeset loads the module is renamed at the next sync).
 */
function externalOps(family: Family, observed: NetnsState): NetlinkOp[] {
  const name = family === 4 ? FOU_EXTERNAL_V4 : FOU_EXTERNAL_V6;
  const cur = findLink(observed, name);
  const add: NetlinkOp[] = cur === undefined ? [{ kind: "link.add-tunnel", name, mode: family === 4 ? "ipip" : "ip6tnl", external: true }] : [];
  const fb = FOU_FALLBACK_RENAME[family];
  const fallback = findLink(observed, fb.from);
  const rename: NetlinkOp[] = fallback !== undefined && !fallback.up && findLink(observed, fb.to) === undefined ? [{ kind: "link.set", name: fb.from, newName: fb.to }] : [];
  return [...(cur?.up === true ? add : [...add, { kind: "link.set", name, up: true } as const]), ...rename];
}

/** Options of {@link tunnelLinkOps}. */
export interface TunnelLinkOptions {
  /** The observed namespace the tunnel link lives in; an existing link of the same name is reused. */
  readonly observed: NetnsState;
  /** The encap source port of the existing link, when the observer knows it; a different one forces recreation. */
  readonly observedSport?: number;
}

/**
 * Ops creating the tunnel link to the peer (not brought up: callers set it up right before adding
 * routes through it, as Coil does since #287). FoU: `ip link add fou4_0a010101 type ipip remote
 * <peer> local <local> ttl 225 encap fou encap-sport <port|auto> encap-dport <port>`, plus the
 * flow-based catch-all that decapsulates replies coming from another address than the peer.
 * VXLAN: `ip link add vx4_0a010101 [address <mac>] type vxlan id <vni> remote <peer> local <local> dstport <port> nolearning`,
 * and for an IPv6 peer the end's inner link-local address ({@link VXLAN_INNER_LL}).
 * An existing link is reused; a FoU link whose encap sport differs is deleted and recreated
 * (the kernel cannot modify it).
 */
export function tunnelLinkOps(t: TunnelSpec, opts: TunnelLinkOptions): Result<NetlinkOp[], PlanError> {
  return tunnelLocal(t).map((local) => {
    const name = tunnelLinkName(t);
    const cur = findLink(opts.observed, name);
    if (t.kind === "vxlan") return vxlanLinkOps(t, name, local, opts.observed);
    const sport = t.sportAuto ? 0 : t.port;
    const family = ipFamily(t.peer);
    const stale = cur !== undefined && opts.observedSport !== undefined && opts.observedSport !== sport;
    const ops: NetlinkOp[] = stale ? [{ kind: "link.del", name }] : [];
    if (cur === undefined || stale) {
      const mode = family === 4 ? "ipip" : "ip6tnl";
      ops.push({ kind: "link.add-tunnel", name, mode, local, remote: t.peer, ttl: FOU_TTL, encap: { sport, dport: t.port } });
    }
    return [...ops, ...externalOps(family, opts.observed)];
  });
}

/** Bytes VXLAN adds over an IPv4 (outer IP 20 + UDP 8 + VXLAN 8 + inner Ethernet 14) or IPv6 (40 + 30) underlay. */
export const VXLAN_OVERHEAD: Readonly<Record<Family, number>> = { 4: 50, 6: 70 };

/** The MTU of the link the main table's default route of `family` goes out of (the tunnel's underlay), if observed. */
export function underlayMtu(observed: NetnsState, family: Family): number | undefined {
  const dflt = family === 4 ? "0.0.0.0/0" : "::/0";
  const r = observed.routes.find((x) => x.family === family && x.dst === dflt && routeTable(x) === MAIN_TABLE && x.dev !== undefined);
  return r === undefined ? undefined : findLink(observed, r.dev ?? "")?.mtu;
}

/**
 * A new VXLAN device: no learning; the MTU of the underlay minus {@link VXLAN_OVERHEAD} (a device
 * without `dev` gets 1500 from the kernel, so every full-size packet would be fragmented outside);
 * zero outer UDP checksums: kube-proxy DNATs the outer packets to an egress pod, and the kernel
 * then gets the outer checksum of offloaded inner TCP wrong (the egress pod counted
 * `UdpInCsumErrors` and dropped them while ICMP passed).
 */
function vxlanLinkOps(t: VxlanTunnelSpec, name: string, local: Ip, observed: NetnsState): NetlinkOp[] {
  const end = t.end ?? "client";
  const ops: NetlinkOp[] = [];
  if (findLink(observed, name) === undefined) {
    const address = end === "gateway" ? { address: vxlanGatewayMac(t.peer) } : {};
    const family = ipFamily(t.peer);
    const under = underlayMtu(observed, family);
    const mtu = under === undefined || under - VXLAN_OVERHEAD[family] < 1280 ? {} : { mtu: under - VXLAN_OVERHEAD[family] };
    ops.push({ kind: "link.add-vxlan", name, vni: t.vni, dstport: t.port, local, remote: t.peer, learning: false, udpChecksum: false, ...mtu, ...address });
  }
  if (ipFamily(t.peer) === 6) {
    const cidr = `${VXLAN_INNER_LL[end]}/64` as Cidr;
    if (!observed.addrs.some((a) => a.dev === name && a.cidr === cidr)) ops.push({ kind: "addr.add", dev: name, cidr, nodad: true });
  }
  return ops;
}

/** `link.set up` for a link that is not observed up (fresh links are down). */
export function linkUpOps(name: string, observed: NetnsState, recreated: boolean): NetlinkOp[] {
  const cur = findLink(observed, name);
  return !recreated && cur?.up === true ? [] : [{ kind: "link.set", name, up: true }];
}
