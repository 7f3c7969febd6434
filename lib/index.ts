/**
 * `@coil/core`: the pure functional core of Coil for TypeScript. It decides which address a pod
 * gets, which block a node gets, and exactly which kernel objects must exist; adapters observe
 * the world and apply its answers. No I/O, no clock and no randomness happen in here.
 *
 * @module @coil/core
 */
export * as net from "./net/index.js";
export * as changeset from "./changeset/index.js";
export * as ipam from "./ipam/index.js";
export * as cni from "./cni/index.js";
export * as mtu from "./mtu/index.js";
export * as constants from "./constants.js";
export * as plan from "./plan/index.js";
export * as egress from "./egress/index.js";
export * as report from "./report/index.js";
export * as util from "./util/index.js";
