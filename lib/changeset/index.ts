/**
 * Declarative changesets: typed netlink operations and nftables commands (libnftables-json),
 * grouped into per-namespace steps. Plain JSON data, rendered by `explain`, reversed by `invert`.
 *
 * @module changeset
 */
export type { NetnsRef, RouteScope, Route, Rule, FouEncap, NetlinkOp, NetlinkOpKind } from "./netlink.js";
export type {
  NftFamily,
  NftTable,
  NftChain,
  NftSet,
  NftElement,
  NftRule,
  NftExpr,
  NftStatement,
  NftObject,
  NftCommand,
  NftDocument,
} from "./nft.js";
export type { Step, Changeset } from "./changeset.js";
export { HOST_NETNS, netnsPath, step, concatChangesets, sameNetns, isEmptyChangeset, assertNever } from "./changeset.js";
export type { LinkKind, LinkState, AddrState, NetnsState } from "./state.js";
export { EMPTY_NETNS_STATE } from "./state.js";
export type { NameField, RenderError } from "./names.js";
export {
  IFNAME_MAX,
  ALIAS_MAX_BYTES,
  validateIfName,
  validateAlias,
  validateNetnsPath,
  validateInt,
  sysctlPath,
  validateSysctlValue,
  batchLine,
} from "./names.js";
export type { IpCommand, SysctlWrite, RenderedOp, RenderContext } from "./render-ip.js";
export { ipArgv } from "./render-ip.js";
export { nftCommandText, nftExprText } from "./nft-text.js";
export type { ExplainOptions } from "./explain.js";
export { explain, explainOp, shellQuote } from "./explain.js";
