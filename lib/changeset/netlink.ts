import type { Cidr, Family, Ip } from "../net/index.js";

/**
 * Which network namespace a step runs in. `host` is the namespace of the process applying the
 * changeset; `path` is a namespace file such as `/var/run/netns/pod1` or `/proc/<pid>/ns/net`.
 */
export type NetnsRef =
  | {
      /** The namespace of the process that applies the changeset (Coil's host netns). */
      readonly kind: "host";
    }
  | {
      /** A namespace named by a file. */
      readonly kind: "path";
      /** Absolute path of the namespace file (the CNI `CNI_NETNS` of a pod). */
      readonly path: string;
    };

/** Route scope, as `ip route … scope`. */
export type RouteScope = "universe" | "link" | "host";

/**
 * A route. `dst` is always a CIDR (`0.0.0.0/0` / `::/0` for the default route). Omitted fields
 * take the kernel defaults: main table (254), protocol `boot` (3), scope universe.
 */
export interface Route {
  /** Address family (4 or 6); must match `dst`, `via` and `src`. */
  readonly family: Family;
  /** Destination network; `0.0.0.0/0` or `::/0` for a default route. */
  readonly dst: Cidr;
  /** Output interface (`dev`). */
  readonly dev?: string;
  /** Gateway address (`via`). */
  readonly via?: Ip;
  /** Preferred source address (`src`). */
  readonly src?: Ip;
  /** Routing table id (unsigned 32-bit); omitted means main (254). Coil uses 116 (pods), 117/118 (egress) and 119 (export). */
  readonly table?: number;
  /** Route protocol number; omitted means `boot` (3). Coil marks its routes with protocol 30. */
  readonly protocol?: number;
  /** Route scope; omitted means universe (`link` for on-link routes such as a pod's /32 via its veth). */
  readonly scope?: RouteScope;
  /** Metric (`metric`/`priority`); omitted means 0 for IPv4 and 1024 for IPv6 as the kernel does. */
  readonly metric?: number;
  /** Treat the gateway as directly reachable on `dev` even without a covering prefix (`onlink`). */
  readonly onlink?: boolean;
}

/** A policy routing rule (`ip rule`). The selector fields that are omitted match everything. */
export interface Rule {
  /** Address family (4 or 6) of the rule; `from`/`to` must match it. */
  readonly family: Family;
  /** Rule priority (`pref`); lower runs first. Coil's egress rules use 1800-2100, the pod table rule 2000. */
  readonly priority: number;
  /** Table to look up when the rule matches (`lookup`). */
  readonly table: number;
  /** Source network selector (`from`). */
  readonly from?: Cidr;
  /** Destination network selector (`to`). */
  readonly to?: Cidr;
  /** Incoming interface selector (`iif`). */
  readonly iif?: string;
  /** Outgoing interface selector (`oif`). */
  readonly oif?: string;
  /** Firewall mark to match (`fwmark`), unsigned 32-bit. */
  readonly fwmark?: number;
  /** Mask applied to the packet mark before comparing with `fwmark`; omitted means all bits. */
  readonly fwmask?: number;
}

/** FoU encapsulation of an IPIP/ip6tnl tunnel. `sport` 0 lets the kernel pick it from the flow hash. */
export interface FouEncap {
  /** UDP source port of the encapsulation; 0 means automatic (`encap-sport auto`, Coil's `--enable-sport-auto`). */
  readonly sport: number;
  /** UDP destination port: the peer's FoU receive port (Coil's `--fou-port`, default 5555). */
  readonly dport: number;
}

/**
 * The peer end of a veth pair (`ip link add NAME type veth peer name PEER netns NS`).
 */
export interface VethPeer {
  /** Interface name of the peer end (1-15 bytes), e.g. the container-side `eth0`. */
  readonly name: string;
  /** Namespace the peer end is created in; Coil puts the host end there (`veth…` in the host netns). */
  readonly netns: NetnsRef;
}

/** Create a veth pair: `name` in the step's namespace, `peer.name` in `peer.netns`. */
export interface LinkAddVethOp {
  /** Discriminant: `link.add-veth`. */
  readonly kind: "link.add-veth";
  /** Name of the end created in the step's namespace. */
  readonly name: string;
  /** MTU of both ends in bytes; omitted means the kernel default (1500). Coil sets the detected pod MTU. */
  readonly mtu?: number;
  /** The other end and where it goes. */
  readonly peer: VethPeer;
}

/**
 * Create a VXLAN device (`ip link add NAME type vxlan …`). Coil's egress uses one per client pod
 * (gateway side) or per gateway (client side) when FoU is unavailable.
 */
export interface LinkAddVxlanOp {
  /** Discriminant: `link.add-vxlan`. */
  readonly kind: "link.add-vxlan";
  /** Interface name. */
  readonly name: string;
  /** VXLAN network identifier (24-bit, 1-16777215); omitted for an `external` (flow-based) device. */
  readonly vni?: number;
  /** UDP destination port of the encapsulation; 4789 is the IANA port; Coil's egress VXLAN uses its `--egress-port`. */
  readonly dstport: number;
  /** Outer source address. */
  readonly local?: Ip;
  /** Outer destination address (point-to-point device). */
  readonly remote?: Ip;
  /** Underlay device the tunnel is bound to. */
  readonly dev?: string;
  /** MAC learning; `false` renders `nolearning`. Omitted keeps the kernel default (on). */
  readonly learning?: boolean;
  /** Flow-based device (`external`, collect metadata): the VNI and remote come from the route/skb. */
  readonly external?: boolean;
  /** MTU in bytes; omitted derives it from the underlay. */
  readonly mtu?: number;
  /** Link-layer address (`address aa:bb:cc:dd:ee:ff`); omitted lets the kernel pick a random one. */
  readonly address?: string;
  /**
   * Outer UDP checksum; `false` renders `noudpcsum udp6zerocsumtx udp6zerocsumrx` (zero checksums
   * sent over IPv4 and IPv6, zero checksums accepted over IPv6, as RFC 7348 and RFC 6935 allow for
   * tunnels). Omitted keeps the kernel default.
   */
  readonly udpChecksum?: boolean;
}

/** Create an IPIP (`ipip`, IPv4 outer) or `ip6tnl` (IPv6 outer) tunnel, optionally FoU-encapsulated. */
export interface LinkAddTunnelOp {
  /** Discriminant: `link.add-tunnel`. */
  readonly kind: "link.add-tunnel";
  /** Interface name, e.g. Coil's `fou4_0a010101`. */
  readonly name: string;
  /** Tunnel type: `ipip` carries IPv4 in IPv4, `ip6tnl` carries IPv6 in IPv6 (Coil's FoU links). */
  readonly mode: "ipip" | "ip6tnl";
  /** Outer source address. */
  readonly local?: Ip;
  /** Outer destination address (the peer, e.g. the egress gateway pod). */
  readonly remote?: Ip;
  /** Outer TTL (IPv4, 1-255) or hop limit (IPv6, 0-255); omitted inherits from the inner packet. */
  readonly ttl?: number;
  /** FoU encapsulation; omitted means a plain IPIP/ip6tnl tunnel. */
  readonly encap?: FouEncap;
  /** Flow-based (collect metadata) tunnel: outer addresses come from per-route metadata. */
  readonly external?: boolean;
  /** MTU in bytes; omitted lets the kernel subtract the tunnel overhead from the underlay MTU. */
  readonly mtu?: number;
}

/** Create a dummy link (Coil uses one as an "initialised" marker). */
export interface LinkAddDummyOp {
  /** Discriminant: `link.add-dummy`. */
  readonly kind: "link.add-dummy";
  /** Interface name. */
  readonly name: string;
}

/** Change attributes of an existing link; omitted attributes are left as they are. */
export interface LinkSetOp {
  /** Discriminant: `link.set`. */
  readonly kind: "link.set";
  /** Name of the link to change. */
  readonly name: string;
  /** `true` sets the link up, `false` down. */
  readonly up?: boolean;
  /** New `ifalias`; Coil tags a pod's host veth `COIL:<pool>:<containerId>:<ifname>`. Empty clears it. */
  readonly alias?: string;
  /** New MTU in bytes. */
  readonly mtu?: number;
  /**
   * Rename the link (`ip link set dev <name> name <newName>`); the kernel refuses it for a link that
   * is up. Coil renames the kernel's fallback tunnel devices `tunl0`/`ip6tnl0` this way.
   */
  readonly newName?: string;
}

/** Delete a link (and, for a veth, its peer). */
export interface LinkDelOp {
  /** Discriminant: `link.del`. */
  readonly kind: "link.del";
  /** Name of the link to delete. */
  readonly name: string;
}

/** Add a FoU receive port (`ip fou add port P ipproto 4|41`). */
export interface FouAddOp {
  /** Discriminant: `fou.add`. */
  readonly kind: "fou.add";
  /** Address family of the UDP socket (`-4`/`-6`). */
  readonly family: Family;
  /** UDP port to listen on; Coil's default is 5555 (`--fou-port`). */
  readonly port: number;
  /** Protocol carried inside the UDP payload: 4 (IPIP) or 41 (IPv6). */
  readonly ipproto: 4 | 41;
}

/** Remove a FoU receive port. */
export interface FouDelOp {
  /** Discriminant: `fou.del`. */
  readonly kind: "fou.del";
  /** Address family of the UDP socket. */
  readonly family: Family;
  /** UDP port of the receive socket to remove. */
  readonly port: number;
}

/** Add an address to a link. */
export interface AddrAddOp {
  /** Discriminant: `addr.add`. */
  readonly kind: "addr.add";
  /** Interface name. */
  readonly dev: string;
  /** Address and prefix length, e.g. `10.64.0.5/32` for a Coil pod address. */
  readonly cidr: Cidr;
  /** Skip IPv6 duplicate address detection (`nodad`), so the address is usable at once. */
  readonly nodad?: boolean;
  /** Address scope; omitted means universe (global). */
  readonly scope?: RouteScope;
}

/** Remove an address from a link. */
export interface AddrDelOp {
  /** Discriminant: `addr.del`. */
  readonly kind: "addr.del";
  /** Interface name. */
  readonly dev: string;
  /** Address and prefix length to remove. */
  readonly cidr: Cidr;
}

/** Add a route; fails with `EEXIST` if it exists. */
export interface RouteAddOp {
  /** Discriminant: `route.add`. */
  readonly kind: "route.add";
  /** The route to add. */
  readonly route: Route;
}

/** Add or replace a route (idempotent, `ip route replace`). */
export interface RouteReplaceOp {
  /** Discriminant: `route.replace`. */
  readonly kind: "route.replace";
  /** The route to install. */
  readonly route: Route;
}

/** Delete a route; fails with `ESRCH` if no route matches. */
export interface RouteDelOp {
  /** Discriminant: `route.del`. */
  readonly kind: "route.del";
  /** The route to delete, matched as `ip route del` matches. */
  readonly route: Route;
}

/** Add a policy routing rule. */
export interface RuleAddOp {
  /** Discriminant: `rule.add`. */
  readonly kind: "rule.add";
  /** The rule to add. */
  readonly rule: Rule;
}

/** Delete a policy routing rule. */
export interface RuleDelOp {
  /** Discriminant: `rule.del`. */
  readonly kind: "rule.del";
  /** The rule to delete. */
  readonly rule: Rule;
}

/** Write a sysctl; `previous`, when known, makes the op invertible. */
export interface SysctlSetOp {
  /** Discriminant: `sysctl.set`. */
  readonly kind: "sysctl.set";
  /** Key in sysctl(8) notation, e.g. `net.ipv4.ip_forward` (a `/` stands for a `.` inside a segment). */
  readonly key: string;
  /** Value to write, e.g. `1`. */
  readonly value: string;
  /** The value before the write; needed by `invertOp` to restore it. */
  readonly previous?: string;
}

/** A typed netlink operation. Every op is plain JSON; `kind` discriminates. */
export type NetlinkOp =
  | LinkAddVethOp
  | LinkAddVxlanOp
  | LinkAddTunnelOp
  | LinkAddDummyOp
  | LinkSetOp
  | LinkDelOp
  | FouAddOp
  | FouDelOp
  | AddrAddOp
  | AddrDelOp
  | RouteAddOp
  | RouteReplaceOp
  | RouteDelOp
  | RuleAddOp
  | RuleDelOp
  | SysctlSetOp;

/** The `kind` strings of {@link NetlinkOp}. */
export type NetlinkOpKind = NetlinkOp["kind"];
