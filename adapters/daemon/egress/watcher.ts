/**
 * The EgressWatcher of coild (Coil §6.5) and the client pods it serves: pods set up at ADD are
 * registered here (namespace file, addresses, the Egresses their annotations name); when an
 * Egress is added or changed, the NAT client of every registered pod naming it is synced again
 * (destinations, `fouSourcePortAuto`) in place, without restarting the pod. Failures are retried
 * with backoff; a newer event of the same Egress replaces a pending retry.
 */
import type { CoreV1Api, CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import { ok, type Result } from "neverthrow";
import { Informer, k8sCall, sleep, type KubeObject, type Logger, type ObjectList } from "../../k8s/index.js";
import { resolveGateways, type EgressLookup, type EgressRef, type GatewayError, type Lookup } from "./gateways.js";
import { syncNatClient, type NatClientError, type NatClientPod, type NatClientSettings } from "./nat-client.js";

/** A client pod coild set up on this node. */
export interface RegisteredPod extends NatClientPod {
  /** `<namespace>/<name>`. */
  readonly key: string;
  /** The Egresses its annotations name. */
  readonly egresses: readonly EgressRef[];
}

const refKey = (r: EgressRef): string => `${r.namespace}/${r.name}`;

/** Egress and Service reads through the API server (Coil reads them through its cache). */
export function apiEgressLookup(custom: CustomObjectsApi, core: CoreV1Api): EgressLookup {
  const get = async <T>(f: () => Promise<T>): Promise<Lookup<T>> => {
    const r = await k8sCall(f);
    if (r.isOk()) return ok(r.value);
    return r.error.kind === "not-found" ? ok(undefined) : (r.mapErr((e) => e.message));
  };
  return {
    egress: (ref) => get(() => custom.getNamespacedCustomObject({ group: "coil.cybozu.com", version: "v2", plural: "egresses", namespace: ref.namespace, name: ref.name }) as Promise<unknown>),
    serviceClusterIPs: async (ref) => {
      const svc = await get(() => core.readNamespacedService({ namespace: ref.namespace, name: ref.name }));
      return svc.map((s) => (s === undefined ? undefined : (s.spec?.clusterIPs ?? (s.spec?.clusterIP !== undefined ? [s.spec.clusterIP] : []))));
    },
  };
}

/** Why syncing one pod for one Egress failed. */
export type EgressSyncError = GatewayError | NatClientError;

/** Options of {@link EgressWatcher}. */
export interface EgressWatcherOptions {
  /** Watch connection. */
  readonly kc: KubeConfig;
  /** Lists Egresses across namespaces. */
  readonly custom: CustomObjectsApi;
  /** Reads Egresses and Services. */
  readonly lookup: EgressLookup;
  /** NAT client settings. */
  readonly settings: NatClientSettings;
  /** Logger. */
  readonly log: Logger;
  /** Called after a pod was synced for an Egress (tests, metrics). */
  readonly onSynced?: (pod: RegisteredPod, egress: EgressRef) => void;
}

/** coild's EgressWatcher plus the registry of client pods on this node. */
export class EgressWatcher {
  readonly #o: EgressWatcherOptions;
  readonly #pods = new Map<string, RegisteredPod>();
  readonly #informer: Informer<KubeObject>;
  readonly #pending = new Map<string, number>();
  #closed = false;

  constructor(o: EgressWatcherOptions) {
    this.#o = o;
    const list = (): ReturnType<typeof k8sCall<ObjectList<KubeObject>>> =>
      k8sCall(async () => {
        const res = (await o.custom.listClusterCustomObject({ group: "coil.cybozu.com", version: "v2", plural: "egresses" })) as { items?: KubeObject[]; metadata?: { resourceVersion?: string } };
        return { items: (res.items ?? []).map(keyed), resourceVersion: res.metadata?.resourceVersion ?? "" };
      });
    this.#informer = new Informer<KubeObject>({ name: "egresses", kc: o.kc, path: "/apis/coil.cybozu.com/v2/egresses", list, transform: keyed, log: o.log });
    this.#informer.on((e) => {
      if (e.type === "delete") return;
      const m = e.object.metadata as { namespace?: string; egressName?: string; deletionTimestamp?: string };
      if (m.deletionTimestamp !== undefined) return;
      void this.#reconcile({ namespace: m.namespace ?? "", name: m.egressName ?? "" });
    });
  }

  /** Start watching Egresses. */
  start(): void {
    this.#informer.start();
  }

  /** Stop watching. */
  async stop(): Promise<void> {
    this.#closed = true;
    await this.#informer.stop();
  }

  /** Remember a pod set up at ADD. */
  register(pod: RegisteredPod): void {
    this.#pods.set(pod.key, pod);
  }

  /** Forget a pod (DEL). */
  unregister(key: string): void {
    this.#pods.delete(key);
  }

  /** The registered pods. */
  pods(): RegisteredPod[] {
    return [...this.#pods.values()];
  }

  /** Sync every registered pod naming `ref` with the Egress as it is now. */
  async syncEgress(ref: EgressRef): Promise<Result<void, EgressSyncError>> {
    const pods = this.pods().filter((p) => p.egresses.some((e) => refKey(e) === refKey(ref)));
    if (pods.length === 0) return ok(undefined);
    const gws = await resolveGateways([ref], this.#o.lookup);
    if (gws.isErr()) return gws.map(() => undefined);
    for (const p of pods) {
      if (this.#pods.get(p.key) !== p) continue; // deleted meanwhile
      const r = await syncNatClient(this.#o.settings, p, gws.value, { init: false });
      if (r.isErr()) return r;
      this.#o.log.info("egress updated in a running pod", { pod: p.key, egress: refKey(ref) });
      this.#o.onSynced?.(p, ref);
    }
    return ok(undefined);
  }

  async #reconcile(ref: EgressRef): Promise<void> {
    const key = refKey(ref);
    const gen = (this.#pending.get(key) ?? 0) + 1;
    this.#pending.set(key, gen);
    for (let failures = 0; !this.#closed && this.#pending.get(key) === gen; failures++) {
      const r = await this.syncEgress(ref);
      if (r.isOk()) return;
      this.#o.log.info("egress sync failed; retrying", { egress: key, error: r.error.message });
      await sleep(Math.min(30_000, 200 * 2 ** failures));
    }
  }
}

/** Informer cache key `<namespace>/<name>`; the Egress name kept in `egressName`. */
function keyed(o: KubeObject): KubeObject {
  const m = o.metadata as KubeObject["metadata"] & { namespace?: string; egressName?: string };
  if (m.egressName !== undefined) return o;
  return { ...o, metadata: { ...m, name: `${m.namespace ?? ""}/${m.name}`, egressName: m.name } as KubeObject["metadata"] };
}
