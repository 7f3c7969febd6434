/**
 * Addresses and networks: parsed, branded IPv4/IPv6 address and CIDR types, offset arithmetic,
 * containment and splitting, and the naming rules every layer shares (Linux interface names,
 * Kubernetes' DNS-1123 names). Values are canonical strings, so they serialise as plain JSON.
 *
 * @module net
 */
export type { Family, Ip, Cidr, NetError } from "./ip.js";
export { formatIpv6Groups, parseIpv6Groups } from "./ipv6.js";
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
export { DNS1123_LABEL_MAX_LENGTH, DNS1123_SUBDOMAIN_MAX_LENGTH, isDns1123Label, isDns1123Subdomain } from "./dns-names.js";
