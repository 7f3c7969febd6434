/**
 * coil-egress-controller's startup and wiring (Coil `cmd/coil-egress-controller`): API clients,
 * informers (Egresses; the egress Deployments, Services and PodDisruptionBudgets, whose events
 * requeue their owning Egress; ClusterRoleBindings), the Egress and ClusterRoleBinding
 * reconcilers (leader only, Lease `coil-egress-leader`), metrics and health endpoints, and — when
 * provided — the admission webhook server (all replicas).
 */
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import { err, ok, type Result, type ResultAsync } from "neverthrow";
import type { Registry } from "prom-client";
import { CRB_EGRESS, CRB_EGRESS_PSP, type EgressControllerSettings } from "../../lib/egress/index.js";
import { serveHealth, serveMetrics, type Listening, type ListenError, type ReadyCheck } from "../common/http.js";
import {
  Informer,
  NamespacedResource,
  WorkQueue,
  k8sCall,
  makeClients,
  startControllerLifecycle,
  type ControllerExit,
  type EgressObject,
  type K8sError,
  type KubeClients,
  type Logger,
  type ObjectList,
} from "../k8s/index.js";
import type { RuntimeMetrics } from "../k8s/runtime-metrics.js";
import { createEgressControllerMetrics } from "./metrics.js";
import type { EgressControllerFlags } from "./flags.js";
import { EgressReconciler, owningEgress } from "./reconciler.js";

import type { StartWebhook, WebhookHandle } from "../k8s/webhook-server.js";
export type { StartWebhook, WebhookHandle } from "../k8s/webhook-server.js";

/** Injected dependencies. */
export interface EgressControllerDeps {
  /** Loaded kubeconfig. */
  readonly kc: KubeConfig;
  /** Logger. */
  readonly log: Logger;
  /** Leader-election identity (unique per process). */
  readonly identity: string;
  /**
   * Default image of the egress container. Omitted: Coil's way, the image of the first container
   * of this controller's own Pod (`COIL_POD_NAMESPACE`/`COIL_POD_NAME` from `env`); startup fails
   * when it cannot be read.
   */
  readonly image?: string;
  /** Environment (for `COIL_POD_NAMESPACE`, `COIL_POD_NAME`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Webhook server starter; omitted = no webhook (readiness then only `ping`). */
  readonly startWebhook?: StartWebhook;
  /** Export prom-client's process metrics (default true). */
  readonly processMetrics?: boolean;
}

/** Why the controller stopped (defined with the shared lifecycle in adapters/k8s). */
export type { ControllerExit };

/** Why the controller did not start. */
export type EgressControllerStartError =
  | ListenError
  | { readonly kind: "webhook-failed"; readonly message: string }
  | { readonly kind: "no-image"; readonly message: string };

/** A running controller. */
export interface RunningEgressController {
  /** Bound metrics port, if serving. */
  readonly metricsPort: number | undefined;
  /** Bound health port, if serving. */
  readonly healthPort: number | undefined;
  /** The metrics registry. */
  readonly registry: Registry;
  /** The settings the egress pods are made with (image, port, backend). */
  readonly settings: EgressControllerSettings;
  /** Resolves when the controller stopped by itself (`leader-lost`) or after {@link close}. */
  readonly done: Promise<ControllerExit>;
  /** Whether this replica leads now. */
  isLeader(): boolean;
  /** Stop everything; releases the lease unless `release: false`. */
  close(opts?: { readonly release?: boolean }): Promise<void>;
}

/** What the informers keep: the queue key and, for owned objects, the owning Egress. */
interface Keyed extends KubernetesObject {
  readonly metadata: { readonly name: string; readonly resourceVersion?: string };
  /** `<ns>/<egress>` owning the object (owned kinds only). */
  readonly owner?: string;
  /** Marks an already transformed object. */
  readonly keyed: true;
}

/** Key namespaced objects by `<namespace>/<name>` (the informer's cache is keyed by name). */
function keyed(o: KubernetesObject | Keyed): Keyed {
  if ("keyed" in o) return o;
  const ns = o.metadata?.namespace;
  const name = o.metadata?.name ?? "";
  const owner = owningEgress(o);
  const rv = o.metadata?.resourceVersion;
  return { metadata: { name: ns === undefined ? name : `${ns}/${name}`, ...(rv === undefined ? {} : { resourceVersion: rv }) }, ...(owner === undefined ? {} : { owner }), keyed: true };
}

function listOf(call: () => Promise<{ items: KubernetesObject[]; metadata?: { resourceVersion?: string } }>): () => ResultAsync<ObjectList<Keyed>, K8sError> {
  return () => k8sCall(async () => {
    const r = await call();
    return { items: r.items.map(keyed), resourceVersion: r.metadata?.resourceVersion ?? "" };
  });
}

/** Label of every object the controller makes (for the owned-object informers). */
const OWNED_SELECTOR = "app.kubernetes.io/component=egress";

interface Informers {
  readonly egresses: Informer<Keyed>;
  readonly deployments: Informer<Keyed>;
  readonly services: Informer<Keyed>;
  readonly pdbs: Informer<Keyed>;
  readonly crbs: Informer<Keyed>;
}

function makeInformers(clients: KubeClients, egresses: NamespacedResource<EgressObject>, log: Logger): Informers {
  const kc = clients.kc;
  const labelSelector = OWNED_SELECTOR;
  const onRequest = clients.onRequest;
  return {
    egresses: new Informer<Keyed>({
      name: "egresses",
      kc,
      path: egresses.path,
      list: () => egresses.list().map((l) => ({ items: l.items.map((o) => keyed(o as unknown as KubernetesObject)), resourceVersion: l.resourceVersion })),
      transform: keyed,
      log,
      onRequest,
    }),
    deployments: new Informer<Keyed>({
      name: "deployments",
      kc,
      path: "/apis/apps/v1/deployments",
      labelSelector,
      list: listOf(() => clients.apps.listDeploymentForAllNamespaces({ labelSelector })),
      transform: keyed,
      log,
      onRequest,
    }),
    services: new Informer<Keyed>({ name: "services", kc, path: "/api/v1/services", labelSelector, list: listOf(() => clients.core.listServiceForAllNamespaces({ labelSelector })), transform: keyed, log, onRequest }),
    pdbs: new Informer<Keyed>({
      name: "poddisruptionbudgets",
      kc,
      path: "/apis/policy/v1/poddisruptionbudgets",
      labelSelector,
      list: listOf(() => clients.policy.listPodDisruptionBudgetForAllNamespaces({ labelSelector })),
      transform: keyed,
      log,
      onRequest,
    }),
    crbs: new Informer<Keyed>({ name: "clusterrolebindings", kc, path: "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", list: listOf(() => clients.rbac.listClusterRoleBinding()), transform: keyed, log, onRequest }),
  };
}

function allInformers(inf: Informers): ReadonlyArray<Informer<Keyed>> {
  return [inf.egresses, inf.deployments, inf.services, inf.pdbs, inf.crbs];
}

/** The default image: the first container's image of this controller's own Pod (Coil's `GetImage`). */
async function ownImage(clients: KubeClients, env: Readonly<Record<string, string | undefined>>): Promise<Result<string, EgressControllerStartError>> {
  const namespace = env["COIL_POD_NAMESPACE"] ?? "";
  const name = env["COIL_POD_NAME"] ?? "";
  if (namespace === "" || name === "") return err({ kind: "no-image", message: "COIL_POD_NAMESPACE and COIL_POD_NAME must name this controller's Pod (its image is the egress pods' default image)" });
  const pod = await k8sCall(() => clients.core.readNamespacedPod({ name, namespace }));
  if (pod.isErr()) return err({ kind: "no-image", message: `cannot read own pod ${namespace}/${name}: ${pod.error.message}` });
  const image = pod.value.spec?.containers[0]?.image;
  if (image === undefined || image === "") return err({ kind: "no-image", message: `own pod ${namespace}/${name} has no container image` });
  return ok(image);
}

type Servers = { metrics: Listening | undefined; health: Listening | undefined };

async function startServers(flags: EgressControllerFlags, registry: Registry, checks: readonly ReadyCheck[]): Promise<Result<Servers, ListenError>> {
  const m = flags.metricsAddr === undefined ? ok(undefined) : await serveMetrics(flags.metricsAddr, registry);
  if (m.isErr()) return err(m.error);
  const h = flags.healthAddr === undefined ? ok(undefined) : await serveHealth(flags.healthAddr, checks);
  if (h.isErr()) {
    await m.value?.close();
    return err(h.error);
  }
  return ok({ metrics: m.value, health: h.value });
}

async function startWebhook(start: StartWebhook | undefined, o: Parameters<StartWebhook>[0]): Promise<Result<WebhookHandle | undefined, EgressControllerStartError>> {
  if (start === undefined) return ok(undefined);
  try {
    return ok(await start(o));
  } catch (e) {
    return err({ kind: "webhook-failed", message: `cannot start the webhook server: ${e instanceof Error ? e.message : JSON.stringify(e)}` });
  }
}

/** The leader-only part: the two queues. */
class Leadership {
  readonly egressQueue: WorkQueue;
  readonly crbQueue: WorkQueue;

  constructor(inf: Informers, rec: EgressReconciler, log: Logger, metrics: RuntimeMetrics) {
    // Coil's controller names (controller-runtime names a controller after the kind it is For).
    this.egressQueue = new WorkQueue({ name: "egress", reconcile: (k) => rec.reconcile(k), log, metrics: metrics.queue("egress") });
    this.crbQueue = new WorkQueue({ name: "clusterrolebinding", reconcile: (k) => rec.reconcileCrbKey(k), log, metrics: metrics.queue("clusterrolebinding") });
    for (const e of inf.egresses.items()) this.egressQueue.add(e.metadata.name);
    for (const c of inf.crbs.items()) if (c.metadata.name === CRB_EGRESS || c.metadata.name === CRB_EGRESS_PSP) this.crbQueue.add(c.metadata.name);
  }

  async stop(): Promise<void> {
    await Promise.all([this.egressQueue.stop(), this.crbQueue.stop()]);
  }
}

/** Start the controller. Fails when the image cannot be found, a listener or the webhook cannot start. */
export async function runEgressController(flags: EgressControllerFlags, deps: EgressControllerDeps): Promise<Result<RunningEgressController, EgressControllerStartError>> {
  const { log } = deps;
  const metrics = createEgressControllerMetrics({ processMetrics: deps.processMetrics ?? true });
  const clients = makeClients(deps.kc, { onRequest: metrics.request });
  const image = deps.image !== undefined ? ok<string, EgressControllerStartError>(deps.image) : await ownImage(clients, deps.env ?? {});
  if (image.isErr()) {
    clients.destroy();
    return err(image.error);
  }
  const settings: EgressControllerSettings = { image: image.value, port: flags.egressPort, backend: flags.backend, tunnel: flags.tunnel };
  const egresses = new NamespacedResource<EgressObject>(clients.custom, "Egress");
  const inf = makeInformers(clients, egresses, log);
  const rec = new EgressReconciler({ clients, egresses, settings, log });
  let leadership: Leadership | undefined;
  inf.egresses.on((e) => leadership?.egressQueue.add(e.object.metadata.name));
  for (const owned of [inf.deployments, inf.services, inf.pdbs]) {
    owned.on((e) => {
      const owner = e.object.owner;
      if (owner !== undefined) leadership?.egressQueue.add(owner);
    });
  }
  inf.crbs.on((e) => {
    const n = e.object.metadata.name;
    if (n === CRB_EGRESS || n === CRB_EGRESS_PSP) leadership?.crbQueue.add(n);
  });

  const started = await startWebhook(deps.startWebhook, { ...flags, addr: flags.webhookAddr, clients, log });
  if (started.isErr()) {
    clients.destroy();
    return err(started.error);
  }
  const webhook = started.value;
  const checks: ReadyCheck[] = [{ name: "ping", check: () => true }];
  if (webhook !== undefined) checks.push({ name: "webhook", check: () => webhook.ready() });
  const listening = await startServers(flags, metrics.registry, checks);
  if (listening.isErr()) {
    await webhook?.close();
    clients.destroy();
    return err(listening.error);
  }
  const servers = listening.value;

  for (const i of allInformers(inf)) i.start();
  await Promise.all(allInformers(inf).map((i) => i.waitSynced()));
  log.info("caches synced", { identity: deps.identity });

  const startLeading = (signal: AbortSignal): void => {
    if (signal.aborted) return;
    log.info("starting controllers", { identity: deps.identity });
    leadership = new Leadership(inf, rec, log, metrics);
  };
  const stopLeading = async (): Promise<void> => {
    const l = leadership;
    leadership = undefined;
    await l?.stop();
  };
  const { done, shutdown } = startControllerLifecycle({
    election: flags,
    clients,
    identity: deps.identity,
    log,
    startLeading,
    stopLeading,
    onLeading: metrics.leader,
    closers: [...allInformers(inf).map((i) => () => i.stop()), () => servers.metrics?.close(), () => servers.health?.close(), () => webhook?.close()],
  });

  return ok({
    metricsPort: servers.metrics?.port,
    healthPort: servers.health?.port,
    registry: metrics.registry,
    settings,
    done,
    isLeader: () => leadership !== undefined,
    close: async (opts = {}) => {
      await shutdown("stopped", opts.release !== false);
      await done;
    },
  });
}
