/**
 * `@coil/core/util`: small helpers shared by the other modules and by the adapters, with no Coil
 * knowledge of their own: Go's duration syntax ({@link parseDuration}), which Coil's flags and this
 * project's pool annotations use.
 *
 * @module util
 */
export type { DurationError } from "./duration.js";
export { parseDuration } from "./duration.js";
