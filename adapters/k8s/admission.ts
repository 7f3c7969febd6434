/**
 * Admission webhooks as pure request → response functions, shared by the controllers' webhook
 * servers (`webhook-server.ts` moves the bytes): the AdmissionReview wire shapes, decoding, and
 * routing one HTTP request to the review function of its path. The wire shape follows
 * controller-runtime's admission package, which Coil's webhooks use: a denial carries a
 * `metav1.Status` (code 422, reason `Invalid`, `apierrors.NewInvalid`'s message, one cause per
 * field error); a defaulting webhook answers with a base64 JSON patch.
 */

/** `metav1.Status` as carried in an admission response. */
export interface AdmissionStatus {
  /** `Failure` on denial. */
  readonly status: "Failure";
  /** Human-readable reason; the API server prefixes it with `admission webhook "<name>" denied the request: `. */
  readonly message: string;
  /** `Invalid` for field errors, `BadRequest` for undecodable requests. */
  readonly reason: "Invalid" | "BadRequest";
  /** 422 for field errors, 400 for undecodable objects. */
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
  /** Echo of the request's apiVersion. */
  readonly apiVersion: string;
  /** Always `AdmissionReview`. */
  readonly kind: "AdmissionReview";
  /** The decision. */
  readonly response: AdmissionResponse;
}

/** One RFC 6902 operation of a defaulting patch. */
export interface JsonPatchOp {
  /** Only `add` is produced (it replaces an existing member). */
  readonly op: "add";
  /** JSON pointer. */
  readonly path: string;
  /** New value. */
  readonly value: unknown;
}

/** The decoded parts of an AdmissionReview request. */
export interface ReviewRequest {
  /** `admission.k8s.io/v1` or `v1beta1`. */
  readonly apiVersion: string;
  /** Request uid (echoed). */
  readonly uid: string;
  /** CREATE, UPDATE, DELETE, CONNECT. */
  readonly operation: string;
  /** Object name (may be empty on CREATE with generateName). */
  readonly name: string;
  /** The object. */
  readonly object: unknown;
  /** The old object (UPDATE). */
  readonly oldObject: unknown;
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

/** An HTTP answer of a webhook endpoint: status code and JSON body. */
export interface WebhookHttpResult {
  /** HTTP status: 200 for every decoded review, 400/404/405/415 otherwise. */
  readonly status: number;
  /** JSON body (an AdmissionReview, or `{ error }` for non-review failures). */
  readonly body: AdmissionReviewResponse | { readonly error: string };
}

/** Answers one HTTP request (what a webhook server serves). */
export type WebhookHandler = (req: WebhookHttpRequest) => WebhookHttpResult;

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
  if (apiVersion !== "admission.k8s.io/v1" && apiVersion !== "admission.k8s.io/v1beta1") return `unsupported AdmissionReview apiVersion ${JSON.stringify(apiVersion)}`;
  const req = v["request"];
  if (!isObj(req) || typeof req["uid"] !== "string" || typeof req["operation"] !== "string") return "AdmissionReview has no request with uid and operation";
  return { apiVersion, uid: req["uid"], operation: req["operation"], name: typeof req["name"] === "string" ? req["name"] : "", object: req["object"], oldObject: req["oldObject"] };
}

/** Admit. */
export const admissionAllowed = (uid: string): AdmissionResponse => ({ uid, allowed: true });

/** Deny as 400 BadRequest (undecodable object). */
export function admissionBadRequest(uid: string, message: string): AdmissionResponse {
  return { uid, allowed: false, status: { status: "Failure", message, reason: "BadRequest", code: 400 } };
}

/** Admit with an RFC 6902 patch (none when `ops` is empty). */
export function admissionPatch(uid: string, ops: readonly JsonPatchOp[]): AdmissionResponse {
  if (ops.length === 0) return admissionAllowed(uid);
  return { uid, allowed: true, patchType: "JSONPatch", patch: Buffer.from(JSON.stringify(ops)).toString("base64") };
}

/** One field error of a denial: path, `field.Error.Error()` text, cause type. */
export interface AdmissionFieldError {
  /** Field path, e.g. `spec.destinations[0]`. */
  readonly field: string;
  /** The whole `field.Error.Error()` text (`<field>: Invalid value: …`). */
  readonly text: string;
  /** Cause type, e.g. `FieldValueInvalid`. */
  readonly causeType: string;
}

/** `apierrors.NewInvalid(GroupKind, name, errs)` as a denial. */
export function admissionInvalid(uid: string, gk: { readonly group: string; readonly kind: string }, name: string, errors: readonly AdmissionFieldError[]): AdmissionResponse {
  const lines = errors.map((e) => e.text);
  const list = lines.length === 1 ? (lines[0] ?? "") : `[${lines.join(", ")}]`;
  const causes = errors.map((e) => ({ type: e.causeType, message: e.text.slice(e.field.length + 2), field: e.field }));
  return {
    uid,
    allowed: false,
    status: { status: "Failure", message: `${gk.kind}.${gk.group} "${name}" is invalid: ${list}`, reason: "Invalid", code: 422, details: { name, group: gk.group, kind: gk.kind, causes } },
  };
}

/**
 * Route and answer one webhook HTTP request by path. Unknown path → 404, not POST → 405, not JSON
 * → 415, undecodable AdmissionReview → 400 (with an AdmissionReview body), else 200.
 */
export function routeWebhookRequest(routes: Readonly<Record<string, (r: ReviewRequest) => AdmissionResponse>>, req: WebhookHttpRequest): WebhookHttpResult {
  const path = req.path.split("?")[0] ?? "";
  const review = Object.hasOwn(routes, path) ? routes[path] : undefined;
  if (review === undefined) return { status: 404, body: { error: `no webhook at ${path}` } };
  if (req.method !== "POST") return { status: 405, body: { error: "only POST is allowed" } };
  const ct = (req.contentType ?? "").split(";")[0]?.trim().toLowerCase();
  if (ct !== "application/json") return { status: 415, body: { error: `contentType=${req.contentType ?? ""}, expected application/json` } };
  const decoded = decodeAdmissionReview(req.body);
  if (typeof decoded === "string") return { status: 400, body: { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response: admissionBadRequest("", decoded) } };
  return { status: 200, body: { apiVersion: decoded.apiVersion, kind: "AdmissionReview", response: review(decoded) } };
}
