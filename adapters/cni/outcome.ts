/**
 * Turning a coild call outcome into a CNI error, per verb.
 *
 * - A failed call whose status carries exactly one `CNIError` detail → that code/msg/details (Coil §7.2.5).
 * - A failed call without it → 999 with the status message (Coil's `convertError`).
 * - coild unreachable or too slow → **11 (try again later)** for ADD/DEL/CHECK/GC. Deliberate
 *   difference from Coil, which reports 999: nothing is wrong with the request, the daemon is
 *   (re)starting, and 11 tells the runtime the failure is transient. DEL still fails (it cannot
 *   release the address without coild), so the runtime retries it.
 * - STATUS: unreachable/timeout → 50; a failure carrying 50 or 51 keeps it; any other failure → 50
 *   with the original error in `details` (STATUS only has these two codes). `UNIMPLEMENTED` from a
 *   daemon without the Status rpc (Coil's Go coild) counts as available: it answered.
 * - GC against a daemon without the GC rpc (`UNIMPLEMENTED`) succeeds: Coil reclaims addresses
 *   itself, and libcni has already sent DEL for every stale attachment.
 */
import { CNI_ERROR, cniError, type CniError } from "../../lib/cni/index.js";
import type { FastMethod } from "../common/fast-protocol.js";
import type { RpcOutcome } from "./client.js";

/** gRPC `UNIMPLEMENTED`. */
const GRPC_UNIMPLEMENTED = 12;

const GRPC_NAMES = [
  "OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound", "AlreadyExists", "PermissionDenied",
  "ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss",
  "Unauthenticated",
];

/** `rpc error: code = X desc = Y`, as grpc-go's `status.Error` prints. */
export function grpcErrorText(code: number, message: string): string {
  return `rpc error: code = ${GRPC_NAMES[code] ?? `Code(${code})`} desc = ${message}`;
}

/** The CNI error of a failed outcome (undefined for `ok`), before the STATUS/GC rules. */
function baseError(o: RpcOutcome): CniError | undefined {
  switch (o.kind) {
    case "ok":
      return undefined;
    case "rpc-error":
      return o.error === undefined
        ? cniError(CNI_ERROR.INTERNAL, o.message, grpcErrorText(o.grpcCode, o.message))
        : cniError(o.error.code, o.error.msg, o.error.details);
    case "unreachable":
      return cniError(CNI_ERROR.TRY_AGAIN_LATER, "coild is not reachable", o.message);
    case "timeout":
      return cniError(CNI_ERROR.TRY_AGAIN_LATER, "coild did not answer in time", o.message);
  }
}

/** The CNI error for `method`'s outcome, or undefined when the verb succeeded. */
export function errorOf(method: FastMethod, o: RpcOutcome): CniError | undefined {
  const unimplemented = o.kind === "rpc-error" && o.error === undefined && o.grpcCode === GRPC_UNIMPLEMENTED;
  if ((method === "Status" || method === "GC") && unimplemented) return undefined;
  const e = baseError(o);
  if (e === undefined || method !== "Status") return e;
  if (e.code === CNI_ERROR.PLUGIN_NOT_AVAILABLE || e.code === CNI_ERROR.PLUGIN_NOT_AVAILABLE_LIMITED_CONNECTIVITY) return e;
  if (o.kind !== "rpc-error") return cniError(CNI_ERROR.PLUGIN_NOT_AVAILABLE, e.msg, e.details);
  return cniError(CNI_ERROR.PLUGIN_NOT_AVAILABLE, e.msg, `code ${e.code}${e.details === "" ? "" : `: ${e.details}`}`);
}
