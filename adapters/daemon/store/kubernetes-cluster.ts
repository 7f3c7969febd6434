/**
 * coild's Kubernetes wiring for `--store=kubernetes` (Coil §1.3 startup steps 2-3, §3.7):
 * kubeconfig (`--kubeconfig`, `$KUBECONFIG`, in-cluster, `~/.kube/config`), the own Node object
 * (UID for the BlockRequest ownerReference; InternalIPs — the last IPv4 and the last IPv6 entry
 * win, as in Coil's coild), a Namespace watch for pool selection (Coil reads the Namespace through
 * its cached client; here too, so an ADD into an owned block needs no API call), and the
 * {@link KubernetesBlockStore}.
 */
import type { V1Namespace, V1Node } from "@kubernetes/client-node";
import { err, ok, type Result } from "neverthrow";
import { ANNOTATION_POOL } from "../../../lib/constants.js";
import { choosePool, type StoreError } from "../../../lib/ipam/index.js";
import { ipFamily, parseIp, type Family, type Ip } from "../../../lib/net/index.js";
import {
  Informer,
  getNode,
  formatKubeConfigError,
  k8sCall,
  loadKubeConfig,
  makeClients,
  coilClient,
  sleep,
  type K8sError,
  type KubeClients,
  type KubeConfigError,
  type KubeObject,
  type Logger,
  type ObjectList,
  type RequestObserver,
} from "../../k8s/index.js";
import { boundedCall, within } from "./kubernetes-block-request.js";
import { sharedPodReader, type PodRead } from "../node/static-address.js";
import { KubernetesBlockStore } from "./kubernetes.js";

/** Options of {@link openKubernetesStore}. */
export interface KubernetesSetupOptions {
  /** `--kubeconfig`. */
  readonly kubeconfig?: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** `COIL_NODE_NAME`. */
  readonly node: string;
  readonly log: Logger;
  /** How long startup waits for the API server (Node GET, first LISTs). Default 30 s. */
  readonly startupTimeoutMs?: number;
  /** BlockRequest deadline (default 10 s). */
  readonly allocTimeoutMs?: number;
  /** Bound on one API call (default 3 s). */
  readonly callTimeoutMs?: number;
  /** Told about every API request (`rest_client_requests_total`). */
  readonly onRequest?: RequestObserver;
}

/** What coild gets from the cluster. */
export interface KubernetesSetup {
  readonly store: KubernetesBlockStore;
  /** Pool of a pod namespace: its `coil.cybozu.com/pool` annotation, else `default` (cached). */
  readonly poolFor: (namespace: string | undefined) => string;
  /** The Node's InternalIPs. */
  readonly nodeIps: { readonly ipv4?: Ip; readonly ipv6?: Ip };
  /** The address families of a pool's subnets (undefined: no such pool). */
  readonly poolFamilies: (pool: string) => Promise<Result<readonly Family[] | undefined, StoreError>>;
  /**
   * Whether the own Node object still exists (one GET bounded by `timeoutMs`; NotFound → false).
   * `--clear-routes-on-shutdown` asks it at shutdown (Coil #370).
   */
  readonly nodeExists: (timeoutMs: number) => Promise<Result<boolean, K8sError>>;
  /**
   * GET a Pod (uncached, bounded like every call), the answer shared for 1 s so the readers of one
   * ADD — the NAT hook and static addresses — cost one GET (Coil reads the Pod at every ADD).
   */
  readonly readPod: PodRead;
  /** The API clients (coild's egress side reads Pods, Egresses and Services with them); destroyed by {@link close}. */
  readonly clients: KubeClients;
  /** Stop watches and close connections. */
  close(): Promise<void>;
}

/** Coil's coild: the last InternalIP of each family wins (§1.3 step 3). */
export function nodeInternalIpsLastWins(node: V1Node): { ipv4?: Ip; ipv6?: Ip } {
  let ipv4: Ip | undefined;
  let ipv6: Ip | undefined;
  for (const a of node.status?.addresses ?? []) {
    if (a.type !== "InternalIP") continue;
    const ip = parseIp(a.address);
    if (ip.isErr()) continue;
    if (ipFamily(ip.value) === 4) ipv4 = ip.value;
    else ipv6 = ip.value;
  }
  return { ...(ipv4 === undefined ? {} : { ipv4 }), ...(ipv6 === undefined ? {} : { ipv6 }) };
}

/** A Namespace reduced to its name and pool annotation. */
function nsMeta(n: V1Namespace | KubeObject): KubeObject {
  const m = n.metadata ?? { name: "" };
  const pool = m.annotations?.[ANNOTATION_POOL];
  return {
    metadata: {
      name: m.name ?? "",
      ...(m.resourceVersion === undefined ? {} : { resourceVersion: m.resourceVersion }),
      ...(pool === undefined ? {} : { annotations: { [ANNOTATION_POOL]: pool } }),
    },
  };
}

/** GET the Node, retrying transient failures until `deadline`. */
async function readNode(get: () => Promise<Result<V1Node, K8sError>>, deadline: number, log: Logger): Promise<Result<V1Node, K8sError>> {
  for (let i = 0; ; i++) {
    const r = await get();
    if (r.isOk() || r.error.kind === "not-found" || r.error.kind === "forbidden" || Date.now() > deadline) return r;
    log.warn("reading the Node failed, retrying", { error: r.error });
    await sleep(Math.min(200 * 2 ** i, 2000, Math.max(0, deadline - Date.now())));
  }
}

/**
 * Why the Kubernetes store could not be opened, with the operator's `message` (built here, so
 * that coild can print it without loading this module and @kubernetes/client-node).
 */
export type KubernetesSetupError = { readonly message: string } & (
  | { readonly kind: "kubeconfig-unusable"; readonly cause: KubeConfigError }
  | { readonly kind: "node-unreadable"; readonly node: string; readonly cause: K8sError }
  | { readonly kind: "store-unavailable"; readonly cause: StoreError }
  | { readonly kind: "namespaces-not-listed"; readonly timeoutMs: number }
);

/** Connect to the cluster and open the Kubernetes store. */
export async function openKubernetesStore(o: KubernetesSetupOptions): Promise<Result<KubernetesSetup, KubernetesSetupError>> {
  const kc = loadKubeConfig({ env: o.env, ...(o.kubeconfig === undefined ? {} : { kubeconfig: o.kubeconfig }) });
  if (kc.isErr()) return err({ kind: "kubeconfig-unusable", cause: kc.error, message: `--store=kubernetes: cannot load a kubeconfig: ${formatKubeConfigError(kc.error)}` });
  const c = makeClients(kc.value, o.onRequest === undefined ? {} : { onRequest: o.onRequest });
  const t0 = Date.now();
  const startupMs = o.startupTimeoutMs ?? 30_000;
  const callMs = o.callTimeoutMs ?? 3000;
  const node = await readNode(() => within(getNode(c.core, o.node), callMs, err({ kind: "network", status: 0, message: "timeout" })), Date.now() + startupMs, o.log);
  if (node.isErr()) {
    c.destroy();
    return err({ kind: "node-unreadable", node: o.node, cause: node.error, message: `cannot read Node ${o.node}: ${node.error.kind} ${node.error.message}` });
  }
  const uid = node.value.metadata?.uid ?? "";
  const namespaces = new Informer<KubeObject>({
    name: "namespaces",
    kc: c.kc,
    path: "/api/v1/namespaces",
    list: () =>
      k8sCall(async (): Promise<ObjectList<KubeObject>> => {
        const l = await c.core.listNamespace();
        return { items: l.items.map(nsMeta), resourceVersion: l.metadata?.resourceVersion ?? "" };
      }),
    transform: nsMeta,
    backoff: { initialMs: 200, maxMs: 5000 },
    log: o.log,
    onRequest: c.onRequest,
  });
  namespaces.start();
  const store = await KubernetesBlockStore.open({
    coil: coilClient(c.custom),
    kc: c.kc,
    node: o.node,
    nodeOwner: { apiVersion: "v1", kind: "Node", name: o.node, uid },
    log: o.log,
    startupTimeoutMs: startupMs,
    callTimeoutMs: callMs,
    onRequest: c.onRequest,
    ...(o.allocTimeoutMs === undefined ? {} : { allocTimeoutMs: o.allocTimeoutMs }),
  });
  const nsSynced = store.isOk() && (await within(namespaces.waitSynced().then(() => true), startupMs, false));
  if (store.isErr() || !nsSynced) {
    await namespaces.stop();
    if (store.isOk()) await store.value.close();
    c.destroy();
    return err(
      store.isErr()
        ? { kind: "store-unavailable", cause: store.error, message: store.error.message }
        : { kind: "namespaces-not-listed", timeoutMs: startupMs, message: `could not list Namespaces within ${startupMs} ms` },
    );
  }
  o.log.info("Kubernetes store ready", { server: c.kc.getCurrentCluster()?.server, node: o.node, nodeUid: uid, blocks: store.value.listBlocksCached().length, ms: Date.now() - t0 });
  return ok({
    store: store.value,
    poolFor: (ns) => choosePool(ns === undefined ? undefined : namespaces.get(ns)?.metadata.annotations),
    nodeIps: nodeInternalIpsLastWins(node.value),
    poolFamilies: (pool) => store.value.poolFamilies(pool),
    nodeExists: async (timeoutMs) => {
      const r = await within(getNode(c.core, o.node), timeoutMs, err({ kind: "network", status: 0, message: `no answer from the API server within ${timeoutMs} ms` }));
      if (r.isOk()) return ok(true);
      return r.error.kind === "not-found" ? ok(false) : err(r.error);
    },
    readPod: sharedPodReader(async (pod) => {
      const r = await boundedCall(k8sCall(() => c.core.readNamespacedPod({ namespace: pod.namespace, name: pod.name })), callMs);
      if (r.isOk()) return ok({ annotations: r.value.metadata?.annotations ?? {}, hostNetwork: r.value.spec?.hostNetwork === true, ...(r.value.metadata?.uid === undefined ? {} : { uid: r.value.metadata.uid }) });
      return r.error.kind === "not-found" ? ok(undefined) : err(r.error.message);
    }),
    clients: c,
    close: async () => {
      await Promise.all([namespaces.stop(), store.value.close()]);
      c.destroy();
    },
  });
}
