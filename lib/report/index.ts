/**
 * `@coil/core/report`: what coilctl reports, pure. Snapshots of the cluster (Nodes, Pods,
 * AddressPools, AddressBlocks, BlockRequests) and of each node's coild (`GET /allocations`) in,
 * leak findings, utilisation and listings out; "now" and the grace period are parameters.
 *
 * @module report
 */
export type { NodeAllocations, ViewBlock, ViewAddress, ViewPod, ViewHostVeth, ViewKernel, ViewPodRoute, ViewError } from "./view.js";
export { parseNodeAllocations } from "./view.js";
export type { ClusterSnapshot, SnapshotPool, SnapshotBlock, SnapshotBlockRequest, SnapshotPod, NodeViewSnapshot, NodeViewRead, NodeViewMissing } from "./snapshot.js";
export type { LeakCategory, ReleaseAction, Finding, UncheckedNode, DeferredNode, LeakReport, CheckOptions, SnapshotError } from "./check.js";
export { LEAK_CATEGORIES, checkLeaks, isLivePod } from "./check.js";
export type { Recheck, RecheckRelease, RecheckSkip, RecheckReportOnly, ReportFileError } from "./release.js";
export { parseReportFindings, releaseOrder, recheckFinding } from "./release.js";
export type { PoolUsage, NodePoolUsage, BlockRow, AddressRow, Utilisation } from "./usage.js";
export { utilisation, blockRows, addressRows } from "./usage.js";
