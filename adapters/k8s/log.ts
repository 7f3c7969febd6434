/**
 * Structured logs for the Kubernetes adapters. The implementation lives in
 * `adapters/common/log.ts`; this module re-exports it under the names the k8s adapters use.
 */

export type { LogFields, Logger, JsonLoggerOptions } from "../common/log.js";
export { createJsonLogger, SILENT_LOGGER } from "../common/log.js";
