/**
 * MTU detection (cybozu-go/netutil `DetectMTU`, pure over a snapshot of `ip route get`/`ip link`)
 * and tunnel header arithmetic.
 *
 * @module mtu
 */
export type { MtuLink, MtuRoute, MtuSnapshot, MtuSource, DetectedMtu, MtuError } from "./detect.js";
export { detectMtu } from "./detect.js";
export type { EncapKind, OverheadOptions } from "./encap.js";
export { tunnelOverhead, mtuForEncapsulation } from "./encap.js";
