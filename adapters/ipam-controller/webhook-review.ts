/**
 * AddressPool admission webhooks as pure request → response functions: AdmissionReview v1 in,
 * AdmissionReview out, the decisions taken by `@coil/core/ipam` (`validatePoolCreate`,
 * `validatePoolUpdate`, `withPoolDefaults`, `addPoolFinalizer`, `formatFieldError`). The HTTPS
 * server (`webhook-server.ts`) only moves bytes.
 *
 * Wire shape follows controller-runtime's admission package, which Coil's webhooks use:
 * a denial carries a `metav1.Status` with code 422, reason `Invalid`, the message of
 * `apierrors.NewInvalid` and one cause per field error.
 */
import { API_GROUP } from "../../lib/constants.js";
import {
  addPoolFinalizer,
  formatFieldError,
  parsePool,
  validatePoolCreate,
  validatePoolUpdate,
  withPoolDefaults,
  type AddressPool,
  type PoolFieldError,
} from "../../lib/ipam/index.js";

/** Path of the validating webhook (Coil's kubebuilder marker). */
export const VALIDATE_PATH = "/validate-coil-cybozu-com-v2-addresspool";
/** Path of the mutating (defaulting) webhook. */
export const MUTATE_PATH = "/mutate-coil-cybozu-com-v2-addresspool";

/** `metav1.Status` as carried in an admission response. */
export interface AdmissionStatus {
  /** `Failure` on denial. */
  readonly status: "Failure";
  /** Human-readable reason; the API server prefixes it with `admission webhook "<name>" denied the request: `. */
  readonly message: string;
  /** `Invalid` for field errors, `BadRequest` for undecodable requests. */
  readonly reason: "Invalid" | "BadRequest";
  /** HTTP-like code: 422 for field errors, 400 for undecodable objects. */
  readonly code: 422 | 400;
  /** Object and per-field causes (field errors only). */
  readonly details?: {
    readonly name: string;
    readonly group: string;
    readonly kind: string;
    readonly causes: ReadonlyArray<{ readonly type: string; readonly message: string; readonly field: string }>;
  };
}

/** `AdmissionResponse` (admission.k8s.io/v1). */
export interface AdmissionResponse {
  /** Echo of `request.uid`. */
  readonly uid: string;
  /** Whether the request is admitted. */
  readonly allowed: boolean;
  /** Why not (denials only). */
  readonly status?: AdmissionStatus;
  /** Always `JSONPatch` when `patch` is set. */
  readonly patchType?: "JSONPatch";
  /** Base64 of a JSON array of RFC 6902 operations. */
  readonly patch?: string;
}

/** An AdmissionReview carrying a response. */
export interface AdmissionReviewResponse {
  /** Echo of the request's apiVersion (`admission.k8s.io/v1`). */
  readonly apiVersion: string;
  /** Always `AdmissionReview`. */
  readonly kind: "AdmissionReview";
  /** The decision. */
  readonly response: AdmissionResponse;
}

/** One RFC 6902 operation. */
export interface JsonPatchOp {
  /** Only `add` is produced (it replaces an existing member). */
  readonly op: "add";
  /** JSON pointer. */
  readonly path: string;
  /** New value. */
  readonly value: unknown;
}

/** An HTTP answer of the webhook endpoint: status code and JSON body. */
export interface WebhookHttpResult {
  /** HTTP status: 200 for every decoded review, 400/404/405/415 otherwise. */
  readonly status: number;
  /** JSON body (an AdmissionReview, or `{ error }` for non-review failures). */
  readonly body: AdmissionReviewResponse | { readonly error: string };
}

/** The decoded parts of an AdmissionReview request this webhook needs. */
interface ReviewRequest {
  readonly apiVersion: string;
  readonly uid: string;
  readonly operation: string;
  readonly name: string;
  readonly object: unknown;
  readonly oldObject: unknown;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** Decode an AdmissionReview request; a string says what is wrong with it. */
export function decodeAdmissionReview(raw: string): ReviewRequest | string {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (e) {
    return `invalid JSON: ${(e as Error).message}`;
  }
  if (!isObj(v) || v["kind"] !== "AdmissionReview") return "not an AdmissionReview";
  const apiVersion = v["apiVersion"];
  if (apiVersion !== "admission.k8s.io/v1" && apiVersion !== "admission.k8s.io/v1beta1") {
    return `unsupported AdmissionReview apiVersion ${JSON.stringify(apiVersion)}`;
  }
  const req = v["request"];
  if (!isObj(req) || typeof req["uid"] !== "string" || typeof req["operation"] !== "string") {
    return "AdmissionReview has no request with uid and operation";
  }
  return {
    apiVersion,
    uid: req["uid"],
    operation: req["operation"],
    name: typeof req["name"] === "string" ? req["name"] : "",
    object: req["object"],
    oldObject: req["oldObject"],
  };
}

const allowed = (uid: string): AdmissionResponse => ({ uid, allowed: true });

function badRequest(uid: string, message: string): AdmissionResponse {
  return { uid, allowed: false, status: { status: "Failure", message, reason: "BadRequest", code: 400 } };
}

/** `apierrors.NewInvalid(AddressPool, name, errs)` as a denial. */
function invalid(uid: string, name: string, errors: readonly PoolFieldError[]): AdmissionResponse {
  const lines = errors.map(formatFieldError);
  const list = lines.length === 1 ? (lines[0] ?? "") : `[${lines.join(", ")}]`;
  const causes = errors.map((e) => ({
    type: e.type === "Forbidden" ? "FieldValueForbidden" : "FieldValueInvalid",
    message: formatFieldError(e).slice(e.field.length + 2),
    field: e.field,
  }));
  return {
    uid,
    allowed: false,
    status: {
      status: "Failure",
      message: `AddressPool.${API_GROUP} "${name}" is invalid: ${list}`,
      reason: "Invalid",
      code: 422,
      details: { name, group: API_GROUP, kind: "AddressPool", causes },
    },
  };
}

/** Parse the review's object (or oldObject); a denial when it is not an AddressPool. */
function poolOf(req: ReviewRequest, which: "object" | "oldObject"): AddressPool | AdmissionResponse {
  const r = parsePool(req[which]);
  if (r.isOk()) return r.value;
  const at = r.error.path === "" ? which : `${which}.${r.error.path}`;
  return badRequest(req.uid, `cannot decode AddressPool: ${at} ${r.error.message}`);
}

const isPool = (v: AddressPool | AdmissionResponse): v is AddressPool => "spec" in v;

/** The validating webhook: Coil's `ValidateCreate`/`ValidateUpdate`; DELETE and others are allowed. */
export function validateAddressPoolReview(req: ReviewRequest): AdmissionResponse {
  if (req.operation !== "CREATE" && req.operation !== "UPDATE") return allowed(req.uid);
  const pool = poolOf(req, "object");
  if (!isPool(pool)) return pool;
  const name = pool.metadata.name || req.name;
  if (req.operation === "CREATE") {
    const r = validatePoolCreate(pool.spec);
    return r.isOk() ? allowed(req.uid) : invalid(req.uid, name, r.error);
  }
  const old = poolOf(req, "oldObject");
  if (!isPool(old)) return old;
  const r = validatePoolUpdate(old.spec, pool.spec);
  return r.isOk() ? allowed(req.uid) : invalid(req.uid, name, r.error);
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
  if (req.operation !== "CREATE") return allowed(req.uid);
  const pool = poolOf(req, "object");
  if (!isPool(pool)) return pool;
  const ops = addressPoolDefaultingPatch(pool);
  if (ops.length === 0) return allowed(req.uid);
  const patch = Buffer.from(JSON.stringify(ops)).toString("base64");
  return { uid: req.uid, allowed: true, patchType: "JSONPatch", patch };
}

/** Request facts the HTTP layer passes in. */
export interface WebhookHttpRequest {
  /** HTTP method. */
  readonly method: string;
  /** Request path (query string ignored). */
  readonly path: string;
  /** `content-type` header, if any. */
  readonly contentType?: string | undefined;
  /** The body, UTF-8. */
  readonly body: string;
}

/**
 * Route and answer one webhook HTTP request. Unknown path → 404, not POST → 405, not JSON → 415,
 * undecodable AdmissionReview → 400 (with an AdmissionReview body when a uid is known), else 200.
 */
export function handleWebhookRequest(req: WebhookHttpRequest): WebhookHttpResult {
  const path = req.path.split("?")[0];
  const review = path === VALIDATE_PATH ? validateAddressPoolReview : path === MUTATE_PATH ? mutateAddressPoolReview : undefined;
  if (review === undefined) return { status: 404, body: { error: `no webhook at ${path ?? ""}` } };
  if (req.method !== "POST") return { status: 405, body: { error: "only POST is allowed" } };
  const ct = (req.contentType ?? "").split(";")[0]?.trim().toLowerCase();
  if (ct !== "application/json") return { status: 415, body: { error: `contentType=${req.contentType ?? ""}, expected application/json` } };
  const decoded = decodeAdmissionReview(req.body);
  if (typeof decoded === "string") {
    const response = badRequest("", decoded);
    return { status: 400, body: { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response } };
  }
  return { status: 200, body: { apiVersion: decoded.apiVersion, kind: "AdmissionReview", response: review(decoded) } };
}
