import type { Cidr } from "../net/index.js";
import type { Family } from "../net/index.js";
import type { Route, Rule } from "./netlink.js";
import type { NftRuleset } from "./nft-model.js";

/** Link kinds the observer distinguishes. */
export type LinkKind = "veth" | "vxlan" | "ipip" | "ip6tnl" | "dummy" | "bridge" | "loopback" | "device" | "other";

/** An observed (or modelled) network link. */
export interface LinkState {
  readonly name: string;
  readonly kind: LinkKind;
  readonly up: boolean;
  readonly mtu: number;
  readonly alias?: string;
  readonly index?: number;
  /** For a veth: the peer's name, when known. */
  readonly peer?: string;
}

/** An address on a link. */
export interface AddrState {
  readonly dev: string;
  readonly cidr: Cidr;
}

/**
 * The kernel state of one network namespace as far as Coil's planners care: links, addresses,
 * routes (all tables), rules and sysctls. The observer adapter produces it from `ip -j`; the
 * model in this module applies changesets to it.
 */
export interface NetnsState {
  readonly links: readonly LinkState[];
  readonly addrs: readonly AddrState[];
  readonly routes: readonly Route[];
  readonly rules: readonly Rule[];
  readonly sysctls: Readonly<Record<string, string>>;
  /** FoU receive ports (`ip fou show`), when observed or modelled. */
  readonly fou?: readonly FouPortState[];
  /** The nftables ruleset, when observed or modelled. */
  readonly nft?: NftRuleset;
}

/** A FoU receive port. */
export interface FouPortState {
  readonly family: Family;
  readonly port: number;
  readonly ipproto: 4 | 41;
}

/** An empty namespace state. */
export const EMPTY_NETNS_STATE: NetnsState = { links: [], addrs: [], routes: [], rules: [], sysctls: {} };
