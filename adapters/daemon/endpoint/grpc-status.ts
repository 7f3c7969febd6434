/**
 * CNI errors on the wire: the gRPC status code for a CNI error code, and the
 * `grpc-status-details-bin` trailer carrying `google.rpc.Status{details:[CNIError]}` exactly as
 * Go's `status.New(code, msg).WithDetails(&cnirpc.CNIError{...})` encodes it, which the `coil`
 * executable (Go or TypeScript) turns back into the CNI error. Loads grpc-js: coild imports this
 * module only with the gRPC endpoint (`grpc.ts`), on the first HTTP/2 connection.
 */
import { Metadata, type ServiceError } from "@grpc/grpc-js";
import type { CniError } from "../../../lib/cni/index.js";
import type { CallFailure } from "./call-failure.js";
import { CNIError } from "../../proto/gen/cni.js";
import { Status } from "../../proto/gen/google/rpc/status.js";

export { failureOf, grpcCodeFor, type CallFailure } from "./call-failure.js";

/** The type URL of the CNIError detail (`type.googleapis.com/` + full message name). */
export const CNI_ERROR_TYPE_URL = "type.googleapis.com/pkg.cnirpc.CNIError";

/** The binary trailer holding the serialised `google.rpc.Status`. */
export const STATUS_DETAILS_KEY = "grpc-status-details-bin";

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
