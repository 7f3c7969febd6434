/**
 * coil-egress-controller's reconcilers (Coil `controllers/egress_controller.go`,
 * `clusterrolebinding_controller.go`): for an Egress `<ns>/<name>`, the ServiceAccount, both
 * ClusterRoleBindings' subjects, the Deployment, Service and PodDisruptionBudget (create-or-update
 * with `lib/egress`'s mutate functions), then the status. Reads go to the API server (uncached),
 * so a write never starts from a stale copy; a conflict is retried by the queue.
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import type { ResultAsync } from "neverthrow";
import {
  CRB_EGRESS,
  CRB_EGRESS_PSP,
  EGRESS_SERVICE_ACCOUNT,
  crbSubjectsNeedUpdate,
  egressCrbSubjects,
  egressStatusUpdate,
  jsonEqual,
  mutateEgressDeployment,
  mutateEgressPdb,
  mutateEgressService,
  parseEgress,
  type Egress,
  type EgressControllerSettings,
  type JsonObject,
} from "../../lib/egress/index.js";
import { k8sCall, type EgressObject, type K8sError, type KubeClients, type Logger, type NamespacedResource, type ReconcileOutcome } from "../k8s/index.js";

/** Dependencies of the reconcilers. */
export interface EgressReconcilerDeps {
  /** API clients. */
  readonly clients: KubeClients;
  /** The Egress resource. */
  readonly egresses: NamespacedResource<EgressObject>;
  /** Image, port, backend. */
  readonly settings: EgressControllerSettings;
  /** Logger. */
  readonly log: Logger;
}

/** A typed client-node object as plain JSON (Dates become RFC 3339 strings, absent fields vanish). */
function toJson(o: unknown): JsonObject {
  return JSON.parse(JSON.stringify(o)) as JsonObject;
}

/**
 * The body of a create/update: client-node serialises through its typed models, whose Date fields
 * need Date values; the server sets or keeps these fields itself, so they are left out (an update
 * without `managedFields` keeps them; `status` goes through its own subresource).
 */
function body<T>(o: JsonObject): T {
  const c = toJson(o);
  delete c["status"];
  const md = c["metadata"] as JsonObject | undefined;
  if (md !== undefined) for (const k of ["creationTimestamp", "deletionTimestamp", "managedFields"]) delete md[k];
  const tmd = ((c["spec"] as JsonObject | undefined)?.["template"] as JsonObject | undefined)?.["metadata"] as JsonObject | undefined;
  if (tmd !== undefined) delete tmd["creationTimestamp"];
  return c as T;
}

/** A failed API step; caught by `reconcile` and turned into a `retry` outcome. */
class Failed extends Error {
  constructor(
    readonly step: string,
    readonly error: K8sError,
  ) {
    super(`${step}: ${error.message}`);
  }
}

/** The value of an API call, or throw {@link Failed}. */
async function must<T>(step: string, call: (() => Promise<T>) | ResultAsync<T, K8sError>): Promise<T> {
  const r = typeof call === "function" ? await k8sCall(call) : await call;
  if (r.isErr()) throw new Failed(step, r.error);
  return r.value;
}

/** Like {@link must}, with `undefined` for 404. */
async function mustRead<T>(step: string, call: (() => Promise<T>) | ResultAsync<T, K8sError>): Promise<T | undefined> {
  const r = typeof call === "function" ? await k8sCall(call) : await call;
  if (r.isOk()) return r.value;
  if (r.error.kind === "not-found") return undefined;
  throw new Failed(step, r.error);
}

/** What one create-or-update did. */
export type Applied = "created" | "updated" | "unchanged";

/** Reconciles Egresses (key `<namespace>/<name>`) and the two ClusterRoleBindings (key = name). */
export class EgressReconciler {
  readonly #d: EgressReconcilerDeps;

  /** @param d - see {@link EgressReconcilerDeps}. */
  constructor(d: EgressReconcilerDeps) {
    this.#d = d;
  }

  /** Reconcile one Egress. */
  async reconcile(key: string): Promise<ReconcileOutcome> {
    const [namespace = "", name = ""] = key.split("/");
    try {
      const raw = await mustRead("get egress", this.#d.egresses.get(namespace, name));
      if (raw === undefined) return { kind: "done" };
      const parsed = parseEgress(raw);
      if (parsed.isErr()) return { kind: "terminal", error: parsed.error };
      const eg = parsed.value;
      if (eg.metadata.deletionTimestamp !== undefined) return { kind: "done" };
      const log = this.#d.log;
      await this.#serviceAccount(namespace);
      await this.reconcileCrb(CRB_EGRESS);
      await this.reconcileCrb(CRB_EGRESS_PSP);
      const depl = await this.#deployment(eg);
      const svc = await this.#service(eg);
      const pdb = await this.#pdb(eg);
      for (const [what, r] of [["deployment", depl.applied], ["service", svc], ["pod disruption budget", pdb]] as const) {
        if (r !== "unchanged") log.info(`${r} ${what}`, { egress: key });
      }
      const up = egressStatusUpdate(eg, depl.object);
      if (up !== undefined) {
        await must("update status", this.#d.egresses.replaceStatus({ ...raw, status: { ...raw.status, ...up } }));
        log.info("updated status", { egress: key, ...up });
      }
      return { kind: "done" };
    } catch (e) {
      if (e instanceof Failed) {
        this.#d.log.warn("reconcile failed", { egress: key, step: e.step, error: e.error.message });
        return { kind: "retry", error: e.error };
      }
      throw e;
    }
  }

  /** Reconcile one of the two ClusterRoleBindings (the optional `psp-coil-egress` may be missing). */
  async reconcileCrb(name: string): Promise<void> {
    const rbac = this.#d.clients.rbac;
    const crb = await mustRead(`get clusterrolebinding ${name}`, () => rbac.readClusterRoleBinding({ name }));
    if (crb === undefined) {
      if (name === CRB_EGRESS_PSP) return;
      throw new Failed(`get clusterrolebinding ${name}`, { kind: "not-found", status: 404, message: `clusterrolebinding ${name} not found` });
    }
    const list = await must("list egresses", this.#d.egresses.list());
    const desired = egressCrbSubjects(list.items.map((e) => e.metadata.namespace ?? ""));
    if (!crbSubjectsNeedUpdate(desired, toJson(crb)["subjects"] as JsonObject[] | undefined)) return;
    this.#d.log.info("updating cluster role binding", { clusterrolebinding: name });
    const next = toJson(crb);
    next["subjects"] = desired.map((s) => ({ ...s }));
    await must(`update clusterrolebinding ${name}`, () => rbac.replaceClusterRoleBinding({ name, body: body(next) }));
  }

  /** Reconcile a ClusterRoleBinding by name as a queue item. */
  async reconcileCrbKey(name: string): Promise<ReconcileOutcome> {
    if (name !== CRB_EGRESS && name !== CRB_EGRESS_PSP) return { kind: "done" };
    try {
      await this.reconcileCrb(name);
      return { kind: "done" };
    } catch (e) {
      if (e instanceof Failed) return { kind: "retry", error: e.error };
      throw e;
    }
  }

  async #serviceAccount(namespace: string): Promise<void> {
    const core = this.#d.clients.core;
    const sa = await mustRead("get service account", () => core.readNamespacedServiceAccount({ name: EGRESS_SERVICE_ACCOUNT, namespace }));
    if (sa !== undefined) return;
    this.#d.log.info("creating service account for egress", { namespace });
    const created = await k8sCall(() => core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: EGRESS_SERVICE_ACCOUNT, namespace } } }));
    if (created.isErr() && created.error.kind !== "already-exists") throw new Failed("create service account", created.error);
  }

  async #deployment(eg: Egress): Promise<{ applied: Applied; object: JsonObject }> {
    const apps = this.#d.clients.apps;
    const { name, namespace } = eg.metadata;
    const cur = await mustRead("get deployment", () => apps.readNamespacedDeployment({ name, namespace }));
    const before = cur === undefined ? undefined : toJson(cur);
    const want = mutateEgressDeployment(before, eg, this.#d.settings);
    if (before === undefined) return { applied: "created", object: toJson(await must("create deployment", () => apps.createNamespacedDeployment({ namespace, body: body(want) }))) };
    if (jsonEqual(before, want)) return { applied: "unchanged", object: before };
    const after = toJson(await must("update deployment", () => apps.replaceNamespacedDeployment({ name, namespace, body: body(want) })));
    return { applied: resourceVersionOf(after) === resourceVersionOf(before) ? "unchanged" : "updated", object: after };
  }

  async #service(eg: Egress): Promise<Applied> {
    const core = this.#d.clients.core;
    const { name, namespace } = eg.metadata;
    const cur = await mustRead("get service", () => core.readNamespacedService({ name, namespace }));
    const before = cur === undefined ? undefined : toJson(cur);
    const want = mutateEgressService(before, eg, this.#d.settings);
    if (before === undefined) {
      await must("create service", () => core.createNamespacedService({ namespace, body: body(want) }));
      return "created";
    }
    if (jsonEqual(before, want)) return "unchanged";
    const after = toJson(await must("update service", () => core.replaceNamespacedService({ name, namespace, body: body(want) })));
    return resourceVersionOf(after) === resourceVersionOf(before) ? "unchanged" : "updated";
  }

  async #pdb(eg: Egress): Promise<Applied> {
    if (eg.spec.podDisruptionBudget === undefined) return "unchanged";
    const policy = this.#d.clients.policy;
    const { name, namespace } = eg.metadata;
    const cur = await mustRead("get pod disruption budget", () => policy.readNamespacedPodDisruptionBudget({ name, namespace }));
    const before = cur === undefined ? undefined : toJson(cur);
    const want = mutateEgressPdb(before, eg);
    if (want === undefined) return "unchanged";
    if (before === undefined) {
      await must("create pod disruption budget", () => policy.createNamespacedPodDisruptionBudget({ namespace, body: body(want) }));
      return "created";
    }
    if (jsonEqual(before, want)) return "unchanged";
    const after = toJson(await must("update pod disruption budget", () => policy.replaceNamespacedPodDisruptionBudget({ name, namespace, body: body(want) })));
    return resourceVersionOf(after) === resourceVersionOf(before) ? "unchanged" : "updated";
  }
}

function resourceVersionOf(o: JsonObject): unknown {
  return (o["metadata"] as JsonObject | undefined)?.["resourceVersion"];
}

/** The Egress (`<ns>/<name>`) that controls `o` through its controller ownerReference, if any. */
export function owningEgress(o: KubernetesObject): string | undefined {
  const ref = o.metadata?.ownerReferences?.find((r) => r.controller === true);
  if (ref === undefined || ref.kind !== "Egress" || !ref.apiVersion.startsWith("coil.cybozu.com/")) return undefined;
  return `${o.metadata?.namespace ?? ""}/${ref.name}`;
}
