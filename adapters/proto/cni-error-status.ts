/**
 * The CNIError ⇄ gRPC status codec of the coil ⇄ coild protocol — the one place both sides
 * encode and decode it.
 *
 * coild reports a CNI error as a gRPC status carrying exactly one `pkg.cnirpc.CNIError` packed in a
 * `google.protobuf.Any`, inside a `google.rpc.Status` sent in the `grpc-status-details-bin`
 * trailer. That is what Go's `status.New(code, msg).WithDetails(cniErr)` sends and what Coil's Go
 * client (`status.Convert(err).Details()`) reads. grpc-go rejects the trailer when
 * `Status.code` differs from the call's `grpc-status`, so both are set from one `code`.
 *
 * Imports only the portable messages-only generated code (no grpc-js, no Node.js `Buffer` in
 * decoding): coild's gRPC endpoint (`adapters/daemon/endpoint/grpc-status.ts`) encodes with it, the
 * `coil` executable (`adapters/cni/grpc-wire.ts`, also under QuickJS) decodes with it.
 */
import { CNIError } from "./gen/portable/cni.js";
import { Status } from "./gen/portable/google/rpc/status.js";

/** The trailer key carrying a serialized `google.rpc.Status`. */
export const STATUS_DETAILS_KEY = "grpc-status-details-bin";

/** The `Any.type_url` of a packed `pkg.cnirpc.CNIError` (Go's `anypb.New` prefix + full name). */
export const CNI_ERROR_TYPE_URL = "type.googleapis.com/pkg.cnirpc.CNIError";

/** The CNI error a status carries: code, message and details (the fields of `pkg.cnirpc.CNIError`). */
export interface CniErrorDetail {
  readonly code: number;
  readonly msg: string;
  readonly details: string;
}

/** Serialize `google.rpc.Status{code, message, details: [Any(CNIError)]}` for the trailer. */
export function encodeCniErrorStatus(code: number, message: string, cniError: CniErrorDetail): Buffer {
  const value = Buffer.from(CNIError.encode({ code: cniError.code, msg: cniError.msg, details: cniError.details }).finish());
  return Buffer.from(Status.encode({ code, message, details: [{ typeUrl: CNI_ERROR_TYPE_URL, value }] }).finish());
}

/** What a client learns from a `grpc-status-details-bin` trailer. */
export interface DecodedStatus {
  /** `Status.code`. */
  readonly code: number;
  /** `Status.message`. */
  readonly message: string;
  /** Number of details attached. */
  readonly detailCount: number;
  /** The CNIError, present only when there is exactly one detail and it is a CNIError (Coil's rule). */
  readonly cniError?: CNIError;
}

/** Parse a `grpc-status-details-bin` value; `undefined` when it is not a valid `google.rpc.Status`. */
export function decodeCniErrorStatus(bytes: Uint8Array): DecodedStatus | undefined {
  let st: Status;
  try {
    st = Status.decode(bytes);
  } catch {
    return undefined;
  }
  const base = { code: st.code, message: st.message, detailCount: st.details.length };
  const only = st.details.length === 1 ? st.details[0] : undefined;
  if (only === undefined || only.typeUrl !== CNI_ERROR_TYPE_URL) return base;
  try {
    return { ...base, cniError: CNIError.decode(only.value) };
  } catch {
    return base;
  }
}

/** The single CNIError of a `grpc-status-details-bin` value, if it holds exactly that (else undefined). */
export function cniErrorOfStatus(bytes: Uint8Array): CniErrorDetail | undefined {
  const e = decodeCniErrorStatus(bytes)?.cniError;
  return e === undefined ? undefined : { code: e.code, msg: e.msg, details: e.details };
}
