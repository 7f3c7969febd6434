/**
 * AddressPool admission webhooks as pure request → response functions: AdmissionReview v1 in,
 * AdmissionReview out, the decisions taken by `@coil/core/ipam` (`validatePoolCreate`,
 * `validatePoolUpdate`, `withPoolDefaults`, `addPoolFinalizer`, `formatFieldError`). The wire
 * shapes, decoding, denials and routing are the shared ones of `adapters/k8s/admission.ts`; the
 * HTTPS server (`adapters/k8s/webhook-server.ts`) only moves bytes.
 *
 * Beyond Coil: the pool annotations of docs/static-addresses.md (`coil-ts.cybozu.com/reserved-ranges`,
 * `…/static-ranges`, `…/reuse-quarantine`) are checked on CREATE and UPDATE by `poolPolicy`; their
 * field errors follow Coil's (`metadata.annotations[<key>]: Invalid value: …`).
 */
import { API_GROUP } from "../../lib/constants.js";
import {
  addPoolFinalizer,
  formatFieldError,
  parsePool,
  poolPolicy,
  validatePoolCreate,
  validatePoolUpdate,
  withPoolDefaults,
  type AddressPool,
  type PoolFieldError,
} from "../../lib/ipam/index.js";
import {
  admissionAllowed,
  admissionBadRequest,
  admissionInvalid,
  admissionPatch,
  routeWebhookRequest,
  type AdmissionResponse,
  type JsonPatchOp,
  type ReviewRequest,
  type WebhookHttpRequest,
  type WebhookHttpResult,
} from "../k8s/admission.js";

/** Path of the validating webhook (Coil's kubebuilder marker). */
export const VALIDATE_PATH = "/validate-coil-cybozu-com-v2-addresspool";
/** Path of the mutating (defaulting) webhook. */
export const MUTATE_PATH = "/mutate-coil-cybozu-com-v2-addresspool";

/** `apierrors.NewInvalid(AddressPool, name, errs)` as a denial. */
function invalid(uid: string, name: string, errors: readonly PoolFieldError[]): AdmissionResponse {
  const fields = errors.map((e) => ({ field: e.field, text: formatFieldError(e), causeType: e.type === "Forbidden" ? "FieldValueForbidden" : "FieldValueInvalid" }));
  return admissionInvalid(uid, { group: API_GROUP, kind: "AddressPool" }, name, fields);
}

/** Parse the review's object (or oldObject); a denial when it is not an AddressPool. */
function poolOf(req: ReviewRequest, which: "object" | "oldObject"): AddressPool | AdmissionResponse {
  const r = parsePool(req[which]);
  if (r.isOk()) return r.value;
  const at = r.error.path === "" ? which : `${which}.${r.error.path}`;
  return admissionBadRequest(req.uid, `cannot decode AddressPool: ${at} ${r.error.message}`);
}

const isPool = (v: AddressPool | AdmissionResponse): v is AddressPool => "spec" in v;

/** The validating webhook: Coil's `ValidateCreate`/`ValidateUpdate`; DELETE and others are allowed. */
export function validateAddressPoolReview(req: ReviewRequest): AdmissionResponse {
  if (req.operation !== "CREATE" && req.operation !== "UPDATE") return admissionAllowed(req.uid);
  const pool = poolOf(req, "object");
  if (!isPool(pool)) return pool;
  const name = pool.metadata.name || req.name;
  const ours = poolPolicy(pool.spec, pool.metadata.annotations).match(
    () => [],
    (e) => e,
  );
  const answer = (coil: readonly PoolFieldError[]): AdmissionResponse => {
    const all = [...coil, ...ours];
    return all.length === 0 ? admissionAllowed(req.uid) : invalid(req.uid, name, all);
  };
  if (req.operation === "CREATE") {
    const r = validatePoolCreate(pool.spec);
    return answer(r.isOk() ? [] : r.error);
  }
  const old = poolOf(req, "oldObject");
  if (!isPool(old)) return old;
  const r = validatePoolUpdate(old.spec, pool.spec);
  return answer(r.isOk() ? [] : r.error);
}

/** JSON patch turning `pool` (as received) into its defaulted form with Coil's finalizer. */
export function addressPoolDefaultingPatch(pool: AddressPool): JsonPatchOp[] {
  const ops: JsonPatchOp[] = [];
  const withFinalizer = addPoolFinalizer(pool);
  if (withFinalizer !== pool) {
    ops.push({ op: "add", path: "/metadata/finalizers", value: withFinalizer.metadata.finalizers });
  }
  if (pool.spec.blockSizeBits === undefined) {
    ops.push({ op: "add", path: "/spec/blockSizeBits", value: withPoolDefaults(pool.spec).blockSizeBits });
  }
  return ops;
}

/** The mutating webhook: on CREATE, add the `coil.cybozu.com` finalizer and the blockSizeBits default. */
export function mutateAddressPoolReview(req: ReviewRequest): AdmissionResponse {
  if (req.operation !== "CREATE") return admissionAllowed(req.uid);
  const pool = poolOf(req, "object");
  if (!isPool(pool)) return pool;
  return admissionPatch(req.uid, addressPoolDefaultingPatch(pool));
}

/** Route and answer one AddressPool webhook HTTP request (see `routeWebhookRequest` for the status codes). */
export function handleWebhookRequest(req: WebhookHttpRequest): WebhookHttpResult {
  return routeWebhookRequest({ [VALIDATE_PATH]: validateAddressPoolReview, [MUTATE_PATH]: mutateAddressPoolReview }, req);
}
