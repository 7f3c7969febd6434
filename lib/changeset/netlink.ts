import type { Cidr, Family, Ip } from "../net/index.js";

/**
 * Which network namespace a step runs in. `host` is the namespace of the process applying the
 * changeset; `path` is a namespace file such as `/var/run/netns/pod1` or `/proc/<pid>/ns/net`.
 */
export type NetnsRef = { readonly kind: "host" } | { readonly kind: "path"; readonly path: string };

/** Route scope, as `ip route … scope`. */
export type RouteScope = "universe" | "link" | "host";

/**
 * A route. `dst` is always a CIDR (`0.0.0.0/0` / `::/0` for the default route). Omitted fields
 * take the kernel defaults: main table (254), protocol `boot` (3), scope universe.
 */
export interface Route {
  readonly family: Family;
  readonly dst: Cidr;
  readonly dev?: string;
  readonly via?: Ip;
  readonly src?: Ip;
  readonly table?: number;
  readonly protocol?: number;
  readonly scope?: RouteScope;
  readonly metric?: number;
  readonly onlink?: boolean;
}

/** A policy routing rule (`ip rule`). The selector fields that are omitted match everything. */
export interface Rule {
  readonly family: Family;
  readonly priority: number;
  readonly table: number;
  readonly from?: Cidr;
  readonly to?: Cidr;
  readonly iif?: string;
  readonly oif?: string;
  readonly fwmark?: number;
  readonly fwmask?: number;
}

/** FoU encapsulation of an IPIP/ip6tnl tunnel. `sport` 0 lets the kernel pick it from the flow hash. */
export interface FouEncap {
  readonly sport: number;
  readonly dport: number;
}

/** A typed netlink operation. Every op is plain JSON; `kind` discriminates. */
export type NetlinkOp =
  /** Create a veth pair: `name` in the step's namespace, `peer.name` in `peer.netns`. */
  | {
      readonly kind: "link.add-veth";
      readonly name: string;
      readonly mtu?: number;
      readonly peer: { readonly name: string; readonly netns: NetnsRef };
    }
  /** Create a VXLAN device. `external` makes it flow-based (collect metadata). */
  | {
      readonly kind: "link.add-vxlan";
      readonly name: string;
      readonly vni?: number;
      readonly dstport: number;
      readonly local?: Ip;
      readonly remote?: Ip;
      readonly dev?: string;
      readonly learning?: boolean;
      readonly external?: boolean;
      readonly mtu?: number;
    }
  /** Create an IPIP (`ipip`, IPv4 outer) or `ip6tnl` (IPv6 outer) tunnel, optionally FoU-encapsulated. */
  | {
      readonly kind: "link.add-tunnel";
      readonly name: string;
      readonly mode: "ipip" | "ip6tnl";
      readonly local?: Ip;
      readonly remote?: Ip;
      readonly ttl?: number;
      readonly encap?: FouEncap;
      readonly external?: boolean;
      readonly mtu?: number;
    }
  /** Create a dummy link (Coil uses one as an "initialised" marker). */
  | { readonly kind: "link.add-dummy"; readonly name: string }
  /** Change attributes of an existing link. */
  | {
      readonly kind: "link.set";
      readonly name: string;
      readonly up?: boolean;
      readonly alias?: string;
      readonly mtu?: number;
    }
  /** Delete a link (and, for a veth, its peer). */
  | { readonly kind: "link.del"; readonly name: string }
  /** Add a FoU receive port (`ip fou add port P ipproto 4|41`). */
  | { readonly kind: "fou.add"; readonly family: Family; readonly port: number; readonly ipproto: 4 | 41 }
  /** Remove a FoU receive port. */
  | { readonly kind: "fou.del"; readonly family: Family; readonly port: number }
  /** Add an address; `nodad` skips IPv6 duplicate address detection. */
  | {
      readonly kind: "addr.add";
      readonly dev: string;
      readonly cidr: Cidr;
      readonly nodad?: boolean;
      readonly scope?: RouteScope;
    }
  /** Remove an address. */
  | { readonly kind: "addr.del"; readonly dev: string; readonly cidr: Cidr }
  /** Add a route; fails if it exists. */
  | { readonly kind: "route.add"; readonly route: Route }
  /** Add or replace a route (idempotent). */
  | { readonly kind: "route.replace"; readonly route: Route }
  /** Delete a route. */
  | { readonly kind: "route.del"; readonly route: Route }
  /** Add a policy routing rule. */
  | { readonly kind: "rule.add"; readonly rule: Rule }
  /** Delete a policy routing rule. */
  | { readonly kind: "rule.del"; readonly rule: Rule }
  /** Write a sysctl; `previous`, when known, makes the op invertible. */
  | { readonly kind: "sysctl.set"; readonly key: string; readonly value: string; readonly previous?: string };

/** The `kind` strings of {@link NetlinkOp}. */
export type NetlinkOpKind = NetlinkOp["kind"];
