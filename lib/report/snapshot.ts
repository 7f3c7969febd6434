/**
 * The inputs of the report: plain snapshots of the API objects coilctl reads (reduced to what
 * the checks need) and of each node's coild view. Times are milliseconds since the epoch.
 */
import type { AddressPoolSpec } from "../ipam/index.js";
import type { NodeAllocations } from "./view.js";

/** An AddressPool. */
export interface SnapshotPool {
  /** Pool name. */
  readonly name: string;
  /** Its spec (block size, subnets). */
  readonly spec: AddressPoolSpec;
}

/** An AddressBlock. */
export interface SnapshotBlock {
  /** Object name (`<pool>-<index>`). */
  readonly name: string;
  /** Object UID (release deletes with it as a precondition). */
  readonly uid: string;
  /** Label `coil.cybozu.com/pool`. */
  readonly pool: string;
  /** Label `coil.cybozu.com/node`; undefined when the label is missing. */
  readonly node: string | undefined;
  /** IPv4 CIDR. */
  readonly ipv4?: string;
  /** IPv6 CIDR. */
  readonly ipv6?: string;
  /** Label `coil.cybozu.com/reserved=true`. */
  readonly reserved?: boolean;
  /** `metadata.creationTimestamp`. */
  readonly createdAtMs: number;
}

/** A BlockRequest. */
export interface SnapshotBlockRequest {
  /** Object name. */
  readonly name: string;
  /** Object UID. */
  readonly uid: string;
  /** `spec.poolName`. */
  readonly pool: string;
  /** `spec.nodeName`. */
  readonly node: string;
  /** `status.addressBlockName`, once the controller answered. */
  readonly addressBlockName?: string;
  /** The `Failed` condition is true. */
  readonly failed: boolean;
  /** `metadata.creationTimestamp`. */
  readonly createdAtMs: number;
}

/** A Pod. */
export interface SnapshotPod {
  /** Namespace. */
  readonly namespace: string;
  /** Name. */
  readonly name: string;
  /** UID. */
  readonly uid: string;
  /** `spec.nodeName`; undefined while unscheduled. */
  readonly node: string | undefined;
  /** `spec.hostNetwork`: such pods use the node's addresses, not Coil's. */
  readonly hostNetwork: boolean;
  /** `status.phase` (`Pending`, `Running`, `Succeeded`, `Failed`, `Unknown`). */
  readonly phase: string;
  /** `status.podIPs` (or `status.podIP`). */
  readonly ips: readonly string[];
  /** `metadata.creationTimestamp`. */
  readonly createdAtMs: number;
}

/** One node's coild view, or why it could not be read. */
export type NodeViewSnapshot = NodeViewRead | NodeViewMissing;

/** A node's coild view as read. */
export interface NodeViewRead {
  /** Node name. */
  readonly node: string;
  /** The `/allocations` answer. */
  readonly view: NodeAllocations;
}

/** A node whose coild view could not be read. */
export interface NodeViewMissing {
  /** Node name. */
  readonly node: string;
  /** Why. */
  readonly error: string;
}

/** Everything the checks look at. */
export interface ClusterSnapshot {
  /** Names of the existing Nodes. */
  readonly nodes: readonly string[];
  /** AddressPools. */
  readonly pools: readonly SnapshotPool[];
  /** AddressBlocks. */
  readonly blocks: readonly SnapshotBlock[];
  /** BlockRequests. */
  readonly blockRequests: readonly SnapshotBlockRequest[];
  /** Pods of every namespace. */
  readonly pods: readonly SnapshotPod[];
  /** coild's view of each node that was asked (normally every Node). */
  readonly views: readonly NodeViewSnapshot[];
}
