/**
 * Which pods are clients of this egress (Coil's pod watcher `shouldHandle`, §6.6) and the client
 * addresses they give, as plain functions over a reduced Pod shape.
 */
import { ANNOTATION_EGRESS_PREFIX } from "../../lib/constants.js";
import { parseIp, type Ip } from "../../lib/net/index.js";
import type { KubeObject } from "../k8s/index.js";

/** A Pod reduced to what the egress watcher reads; `metadata.name` is `<namespace>/<name>` (the informer's cache key). */
export interface ClientPod extends KubeObject {
  /** Pod namespace. */
  readonly namespace: string;
  /** Pod name. */
  readonly podName: string;
  /** Pod annotations. */
  readonly annotations: Readonly<Record<string, string>>;
  /** `spec.hostNetwork`. */
  readonly hostNetwork: boolean;
  /** `status.phase`. */
  readonly phase: string;
  /** `status.podIPs[].ip`, parsed (unparsable entries dropped). */
  readonly ips: readonly Ip[];
}

interface RawPod {
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly resourceVersion?: string; readonly annotations?: Record<string, string> };
  readonly spec?: { readonly hostNetwork?: boolean };
  readonly status?: { readonly phase?: string; readonly podIPs?: ReadonlyArray<{ readonly ip?: string }> };
}

/** Reduce a Pod (API object, or an already reduced one) to a {@link ClientPod}. */
export function clientPod(raw: RawPod | ClientPod): ClientPod {
  if ("podName" in raw) return raw;
  const m = raw.metadata ?? {};
  const namespace = m.namespace ?? "";
  const podName = m.name ?? "";
  const ips = (raw.status?.podIPs ?? []).flatMap((p) => parseIp(p.ip ?? "").match((ip) => [ip], () => []));
  return {
    metadata: { name: `${namespace}/${podName}`, ...(m.resourceVersion === undefined ? {} : { resourceVersion: m.resourceVersion }) },
    namespace,
    podName,
    annotations: m.annotations ?? {},
    hostNetwork: raw.spec?.hostNetwork === true,
    phase: raw.status?.phase ?? "",
    ips,
  };
}

/** Whether `pod` is a client of Egress `egressNs/egressName`: not host-network, annotated `egress.coil.cybozu.com/<egressNs>` with a value naming it. */
export function isClientOf(pod: ClientPod, egressNs: string, egressName: string): boolean {
  if (pod.hostNetwork) return false;
  const v = pod.annotations[ANNOTATION_EGRESS_PREFIX + egressNs];
  return v !== undefined && v.split(",").includes(egressName);
}

/** Whether the pod has terminated (`Succeeded` or `Failed`): its tunnels go. */
export function isTerminated(pod: ClientPod): boolean {
  return pod.phase === "Succeeded" || pod.phase === "Failed";
}

/** One client address and the pods that hold it (several during an IP reuse). */
export interface ClientAddress {
  /** The address. */
  readonly ip: Ip;
  /** The live pods holding it. */
  readonly pods: readonly ClientPod[];
}

/**
 * The client addresses to serve: every address of every live (not terminated) client pod. An
 * address held by a terminated pod and a live one stays (Coil's IP-reuse tolerance); an address
 * held only by terminated or deleted pods goes.
 */
export function clientAddresses(pods: readonly ClientPod[], egressNs: string, egressName: string): ClientAddress[] {
  const by = new Map<string, { ip: Ip; pods: ClientPod[] }>();
  for (const p of pods) {
    if (!isClientOf(p, egressNs, egressName) || isTerminated(p)) continue;
    for (const ip of p.ips) {
      const e = by.get(ip) ?? { ip, pods: [] };
      e.pods.push(p);
      by.set(ip, e);
    }
  }
  return [...by.values()].sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0));
}
