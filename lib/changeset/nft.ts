/**
 * The subset of libnftables-json (man libnftables-json(5)) that Coil's planners emit.
 * Rendering a ruleset change is `JSON.stringify({ nftables: commands })`.
 */

/** nftables address families. */
export type NftFamily = "ip" | "ip6" | "inet" | "arp" | "bridge" | "netdev";

/** A table object. */
export interface NftTable {
  /** Address family of the table (`ip` for IPv4-only, `ip6`, `inet` for both, ...). */
  readonly family: NftFamily;
  /** Table name, unique within its family. */
  readonly name: string;
}

/** A chain object; base chains carry `type`, `hook`, `prio` and `policy`. */
export interface NftChain {
  /** Family of the table holding the chain. */
  readonly family: NftFamily;
  /** Name of the table holding the chain. */
  readonly table: string;
  /** Chain name, unique within its table. */
  readonly name: string;
  /** Base chain type; `nat` for Coil's egress masquerade chains. Omitted for a regular chain. */
  readonly type?: "filter" | "nat" | "route";
  /** Netfilter hook a base chain attaches to; omitted for a regular (jump target) chain. */
  readonly hook?: "prerouting" | "input" | "forward" | "output" | "postrouting" | "ingress";
  /** Base chain priority; lower runs first (`srcnat` is 100, `dstnat` is -100). */
  readonly prio?: number;
  /** Verdict for packets that fall off the end of a base chain; the kernel default is `accept`. */
  readonly policy?: "accept" | "drop";
}

/** A named set. */
export interface NftSet {
  /** Family of the table holding the set. */
  readonly family: NftFamily;
  /** Name of the table holding the set. */
  readonly table: string;
  /** Set name, unique within its table. */
  readonly name: string;
  /** Element type, e.g. `ipv4_addr`, `ipv6_addr` or `ifname`. */
  readonly type: string;
  /** Initial elements; omitted for an empty set. */
  readonly elem?: readonly NftExpr[];
}

/** Elements added to or removed from a named set. */
export interface NftElement {
  /** Family of the table holding the set. */
  readonly family: NftFamily;
  /** Name of the table holding the set. */
  readonly table: string;
  /** Name of the set. */
  readonly name: string;
  /** The elements to add or delete. */
  readonly elem: readonly NftExpr[];
}

/** A rule: a list of statements, with an optional comment (Coil-compatible user data). */
export interface NftRule {
  /** Family of the table holding the chain. */
  readonly family: NftFamily;
  /** Name of the table holding the chain. */
  readonly table: string;
  /** Name of the chain the rule belongs to. */
  readonly chain: string;
  /** Statements, evaluated in order: matches first, then the verdict or action. */
  readonly expr: readonly NftStatement[];
  /** Kernel handle of an existing rule (for `replace`/`delete`); the model assigns one on add. */
  readonly handle?: number;
  /** Rule comment, stored as user data; identifies Coil's rules when observed. */
  readonly comment?: string;
}

/** An expression (the right or left side of a match, a set element, ...). */
export type NftExpr =
  | string
  | number
  | boolean
  | readonly NftExpr[]
  | {
      /** A header field of the packet, e.g. `ip saddr`. */
      readonly payload: {
        /** Header name: `ip`, `ip6`, `tcp`, `udp`, ... */
        readonly protocol: string;
        /** Field in that header: `saddr`, `daddr`, `dport`, ... */
        readonly field: string;
      };
    }
  | {
      /** Packet metadata, e.g. `meta oifname`. */
      readonly meta: {
        /** Metadata key: `iifname`, `oifname`, `mark`, `nfproto`, ... */
        readonly key: string;
      };
    }
  | {
      /** Connection tracking data, e.g. `ct state` or `ct original saddr`. */
      readonly ct: {
        /** Conntrack key: `state`, `mark`, `saddr`, ... */
        readonly key: string;
        /** Direction for per-direction keys; omitted for keys such as `state`. */
        readonly dir?: "original" | "reply";
      };
    }
  | {
      /** A network prefix, e.g. `10.0.0.0/8`. */
      readonly prefix: {
        /** Network address. */
        readonly addr: string;
        /** Prefix length in bits. */
        readonly len: number;
      };
    }
  | {
      /** An anonymous set: `{ a, b, c }`. */
      readonly set: readonly NftExpr[];
    };

/** The comparison of a match statement. */
export interface NftMatch {
  /** Comparison operator; `in` tests membership in a set. */
  readonly op: "==" | "!=" | "in" | "<" | ">" | "<=" | ">=";
  /** What is inspected: a payload, meta or ct expression. */
  readonly left: NftExpr;
  /** The value or set it is compared with. */
  readonly right: NftExpr;
}

/** Packet and byte counts of a counter statement. */
export interface NftCounterValue {
  /** Packets counted. */
  readonly packets: number;
  /** Bytes counted. */
  readonly bytes: number;
}

/** A statement inside a rule. */
export type NftStatement =
  | {
      /** Continue with the next statement only if the comparison holds. */
      readonly match: NftMatch;
    }
  | {
      /** Count packets and bytes; `null` when added, the counts when observed. */
      readonly counter: null | NftCounterValue;
    }
  | {
      /** Source NAT to the outgoing interface's address (Coil's egress gateway). */
      readonly masquerade: null;
    }
  | {
      /** Accept the packet. */
      readonly accept: null;
    }
  | {
      /** Drop the packet. */
      readonly drop: null;
    }
  | {
      /** Return to the calling chain. */
      readonly return: null;
    }
  | {
      /** Jump to another chain. */
      readonly jump: {
        /** Name of the chain to jump to (same table). */
        readonly target: string;
      };
    }
  | {
      /** Set a packet or conntrack field, e.g. `meta mark set ct mark`. */
      readonly mangle: {
        /** The field written. */
        readonly key: NftExpr;
        /** The value written. */
        readonly value: NftExpr;
      };
    };

/** A top-level object of a command. */
export type NftObject =
  | {
      /** A table. */
      readonly table: NftTable;
    }
  | {
      /** A chain. */
      readonly chain: NftChain;
    }
  | {
      /** A rule. */
      readonly rule: NftRule;
    }
  | {
      /** A named set. */
      readonly set: NftSet;
    }
  | {
      /** Set elements. */
      readonly element: NftElement;
    };

/**
 * A command: `add` ensures an object exists, `create` fails if it does, `insert` prepends a
 * rule, `replace` rewrites a rule by handle, `delete`/`flush` remove.
 */
export type NftCommand =
  | {
      /** Add the object; no error if it exists (except rules, which are appended). */
      readonly add: NftObject;
    }
  | {
      /** Add the object; `EEXIST` if it exists. */
      readonly create: NftObject;
    }
  | {
      /** Prepend a rule to its chain. */
      readonly insert: {
        /** The rule to prepend. */
        readonly rule: NftRule;
      };
    }
  | {
      /** Rewrite the rule with the given `handle`. */
      readonly replace: {
        /** The new rule; its `handle` names the rule replaced. */
        readonly rule: NftRule;
      };
    }
  | {
      /** Delete the object (a rule by `handle`). */
      readonly delete: NftObject;
    }
  | {
      /** Remove the contents of the object: the rules of a chain or table, the elements of a set. */
      readonly flush: NftObject;
    };

/** The document `nft -j` reads. */
export interface NftDocument {
  /** The commands, applied in order as one transaction. */
  readonly nftables: readonly NftCommand[];
}
