/**
 * The subset of libnftables-json (man libnftables-json(5)) that Coil's planners emit.
 * Rendering a ruleset change is `JSON.stringify({ nftables: commands })`.
 */

/** nftables address families. */
export type NftFamily = "ip" | "ip6" | "inet" | "arp" | "bridge" | "netdev";

/** A table object. */
export interface NftTable {
  readonly family: NftFamily;
  readonly name: string;
}

/** A chain object; base chains carry `type`, `hook`, `prio` and `policy`. */
export interface NftChain {
  readonly family: NftFamily;
  readonly table: string;
  readonly name: string;
  readonly type?: "filter" | "nat" | "route";
  readonly hook?: "prerouting" | "input" | "forward" | "output" | "postrouting" | "ingress";
  readonly prio?: number;
  readonly policy?: "accept" | "drop";
}

/** A named set. */
export interface NftSet {
  readonly family: NftFamily;
  readonly table: string;
  readonly name: string;
  readonly type: string;
  readonly elem?: readonly NftExpr[];
}

/** Elements added to or removed from a named set. */
export interface NftElement {
  readonly family: NftFamily;
  readonly table: string;
  readonly name: string;
  readonly elem: readonly NftExpr[];
}

/** A rule: a list of statements, with an optional comment (Coil-compatible user data). */
export interface NftRule {
  readonly family: NftFamily;
  readonly table: string;
  readonly chain: string;
  readonly expr: readonly NftStatement[];
  readonly handle?: number;
  readonly comment?: string;
}

/** An expression (the right or left side of a match, a set element, ...). */
export type NftExpr =
  | string
  | number
  | boolean
  | readonly NftExpr[]
  | { readonly payload: { readonly protocol: string; readonly field: string } }
  | { readonly meta: { readonly key: string } }
  | { readonly ct: { readonly key: string; readonly dir?: "original" | "reply" } }
  | { readonly prefix: { readonly addr: string; readonly len: number } }
  | { readonly set: readonly NftExpr[] };

/** A statement inside a rule. */
export type NftStatement =
  | { readonly match: { readonly op: "==" | "!=" | "in" | "<" | ">" | "<=" | ">="; readonly left: NftExpr; readonly right: NftExpr } }
  | { readonly counter: null | { readonly packets: number; readonly bytes: number } }
  | { readonly masquerade: null }
  | { readonly accept: null }
  | { readonly drop: null }
  | { readonly return: null }
  | { readonly jump: { readonly target: string } }
  | { readonly mangle: { readonly key: NftExpr; readonly value: NftExpr } };

/** A top-level object of a command. */
export type NftObject =
  | { readonly table: NftTable }
  | { readonly chain: NftChain }
  | { readonly rule: NftRule }
  | { readonly set: NftSet }
  | { readonly element: NftElement };

/**
 * A command: `add` ensures an object exists, `create` fails if it does, `insert` prepends a
 * rule, `replace` rewrites a rule by handle, `delete`/`flush` remove.
 */
export type NftCommand =
  | { readonly add: NftObject }
  | { readonly create: NftObject }
  | { readonly insert: { readonly rule: NftRule } }
  | { readonly replace: { readonly rule: NftRule } }
  | { readonly delete: NftObject }
  | { readonly flush: NftObject };

/** The document `nft -j` reads. */
export interface NftDocument {
  readonly nftables: readonly NftCommand[];
}
