/**
 * The Egress custom resource (`coil.cybozu.com/v2`, namespaced; Coil `api/v2/egress_types.go`) and
 * the plain JSON shapes of the Kubernetes objects the egress controller derives from it. Objects
 * are JSON values as the API server returns them; only the fields this module reads are typed.
 */
import { err, ok, type Result } from "neverthrow";

/** A JSON object. */
export type JsonObject = { [k: string]: JsonValue };
/** A JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;

/** Kubernetes `intstr.IntOrString` as JSON. */
export type IntOrString = number | string;

/** `spec.podDisruptionBudget`. */
export interface EgressPdbSpec {
  /** Minimum available egress pods. */
  readonly minAvailable?: IntOrString;
  /** Maximum unavailable egress pods. */
  readonly maxUnavailable?: IntOrString;
}

/** `spec.template`: pod metadata (labels, annotations) and a core/v1 PodSpec. */
export interface EgressPodTemplate {
  /** Labels and annotations for the egress pods. */
  readonly metadata?: {
    /** Pod labels (the selector labels are added and win). */
    readonly labels?: Readonly<Record<string, string>>;
    /** Pod annotations (merged into the Deployment's). */
    readonly annotations?: Readonly<Record<string, string>>;
  };
  /** The PodSpec, as JSON. */
  readonly spec?: JsonObject;
}

/** `Egress.spec`. */
export interface EgressSpec {
  /** Destination networks (CIDR). */
  readonly destinations: readonly string[];
  /** Number of egress pods (CRD default 1). */
  readonly replicas?: number;
  /** apps/v1 DeploymentStrategy, as JSON. */
  readonly strategy?: JsonObject;
  /** Pod template of the egress pods. */
  readonly template?: EgressPodTemplate;
  /** `ClientIP` (CRD default) or `None`. */
  readonly sessionAffinity?: string;
  /** core/v1 SessionAffinityConfig, as JSON. */
  readonly sessionAffinityConfig?: JsonObject;
  /** Kernel-chosen FoU source port. */
  readonly fouSourcePortAuto?: boolean;
  /** Optional PodDisruptionBudget. */
  readonly podDisruptionBudget?: EgressPdbSpec;
}

/** `Egress.status`. */
export interface EgressStatus {
  /** The Deployment's available replicas. */
  readonly replicas?: number;
  /** The Deployment's selector in string form (scale subresource). */
  readonly selector?: string;
}

/** An Egress object. */
export interface Egress {
  /** Name, namespace, uid, resourceVersion, deletion mark. */
  readonly metadata: {
    /** Name. */
    readonly name: string;
    /** Namespace (`""` when absent). */
    readonly namespace: string;
    /** UID (the owner references' target). */
    readonly uid?: string;
    /** Version read. */
    readonly resourceVersion?: string;
    /** Set while being deleted. */
    readonly deletionTimestamp?: string;
  };
  /** Desired state. */
  readonly spec: EgressSpec;
  /** Observed state. */
  readonly status?: EgressStatus;
}

/** Why a value is not an Egress. */
export interface EgressDecodeError {
  /** Discriminant. */
  readonly kind: "invalid-egress";
  /** JSON path of the offending field (`spec.destinations`), `""` for the whole object. */
  readonly path: string;
  /** What is wrong. */
  readonly message: string;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isStringMap = (v: unknown): v is Record<string, string> => isObj(v) && Object.values(v).every((x) => typeof x === "string");
const bad = (path: string, message: string): Result<never, EgressDecodeError> => err({ kind: "invalid-egress", path, message });

function checkSpec(s: Record<string, unknown>): Result<void, EgressDecodeError> {
  const d = s["destinations"];
  if (d !== undefined && d !== null && !(Array.isArray(d) && d.every((x) => typeof x === "string"))) return bad("spec.destinations", "must be a list of strings");
  if (s["replicas"] !== undefined && !Number.isInteger(s["replicas"])) return bad("spec.replicas", "must be an integer");
  for (const k of ["strategy", "sessionAffinityConfig", "podDisruptionBudget", "template"]) {
    if (s[k] !== undefined && s[k] !== null && !isObj(s[k])) return bad(`spec.${k}`, "must be an object");
  }
  if (s["sessionAffinity"] !== undefined && typeof s["sessionAffinity"] !== "string") return bad("spec.sessionAffinity", "must be a string");
  if (s["fouSourcePortAuto"] !== undefined && typeof s["fouSourcePortAuto"] !== "boolean") return bad("spec.fouSourcePortAuto", "must be a boolean");
  const tmpl = s["template"];
  if (isObj(tmpl)) {
    const md = tmpl["metadata"];
    if (md !== undefined && md !== null) {
      if (!isObj(md)) return bad("spec.template.metadata", "must be an object");
      for (const k of ["labels", "annotations"]) {
        if (md[k] !== undefined && md[k] !== null && !isStringMap(md[k])) return bad(`spec.template.metadata.${k}`, "must map strings to strings");
      }
    }
    if (tmpl["spec"] !== undefined && tmpl["spec"] !== null && !isObj(tmpl["spec"])) return bad("spec.template.spec", "must be an object");
  }
  const pdb = s["podDisruptionBudget"];
  if (isObj(pdb)) {
    for (const k of ["minAvailable", "maxUnavailable"]) {
      const v = pdb[k];
      if (v !== undefined && v !== null && typeof v !== "string" && !Number.isInteger(v)) return bad(`spec.podDisruptionBudget.${k}`, "must be an integer or a string");
    }
  }
  return ok(undefined);
}

/** Drop JSON nulls at the top level of `o` (Go decodes them as absent). */
function dropNulls(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null));
}

/**
 * Check the shape of an Egress as read from the API server or an admission request (types only;
 * Coil's rules are {@link validateEgressSpec}'s). A missing `destinations` decodes as `[]`.
 */
export function parseEgress(v: unknown): Result<Egress, EgressDecodeError> {
  if (!isObj(v)) return bad("", "must be an object");
  const md = v["metadata"];
  if (!isObj(md) || typeof md["name"] !== "string") return bad("metadata.name", "must be a string");
  const spec = v["spec"] ?? {};
  if (!isObj(spec)) return bad("spec", "must be an object");
  const checked = checkSpec(spec);
  if (checked.isErr()) return err(checked.error);
  const s = dropNulls(spec);
  const tmpl = s["template"] as Record<string, unknown> | undefined;
  const template = tmpl === undefined ? undefined : (dropNulls(tmpl) as unknown as EgressPodTemplate);
  const status = isObj(v["status"]) ? (v["status"] as EgressStatus) : undefined;
  const metadata = {
    name: md["name"],
    namespace: typeof md["namespace"] === "string" ? md["namespace"] : "",
    ...(typeof md["uid"] === "string" ? { uid: md["uid"] } : {}),
    ...(typeof md["resourceVersion"] === "string" ? { resourceVersion: md["resourceVersion"] } : {}),
    ...(typeof md["deletionTimestamp"] === "string" ? { deletionTimestamp: md["deletionTimestamp"] } : {}),
  };
  const egressSpec = { ...s, destinations: (s["destinations"] as string[] | undefined) ?? [], ...(template === undefined ? {} : { template }) } as EgressSpec;
  return ok({ metadata, spec: egressSpec, ...(status === undefined ? {} : { status }) });
}
