/**
 * CNI error codes and the CNI error value.
 *
 * Codes mirror `ErrorCode` in `proto/cni.proto` (which mirrors Coil v2's `pkg/cnirpc`) and the CNI
 * spec's well-known error table (0-99 reserved, 100+ plugin specific, 999 libcni's "internal").
 */
import { utf8Length } from "../net/index.js";

/** CNI error codes, named as in `proto/cni.proto` `ErrorCode`. */
export const CNI_ERROR = {
  /** 0: unknown error (libcni `ErrUnknown`). */
  UNKNOWN: 0,
  /** 1: incompatible CNI version. */
  INCOMPATIBLE_CNI_VERSION: 1,
  /** 2: unsupported field in the network configuration (message names key and value). */
  UNSUPPORTED_FIELD: 2,
  /** 3: container unknown or does not exist. */
  UNKNOWN_CONTAINER: 3,
  /** 4: invalid necessary environment variables (message names them). */
  INVALID_ENVIRONMENT_VARIABLES: 4,
  /** 5: I/O failure, e.g. reading stdin. */
  IO_FAILURE: 5,
  /** 6: failed to decode content. */
  DECODING_FAILURE: 6,
  /** 7: invalid network configuration. */
  INVALID_NETWORK_CONFIG: 7,
  /** 11: try again later (transient). */
  TRY_AGAIN_LATER: 11,
  /** 50: STATUS: the plugin cannot serve ADD. */
  PLUGIN_NOT_AVAILABLE: 50,
  /** 51: STATUS: not available, and existing containers may have limited connectivity. */
  PLUGIN_NOT_AVAILABLE_LIMITED_CONNECTIVITY: 51,
  /** 999: internal error (libcni `ErrInternal`; what Coil reports for most daemon failures). */
  INTERNAL: 999,
} as const;

/** One of the well-known codes in {@link CNI_ERROR}. */
export type CniWellKnownCode = (typeof CNI_ERROR)[keyof typeof CNI_ERROR];

/**
 * A CNI error as a plain value. `code` is usually one of {@link CNI_ERROR}, but any number is
 * allowed because codes >= 100 are plugin specific and codes arrive from the wire.
 */
export interface CniError {
  /** Discriminant, so a `CniError` can sit in unions of lib errors. */
  readonly kind: "cni-error";
  /** The CNI error code. */
  readonly code: number;
  /** Short message (for code 4 it names the variables, for code 2 the key and value). */
  readonly msg: string;
  /** Longer details; empty string when there are none. */
  readonly details: string;
}

/** The error object a plugin prints on stdout (CNI spec "Error" result). */
export interface CniErrorJson {
  /** The protocol version in use. */
  readonly cniVersion: string;
  /** The error code. */
  readonly code: number;
  /** The message. */
  readonly msg: string;
  /** Details, omitted when empty (as libcni's `omitempty`). */
  readonly details?: string;
}

/** The most of one untrusted value an error message quotes, in UTF-16 code units (before JSON escaping). */
export const MAX_QUOTED_CHARS = 256;

/** The most values of an untrusted list an error message quotes. */
export const MAX_QUOTED_ITEMS = 8;

/** The longest `msg` an error object carries, in UTF-16 code units (longer ones are cut, see {@link boundText}). */
export const MAX_ERROR_MSG_CHARS = 1024;

/** The longest `details` an error object carries, in UTF-16 code units (longer ones are cut, see {@link boundText}). */
export const MAX_ERROR_DETAILS_CHARS = 4096;

/** Build a {@link CniError}. */
export function cniError(code: number, msg: string, details = ""): CniError {
  return { kind: "cni-error", code, msg, details };
}

/**
 * The spec's error object for `e` in protocol version `cniVersion`, key order as the spec example
 * (`cniVersion`, `code`, `msg`, `details`); `details` is left out when empty. `msg` and `details`
 * are bounded ({@link MAX_ERROR_MSG_CHARS}, {@link MAX_ERROR_DETAILS_CHARS}) whatever produced them
 * (a daemon's answer included), so an error never echoes an unbounded input back.
 */
export function cniErrorJson(e: CniError, cniVersion: string): CniErrorJson {
  const base = { cniVersion, code: e.code, msg: boundText(e.msg, MAX_ERROR_MSG_CHARS) };
  return e.details === "" ? base : { ...base, details: boundText(e.details, MAX_ERROR_DETAILS_CHARS) };
}

/** The first `max` code units of `s`, one less when the cut would split a surrogate pair. */
function head(s: string, max: number): string {
  const c = s.charCodeAt(max - 1);
  return s.slice(0, c >= 0xd800 && c < 0xdc00 ? max - 1 : max);
}

/**
 * Bound a text that may contain untrusted input (an error message built elsewhere, a parser's
 * message): unchanged when at most `max` UTF-16 code units, else its first `max` followed by
 * `… (N bytes)`, N being the whole text's UTF-8 length.
 */
export function boundText(text: string, max: number): string {
  return text.length <= max ? text : `${head(text, max)}… (${utf8Length(text)} bytes)`;
}

/**
 * Quote an untrusted value for an error message: JSON string escaping (so control characters are
 * visible and cannot break a log line), and at most `max` (default {@link MAX_QUOTED_CHARS}) UTF-16
 * code units of it: a longer value is quoted cut, followed by `… (N bytes)` with its UTF-8 length,
 * e.g. `"aaaa"… (100000 bytes)`.
 */
export function quoteValue(value: string, max = MAX_QUOTED_CHARS): string {
  return value.length <= max ? JSON.stringify(value) : `${JSON.stringify(head(value, max))}… (${utf8Length(value)} bytes)`;
}

/**
 * Quote an untrusted list for an error message: `["a","b"]` as `JSON.stringify` prints it, but each
 * item through {@link quoteValue} and at most {@link MAX_QUOTED_ITEMS} items, then `… (N in all)`.
 */
export function quoteList(values: readonly string[]): string {
  const shown = values.slice(0, MAX_QUOTED_ITEMS).map((v) => quoteValue(v));
  const more = values.length > MAX_QUOTED_ITEMS ? `,… (${values.length} in all)` : "";
  return `[${shown.join(",")}${more}]`;
}
