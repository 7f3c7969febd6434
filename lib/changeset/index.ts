/**
 * Declarative changesets: typed netlink operations and nftables commands (libnftables-json),
 * grouped into per-namespace steps. Plain JSON data, rendered by `explain`, reversed by `invert`.
 * The kernel port ({@link Kernel}) is what adapters implement to apply changesets and observe
 * namespace state.
 *
 * @module changeset
 */
export type {
  NetnsRef,
  RouteScope,
  Route,
  Rule,
  FouEncap,
  NetlinkOp,
  NetlinkOpKind,
  VethPeer,
  LinkAddVethOp,
  LinkAddVxlanOp,
  LinkAddTunnelOp,
  LinkAddDummyOp,
  LinkSetOp,
  LinkDelOp,
  FouAddOp,
  FouDelOp,
  AddrAddOp,
  AddrDelOp,
  RouteAddOp,
  RouteReplaceOp,
  RouteDelOp,
  RuleAddOp,
  RuleDelOp,
  SysctlSetOp,
} from "./netlink.js";
export type {
  NftFamily,
  NftTable,
  NftChain,
  NftSet,
  NftElement,
  NftRule,
  NftExpr,
  NftStatement,
  NftMatch,
  NftCounterValue,
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
export type { FouPortState } from "./state.js";
export type { InvertNetlinkError, InvertNftError } from "./invert.js";
export type { NftChainState, NftSetState, NftTableState, NftRuleset, NftModelError } from "./nft-model.js";
export { applyNftCommands, EMPTY_NFT_RULESET } from "./nft-model.js";
export type { ModelError } from "./model-routes.js";
export { normalizeRoute, routeKey, checkRoute, routeMatches, ruleEquals, ruleMatches } from "./model-routes.js";
export type { ApplyOpOptions, ApplyFailure, NetnsNotFound } from "./model.js";
export { applyOp, applyChangeset, netnsKey } from "./model.js";
export type { InvertError } from "./invert.js";
export { invertOp, invertNftCommand, invertChangeset } from "./invert.js";
export type { DiffScope, DiffRouteScope, DiffRuleScope, DiffAddrScope, AddrDiff } from "./diff.js";
export { diffRoutes, diffRules, diffAddrs, diffSysctls, diffNftRules, diffNetnsState, routeTable, routeInScope, ruleInScope, addrInScope } from "./diff.js";
export type {
  Kernel,
  KernelApplyReport,
  KernelApplyError,
  KernelFailureReason,
  KernelCommandError,
  KernelOutputError,
  KernelObserveError,
  AppliedOp,
  FailedOp,
  InvalidNetns,
  NftTooLarge,
  ObserveOptions,
  RouteQuery,
  NftQuery,
  NftListing,
} from "./kernel-port.js";
