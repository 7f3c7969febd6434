import type { Family, Ip } from "../net/index.js";

/** One iptables rule of Coil's `iptables` backend: table, chain and the rule specification (argv after the chain). */
export interface IptablesRule {
  /** Address family: `iptables` (4) or `ip6tables` (6). */
  readonly family: Family;
  /** Table (`nat`, `filter`, `mangle`). */
  readonly table: string;
  /** Chain (`POSTROUTING`, `FORWARD`, `INPUT`, `OUTPUT`). */
  readonly chain: string;
  /** The rule specification, e.g. `["!", "-s", "10.2.0.9/32", "-o", "eth0", "-j", "MASQUERADE"]`. */
  readonly spec: readonly string[];
}

/**
 * The NAT server's rules with the iptables backend (Coil §6.6), for one family:
 * ```
 * iptables -t nat -A POSTROUTING ! -s 10.2.0.9/32 -o eth0 -j MASQUERADE
 * iptables -t filter -A FORWARD -o eth0 -m state --state INVALID -j DROP
 * ```
 * Why: the same as the nftables ruleset of `egressNatNft` — masquerade forwarded client traffic to
 * the pod's address (its own traffic exempt) and drop invalid conntrack state so nothing leaks un-NATed.
 */
export function egressNatIptables(family: Family, podIP: Ip, iface: string): IptablesRule[] {
  const host = `${podIP}/${family === 4 ? 32 : 128}`;
  return [
    { family, table: "nat", chain: "POSTROUTING", spec: ["!", "-s", host, "-o", iface, "-j", "MASQUERADE"] },
    { family, table: "filter", chain: "FORWARD", spec: ["-o", iface, "-m", "state", "--state", "INVALID", "-j", "DROP"] },
  ];
}

/**
 * The NAT client's connmark rules of originating-only mode with the iptables backend (Coil §6.4),
 * for one link:
 * ```
 * iptables -t mangle -A INPUT -i eth0 -m conntrack --ctstate NEW,ESTABLISHED,RELATED -j CONNMARK --set-mark 2
 * iptables -t mangle -A OUTPUT -j CONNMARK -m connmark --mark 2 --restore-mark
 * ```
 * (2 = the link's ifindex). Why: connections arriving on the link are marked; replies restore the
 * mark and rule 1000 routes them by the link's own table, not into the tunnel.
 */
export function originatingOnlyIptables(family: Family, link: string, ifindex: number): IptablesRule[] {
  const mark = String(ifindex);
  return [
    { family, table: "mangle", chain: "INPUT", spec: ["-i", link, "-m", "conntrack", "--ctstate", "NEW,ESTABLISHED,RELATED", "-j", "CONNMARK", "--set-mark", mark] },
    { family, table: "mangle", chain: "OUTPUT", spec: ["-j", "CONNMARK", "-m", "connmark", "--mark", mark, "--restore-mark"] },
  ];
}
