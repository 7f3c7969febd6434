/**
 * The edge between the wire and coild's CNI operations, shared by both transports (gRPC and the
 * fast JSON-line path dispatch to the {@link CniCallHandlers} built here). Each request is parsed
 * once with lib/cni into a domain call — bad input answers a precise CNI error and reaches no
 * operation — and each outcome is encoded: the CNI result printed in the current version, an
 * operation's error turned into Coil's CNI error (`failures.ts`).
 */
import { err, type Result } from "neverthrow";
import { CURRENT_VERSION, convertResult, parseCniCall, type CniError, type CniResult } from "../../../lib/cni/index.js";
import type { AddResponse, CNIArgs, GCRequest } from "../../proto/gen/messages/cni.js";
import type { Empty } from "../../proto/gen/messages/google/protobuf/empty.js";
import type { AttachmentKey, CniOperations } from "../node/cni.js";
import { addFailure, checkFailure, delFailure, gcFailure, statusFailure } from "./failures.js";
import type { CniCallHandlers } from "./server.js";

/** ADD's wire answer: the result as JSON in the current CNI version (Coil's coild marshals `current.Result`). */
export function addResponse(r: CniResult): Result<AddResponse, CniError> {
  return convertResult(r, CURRENT_VERSION).map((j) => ({ result: Buffer.from(JSON.stringify(j)) }));
}

/** The attachments a GC request keeps. */
function keptAttachments(q: GCRequest): AttachmentKey[] {
  return q.validAttachments.map((a) => ({ containerId: a.containerId, ifname: a.ifname }));
}

const EMPTY: Empty = {};

/** The wire handlers over `ops` (see the module comment). */
export function wireHandlers(ops: CniOperations): CniCallHandlers {
  return {
    add: async (q: CNIArgs) => {
      const call = parseCniCall(q, "ADD");
      if (call.isErr()) return err(call.error);
      return (await ops.add(call.value)).mapErr(addFailure).andThen(addResponse);
    },
    del: async (q: CNIArgs) => {
      const call = parseCniCall(q, "DEL");
      if (call.isErr()) return err(call.error);
      return (await ops.del(call.value)).map(() => EMPTY).mapErr(delFailure);
    },
    check: async (q: CNIArgs) => {
      const call = parseCniCall(q, "CHECK");
      if (call.isErr()) return err(call.error);
      return (await ops.check(call.value)).map(() => EMPTY).mapErr((e) => checkFailure(call.value, e));
    },
    status: async () => (await ops.status()).map(() => EMPTY).mapErr(statusFailure),
    gc: async (q: GCRequest) => (await ops.gc(keptAttachments(q))).map(() => EMPTY).mapErr(gcFailure),
  };
}
