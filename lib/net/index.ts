/**
 * Addresses and networks: parsed, branded IPv4/IPv6 address and CIDR types, offset arithmetic,
 * containment and splitting, and the Linux interface-name rule every layer shares. Values are
 * canonical strings, so they serialise as plain JSON.
 *
 * @module net
 */
export type { Family, Ip, Cidr, NetError } from "./ip.js";
export { familyBits, parseIp, parseCidr, ipFamily, ipToBigInt, ipFromBigInt, ipAdd, ipDiff, ipCompare } from "./ip.js";
export {
  cidrAddress,
  cidrPrefix,
  cidrFamily,
  cidrHostBits,
  makeCidr,
  hostCidr,
  cidrNetwork,
  cidrContains,
  cidrCovers,
  cidrOverlaps,
  cidrSize,
  cidrAt,
  cidrOffset,
  cidrSubnet,
  cidrSplit,
} from "./cidr.js";
export type { IfNameError, IfNameProblem } from "./names.js";
export { IFNAME_MAX_BYTES, utf8Length, validateIfName } from "./names.js";
