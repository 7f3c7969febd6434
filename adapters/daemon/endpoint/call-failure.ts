/**
 * A failed CNI call as both transports report it: the gRPC status code and message, and the CNI
 * error. Free of runtime grpc-js imports, so the fast JSON-line path (and coild's start-up) does
 * not load grpc-js; the gRPC wire encoding of a failure lives in `grpc-status.ts`.
 */
import type { status as GrpcCode } from "@grpc/grpc-js";
import { CNI_ERROR, type CniError } from "../../../lib/cni/index.js";

/** The gRPC status codes coild answers failures with (the values of grpc-js's `status`). */
export const GRPC_CODE = {
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const satisfies Record<string, GrpcCode>;

/** A failed call: the gRPC status code and message, and the CNI error detail. */
export interface CallFailure {
  readonly grpcCode: GrpcCode;
  readonly message: string;
  readonly error: CniError;
}

/**
 * The gRPC code for a CNI error. Coil answers nearly everything with `Internal` (its handlers
 * wrap every failure as INTERNAL); the other codes follow the meaning of the CNI code.
 */
export function grpcCodeFor(e: CniError): GrpcCode {
  switch (e.code) {
    case CNI_ERROR.INVALID_ENVIRONMENT_VARIABLES:
    case CNI_ERROR.INVALID_NETWORK_CONFIG:
    case CNI_ERROR.DECODING_FAILURE:
    case CNI_ERROR.UNSUPPORTED_FIELD:
    case CNI_ERROR.INCOMPATIBLE_CNI_VERSION:
      return GRPC_CODE.INVALID_ARGUMENT;
    case CNI_ERROR.UNKNOWN_CONTAINER:
      return GRPC_CODE.NOT_FOUND;
    case CNI_ERROR.TRY_AGAIN_LATER:
    case CNI_ERROR.PLUGIN_NOT_AVAILABLE:
    case CNI_ERROR.PLUGIN_NOT_AVAILABLE_LIMITED_CONNECTIVITY:
      return GRPC_CODE.UNAVAILABLE;
    default:
      return GRPC_CODE.INTERNAL;
  }
}

/** The {@link CallFailure} for a CNI error (status message = the CNI message, as Coil). */
export function failureOf(e: CniError): CallFailure {
  return { grpcCode: grpcCodeFor(e), message: e.msg, error: e };
}
