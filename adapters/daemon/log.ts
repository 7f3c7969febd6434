/**
 * Structured logs for coild: one JSON object per line (`level`, `ts`, `msg`, then fields), written
 * to an injected sink (stderr in production). The implementation lives in `adapters/common/log.ts`;
 * this module re-exports it under the names the daemon has always used.
 */

import { createJsonLogger, SILENT_LOGGER, type JsonLoggerOptions, type Logger } from "../common/log.js";

export type { LogFields, Logger } from "../common/log.js";

/** Options of {@link createLogger} (same as the common {@link JsonLoggerOptions}). */
export type LoggerOptions = JsonLoggerOptions;

/** A JSON-lines logger. Values that cannot be serialised (bigint, cycles) are stringified. */
export const createLogger: (opts: LoggerOptions) => Logger = createJsonLogger;

/** A logger that drops everything (tests). */
export const NULL_LOGGER: Logger = SILENT_LOGGER;
