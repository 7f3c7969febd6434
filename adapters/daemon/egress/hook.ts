/**
 * coild's NAT hook at ADD (Coil §6.4 `getHook` + the hook itself): before any address is taken,
 * read the Pod, and for a pod annotated `egress.coil.cybozu.com/<ns>: <name>[,…]` resolve the
 * Egresses and their Services into gateways — a missing Egress or Service fails the ADD here, so
 * nothing is allocated or laid out (Coil fails after the pod network is set up). After the pod
 * network is set up, the NAT client is laid out in the pod's namespace. The API reads are
 * injected, so this file does not load @kubernetes/client-node.
 */
import { err, ok, type Result } from "neverthrow";
import type { PodRef } from "../../../lib/cni/index.js";
import { egressRefs, type NatGateway } from "../../../lib/egress/index.js";
import type { Ip } from "../../../lib/net/index.js";
import type { Logger } from "../log.js";
import { resolveGateways, type EgressLookup, type GatewayError, type Lookup } from "./gateways.js";
import { removeNatClient, syncNatClient, type NatClientError, type NatClientSettings } from "./nat-client.js";

/** What the hook reads of a Pod. */
export interface PodEgressView {
  /** `metadata.annotations`. */
  readonly annotations: Readonly<Record<string, string>>;
  /** `spec.hostNetwork`. */
  readonly hostNetwork: boolean;
  /** `metadata.uid` (egress-only mode keys the pod's host link alias by it). */
  readonly uid?: string;
}

/** Why the NAT hook failed an ADD. */
export type EgressHookError =
  | { readonly kind: "pod-name-missing"; readonly message: string }
  | { readonly kind: "pod-not-found"; readonly message: string }
  | { readonly kind: "pod-unreadable"; readonly message: string }
  | { readonly kind: "gateways-failed"; readonly cause: GatewayError; readonly message: string }
  | { readonly kind: "nat-setup-failed"; readonly cause: NatClientError; readonly message: string }
  | { readonly kind: "nat-teardown-failed"; readonly cause: NatClientError; readonly message: string };

/** The Pod of a call as egress-only mode needs it: its UID and its gateways. */
export interface ResolvedPod {
  /** `metadata.uid` (`""` when the API server gave none). */
  readonly uid: string;
  /** The pod's gateways (empty: the pod uses no egress). */
  readonly gateways: NatGateway[];
}

/** coild's NAT hook, as the CNI operations use it. */
export interface EgressHook {
  /** Before allocation: the pod's gateways (empty: the pod uses no egress). */
  gateways(pod: PodRef): Promise<Result<NatGateway[], EgressHookError>>;
  /** Egress-only mode: the Pod read once, its UID and its gateways. */
  resolve(pod: PodRef): Promise<Result<ResolvedPod, EgressHookError>>;
  /** Egress-only CHECK: the Pod's UID (Coil's `getPodFromArgs`). */
  podUid(pod: PodRef): Promise<Result<string, EgressHookError>>;
  /** After the pod network is set up: the NAT client in the pod's namespace. */
  setUp(pod: { readonly netns: string; readonly ipv4?: Ip; readonly ipv6?: Ip }, gateways: readonly NatGateway[]): Promise<Result<void, EgressHookError>>;
  /** Egress-only mode (DEL, a failed ADD): everything the NAT client set-up put into the pod's namespace removed. */
  tearDown(pod: { readonly netns: string; readonly ipv4?: Ip; readonly ipv6?: Ip }): Promise<Result<void, EgressHookError>>;
}

/** Options of {@link egressHook}. */
export interface EgressHookOptions {
  /** GET the Pod (its annotations and `hostNetwork`). */
  readonly readPod: (pod: PodRef) => Promise<Lookup<PodEgressView>>;
  /** Egress and Service reads. */
  readonly lookup: EgressLookup;
  /** NAT client settings. */
  readonly settings: NatClientSettings;
  /** Logger. */
  readonly log: Logger;
}

/** The NAT hook over injected API reads. */
export function egressHook(o: EgressHookOptions): EgressHook {
  const readPod = async (pod: PodRef): Promise<Result<PodEgressView, EgressHookError>> => {
    if (pod.namespace === "" || pod.name === "") return err({ kind: "pod-name-missing", message: "missing pod name/namespace" });
    const p = await o.readPod(pod);
    if (p.isErr()) return err({ kind: "pod-unreadable", message: `failed to get pod ${pod.namespace}/${pod.name}: ${p.error}` });
    if (p.value === undefined) return err({ kind: "pod-not-found", message: `pods "${pod.name}" not found` });
    return ok(p.value);
  };
  const gatewaysOf = async (pod: PodRef, view: PodEgressView): Promise<Result<NatGateway[], EgressHookError>> => {
    // Host-network pods never call CNI; Coil keeps the check as a safeguard.
    if (view.hostNetwork) return ok([]);
    const refs = egressRefs(view.annotations);
    if (refs.length === 0) return ok([]);
    const gws = await resolveGateways(refs, o.lookup);
    if (gws.isErr()) return err({ kind: "gateways-failed", cause: gws.error, message: gws.error.message });
    o.log.info("gwlist", { pod_name: pod.name, pod_namespace: pod.namespace, gateways: gws.value.map((g) => ({ gateway: g.gateway, networks: g.destinations, sportAuto: g.sportAuto })) });
    return ok(gws.value);
  };
  return {
    gateways: async (pod) => {
      const view = await readPod(pod);
      return view.isErr() ? err(view.error) : gatewaysOf(pod, view.value);
    },
    resolve: async (pod) => {
      const view = await readPod(pod);
      if (view.isErr()) return err(view.error);
      return (await gatewaysOf(pod, view.value)).map((gateways) => ({ uid: view.value.uid ?? "", gateways }));
    },
    podUid: async (pod) => (await readPod(pod)).map((v) => v.uid ?? ""),
    setUp: async (pod, gateways) => {
      const r = await syncNatClient(o.settings, pod, gateways, { init: true });
      return r.mapErr((cause) => ({ kind: "nat-setup-failed", cause, message: cause.message }));
    },
    tearDown: async (pod) => {
      const r = await removeNatClient(o.settings, pod);
      return r.mapErr((cause) => ({ kind: "nat-teardown-failed", cause, message: cause.message }));
    },
  };
}
