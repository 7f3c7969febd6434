/**
 * IPAM core: AddressPool validation (Coil's webhook rules), splitting pools into blocks,
 * controller-side block allocation, the per-block address allocator and the node allocator; beyond
 * Coil, pool policies (reserved and static-only ranges, reuse quarantine) and static addresses.
 * Pure and synchronous; fallible functions return neverthrow Results with `{ kind }` errors.
 * The block store port ({@link BlockStore}) is what a node's block source implements.
 *
 * @module ipam
 */
export type {
  ErrorOf,
  SubnetError,
  PoolFieldError,
  FieldInfo,
  ParseObjectError,
  BlockError,
  AllocatorError,
  NodeIpamError,
} from "./errors.js";
export { formatFieldError } from "./errors.js";
export type { SubnetSet, ParsedSubnetSet, Block } from "./subnet.js";
export {
  validateSubnetSet,
  isIPv4SubnetSet,
  isIPv6SubnetSet,
  isDualStackSubnetSet,
  subnetSetEqual,
  subnetSetBlock,
} from "./subnet.js";
export type { AddressPoolSpec, DefaultedPoolSpec, ObjectMeta, AddressPool } from "./pool.js";
export { withPoolDefaults, poolFamilies, addPoolFinalizer, validatePoolCreate, validatePoolUpdate } from "./pool.js";
export type { ParsedAddressBlock } from "./parse.js";
export { parsePool, parseAddressBlock } from "./parse.js";
export type { PoolLayout, PoolLayoutItem } from "./block.js";
export { poolLayout, poolMaxBlocks, blockAt, layoutBlockAt, blockIndexOf, blockName } from "./block.js";
export { BlockAllocator, MAX_BLOCK_INDEXES } from "./block-allocator.js";
export type { BlockAddress, AllocatorState, AllocatorPolicy } from "./allocator.js";
export { AddressAllocator, MAX_BLOCK_HOST_BITS } from "./allocator.js";
export type { ObservedBlock, NodeBlockInfo, BlockRef, Allocation, FreeOutcome, NodeIpamState } from "./node-ipam.js";
export { NodeIpam, allocationKey } from "./node-ipam.js";
export { choosePool } from "./pool-choice.js";
export type { AddressRange, PoolPolicy, PolicyParseError, StaticAddresses, StaticError, StaticSlot, Interval } from "./policy.js";
export { intervalHolding } from "./intervals.js";
export {
  NO_POLICY,
  parseAddressRanges,
  poolPolicy,
  blockExclusions,
  blockOffsetExclusions,
  parseStaticIps,
  staticSlot,
} from "./policy.js";
export type { BlockStore, StoredBlock, StorePool, StoreError, StorePoolDefinition } from "./store-port.js";
