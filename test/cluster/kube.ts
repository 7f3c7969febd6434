/**
 * kubectl helpers shared by the cluster end-to-end tests (test/cluster/e2e.test.ts and the egress
 * scenario in test/cluster/egress.ts): JSON reads, pod state, metrics through the API server.
 *
 * @module
 */
import type { Cluster } from "./harness.js";

/** The object metadata the tests read. */
export interface Meta {
  /** Object name. */
  name: string;
  /** Object UID. */
  uid: string;
  /** Labels. */
  labels?: Record<string, string>;
  /** Annotations. */
  annotations?: Record<string, string>;
}

/** The parts of a core/v1 Pod the tests read. */
export interface PodJson {
  /** Metadata. */
  metadata: Meta;
  /** Spec: the node it runs on. */
  spec: { nodeName?: string };
  /** Status: phase, addresses, conditions, containers. */
  status: {
    phase?: string;
    podIPs?: { ip: string }[];
    conditions?: { type: string; status: string }[];
    containerStatuses?: { name: string; containerID?: string; restartCount: number; ready: boolean; state?: { running?: { startedAt: string } } }[];
  };
}

/** Run kubectl and return its stdout; throw with its stderr when it fails. */
export async function ok(c: Cluster, args: readonly string[], input?: string): Promise<string> {
  const r = await c.kubectl(args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")}: exit ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** `kubectl get <args> -o json` of a list: its items. */
export async function getJson<T>(c: Cluster, args: readonly string[]): Promise<T[]> {
  return (JSON.parse(await ok(c, ["get", ...args, "-o", "json"])) as { items: T[] }).items;
}

/** Whether the pod's Ready condition is True. */
export const podReady = (p: PodJson): boolean => p.status.conditions?.some((x) => x.type === "Ready" && x.status === "True") === true;

/** The pod's addresses (`status.podIPs`). */
export const podIps = (p: PodJson): string[] => (p.status.podIPs ?? []).map((x) => x.ip);

/** The family of an address. */
export const ipFamily = (ip: string): 4 | 6 => (ip.includes(":") ? 6 : 4);

/** Metrics of a host-network pod (its address is its node's, which the API server reaches), through the API server's pod proxy. */
export async function podMetrics(c: Cluster, namespace: string, pod: string, port: number): Promise<string> {
  return ok(c, ["get", "--raw", `/api/v1/namespaces/${namespace}/pods/${pod}:${port}/proxy/metrics`]);
}

/** The Coil pods of one component (`app.kubernetes.io/component`) in kube-system. */
export async function coilPods(c: Cluster, component: string): Promise<PodJson[]> {
  return getJson<PodJson>(c, ["pods", "-n", "kube-system", "-l", `app.kubernetes.io/component=${component}`]);
}
