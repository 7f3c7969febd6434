/**
 * CNI errors on the wire: the gRPC status code for a CNI error code, and the
 * `grpc-status-details-bin` trailer carrying `google.rpc.Status{details:[CNIError]}` exactly as
 * Go's `status.New(code, msg).WithDetails(&cnirpc.CNIError{...})` encodes it, which the `coil`
 * executable (Go or TypeScript) turns back into the CNI error.
 */
import { Metadata, status as GrpcCode, type ServiceError } from "@grpc/grpc-js";
import { CNI_ERROR, type CniError } from "../../lib/cni/index.js";
import { CNIError } from "./gen/cni.js";
import { Status } from "./gen/google/rpc/status.js";

/** The type URL of the CNIError detail (`type.googleapis.com/` + full message name). */
export const CNI_ERROR_TYPE_URL = "type.googleapis.com/pkg.cnirpc.CNIError";

/** The binary trailer holding the serialised `google.rpc.Status`. */
export const STATUS_DETAILS_KEY = "grpc-status-details-bin";

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
      return GrpcCode.INVALID_ARGUMENT;
    case CNI_ERROR.UNKNOWN_CONTAINER:
      return GrpcCode.NOT_FOUND;
    case CNI_ERROR.TRY_AGAIN_LATER:
    case CNI_ERROR.PLUGIN_NOT_AVAILABLE:
    case CNI_ERROR.PLUGIN_NOT_AVAILABLE_LIMITED_CONNECTIVITY:
      return GrpcCode.UNAVAILABLE;
    default:
      return GrpcCode.INTERNAL;
  }
}

/** The {@link CallFailure} for a CNI error (status message = the CNI message, as Coil). */
export function failureOf(e: CniError): CallFailure {
  return { grpcCode: grpcCodeFor(e), message: e.msg, error: e };
}

/** The serialised `google.rpc.Status` with one CNIError detail. */
export function encodeStatusDetails(f: CallFailure): Buffer {
  const detail = CNIError.encode({ code: f.error.code, msg: f.error.msg, details: f.error.details }).finish();
  const st = Status.encode({ code: f.grpcCode, message: f.message, details: [{ typeUrl: CNI_ERROR_TYPE_URL, value: Buffer.from(detail) }] });
  return Buffer.from(st.finish());
}

/** A grpc-js error object for a handler callback, trailer included. */
export function toServiceError(f: CallFailure): Partial<ServiceError> {
  const metadata = new Metadata();
  metadata.set(STATUS_DETAILS_KEY, encodeStatusDetails(f));
  return { code: f.grpcCode, details: f.message, metadata };
}

/** Read the CNIError detail back from a grpc-js error (what the `coil` client does). */
export function cniErrorFromServiceError(e: ServiceError): CniError | undefined {
  const raw = e.metadata?.get(STATUS_DETAILS_KEY)[0];
  if (raw === undefined || typeof raw === "string") return undefined;
  const st = Status.decode(raw);
  if (st.details.length !== 1 || st.details[0]?.typeUrl !== CNI_ERROR_TYPE_URL) return undefined;
  const d = CNIError.decode(st.details[0].value);
  return { kind: "cni-error", code: d.code, msg: d.msg, details: d.details };
}
