/**
 * CNI errors on grpc-js: a {@link CallFailure} as a grpc-js error whose `grpc-status-details-bin`
 * trailer carries `google.rpc.Status{details:[CNIError]}` exactly as Go's
 * `status.New(code, msg).WithDetails(&cnirpc.CNIError{...})` encodes it (the codec is the shared
 * `adapters/proto/cni-error-status.ts`), which the `coil` executable (Go or TypeScript) turns back
 * into the CNI error. Loads grpc-js: coild imports this module only with the gRPC endpoint
 * (`grpc.ts`), on the first HTTP/2 connection.
 */
import { Metadata, type ServiceError } from "@grpc/grpc-js";
import type { CniError } from "../../../lib/cni/index.js";
import { cniErrorOfStatus, encodeCniErrorStatus, STATUS_DETAILS_KEY } from "../../proto/cni-error-status.js";
import type { CallFailure } from "./call-failure.js";

export { failureOf, grpcCodeFor, type CallFailure } from "./call-failure.js";

/** A grpc-js error object for a handler callback, trailer included. */
export function toServiceError(f: CallFailure): Partial<ServiceError> {
  const metadata = new Metadata();
  metadata.set(STATUS_DETAILS_KEY, encodeCniErrorStatus(f.grpcCode, f.message, f.error));
  return { code: f.grpcCode, details: f.message, metadata };
}

/** Read the CNIError detail back from a grpc-js error (what the `coil` client does). */
export function cniErrorFromServiceError(e: ServiceError): CniError | undefined {
  const raw = e.metadata?.get(STATUS_DETAILS_KEY)[0];
  if (raw === undefined || typeof raw === "string") return undefined;
  const d = cniErrorOfStatus(raw);
  return d === undefined ? undefined : { kind: "cni-error", ...d };
}
