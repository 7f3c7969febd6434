/**
 * The EgressWatcher of coild (Coil §6.5): when an Egress is added or changed, every running pod of
 * this node annotated for it gets its NAT client synced again in place (destinations, and
 * `fouSourcePortAuto`, which recreates the tunnel with the other encap sport), without restarting
 * the pod. As in Coil, the pods come from the API server (Pods with `spec.nodeName` = this node)
 * and each pod's namespace is found from its address in the kernel (`pod-netns.ts`), so the
 * watcher keeps no state and serves pods set up before a coild restart. Failures (a pod whose
 * network is not ready yet, an API error) are retried with backoff; a newer event of the same
 * Egress replaces a pending retry. The syncs of one Egress never overlap (controller-runtime's
 * per-key guarantee in Coil): an event during a sync makes the sync run again once it is done,
 * with the Egress as it is then, so an older sync cannot finish after a newer one.
 */
import type { CoreV1Api, CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import { err, ok, type Result } from "neverthrow";
import { egressKey, podsToUpdate, type DuplicatePodIp, type EgressRef, type WatchedPod } from "../../../lib/egress/index.js";
import { parseIp, ipFamily, type Ip } from "../../../lib/net/index.js";
import { Informer, k8sCall, sleep, type KubeObject, type Logger, type ObjectList, type RequestObserver } from "../../k8s/index.js";
import { resolveGateways, type EgressLookup, type GatewayError, type Lookup } from "./gateways.js";
import { syncNatClient, type NatClientError, type NatClientSettings } from "./nat-client.js";
import { findPodNetns, findPodNetnsByAlias, type PodNetnsNotReady } from "./pod-netns.js";

/** Egress and Service reads through the API server (Coil reads them through its cache). */
export function apiEgressLookup(custom: CustomObjectsApi, core: CoreV1Api): EgressLookup {
  const get = async <T>(f: () => Promise<T>): Promise<Lookup<T>> => {
    const r = await k8sCall(f);
    if (r.isOk()) return ok(r.value);
    return r.error.kind === "not-found" ? ok(undefined) : r.mapErr((e) => e.message);
  };
  return {
    egress: (ref) => get(() => custom.getNamespacedCustomObject({ group: "coil.cybozu.com", version: "v2", plural: "egresses", namespace: ref.namespace, name: ref.name }) as Promise<unknown>),
    serviceClusterIPs: async (ref) => {
      const svc = await get(() => core.readNamespacedService({ namespace: ref.namespace, name: ref.name }));
      return svc.map((s) => (s === undefined ? undefined : (s.spec?.clusterIPs ?? (s.spec?.clusterIP !== undefined ? [s.spec.clusterIP] : []))));
    },
  };
}

/** Why syncing the pods of one Egress failed. */
export type EgressSyncError =
  | GatewayError
  | NatClientError
  | PodNetnsNotReady
  | DuplicatePodIp
  | { readonly kind: "pods-not-listed"; readonly message: string };

/** Options of {@link EgressWatcher}. */
export interface EgressWatcherOptions {
  /** Watch connection. */
  readonly kc: KubeConfig;
  /** Lists Egresses across namespaces. */
  readonly custom: CustomObjectsApi;
  /** Lists the Pods of this node. */
  readonly core: CoreV1Api;
  /** Reads Egresses and Services. */
  readonly lookup: EgressLookup;
  /** NAT client settings. */
  readonly settings: NatClientSettings;
  /** This node's name (`spec.nodeName` of its Pods). */
  readonly nodeName: string;
  /** `--pod-table-id`: where the pods' host routes are (finding a pod's namespace). */
  readonly podTable: number;
  /**
   * How a pod's namespace is found: `pod-table` (IPAM mode: its address's route in the pod table,
   * the default) or `alias` (egress-only mode: the host link whose alias names the pod's UID).
   */
  readonly locate?: "pod-table" | "alias";
  /** Logger. */
  /** Told about the Egress watch's requests (`rest_client_requests_total`). */
  readonly onRequest?: RequestObserver | undefined;
  readonly log: Logger;
  /** Called after a pod was synced for an Egress (tests, metrics). */
  readonly onSynced?: (pod: string, egress: EgressRef) => void;
  /** Called when an added or changed Egress has been taken in (tests). */
  readonly onEvent?: (egress: EgressRef) => void;
}

/** A Pod reduced to what the watcher reads. */
export function watchedPod(p: { metadata?: { name?: string; namespace?: string; uid?: string; annotations?: Record<string, string> }; spec?: { hostNetwork?: boolean }; status?: { phase?: string; podIPs?: ReadonlyArray<{ ip?: string }> } }): WatchedPod {
  return {
    ...(p.metadata?.uid === undefined ? {} : { uid: p.metadata.uid }),
    key: `${p.metadata?.namespace ?? ""}/${p.metadata?.name ?? ""}`,
    annotations: p.metadata?.annotations ?? {},
    hostNetwork: p.spec?.hostNetwork === true,
    phase: p.status?.phase ?? "",
    ips: (p.status?.podIPs ?? []).flatMap((x) => (x.ip === undefined ? [] : [x.ip])),
  };
}

function addresses(ips: readonly string[]): { ipv4?: Ip; ipv6?: Ip } {
  const out: { ipv4?: Ip; ipv6?: Ip } = {};
  for (const s of ips) {
    const ip = parseIp(s);
    if (ip.isErr()) continue;
    if (ipFamily(ip.value) === 4) out.ipv4 ??= ip.value;
    else out.ipv6 ??= ip.value;
  }
  return out;
}

/** coild's EgressWatcher. */
export class EgressWatcher {
  readonly #o: EgressWatcherOptions;
  readonly #informer: Informer<KubeObject>;
  /** Per Egress with a sync running: the newest event's number, and how to cut a retry's backoff short. */
  readonly #running = new Map<string, { gen: number; wake: AbortController | undefined }>();
  #closed = false;

  constructor(o: EgressWatcherOptions) {
    this.#o = o;
    const list = (): ReturnType<typeof k8sCall<ObjectList<KubeObject>>> =>
      k8sCall(async () => {
        const res = (await o.custom.listClusterCustomObject({ group: "coil.cybozu.com", version: "v2", plural: "egresses" })) as { items?: KubeObject[]; metadata?: { resourceVersion?: string } };
        return { items: (res.items ?? []).map(keyed), resourceVersion: res.metadata?.resourceVersion ?? "" };
      });
    this.#informer = new Informer<KubeObject>({ name: "egresses", kc: o.kc, path: "/apis/coil.cybozu.com/v2/egresses", list, transform: keyed, log: o.log, onRequest: o.onRequest });
    this.#informer.on((e) => {
      if (e.type === "delete") return;
      const m = e.object.metadata as { namespace?: string; egressName?: string; deletionTimestamp?: string };
      if (m.deletionTimestamp !== undefined) return;
      const ref = { namespace: m.namespace ?? "", name: m.egressName ?? "" };
      this.#reconcile(ref);
      this.#o.onEvent?.(ref);
    });
  }

  /** Start watching Egresses. */
  start(): void {
    this.#informer.start();
  }

  /** Resolves once the first LIST of Egresses has been applied. */
  waitSynced(): Promise<void> {
    return this.#informer.waitSynced();
  }

  /** Stop watching (pending retries end; a sync in progress ends after its current attempt). */
  async stop(): Promise<void> {
    this.#closed = true;
    for (const r of this.#running.values()) r.wake?.abort();
    await this.#informer.stop();
  }

  async #nodePods(): Promise<Result<WatchedPod[], EgressSyncError>> {
    const r = await k8sCall(() => this.#o.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${this.#o.nodeName}` }));
    return r.isErr() ? err({ kind: "pods-not-listed", message: `failed to list the node's pods: ${r.error.message}` }) : ok(r.value.items.map(watchedPod));
  }

  /** Sync every running pod of this node annotated for `ref` with the Egress as it is now. */
  async syncEgress(ref: EgressRef): Promise<Result<number, EgressSyncError>> {
    const all = await this.#nodePods();
    if (all.isErr()) return err(all.error);
    const pods = podsToUpdate(all.value, ref);
    if (pods.isErr()) return err(pods.error);
    if (pods.value.length === 0) return ok(0);
    const gws = await resolveGateways([ref], this.#o.lookup);
    if (gws.isErr()) return err(gws.error);
    for (const p of pods.value) {
      const netns = this.#o.locate === "alias" ? await findPodNetnsByAlias(this.#o.settings.kernel, p.uid ?? "") : await findPodNetns(this.#o.settings.kernel, this.#o.podTable, p.ips);
      if (netns.isErr()) return err(netns.error);
      const r = await syncNatClient(this.#o.settings, { netns: netns.value, ...addresses(p.ips) }, gws.value, { init: false });
      if (r.isErr()) return err(r.error);
      this.#o.log.info("egress updated in a running pod", { pod: p.key, egress: egressKey(ref) });
      this.#o.onSynced?.(p.key, ref);
    }
    return ok(pods.value.length);
  }

  /** An event of `ref`: start its sync, or, when one is running, make it run again afterwards. */
  #reconcile(ref: EgressRef): void {
    const key = egressKey(ref);
    const running = this.#running.get(key);
    if (running !== undefined) {
      running.gen += 1;
      running.wake?.abort(); // a newer event replaces a pending retry
      return;
    }
    const state = { gen: 0, wake: undefined as AbortController | undefined };
    this.#running.set(key, state);
    void this.#syncLoop(key, ref, state).finally(() => this.#running.delete(key));
  }

  async #syncLoop(key: string, ref: EgressRef, state: { gen: number; wake: AbortController | undefined }): Promise<void> {
    let failures = 0;
    while (!this.#closed) {
      const gen = state.gen;
      const r = await this.syncEgress(ref);
      if (state.gen !== gen) {
        failures = 0; // changed meanwhile: sync again with the Egress as it is now
        continue;
      }
      if (r.isOk()) return;
      this.#o.log.info("egress sync failed; retrying", { egress: key, error: r.error.message });
      state.wake = new AbortController();
      await sleep(Math.min(30_000, 200 * 2 ** failures), state.wake.signal);
      state.wake = undefined;
      failures = state.gen === gen ? failures + 1 : 0;
    }
  }
}

/** Informer cache key `<namespace>/<name>`; the Egress name kept in `egressName`. */
function keyed(o: KubeObject): KubeObject {
  const m = o.metadata as KubeObject["metadata"] & { namespace?: string; egressName?: string };
  if (m.egressName !== undefined) return o;
  return { ...o, metadata: { ...m, name: `${m.namespace ?? ""}/${m.name}`, egressName: m.name } as KubeObject["metadata"] };
}
