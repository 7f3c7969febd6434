/**
 * Coil's Egress admission rules (`api/v2/egress_types.go` `validate`, `egress_webhook.go`): the
 * validating webhook's field errors with the Kubernetes wording (apimachinery v0.35, which Coil
 * v2.15.0 builds with), and the defaulting webhook's one default.
 */
import { parseCidr, utf8Length } from "../net/index.js";
import type { EgressSpec, IntOrString, JsonObject } from "./types.js";

/** One field error, as `field.Error` of apimachinery. */
export interface EgressFieldError {
  /** Discriminant: the rule that failed. */
  readonly kind: "invalid-destination" | "unsupported-strategy" | "invalid-label" | "invalid-annotation-key" | "invalid-pdb";
  /** `Invalid` or `NotSupported` (field.ErrorType). */
  readonly type: "Invalid" | "NotSupported";
  /** Field path, e.g. `spec.destinations[0]`. */
  readonly field: string;
  /** The bad value as apimachinery prints it (`"127.0.0.1"`, `-1`, `{"minAvailable":1,...}`). */
  readonly value: string;
  /** The detail (Coil's or apimachinery's words). */
  readonly message: string;
}

/** `field.Error.Error()`: `<field>: Invalid value: <value>: <detail>` / `Unsupported value: …`. */
export function formatEgressFieldError(e: EgressFieldError): string {
  return `${e.field}: ${e.type === "Invalid" ? "Invalid value" : "Unsupported value"}: ${e.value}: ${e.message}`;
}

/** Cause type of a field error in a `metav1.Status`. */
export function egressCauseType(e: EgressFieldError): "FieldValueInvalid" | "FieldValueNotSupported" {
  return e.type === "Invalid" ? "FieldValueInvalid" : "FieldValueNotSupported";
}

const quote = (s: string): string => JSON.stringify(s);

// apimachinery pkg/api/validate/content (kube.go, errors.go).
const LABEL_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_KEY_RE = new RegExp(`^${LABEL_KEY_FMT}$`);
const LABEL_KEY_MSG = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT = `(${LABEL_KEY_FMT})?`;
const LABEL_VALUE_RE = new RegExp(`^${LABEL_VALUE_FMT}$`);
const LABEL_VALUE_MSG = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN_FMT = `${DNS1123_LABEL_FMT}(\\.${DNS1123_LABEL_FMT})*`;
const DNS1123_SUBDOMAIN_RE = new RegExp(`^${DNS1123_SUBDOMAIN_FMT}$`);
const DNS1123_SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const PERCENT_FMT = "[0-9]+%";
const PERCENT_RE = new RegExp(`^${PERCENT_FMT}$`);
const PERCENT_MSG = "a valid percent string must be a numeric string followed by an ending '%'";

const utf8Bytes = (s: string): number => utf8Length(s);
const maxLenError = (n: number): string => `must be no more than ${n} bytes`;

/** apimachinery's `RegexError`. */
function regexError(msg: string, fmt: string, ...examples: string[]): string {
  if (examples.length === 0) return `${msg} (regex used for validation is '${fmt}')`;
  return `${msg} (e.g. ${examples.map((e) => `'${e}', `).join("or ")}regex used for validation is '${fmt}')`;
}

/** `content.IsDNS1123Subdomain`. */
function dns1123SubdomainErrors(value: string): string[] {
  const errs: string[] = [];
  if (utf8Bytes(value) > 253) errs.push(maxLenError(253));
  if (!DNS1123_SUBDOMAIN_RE.test(value)) errs.push(regexError(DNS1123_SUBDOMAIN_MSG, DNS1123_SUBDOMAIN_FMT, "example.com"));
  return errs;
}

/** `content.IsLabelKey` (= `IsQualifiedName`): the messages for an invalid label key / annotation key. */
export function labelKeyErrors(value: string): string[] {
  const errs: string[] = [];
  const parts = value.split("/");
  let name: string;
  if (parts.length === 1) name = parts[0] ?? "";
  else if (parts.length === 2) {
    const prefix = parts[0] ?? "";
    name = parts[1] ?? "";
    if (prefix.length === 0) errs.push("prefix part must be non-empty");
    else errs.push(...dns1123SubdomainErrors(prefix).map((m) => `prefix part ${m}`));
  } else {
    return [
      `a valid label key ${regexError(LABEL_KEY_MSG, LABEL_KEY_FMT, "MyName", "my.name", "123-abc")} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  }
  if (name.length === 0) errs.push("name part must be non-empty");
  else if (utf8Bytes(name) > 63) errs.push(`name part ${maxLenError(63)}`);
  if (!LABEL_KEY_RE.test(name)) errs.push(`name part ${regexError(LABEL_KEY_MSG, LABEL_KEY_FMT, "MyName", "my.name", "123-abc")}`);
  return errs;
}

/** `content.IsLabelValue`. */
export function labelValueErrors(value: string): string[] {
  const errs: string[] = [];
  if (utf8Bytes(value) > 63) errs.push(maxLenError(63));
  if (!LABEL_VALUE_RE.test(value)) errs.push(regexError(LABEL_VALUE_MSG, LABEL_VALUE_FMT, "MyValue", "my_value", "12345"));
  return errs;
}

/** How apimachinery prints an IntOrString bad value (JSON). */
const intOrStringValue = (v: IntOrString): string => JSON.stringify(v);

function pdbValueErrors(v: IntOrString, field: string): EgressFieldError[] {
  const out: EgressFieldError[] = [];
  const e = (message: string, value: string): EgressFieldError => ({ kind: "invalid-pdb", type: "Invalid", field, value, message });
  if (typeof v === "string") {
    if (!PERCENT_RE.test(v)) out.push(e(regexError(PERCENT_MSG, PERCENT_FMT, "1%", "93%"), intOrStringValue(v)));
    else if (Number.parseInt(v.slice(0, -1), 10) > 100) out.push(e("must not be greater than 100%", intOrStringValue(v)));
  } else if (v < 0) out.push(e("must be greater than or equal to 0", String(v)));
  return out;
}

/**
 * Coil's `EgressSpec.validate` (create and update alike; nothing is immutable): destinations parse
 * as CIDRs, a given strategy type is Recreate or RollingUpdate, template labels and annotation
 * keys are valid, PDB not both set, non-negative integers or percentages ≤ 100 %. Label and
 * annotation keys are checked in sorted order (Go iterates its maps randomly). Replicas ≥ 1 and the
 * sessionAffinity enum are the CRD schema's.
 */
export function validateEgressSpec(spec: EgressSpec): EgressFieldError[] {
  const out: EgressFieldError[] = [];
  spec.destinations.forEach((d, i) => {
    if (parseCidr(d).isErr()) {
      out.push({ kind: "invalid-destination", type: "Invalid", field: `spec.destinations[${i}]`, value: quote(d), message: `invalid CIDR address: ${d}` });
    }
  });
  if (spec.strategy !== undefined) {
    const t = spec.strategy["type"];
    if (t !== "Recreate" && t !== "RollingUpdate") {
      out.push({
        kind: "unsupported-strategy",
        type: "NotSupported",
        field: "spec.strategy.type",
        value: JSON.stringify(t ?? ""),
        message: 'supported values: "Recreate", "RollingUpdate"',
      });
    }
  }
  const md = spec.template?.metadata;
  if (spec.template !== undefined) {
    const field = "spec.template.metadata.labels";
    for (const [k, v] of Object.entries(md?.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      for (const m of labelKeyErrors(k)) out.push({ kind: "invalid-label", type: "Invalid", field, value: quote(k), message: m });
      for (const m of labelValueErrors(v)) out.push({ kind: "invalid-label", type: "Invalid", field, value: quote(v), message: m });
    }
    for (const k of Object.keys(md?.annotations ?? {}).sort()) {
      for (const m of labelKeyErrors(k)) {
        out.push({ kind: "invalid-annotation-key", type: "Invalid", field: "spec.template.metadata.annotations", value: quote(k), message: m });
      }
    }
  }
  const pdb = spec.podDisruptionBudget;
  if (pdb !== undefined) {
    const field = "spec.podDisruptionBudget";
    if (pdb.minAvailable !== undefined && pdb.maxUnavailable !== undefined) {
      const value = JSON.stringify({ minAvailable: pdb.minAvailable, maxUnavailable: pdb.maxUnavailable });
      out.push({ kind: "invalid-pdb", type: "Invalid", field, value, message: "minAvailable and maxUnavailable cannot be both set" });
    }
    if (pdb.minAvailable !== undefined) out.push(...pdbValueErrors(pdb.minAvailable, `${field}.minAvailable`));
    if (pdb.maxUnavailable !== undefined) out.push(...pdbValueErrors(pdb.maxUnavailable, `${field}.maxUnavailable`));
  }
  return out;
}

/** One RFC 6902 `add` operation. */
export interface EgressPatchOp {
  /** Always `add`. */
  readonly op: "add";
  /** JSON pointer. */
  readonly path: string;
  /** New value. */
  readonly value: JsonObject | JsonObject[];
}

/**
 * Coil's defaulting webhook (CREATE): a `template` without containers gets one container named
 * `egress`. Returns the JSON patch (empty when nothing changes).
 */
export function egressDefaultingPatch(spec: EgressSpec): EgressPatchOp[] {
  const tmpl = spec.template;
  if (tmpl === undefined) return [];
  const containers = tmpl.spec?.["containers"];
  if (Array.isArray(containers) && containers.length > 0) return [];
  const value: JsonObject[] = [{ name: "egress" }];
  if (tmpl.spec === undefined) return [{ op: "add", path: "/spec/template/spec", value: { containers: value } }];
  return [{ op: "add", path: "/spec/template/spec/containers", value }];
}
