/**
 * The kernel adapter: applies changesets (`ip -batch`, `sysctl`, `nft -j` spawned with argv
 * arrays, namespaces entered through `nsenter`, or all of it through a {@link Spawner}), observes namespace state from `ip -j` / `nft -j`,
 * and offers {@link FakeKernel}, the same {@link Kernel} interface over the lib state model.
 *
 * @module adapters/kernel
 */
export type { Kernel, ApplyReport, ApplyError, AppliedOp, FailedOp, KernelFailureReason } from "./kernel.js";
export { isTransient, reasonOfErrno, reasonOfExecError, reasonOfText } from "./failure.js";
export { applyChangeset, planChangeset, defaultHostNetnsPath, NFT_ARG_MAX, type ExecutorOptions, type PlannedStep } from "./executor.js";
export { observeNetns, observeNft, observeRoutes, observeSysctls, netnsStateFromJson, splitJsonLines, parseRouteQueryJson, routeInQuery } from "./observer.js";
export type { ObserveError, ObserveOptions, ObserveRoutesOptions, NftQuery } from "./observer.js";
export { observeTableRoutes } from "./observe-routes.js";
export { realKernel } from "./real-kernel.js";
export { IpSession, IP_SESSION_ARGV, IP_SESSION_CHANGE_VERBS, IP_SESSION_MARKER, type IpSessionOptions, type IpSessionCallOptions } from "./ip-session.js";
export { fuseSteps } from "./executor.js";
export { FakeKernel, FAKE_SYSCTL_DEFAULTS, type Fault } from "./fake-kernel.js";
export { runCommand, runInNetns, inNetns, validateNetnsPath, useSpawner, currentSpawner, type ExecError, type ExecOutput, type RunOptions } from "./run.js";
export { Spawner, SPAWNER_FILE, spawnerPath, responseOutcome, type SpawnerRunOptions } from "./spawner.js";
export { LineSplitter } from "./line-splitter.js";
export { parseIpLinks, parseIpLinkDetails, parseIpAddrs, type IpLinkDetail } from "./parse-ip-link.js";
export { parseIpRoutes, parseIpRules, TABLE_NAMES, PROTOCOL_NAMES, SCOPE_NAMES } from "./parse-ip-route.js";
export { parseNftListing, type NftListing } from "./parse-nft.js";
export type { ParseError } from "./json-shape.js";
export { rollback, inverseRuns, type InvertFn, type NftRevert, type RollbackOptions, type RollbackResult } from "./rollback.js";
export { nftUndo, type NftUndo } from "./nft-undo.js";
export { groupOps, batchFamily, failedBatchLine, ipBatchArgv, type OpGroup } from "./ip-batch.js";
export { ensureIptablesRules, deleteIptablesRules } from "./iptables.js";
