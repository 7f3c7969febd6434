/**
 * CNI error codes and the CNI error value.
 *
 * Codes mirror `ErrorCode` in `proto/cni.proto` (which mirrors Coil v2's `pkg/cnirpc`) and the CNI
 * spec's well-known error table (0-99 reserved, 100+ plugin specific, 999 libcni's "internal").
 */

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

const MAX_ECHO = 256;

/** Build a {@link CniError}. */
export function cniError(code: number, msg: string, details = ""): CniError {
  return { kind: "cni-error", code, msg, details };
}

/**
 * The spec's error object for `e` in protocol version `cniVersion`, key order as the spec example
 * (`cniVersion`, `code`, `msg`, `details`); `details` is left out when empty.
 */
export function cniErrorJson(e: CniError, cniVersion: string): CniErrorJson {
  const base = { cniVersion, code: e.code, msg: e.msg };
  return e.details === "" ? base : { ...base, details: e.details };
}

/**
 * Quote an untrusted value for an error message: JSON string escaping (so control characters are
 * visible and cannot break a log line) and truncation to 256 characters.
 */
export function quoteValue(value: string): string {
  const cut = value.length > MAX_ECHO ? `${value.slice(0, MAX_ECHO)}...` : value;
  return JSON.stringify(cut);
}
