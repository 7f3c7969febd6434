import { err, ok, type Result } from "neverthrow";
import {
  concatChangesets,
  diffRoutes,
  diffSysctls,
  EMPTY_NETNS_STATE,
  HOST_NETNS,
  netnsPath as pathRef,
  step,
  type AddrState,
  type Changeset,
  type LinkState,
  type NetlinkOp,
  type NetnsState,
  type Route,
} from "../changeset/index.js";
import { cidrAddress, cidrContains, hostCidr, ipFamily, parseCidr, parseIp, type Cidr, type Ip } from "../net/index.js";
import { MAIN_TABLE, POD_TABLE_ID, PROTOCOL_COILD } from "../constants.js";
import { MAX_U32, validateInt, validateNetnsPath, type PlanError } from "./errors.js";
import { formatLinkAlias, isHostVethName, parseLinkAlias, sysctlIfName, validateLinkNames } from "./names.js";

/** The deterministic link-local gateway planned on every host veth (see {@link planPodSetup}). */
export const POD_GATEWAY_V6 = parseIp("fe80::1").unwrapOr("fe80::1" as Ip);
const GATEWAY_V6_CIDR = parseCidr("fe80::1/64").unwrapOr("fe80::1/64" as Cidr);
const LINK_LOCAL_V6 = parseCidr("fe80::/10").unwrapOr("fe80::/10" as Cidr);

/**
 * The pod's IPv6 gateway: ours (`fe80::1`, an address we add to the host veth) or Coil v2's (the
 * host veth's kernel-generated link-local address, already there).
 */
type GatewayV6 = { readonly kind: "fixed" } | { readonly kind: "kernel-link-local"; readonly via: Ip };

/**
 * Coil v2's own IPv6 gateway layout, when the observed pod has it: the pod's main-table default
 * route `::/0 via <G> dev <ifname>` where `<G>` is a link-local address (fe80::/10) that the host
 * veth itself carries (the kernel generated it when the link came up; Coil's `SetupIPAM` reads it
 * back and routes through it). Undefined when the pod routes through `fe80::1` (our layout), has
 * no such route, or routes through anything else: then our fixed layout is planned, so a wrong
 * gateway is still reported and repaired.
 */
function observedCoilGatewayV6(o: PodSetupOptions, host: NetnsState, pod: NetnsState): Ip | undefined {
  const defaults = pod.routes.filter(
    (r) => r.family === 6 && r.dst === "::/0" && r.dev === o.ifname && (r.table ?? MAIN_TABLE) === MAIN_TABLE && r.via !== undefined,
  );
  if (defaults.some((r) => r.via === POD_GATEWAY_V6)) return undefined;
  const onHostVeth = new Set(host.addrs.filter((a) => a.dev === o.hostVeth).map((a) => cidrAddress(a.cidr)));
  return defaults.map((r) => r.via).find((via): via is Ip => via !== undefined && cidrContains(LINK_LOCAL_V6, via) && onHostVeth.has(via));
}

/** Observed kernel state of the host and the pod namespace, for diff planning. */
export interface ObservedPodNetns {
  /** State of the host namespace (host veth, table-116 routes, sysctls). */
  readonly host: NetnsState;
  /** State of the pod namespace (container interface, addresses, routes). */
  readonly pod: NetnsState;
}

/** Options of {@link planPodSetup}. */
export interface PodSetupOptions {
  /** The pod's network namespace file (CNI_NETNS). */
  readonly netnsPath: string;
  /** Container-side interface name (CNI_IFNAME, usually `eth0`). */
  readonly ifname: string;
  /** Host-side veth name, from {@link hostVethName}. */
  readonly hostVeth: string;
  /** AddressPool name the addresses came from; written into the host veth alias `COIL:<pool>:<containerId>:<ifname>`. */
  readonly pool: string;
  /** CNI_CONTAINERID; written into the host veth alias so DEL and garbage collection find the link. */
  readonly containerId: string;
  /** The pod's IPv4 address (assigned as a /32), for IPv4 or dual-stack pools. */
  readonly ipv4?: Ip;
  /** The pod's IPv6 address (assigned as a /128), for IPv6 or dual-stack pools. */
  readonly ipv6?: Ip;
  /** The node's InternalIPv4, required with `ipv4`. */
  readonly hostIPv4?: Ip;
  /** The node's InternalIPv6, required with `ipv6`. */
  readonly hostIPv6?: Ip;
  /** MTU of the veth pair in bytes; omitted means the kernel default (1500). coild passes the detected MTU (`--mtu`/`DetectMTU`). */
  readonly mtu?: number;
  /** Routing table of per-pod host routes (`--pod-table-id`, default 116). */
  readonly podTable?: number;
  /** Route protocol of the host routes (`--protocol-id`, default 30). */
  readonly protocol?: number;
  /** When given, plan only the difference from this state (empty when it already matches). */
  readonly observed?: ObservedPodNetns;
}

interface PodDesired {
  readonly alias: string;
  readonly hostSysctls: readonly (readonly [string, string])[];
  readonly hostAddrs: readonly (AddrState & { readonly nodad: boolean })[];
  readonly hostRoutes: readonly Route[];
  readonly podAddrs: readonly (AddrState & { readonly nodad: boolean })[];
  readonly podRoutes: readonly Route[];
}

function checkFamily(field: string, ip: Ip | undefined, family: 4 | 6): Result<void, PlanError> {
  if (ip === undefined || ipFamily(ip) === family) return ok(undefined);
  return err({ kind: "family-mismatch", field, message: `${field} must be an IPv${family} address, got ${ip}` });
}

function validate(o: PodSetupOptions): Result<string, PlanError> {
  const checks: Result<unknown, PlanError>[] = [
    validateNetnsPath(o.netnsPath),
    validateLinkNames({ ifname: o.ifname, hostVeth: o.hostVeth }),
    checkFamily("ipv4", o.ipv4, 4),
    checkFamily("ipv6", o.ipv6, 6),
    checkFamily("hostIPv4", o.hostIPv4, 4),
    checkFamily("hostIPv6", o.hostIPv6, 6),
    validateInt("mtu", o.mtu ?? 1500, 68, 65535),
    validateInt("podTable", o.podTable ?? POD_TABLE_ID, 1, MAX_U32),
    validateInt("protocol", o.protocol ?? PROTOCOL_COILD, 0, 255),
  ];
  for (const c of checks) if (c.isErr()) return err(c.error);
  if (o.ipv4 === undefined && o.ipv6 === undefined) return err({ kind: "missing-address", message: "pod has neither IPv4 nor IPv6" });
  if (o.ipv4 !== undefined && o.hostIPv4 === undefined) return err({ kind: "missing-host-address", family: 4, message: "IPv4 pod needs hostIPv4" });
  if (o.ipv6 !== undefined && o.hostIPv6 === undefined) return err({ kind: "missing-host-address", family: 6, message: "IPv6 pod needs hostIPv6" });
  return formatLinkAlias({ pool: o.pool, containerId: o.containerId, ifname: o.ifname });
}

function desiredOf(o: PodSetupOptions, alias: string, gw6: GatewayV6): PodDesired {
  const table = o.podTable ?? POD_TABLE_ID;
  const protocol = o.protocol ?? PROTOCOL_COILD;
  const hostAddrs: (AddrState & { nodad: boolean })[] = [];
  const hostRoutes: Route[] = [];
  const podAddrs: (AddrState & { nodad: boolean })[] = [];
  const podRoutes: Route[] = [];
  const { ifname, hostVeth } = o;
  if (o.ipv4 !== undefined && o.hostIPv4 !== undefined) {
    hostAddrs.push({ dev: hostVeth, cidr: hostCidr(o.hostIPv4), nodad: false });
    hostRoutes.push({ family: 4, dst: hostCidr(o.ipv4), dev: hostVeth, scope: "link", protocol, table });
    podAddrs.push({ dev: ifname, cidr: hostCidr(o.ipv4), nodad: false });
    podRoutes.push({ family: 4, dst: hostCidr(o.hostIPv4), dev: ifname, scope: "link" });
    podRoutes.push({ family: 4, dst: "0.0.0.0/0" as Cidr, via: o.hostIPv4, dev: ifname });
  }
  if (o.ipv6 !== undefined && o.hostIPv6 !== undefined) {
    hostAddrs.push({ dev: hostVeth, cidr: hostCidr(o.hostIPv6), nodad: true });
    if (gw6.kind === "fixed") hostAddrs.push({ dev: hostVeth, cidr: GATEWAY_V6_CIDR, nodad: true });
    hostRoutes.push({ family: 6, dst: hostCidr(o.ipv6), dev: hostVeth, scope: "link", protocol, table });
    podAddrs.push({ dev: ifname, cidr: hostCidr(o.ipv6), nodad: true });
    podRoutes.push({ family: 6, dst: "::/0" as Cidr, via: gw6.kind === "fixed" ? POD_GATEWAY_V6 : gw6.via, dev: ifname });
  }
  const hostSysctls = [[`net.ipv6.conf.${sysctlIfName(hostVeth)}.accept_ra`, "0"] as const];
  return { alias, hostSysctls, hostAddrs, hostRoutes, podAddrs, podRoutes };
}

function addrOps(want: readonly (AddrState & { readonly nodad: boolean })[], have: readonly AddrState[]): NetlinkOp[] {
  const seen = new Set(have.map((a) => `${a.dev} ${a.cidr}`));
  return want
    .filter((a) => !seen.has(`${a.dev} ${a.cidr}`))
    .map((a): NetlinkOp => (a.nodad ? { kind: "addr.add", dev: a.dev, cidr: a.cidr, nodad: true } : { kind: "addr.add", dev: a.dev, cidr: a.cidr }));
}

/** The state without anything on `dev` (used when the link is about to be recreated). */
function without(s: NetnsState, dev: string): NetnsState {
  return {
    ...s,
    links: s.links.filter((l) => l.name !== dev),
    addrs: s.addrs.filter((a) => a.dev !== dev),
    routes: s.routes.filter((r) => r.dev !== dev),
  };
}

/** Host links other than `hostVeth` whose Coil alias names the same container and ifname (Coil's garbage cleanup). */
function staleHostLinks(o: PodSetupOptions, host: NetnsState): NetlinkOp[] {
  return host.links
    .filter((l) => l.name !== o.hostVeth && l.alias !== undefined)
    .filter((l) => parseLinkAlias(l.alias ?? "").match((a) => a.containerId === o.containerId && a.ifname === o.ifname, () => false))
    .map((l): NetlinkOp => ({ kind: "link.del", name: l.name }));
}

function linkSetOp(name: string, cur: { up: boolean; mtu: number; alias?: string } | undefined, want: { alias?: string; mtu?: number }): NetlinkOp[] {
  const up = cur === undefined || !cur.up;
  const alias = want.alias !== undefined && cur?.alias !== want.alias ? want.alias : undefined;
  const mtu = want.mtu !== undefined && cur !== undefined && cur.mtu !== want.mtu ? want.mtu : undefined;
  if (!up && alias === undefined && mtu === undefined) return [];
  return [{ kind: "link.set", name, ...(up ? { up: true } : {}), ...(alias !== undefined ? { alias } : {}), ...(mtu !== undefined ? { mtu } : {}) }];
}

/**
 * Plan a pod's network exactly as Coil lays it out (§4.2). Kernel end state, for pod
 * `10.2.0.5`/`fd02::5`, node `10.20.30.41`/`fd10::41`, host veth `veth3a9f01c2`:
 * ```
 * # host
 * sysctl -w net.ipv6.conf.veth3a9f01c2.accept_ra=0
 * ip link set veth3a9f01c2 up alias COIL:default:<containerId>:eth0
 * ip addr add 10.20.30.41/32 dev veth3a9f01c2
 * ip addr add fd10::41/128 dev veth3a9f01c2 nodad
 * ip addr add fe80::1/64 dev veth3a9f01c2 nodad
 * ip route replace 10.2.0.5/32 dev veth3a9f01c2 scope link proto 30 table 116
 * ip -6 route replace fd02::5/128 dev veth3a9f01c2 proto 30 table 116
 * # pod netns
 * ip link set eth0 up; ip addr add 10.2.0.5/32 dev eth0; ip addr add fd02::5/128 dev eth0 nodad
 * ip route replace 10.20.30.41/32 dev eth0 scope link
 * ip route replace default via 10.20.30.41 dev eth0
 * ip -6 route replace default via fe80::1 dev eth0
 * ```
 * Why: the pod gets a /32 (/128) so that every packet goes to the host (a point-to-point
 * layout: no bridge, no ARP for neighbours); the node's InternalIP on the host veth makes it a
 * valid on-link gateway, and the table-116 routes (looked up by rule `from all lookup 116
 * pref 2000`, see {@link planHostInit}) steer replies back into the veth. `accept_ra=0` keeps the
 * host end from configuring itself from router advertisements; `nodad` avoids the ~2 s wait for
 * IPv6 duplicate address detection on a dual-stack ADD (no duplicate can exist on a fresh veth).
 *
 * Deliberate difference from Coil: Coil waits for the host veth's kernel-generated link-local
 * address and uses it as the pod's IPv6 gateway. To stay pure (no round trip between creating the
 * link and planning the route), this planner adds the fixed link-local `fe80::1/64` to every host
 * veth and routes `default via fe80::1 dev eth0` in the pod. Each veth is its own link, so the
 * same link-local address on many host veths does not conflict.
 *
 * Coil's own layout stays correct: when the observed pod (on a host veth that is kept) routes
 * `default via <G> dev <ifname>` in its main table and `<G>` is a link-local address the host veth
 * carries — the kernel-generated one Coil v2 routes through, e.g. on pods set up by Coil's Go
 * coild before a live swap — that gateway is planned instead of `fe80::1`, and `fe80::1/64` is not
 * added to that veth. So CHECK accepts such a pod and a repeated ADD leaves it as it is. Any other
 * IPv6 default route (another gateway, device or table) is still planned over with ours.
 *
 * With `observed`, plan only the difference: stale host links carrying this container's alias
 * are deleted (Coil's garbage cleanup), the veth is reused when present and correctly paired
 * (otherwise deleted and recreated), and only missing addresses, routes and sysctls are added;
 * table-`podTable` routes of this veth with this protocol that are not desired are deleted.
 */
export function planPodSetup(opts: PodSetupOptions): Result<Changeset, PlanError> {
  return validate(opts).andThen((alias) => buildPodSetup(opts, alias));
}

function buildPodSetup(o: PodSetupOptions, alias: string): Result<Changeset, PlanError> {
  const pod = pathRef(o.netnsPath);
  let host = o.observed?.host ?? EMPTY_NETNS_STATE;
  let podState = o.observed?.pod ?? EMPTY_NETNS_STATE;
  const cur = host.links.find((l) => l.name === o.hostVeth);
  const reuse =
    cur !== undefined && cur.kind === "veth" && cur.alias === alias && (cur.peer === undefined || cur.peer === o.ifname) &&
    podState.links.some((l) => l.name === o.ifname);
  // Coil's own gateway layout is kept only on a veth that stays; a recreated one gets ours.
  const coilGw = reuse && o.ipv6 !== undefined ? observedCoilGatewayV6(o, host, podState) : undefined;
  const d = desiredOf(o, alias, coilGw === undefined ? { kind: "fixed" } : { kind: "kernel-link-local", via: coilGw });
  const first: NetlinkOp[] = staleHostLinks(o, host);
  const create: NetlinkOp[] = [];
  if (!reuse) {
    // The pod interface may only be replaced when a host link of this container owns it: the
    // host veth chosen for it (by name, paired with the pod interface or carrying our alias), or
    // a stale link carrying this container's alias; deleting either takes its peer along. A
    // foreign interface makes ADD fail, as the CNI spec requires.
    const pairedWithCur = cur !== undefined && (cur.alias === d.alias || cur.peer === undefined || cur.peer === o.ifname);
    const ownedByUs = pairedWithCur || first.length > 0;
    if (podState.links.some((l) => l.name === o.ifname) && !ownedByUs) {
      return err({
        kind: "interface-exists",
        ifname: o.ifname,
        netnsPath: o.netnsPath,
        message: `interface ${o.ifname} already exists in ${o.netnsPath}`,
      });
    }
    if (cur !== undefined) first.push({ kind: "link.del", name: o.hostVeth });
    const mtu = o.mtu !== undefined ? { mtu: o.mtu } : {};
    create.push({ kind: "link.add-veth", name: o.ifname, ...mtu, peer: { name: o.hostVeth, netns: HOST_NETNS } });
    host = without(host, o.hostVeth);
    podState = without(podState, o.ifname);
  }
  const table = o.podTable ?? POD_TABLE_ID;
  const protocol = o.protocol ?? PROTOCOL_COILD;
  const owned = (r: Route): boolean => r.table === table && r.dev === o.hostVeth && r.protocol === protocol;
  const mtuWant = o.mtu !== undefined ? { mtu: o.mtu } : {};
  const hostOps: NetlinkOp[] = [
    ...diffSysctls(d.hostSysctls, host.sysctls),
    ...linkSetOp(o.hostVeth, host.links.find((l) => l.name === o.hostVeth), { alias: d.alias, ...mtuWant }),
    ...addrOps(d.hostAddrs, host.addrs),
    ...diffRoutes(d.hostRoutes, host.routes, owned),
  ];
  const podOps: NetlinkOp[] = [
    ...linkSetOp(o.ifname, podState.links.find((l) => l.name === o.ifname), mtuWant),
    ...addrOps(d.podAddrs, podState.addrs),
    ...diffRoutes(d.podRoutes, podState.routes, () => false),
  ];
  return ok(concatChangesets({ steps: [step(HOST_NETNS, first), step(pod, create), step(HOST_NETNS, hostOps), step(pod, podOps)] }));
}

/**
 * The host end of a veth pair that a set-up of this pod started and never finished, if any: the
 * pod's `ifname` is a veth whose peer is a host link that is still exactly as `ip link add` left
 * it — a veth named like a Coil host veth ({@link isHostVethName}), without any alias, not up —
 * and the two ends name each other (`peerIndex` of each is the other's `index`).
 *
 * A set-up creates the pair in one line and gives the host end its alias (and brings it up) in the
 * next, so a node plugin killed in between leaves exactly this behind; the pod's interface then
 * blocks a retried ADD (`interface-exists`). Passing this link's name as `hostVeth` to
 * {@link planPodSetup} (with the same `observed`) deletes the pair and creates it again. A link
 * that carries an alias (another container's attachment), is up (finished by someone) or is
 * peered inside the pod's namespace is never taken for one.
 */
export function unfinishedHostVeth(ifname: string, observed: ObservedPodNetns): LinkState | undefined {
  const podEnd = observed.pod.links.find((l) => l.name === ifname);
  if (podEnd?.kind !== "veth" || podEnd.index === undefined || podEnd.peerIndex === undefined) return undefined;
  return observed.host.links.find(
    (l) =>
      l.kind === "veth" && l.index === podEnd.peerIndex && l.peerIndex === podEnd.index &&
      l.alias === undefined && !l.up && isHostVethName(l.name),
  );
}

/** Options of {@link planPodTeardown}: name the host veth, or find it by alias in `observed`. */
export interface PodTeardownOptions {
  /** Host veth name to delete directly (when the caller knows it). */
  readonly hostVeth?: string;
  /** CNI_CONTAINERID, to find the host veth by its Coil alias (used when `hostVeth` is omitted). */
  readonly containerId?: string;
  /** CNI_IFNAME, the last alias field; required with `containerId`. */
  readonly ifname?: string;
  /** The observed host namespace; when given, absent links are not deleted (idempotent DEL). */
  readonly observed?: NetnsState;
}

/**
 * Plan a pod's teardown (§4.3 DEL): `ip link del <hostveth>`. Deleting the host end removes the
 * peer in the pod and every route through the veth (table 116 included), so nothing else is
 * needed. By `containerId` + `ifname`, every observed host link whose Coil alias matches is deleted;
 * nothing matching gives an empty changeset (DEL is idempotent).
 */
export function planPodTeardown(opts: PodTeardownOptions): Result<Changeset, PlanError> {
  const links = opts.observed?.links;
  if (opts.hostVeth !== undefined) {
    const v = validateLinkNames({ hostVeth: opts.hostVeth });
    if (v.isErr()) return err(v.error);
    const gone = links !== undefined && !links.some((l) => l.name === opts.hostVeth);
    return ok(concatChangesets({ steps: [step(HOST_NETNS, gone ? [] : [{ kind: "link.del", name: opts.hostVeth }])] }));
  }
  const { containerId, ifname } = opts;
  if (containerId === undefined || ifname === undefined || links === undefined) {
    return err({ kind: "invalid-alias", value: "", message: "teardown needs hostVeth, or containerId + ifname + observed" });
  }
  const match = (alias: string | undefined): boolean =>
    parseLinkAlias(alias ?? "").match((a) => a.containerId === containerId && a.ifname === ifname, () => false);
  const ops = links.filter((l) => match(l.alias)).map((l): NetlinkOp => ({ kind: "link.del", name: l.name }));
  return ok(concatChangesets({ steps: [step(HOST_NETNS, ops)] }));
}
