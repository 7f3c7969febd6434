/**
 * coild's egress side over the API server (`--enable-egress` with `--store=kubernetes`): the NAT
 * hook of ADD with its Pod/Egress/Service reads, and the EgressWatcher (Coil §1.3 step 7). Loaded
 * only then (dynamic import from run.ts), like the Kubernetes store.
 */
import { err, ok } from "neverthrow";
import type { KubeClients, Logger } from "../../k8s/index.js";
import { k8sCall } from "../../k8s/index.js";
import { boundedCall } from "../store/kubernetes-block-request.js";
import { egressHook, type EgressHook, type EgressHookOptions } from "./hook.js";
import type { NatClientSettings } from "./nat-client.js";
import { apiEgressLookup, EgressWatcher } from "./watcher.js";

/** Options of {@link startEgress}. */
export interface EgressSetupOptions {
  /** The store's API clients. */
  readonly clients: KubeClients;
  /** NAT client settings (coild flags). */
  readonly settings: NatClientSettings;
  /** This node. */
  readonly nodeName: string;
  /** `--pod-table-id`. */
  readonly podTable: number;
  /** Logger. */
  readonly log: Logger;
  /** Bound on the Pod GET of an ADD (default 3 s). */
  readonly callTimeoutMs?: number;
  /** How ADD reads the Pod (default: a GET of its own); coild shares one with static addresses. */
  readonly readPod?: EgressHookOptions["readPod"];
  /** Egress-only mode: the EgressWatcher finds pods by the UID in their host link's alias, not by the pod table. */
  readonly egressOnly?: boolean;
}

/** The running egress side. */
export interface RunningEgressClient {
  /** The NAT hook of ADD. */
  readonly hook: EgressHook;
  /** Stop the EgressWatcher. */
  stop(): Promise<void>;
}

/** Build the NAT hook and start the EgressWatcher. */
export function startEgress(o: EgressSetupOptions): RunningEgressClient {
  const { core, custom, kc } = o.clients;
  const lookup = apiEgressLookup(custom, core);
  const callMs = o.callTimeoutMs ?? 3000;
  const hook = egressHook({
    lookup,
    settings: o.settings,
    log: o.log,
    // Coil reads the Pod with the API reader (no cache) at every ADD.
    readPod: o.readPod ?? (async (pod) => {
      const r = await boundedCall(k8sCall(() => core.readNamespacedPod({ namespace: pod.namespace, name: pod.name })), callMs);
      if (r.isOk()) return ok({ annotations: r.value.metadata?.annotations ?? {}, hostNetwork: r.value.spec?.hostNetwork === true, ...(r.value.metadata?.uid === undefined ? {} : { uid: r.value.metadata.uid }) });
      return r.error.kind === "not-found" ? ok(undefined) : err(r.error.message);
    }),
  });
  const watcher = new EgressWatcher({ kc, onRequest: o.clients.onRequest, custom, core, lookup, settings: o.settings, nodeName: o.nodeName, podTable: o.podTable, log: o.log, locate: o.egressOnly === true ? "alias" : "pod-table" });
  watcher.start();
  o.log.info("egress NAT client enabled", { tunnel: o.settings.tunnel, port: o.settings.port, backend: o.settings.backend, originatingOnly: o.settings.originatingOnly });
  return { hook, stop: () => watcher.stop() };
}
