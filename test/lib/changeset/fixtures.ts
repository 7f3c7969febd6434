import { parseCidr, parseIp, type Cidr, type Ip } from "../../../lib/net/index.js";

/** Parse a CIDR literal in tests. */
export function c(s: string): Cidr {
  return parseCidr(s)._unsafeUnwrap();
}

/** Parse an address literal in tests. */
export function a(s: string): Ip {
  return parseIp(s)._unsafeUnwrap();
}
