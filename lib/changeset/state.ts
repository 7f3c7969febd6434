import type { Cidr } from "../net/index.js";
import type { Family } from "../net/index.js";
import type { Route, Rule } from "./netlink.js";
import type { NftRuleset } from "./nft-model.js";

/** Link kinds the observer distinguishes. */
export type LinkKind = "veth" | "vxlan" | "ipip" | "ip6tnl" | "dummy" | "bridge" | "loopback" | "device" | "other";

/** An observed (or modelled) network link. */
export interface LinkState {
  /** Interface name. */
  readonly name: string;
  /** Link type (`ip -d link` `linkinfo.info_kind`, `device` for physical ones). */
  readonly kind: LinkKind;
  /** Administratively up (`IFF_UP`). */
  readonly up: boolean;
  /** MTU in bytes. */
  readonly mtu: number;
  /** `ifalias`, when set; Coil tags pod host veths `COIL:<pool>:<containerId>:<ifname>`. */
  readonly alias?: string;
  /** Kernel interface index, when observed (the model leaves it out). */
  readonly index?: number;
  /** For a veth: the peer's name, when known. */
  readonly peer?: string;
  /**
   * For a veth whose peer lives in another namespace: the peer's interface index there, when
   * observed (`link_index` beside `link_netnsid` in `ip -j link`). Each end of a pair split across
   * two namespaces names the other's index, which is how the two ends are matched.
   */
  readonly peerIndex?: number;
}

/** An address on a link. */
export interface AddrState {
  /** Interface the address is on. */
  readonly dev: string;
  /** Address with its prefix length. */
  readonly cidr: Cidr;
}

/**
 * The kernel state of one network namespace as far as Coil's planners care: links, addresses,
 * routes (all tables), rules and sysctls. The observer adapter produces it from `ip -j`; the
 * model in this module applies changesets to it.
 */
export interface NetnsState {
  /** All links of the namespace. */
  readonly links: readonly LinkState[];
  /** Addresses (not the kernel-generated IPv6 link-local ones). */
  readonly addrs: readonly AddrState[];
  /** Routes of every table except `local`, in kernel form (see `normalizeRoute`). */
  readonly routes: readonly Route[];
  /** Policy routing rules of both families, the default ones included. */
  readonly rules: readonly Rule[];
  /** Sysctl values by sysctl(8) key, for the keys that were observed or written. */
  readonly sysctls: Readonly<Record<string, string>>;
  /** FoU receive ports (`ip fou show`), when observed or modelled. */
  readonly fou?: readonly FouPortState[];
  /** The nftables ruleset, when observed or modelled. */
  readonly nft?: NftRuleset;
}

/** A FoU receive port. */
export interface FouPortState {
  /** Address family of the UDP socket. */
  readonly family: Family;
  /** UDP port. */
  readonly port: number;
  /** Carried protocol: 4 (IPIP) or 41 (IPv6). */
  readonly ipproto: 4 | 41;
}

/** An empty namespace state. */
export const EMPTY_NETNS_STATE: NetnsState = { links: [], addrs: [], routes: [], rules: [], sysctls: {} };
