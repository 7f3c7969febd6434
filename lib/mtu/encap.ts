import { err, ok, type Result } from "neverthrow";
import { assertNever } from "../changeset/index.js";
import type { MtuError } from "./detect.js";

/** Encapsulations whose overhead {@link tunnelOverhead} knows. */
export type EncapKind = "fou-ipip" | "fou-ip6tnl" | "ipip" | "ip6tnl" | "vxlan4" | "vxlan6";

const IPV4_HEADER = 20;
const IPV6_HEADER = 40;
const UDP_HEADER = 8;
const VXLAN_HEADER = 8;
const ETHERNET_HEADER = 14;
/** IPv6 tunnel encapsulation limit destination option (RFC 2473), added by ip6tnl unless `encaplimit none`. */
const ENCAP_LIMIT_OPTION = 8;
/** Smallest MTU an IPv4 link may have (RFC 791). */
const MIN_MTU = 68;

/** Options of {@link tunnelOverhead}. */
export interface OverheadOptions {
  /** For ip6tnl kinds: the tunnel adds the 8-byte encapsulation limit option (kernel default `encaplimit 4`). Default false. */
  readonly encapLimit?: boolean;
}

/**
 * Bytes an encapsulation adds in front of the inner packet:
 * - `fou-ipip`: outer IPv4 (20) + UDP (8) = 28; the inner IP packet follows directly.
 * - `fou-ip6tnl`: outer IPv6 (40) + UDP (8) = 48 (+8 with the encapsulation limit option).
 * - `ipip`: outer IPv4 = 20. `ip6tnl`: outer IPv6 = 40 (+8 with the encapsulation limit option).
 * - `vxlan4`: outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14) = 50.
 * - `vxlan6`: outer IPv6 (40) + UDP (8) + VXLAN (8) + inner Ethernet (14) = 70.
 */
export function tunnelOverhead(kind: EncapKind, opts: OverheadOptions = {}): number {
  const limit = opts.encapLimit === true ? ENCAP_LIMIT_OPTION : 0;
  switch (kind) {
    case "fou-ipip":
      return IPV4_HEADER + UDP_HEADER;
    case "fou-ip6tnl":
      return IPV6_HEADER + limit + UDP_HEADER;
    case "ipip":
      return IPV4_HEADER;
    case "ip6tnl":
      return IPV6_HEADER + limit;
    case "vxlan4":
      return IPV4_HEADER + UDP_HEADER + VXLAN_HEADER + ETHERNET_HEADER;
    case "vxlan6":
      return IPV6_HEADER + UDP_HEADER + VXLAN_HEADER + ETHERNET_HEADER;
    default:
      return assertNever(kind);
  }
}

/**
 * The MTU of a tunnel whose outer packets must fit `base` (the underlay MTU):
 * `base - tunnelOverhead(kind)`, e.g. 1500 → 1472 for FoU/IPIP, 1450 for VXLAN over IPv4.
 * Fails with `mtu-too-small` below 68 bytes.
 */
export function mtuForEncapsulation(base: number, kind: EncapKind, opts: OverheadOptions = {}): Result<number, MtuError> {
  const overhead = tunnelOverhead(kind, opts);
  const mtu = base - overhead;
  if (!Number.isInteger(base) || mtu < MIN_MTU) {
    return err({ kind: "mtu-too-small", base, overhead, message: `MTU ${base} leaves ${mtu} bytes after ${kind} (${overhead} bytes)` });
  }
  return ok(mtu);
}
