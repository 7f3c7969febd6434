/**
 * coilctl's reads and writes of the cluster: one {@link ClusterSnapshot} (Nodes, Pods, AddressPools,
 * AddressBlocks, BlockRequests, paginated; each node's coild view through the API server's node
 * proxy, a few nodes at a time, each bounded by `--node-timeout`), and the deletions `release` makes.
 */
import type { CoreV1Api, V1Pod } from "@kubernetes/client-node";
import { err, ok, type Result } from "neverthrow";
import { FINALIZER, LABEL_NODE, LABEL_POOL, LABEL_RESERVED } from "../../lib/constants.js";
import { parseNodeAllocations, type ClusterSnapshot, type NodeViewSnapshot, type SnapshotBlockRequest, type SnapshotPod } from "../../lib/report/index.js";
import { k8sCall, listNodeNames, type CoilClient, type K8sError, type KubeObject, type ObjectList } from "../k8s/index.js";

/** What the reads need. */
export interface ClusterAccess {
  readonly core: CoreV1Api;
  readonly coil: CoilClient;
  /** coild's health port on every node. */
  readonly coildPort: number;
  /** Bound on one node's view read. */
  readonly nodeTimeoutMs: number;
  /** Views read at once. */
  readonly concurrency?: number;
}

/** Why the snapshot could not be taken (an API call failed). */
export interface ReadError {
  readonly kind: "api-failed";
  /** Which read. */
  readonly what: string;
  readonly cause: K8sError;
}

const PAGE = 500;

/** `creationTimestamp` (a Date from client-node's typed APIs, a string from custom objects) in ms; 0 when absent. */
function ms(t: Date | string | undefined): number {
  if (t === undefined) return 0;
  const n = t instanceof Date ? t.getTime() : Date.parse(t);
  return Number.isNaN(n) ? 0 : n;
}

async function listAll<T extends KubeObject>(list: (cont: string | undefined) => PromiseLike<Result<ObjectList<T>, K8sError>>): Promise<Result<T[], K8sError>> {
  const out: T[] = [];
  let cont: string | undefined;
  do {
    const page = await list(cont);
    if (page.isErr()) return err(page.error);
    out.push(...page.value.items);
    cont = page.value.continue;
  } while (cont !== undefined);
  return ok(out);
}

function podOf(p: V1Pod): SnapshotPod {
  const ips = (p.status?.podIPs ?? []).map((x) => x.ip).filter((x): x is string => typeof x === "string" && x !== "");
  const podIP = p.status?.podIP;
  return {
    namespace: p.metadata?.namespace ?? "",
    name: p.metadata?.name ?? "",
    uid: p.metadata?.uid ?? "",
    node: p.spec?.nodeName === undefined || p.spec.nodeName === "" ? undefined : p.spec.nodeName,
    hostNetwork: p.spec?.hostNetwork === true,
    phase: p.status?.phase ?? "",
    ips: ips.length > 0 ? ips : podIP === undefined || podIP === "" ? [] : [podIP],
    createdAtMs: ms(p.metadata?.creationTimestamp),
  };
}

function listPods(core: CoreV1Api): PromiseLike<Result<SnapshotPod[], K8sError>> {
  return k8sCall(async () => {
    const out: SnapshotPod[] = [];
    let cont: string | undefined;
    do {
      const page = await core.listPodForAllNamespaces({ limit: PAGE, ...(cont === undefined ? {} : { _continue: cont }) });
      for (const p of page.items) out.push(podOf(p));
      cont = page.metadata?._continue === undefined || page.metadata._continue === "" ? undefined : page.metadata._continue;
    } while (cont !== undefined);
    return out;
  });
}

/** One node's `/allocations` through the node proxy, bounded by `timeoutMs`. */
export async function readNodeView(core: CoreV1Api, node: string, port: number, timeoutMs: number): Promise<NodeViewSnapshot> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs)));
  const call = k8sCall(() => core.connectGetNodeProxyWithPath({ name: `${node}:${port}`, path: "allocations" }) as Promise<unknown>);
  const r = await Promise.race([call, timeout]);
  clearTimeout(timer);
  if (r === "timeout") return { node, error: `no answer from coild within ${timeoutMs} ms` };
  if (r.isErr()) return { node, error: `coild's view through the node proxy: ${r.error.message}` };
  let body: unknown = r.value;
  if (typeof body === "string") {
    try {
      body = JSON.parse(body);
    } catch {
      return { node, error: "coild's answer is not JSON" };
    }
  }
  const v = parseNodeAllocations(body);
  if (v.isErr()) return { node, error: `coild's answer is malformed at ${v.error.where}: ${v.error.message}` };
  if (v.value.node !== node) return { node, error: `the answer is from coild of node ${JSON.stringify(v.value.node)}` };
  return { node, view: v.value };
}

async function readViews(a: ClusterAccess, nodes: readonly string[]): Promise<NodeViewSnapshot[]> {
  const out: NodeViewSnapshot[] = new Array<NodeViewSnapshot>(nodes.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < nodes.length) {
      const i = next++;
      out[i] = await readNodeView(a.core, nodes[i] ?? "", a.coildPort, a.nodeTimeoutMs);
    }
  };
  await Promise.all(Array.from({ length: Math.min(a.concurrency ?? 16, nodes.length) }, worker));
  return out;
}

/**
 * Take a snapshot; `viewsOf` limits the coild views read (default every Node). The coild views are
 * read BEFORE the AddressBlocks, BlockRequests and Pods are listed: coild allocates only for a pod
 * the API server already has, in a block that already exists, so every allocation a view shows has
 * its pod (live or gone) and block in the later lists. Listed the other way round, a pod started
 * while the views were read (seconds on a large cluster) held an address no listed pod had, and
 * was reported as `address-of-missing-pod`.
 */
export async function readSnapshot(a: ClusterAccess, viewsOf?: (node: string) => boolean): Promise<Result<ClusterSnapshot, ReadError>> {
  const fail = (what: string) => (cause: K8sError): ReadError => ({ kind: "api-failed", what, cause });
  const nodes = await listNodeNames(a.core);
  if (nodes.isErr()) return err(fail("list Nodes")(nodes.error));
  const names = [...nodes.value].sort();
  const views = await readViews(a, names.filter((n) => viewsOf?.(n) ?? true));
  const [pools, blocks, requests, pods] = await Promise.all([
    listAll((c) => a.coil.pools.list({ limit: PAGE, ...(c === undefined ? {} : { continue: c }) })),
    listAll((c) => a.coil.blocks.list({ limit: PAGE, ...(c === undefined ? {} : { continue: c }) })),
    listAll((c) => a.coil.requests.list({ limit: PAGE, ...(c === undefined ? {} : { continue: c }) })),
    listPods(a.core),
  ]);
  if (pools.isErr()) return err(fail("list AddressPools")(pools.error));
  if (blocks.isErr()) return err(fail("list AddressBlocks")(blocks.error));
  if (requests.isErr()) return err(fail("list BlockRequests")(requests.error));
  if (pods.isErr()) return err(fail("list Pods")(pods.error));
  return ok({
    nodes: names,
    pools: pools.value.map((p) => ({ name: p.metadata.name, spec: p.spec })),
    blocks: blocks.value.map((b) => ({
      name: b.metadata.name,
      uid: b.metadata.uid ?? "",
      pool: b.metadata.labels?.[LABEL_POOL] ?? "",
      node: b.metadata.labels?.[LABEL_NODE],
      ...(b.ipv4 === undefined ? {} : { ipv4: b.ipv4 }),
      ...(b.ipv6 === undefined ? {} : { ipv6: b.ipv6 }),
      reserved: b.metadata.labels?.[LABEL_RESERVED] === "true",
      createdAtMs: ms(b.metadata.creationTimestamp),
    })),
    blockRequests: requests.value.map((r): SnapshotBlockRequest => ({
      name: r.metadata.name,
      uid: r.metadata.uid ?? "",
      pool: r.spec.poolName,
      node: r.spec.nodeName,
      ...(r.status?.addressBlockName === undefined || r.status.addressBlockName === "" ? {} : { addressBlockName: r.status.addressBlockName }),
      failed: (r.status?.conditions ?? []).some((c) => c.type === "Failed" && c.status === "True"),
      createdAtMs: ms(r.metadata.creationTimestamp),
    })),
    pods: pods.value,
    views,
  });
}

/** What a deletion found. */
export type DeleteOutcome = "deleted" | "gone" | "replaced";

/** Remove the finalizer and delete AddressBlock `name` if it still has `uid`. */
export async function deleteBlock(coil: CoilClient, name: string, uid: string): Promise<Result<DeleteOutcome, K8sError>> {
  for (let attempt = 0; ; attempt++) {
    const b = await coil.blocks.get(name);
    if (b.isErr()) return b.error.kind === "not-found" ? ok("gone") : err(b.error);
    if (b.value.metadata.uid !== uid) return ok("replaced");
    const removed = coil.blocks.removeFinalizer(b.value, FINALIZER);
    const r = removed === undefined ? ok(b.value) : await removed;
    if (r.isErr()) {
      if (r.error.kind === "not-found") return ok("gone");
      if (r.error.kind === "conflict" && attempt < 3) continue;
      return err(r.error);
    }
    return deleteWithUid(coil.blocks.delete(name, { uid }));
  }
}

/** Delete BlockRequest `name` if it still has `uid`. */
export function deleteBlockRequest(coil: CoilClient, name: string, uid: string): Promise<Result<DeleteOutcome, K8sError>> {
  return deleteWithUid(coil.requests.delete(name, { uid }));
}

async function deleteWithUid(del: PromiseLike<Result<void, K8sError>>): Promise<Result<DeleteOutcome, K8sError>> {
  const r = await del;
  if (r.isOk()) return ok("deleted");
  if (r.error.kind === "not-found") return ok("gone");
  // A UID precondition that fails is a 409 Conflict: the name now belongs to another object.
  if (r.error.kind === "conflict") return ok("replaced");
  return err(r.error);
}
