/**
 * Planners: pure functions that turn desired state into a {@link changeset!Changeset | Changeset} of typed netlink ops
 * and nftables commands, exactly as Coil v2 lays out the kernel. Each planner also takes the
 * observed state and then returns only the difference (empty when nothing is to do).
 *
 * @module plan
 */
export type { PlanError } from "./errors.js";
export { validateLinkName, validateNetnsPath, validateInt } from "./errors.js";
export { sha1, sha1Hex, toHex, utf8Bytes } from "./sha1.js";
export type { HostVethNameOptions, LinkAlias } from "./names.js";
export {
  hostVethName,
  isHostVethName,
  formatLinkAlias,
  parseLinkAlias,
  ipBytes,
  fouLinkName,
  vxlanLinkName,
  vxlanVniFor,
  vxlanGatewayMac,
  sysctlIfName,
} from "./names.js";
export type { ObservedPodNetns, PodSetupOptions, PodTeardownOptions } from "./pod-network.js";
export { planPodSetup, planPodTeardown, unfinishedHostVeth, POD_GATEWAY_V6 } from "./pod-network.js";
export type { HostInitOptions } from "./host-init.js";
export { planHostInit, forwardingSysctl } from "./host-init.js";
export type { RouteExportOptions } from "./route-export.js";
export { planRouteExport, exportRoute } from "./route-export.js";
export type { RouterNode, RouterBlock, RouterRoutesOptions, RouterPlan } from "./router.js";
export { planRouterRoutes, routerDesiredRoutes } from "./router.js";
export type { TunnelSpec, FouTunnelSpec, VxlanTunnelSpec, TunnelLinkOptions } from "./tunnel.js";
export { tunnelLocal, tunnelLinkName, tunnelLinkOps, tunnelSysctls, tunnelVia, fouInitOps, FOU_FALLBACK_RENAME, VXLAN_INNER_LL, type LinkRename } from "./tunnel.js";
export type { EgressClientInitOptions, EgressClientSyncOptions, EgressClientTeardownOptions } from "./egress-client.js";
export {
  planEgressClientInit,
  planEgressClientSync,
  planEgressClientTeardown,
  egressClientRules,
  natTableFor,
  DEFAULT_IN_CLUSTER_NETWORKS,
} from "./egress-client.js";
export type { OriginatingOnlyOptions, OriginatingOnlyPlan } from "./originating-only.js";
export { originatingOnlyPlan, originatingOnlyNftRules, candidateLinks as originatingOnlyLinks, NFT_PRIO_MANGLE, MANGLE_TABLE } from "./originating-only.js";
export type { EgressGatewayOptions, EgressGatewayTunnel, EgressNatNft } from "./egress-gateway.js";
export { planEgressGateway, egressNatNft, NFT_PRIO_SRCNAT, NFT_PRIO_FILTER } from "./egress-gateway.js";
export type { IptablesRule } from "./iptables.js";
export { egressNatIptables, originatingOnlyIptables } from "./iptables.js";
