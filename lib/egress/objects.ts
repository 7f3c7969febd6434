/**
 * What coil-egress-controller makes of an Egress (Coil `controllers/egress_controller.go`,
 * `clusterrolebinding_controller.go`; spec §6.1): the ServiceAccount, the subjects of the two
 * ClusterRoleBindings, and the Deployment, Service and PodDisruptionBudget — each as a *mutation*
 * of the object read from the API server (`undefined` = not there yet), as controller-runtime's
 * `CreateOrUpdate` applies Coil's mutate functions. The adapter writes the result when it differs
 * from what it read. Then the Egress status.
 */
import { API_VERSION } from "../constants.js";
import type { Egress, JsonObject, JsonValue } from "./types.js";

/** Name of the ServiceAccount of the egress pods, in each Egress namespace (Coil `SAEgress`). */
export const EGRESS_SERVICE_ACCOUNT = "coil-egress";
/** ClusterRoleBinding that must exist (Coil `CRBEgress`). */
export const CRB_EGRESS = "coil-egress";
/** Optional ClusterRoleBinding for PSP (Coil `CRBEgressPSP`); a missing one is fine. */
export const CRB_EGRESS_PSP = "psp-coil-egress";
/** Name of the egress container in the pod template. */
export const EGRESS_CONTAINER = "egress";
/** The egress container's command default. */
export const EGRESS_COMMAND = "coil-egress";
/** Env var: namespace of the Egress. */
export const ENV_POD_NAMESPACE = "COIL_POD_NAMESPACE";
/** Env var: name of the Egress. */
export const ENV_EGRESS_NAME = "COIL_EGRESS_NAME";
/** Env var: the pod's IPs (fieldRef `status.podIPs`). */
export const ENV_POD_ADDRESSES = "COIL_POD_ADDRESSES";

/** Where the egress controller's own settings come from (its flags and its own image). */
export interface EgressControllerSettings {
  /** Default image of the egress container: the controller's own (`spec.containers[0].image` of its Pod). */
  readonly image: string;
  /** `--egress-port`: the Service's UDP port and targetPort. */
  readonly port: number;
  /** `--backend`: passed to coil-egress as `--backend=<backend>`. */
  readonly backend: "iptables" | "nftables";
  /**
   * `--tunnel` (this project's): the encapsulation of the egress pods. `vxlan` is passed to coil-egress
   * as `--tunnel=vxlan` (for kernels without FoU; coild's `--tunnel` must say the same); `fou`, Coil's
   * only one, adds nothing, so the default arguments stay Coil's.
   */
  readonly tunnel: "fou" | "vxlan";
}

/** `app.kubernetes.io/{name,instance,component}` of an Egress's objects and pods. */
export function egressSelectorLabels(name: string): Record<string, string> {
  return { "app.kubernetes.io/name": "coil", "app.kubernetes.io/instance": name, "app.kubernetes.io/component": "egress" };
}

/** The string form of a `matchLabels` selector (`metav1.LabelSelectorAsSelector(...).String()`: keys sorted). */
export function selectorString(matchLabels: Readonly<Record<string, string>>): string {
  return Object.keys(matchLabels)
    .sort()
    .map((k) => `${k}=${matchLabels[k] ?? ""}`)
    .join(",");
}

const clone = <T extends JsonValue>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
const isObj = (v: unknown): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);
const obj = (v: JsonValue | undefined): JsonObject => (isObj(v) ? v : {});
const strMap = (v: JsonValue | undefined): Record<string, string> =>
  Object.fromEntries(Object.entries(obj(v)).filter((e): e is [string, string] => typeof e[1] === "string"));

/** The controller owner reference Coil sets (`ctrl.SetControllerReference`). */
export function egressOwnerReference(eg: Egress): JsonObject {
  return { apiVersion: API_VERSION, kind: "Egress", name: eg.metadata.name, uid: eg.metadata.uid ?? "", controller: true, blockOwnerDeletion: true };
}

/** Start from the read object, or a new one. Returns the copy and whether it is new (no creationTimestamp). */
function base(existing: JsonObject | undefined, apiVersion: string, kind: string, eg: Egress): { o: JsonObject; md: JsonObject; isNew: boolean } {
  const o: JsonObject = existing === undefined ? { apiVersion, kind, metadata: { name: eg.metadata.name, namespace: eg.metadata.namespace } } : clone(existing);
  const md = obj(o["metadata"]);
  o["metadata"] = md;
  const isNew = typeof md["creationTimestamp"] !== "string" || md["creationTimestamp"] === "";
  md["labels"] = { ...strMap(md["labels"]), ...egressSelectorLabels(eg.metadata.name) };
  if (isNew) md["ownerReferences"] = setController(md["ownerReferences"], egressOwnerReference(eg));
  return { o, md, isNew };
}

/** `SetControllerReference`: replace a reference to the same object (or add it). */
function setController(refs: JsonValue | undefined, ref: JsonObject): JsonValue {
  const list = Array.isArray(refs) ? refs.filter(isObj) : [];
  const same = (r: JsonObject): boolean => r["uid"] === ref["uid"] || (r["kind"] === ref["kind"] && r["name"] === ref["name"] && typeof r["apiVersion"] === "string" && r["apiVersion"].startsWith("coil.cybozu.com/"));
  const i = list.findIndex(same);
  if (i >= 0) list[i] = ref;
  else list.push(ref);
  return list;
}

function addVolumes(vols: JsonValue[]): JsonValue[] {
  const out = [...vols];
  if (!vols.some((v) => obj(v)["name"] === "run")) out.push({ name: "run", emptyDir: {} });
  out.push({ name: "modules", hostPath: { path: "/lib/modules" } });
  return out;
}

function addVolumeMounts(mounts: JsonValue[]): JsonValue[] {
  const out = [...mounts];
  if (!mounts.some((m) => obj(m)["name"] === "run")) out.push({ mountPath: "/run", name: "run" });
  out.push({ mountPath: "/lib/modules", name: "modules", readOnly: true });
  return out;
}

const nonEmptyList = (v: JsonValue | undefined): boolean => Array.isArray(v) && v.length > 0;

/** Coil's `reconcilePodTemplate`: the pod spec of the egress pods. */
export function egressPodSpec(eg: Egress, s: EgressControllerSettings): JsonObject {
  const spec: JsonObject = clone(eg.spec.template?.spec ?? {});
  spec["serviceAccountName"] = EGRESS_SERVICE_ACCOUNT;
  spec["volumes"] = addVolumes(Array.isArray(spec["volumes"]) ? spec["volumes"] : []);
  const containers: JsonValue[] = Array.isArray(spec["containers"]) ? spec["containers"] : [];
  let idx = -1;
  containers.forEach((c, i) => {
    if (obj(c)["name"] === EGRESS_CONTAINER) idx = i; // the last one named egress, as Coil's loop
  });
  if (idx < 0) {
    containers.unshift({});
    idx = 0;
  }
  const c = obj(containers[idx]);
  containers[idx] = c;
  spec["containers"] = containers;
  c["name"] = EGRESS_CONTAINER;
  if (typeof c["image"] !== "string" || c["image"] === "") c["image"] = s.image;
  if (!nonEmptyList(c["command"])) c["command"] = [EGRESS_COMMAND];
  if (!nonEmptyList(c["args"])) {
    c["args"] = [
      "--zap-stacktrace-level=panic",
      ...(eg.spec.fouSourcePortAuto === true ? ["--enable-sport-auto=true"] : []),
      `--backend=${s.backend}`,
      ...(s.tunnel === "vxlan" ? ["--tunnel=vxlan"] : []),
    ];
  }
  c["env"] = [
    ...(Array.isArray(c["env"]) ? c["env"] : []),
    { name: ENV_POD_NAMESPACE, value: eg.metadata.namespace },
    { name: ENV_EGRESS_NAME, value: eg.metadata.name },
    { name: ENV_POD_ADDRESSES, valueFrom: { fieldRef: { fieldPath: "status.podIPs" } } },
  ];
  c["volumeMounts"] = addVolumeMounts(Array.isArray(c["volumeMounts"]) ? c["volumeMounts"] : []);
  c["securityContext"] = { privileged: true, readOnlyRootFilesystem: true, capabilities: { add: ["NET_ADMIN"] } };
  const resources = obj(c["resources"]);
  const requests = obj(resources["requests"]);
  if (requests["cpu"] === undefined) requests["cpu"] = "100m";
  if (requests["memory"] === undefined) requests["memory"] = "200Mi";
  resources["requests"] = requests;
  c["resources"] = resources;
  c["ports"] = [
    { name: "metrics", containerPort: 8080, protocol: "TCP" },
    { name: "health", containerPort: 8081, protocol: "TCP" },
  ];
  c["livenessProbe"] = { httpGet: { path: "/healthz", port: "health", scheme: "HTTP" } };
  c["readinessProbe"] = { httpGet: { path: "/readyz", port: "health", scheme: "HTTP" } };
  return spec;
}

/**
 * Coil's Deployment mutation: labels += selector labels; on creation the controller ownerRef and
 * the selector (immutable afterwards); replicas; strategy if given; pod template labels = template
 * labels + selector labels (others removed), annotations merged into the existing ones (foreign
 * ones such as `kubectl.kubernetes.io/restartedAt` kept); pod spec = {@link egressPodSpec}.
 */
export function mutateEgressDeployment(existing: JsonObject | undefined, eg: Egress, s: EgressControllerSettings): JsonObject {
  const { o, isNew } = base(existing, "apps/v1", "Deployment", eg);
  const labels = egressSelectorLabels(eg.metadata.name);
  const spec = obj(o["spec"]);
  o["spec"] = spec;
  if (isNew) spec["selector"] = { matchLabels: labels };
  spec["replicas"] = eg.spec.replicas ?? 1;
  if (eg.spec.strategy !== undefined) spec["strategy"] = clone(eg.spec.strategy);
  const tmpl = obj(spec["template"]);
  spec["template"] = tmpl;
  const tmd = obj(tmpl["metadata"]);
  tmpl["metadata"] = tmd;
  tmd["labels"] = { ...(eg.spec.template?.metadata?.labels ?? {}), ...labels };
  tmd["annotations"] = { ...strMap(tmd["annotations"]), ...(eg.spec.template?.metadata?.annotations ?? {}) };
  tmpl["spec"] = egressPodSpec(eg, s);
  return o;
}

/**
 * Coil's Service mutation: labels, ownerRef on creation, ClusterIP, selector, one UDP port
 * (`--egress-port` → same targetPort), sessionAffinity from the Egress, sessionAffinityConfig copied
 * when set (kept otherwise), `ipFamilyPolicy: PreferDualStack`.
 */
export function mutateEgressService(existing: JsonObject | undefined, eg: Egress, s: EgressControllerSettings): JsonObject {
  const { o } = base(existing, "v1", "Service", eg);
  const spec = obj(o["spec"]);
  o["spec"] = spec;
  spec["type"] = "ClusterIP";
  spec["selector"] = egressSelectorLabels(eg.metadata.name);
  spec["ports"] = [{ port: s.port, targetPort: s.port, protocol: "UDP" }];
  if (eg.spec.sessionAffinity === undefined) delete spec["sessionAffinity"];
  else spec["sessionAffinity"] = eg.spec.sessionAffinity;
  if (eg.spec.sessionAffinityConfig !== undefined) spec["sessionAffinityConfig"] = clone(eg.spec.sessionAffinityConfig);
  spec["ipFamilyPolicy"] = "PreferDualStack";
  return o;
}

/**
 * Coil's PodDisruptionBudget mutation, or `undefined` when the Egress has no
 * `podDisruptionBudget` (an existing PDB is then left alone, as Coil does). minAvailable /
 * maxUnavailable are those of the Egress (Coil keeps one no longer given, which makes switching
 * from one to the other fail; see docs/differences.md); selector = selector labels.
 */
export function mutateEgressPdb(existing: JsonObject | undefined, eg: Egress): JsonObject | undefined {
  const pdb = eg.spec.podDisruptionBudget;
  if (pdb === undefined) return undefined;
  const { o } = base(existing, "policy/v1", "PodDisruptionBudget", eg);
  const spec = obj(o["spec"]);
  o["spec"] = spec;
  // Coil copies only the given one and keeps the other: switching minAvailable → maxUnavailable then
  // makes a PDB with both, which the API server rejects forever. Here the PDB mirrors the Egress.
  if (pdb.minAvailable !== undefined) spec["minAvailable"] = pdb.minAvailable;
  else delete spec["minAvailable"];
  if (pdb.maxUnavailable !== undefined) spec["maxUnavailable"] = pdb.maxUnavailable;
  else delete spec["maxUnavailable"];
  spec["selector"] = { matchLabels: egressSelectorLabels(eg.metadata.name) };
  return o;
}

/** A ClusterRoleBinding subject. */
export interface CrbSubject {
  /** `ServiceAccount`. */
  readonly kind: "ServiceAccount";
  /** `coil-egress`. */
  readonly name: string;
  /** The Egress namespace. */
  readonly namespace: string;
}

/** The subjects Coil writes: ServiceAccount `coil-egress` of every namespace that has an Egress, sorted. */
export function egressCrbSubjects(egressNamespaces: Iterable<string>): CrbSubject[] {
  return [...new Set(egressNamespaces)].sort().map((namespace) => ({ kind: "ServiceAccount", name: EGRESS_SERVICE_ACCOUNT, namespace }));
}

/**
 * Whether the binding must be rewritten: Coil's `!equality.Semantic.DeepDerivative(desired,
 * existing)`. As with Coil, desired subjects that are a field-wise prefix of the existing ones
 * count as equal, and an empty desired list never clears the binding.
 */
export function crbSubjectsNeedUpdate(desired: readonly CrbSubject[], existing: readonly JsonValue[] | undefined): boolean {
  if (desired.length === 0) return false;
  const ex = existing ?? [];
  if (desired.length > ex.length) return true;
  return desired.some((d, i) => {
    const e = obj(ex[i]);
    return e["kind"] !== d.kind || e["name"] !== d.name || e["namespace"] !== d.namespace;
  });
}

/** The status fields {@link egressStatusUpdate} writes. */
export interface EgressStatusUpdate {
  /** The Deployment's `status.availableReplicas` (0 when absent). */
  readonly replicas: number;
  /** The Deployment's selector in string form. */
  readonly selector: string;
}

/**
 * The Egress status Coil writes from its Deployment: `selector` (string form of the Deployment's
 * `matchLabels`) and `replicas` (its `status.availableReplicas`), or `undefined` when unchanged.
 */
export function egressStatusUpdate(eg: Egress, deployment: JsonObject): EgressStatusUpdate | undefined {
  const sel = selectorString(strMap(obj(obj(deployment["spec"])["selector"])["matchLabels"]));
  const avail = obj(deployment["status"])["availableReplicas"];
  const replicas = typeof avail === "number" ? avail : 0;
  if ((eg.status?.selector ?? "") === sel && (eg.status?.replicas ?? 0) === replicas) return undefined;
  return { replicas, selector: sel };
}

/** Deep equality of JSON values (the adapter writes an object only when its mutation changed it). */
export function jsonEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  if (isObj(a) && isObj(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && jsonEqual(a[k], b[k]));
  }
  return false;
}
