/**
 * The Egress admission webhooks (Coil `api/v2/egress_webhook.go`) as pure request → response
 * functions over `lib/egress`: validation on CREATE and UPDATE (same rules, nothing immutable), and
 * on CREATE the defaulting patch (a template without containers gets the `egress` container).
 */
import { API_GROUP } from "../../lib/constants.js";
import { egressCauseType, egressDefaultingPatch, formatEgressFieldError, parseEgress, validateEgressSpec, type Egress } from "../../lib/egress/index.js";
import {
  admissionAllowed,
  admissionBadRequest,
  admissionInvalid,
  admissionPatch,
  routeWebhookRequest,
  type AdmissionResponse,
  type ReviewRequest,
  type WebhookHttpRequest,
  type WebhookHttpResult,
} from "../k8s/admission.js";

/** Path of the validating webhook (Coil's kubebuilder marker). */
export const EGRESS_VALIDATE_PATH = "/validate-coil-cybozu-com-v2-egress";
/** Path of the mutating (defaulting) webhook. */
export const EGRESS_MUTATE_PATH = "/mutate-coil-cybozu-com-v2-egress";

function egressOf(req: ReviewRequest): Egress | AdmissionResponse {
  const r = parseEgress(req.object);
  if (r.isOk()) return r.value;
  const at = r.error.path === "" ? "object" : `object.${r.error.path}`;
  return admissionBadRequest(req.uid, `cannot decode Egress: ${at} ${r.error.message}`);
}

const isEgress = (v: Egress | AdmissionResponse): v is Egress => "spec" in v;

/** The validating webhook: Coil's `ValidateCreate`/`ValidateUpdate`; other operations are allowed. */
export function validateEgressReview(req: ReviewRequest): AdmissionResponse {
  if (req.operation !== "CREATE" && req.operation !== "UPDATE") return admissionAllowed(req.uid);
  const eg = egressOf(req);
  if (!isEgress(eg)) return eg;
  const errors = validateEgressSpec(eg.spec);
  if (errors.length === 0) return admissionAllowed(req.uid);
  const fields = errors.map((e) => ({ field: e.field, text: formatEgressFieldError(e), causeType: egressCauseType(e) }));
  return admissionInvalid(req.uid, { group: API_GROUP, kind: "Egress" }, eg.metadata.name || req.name, fields);
}

/** The mutating webhook: on CREATE, Coil's one default. */
export function mutateEgressReview(req: ReviewRequest): AdmissionResponse {
  if (req.operation !== "CREATE") return admissionAllowed(req.uid);
  const eg = egressOf(req);
  if (!isEgress(eg)) return eg;
  return admissionPatch(req.uid, egressDefaultingPatch(eg.spec));
}

/** Route and answer one Egress webhook HTTP request. */
export function handleEgressWebhookRequest(req: WebhookHttpRequest): WebhookHttpResult {
  return routeWebhookRequest({ [EGRESS_VALIDATE_PATH]: validateEgressReview, [EGRESS_MUTATE_PATH]: mutateEgressReview }, req);
}
