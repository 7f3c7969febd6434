/**
 * coilctl's reads and writes of the cluster: one {@link ClusterSnapshot} (Nodes, Pods, AddressPools,
 * AddressBlocks, BlockRequests, paginated; each node's coild view through the API server's node
 * proxy, a few nodes at a time, each bounded by `--node-timeout`, or none with `--api-only`), and
 * the deletions `release` makes. Each list and the node queries report their {@link Progress}.
 */
import type { CoreV1Api, V1Pod } from "@kubernetes/client-node";
import { err, ok, type Result, type ResultAsync } from "neverthrow";
import { FINALIZER, LABEL_NODE, LABEL_POOL, LABEL_RESERVED } from "../../lib/constants.js";
import { parseNodeAllocations, type ClusterSnapshot, type NodeViewSnapshot, type SnapshotBlockRequest, type SnapshotPod } from "../../lib/report/index.js";
import { k8sCall, type CoilClient, type K8sError, type ObjectList } from "../k8s/index.js";
import { NO_PROGRESS, type Progress } from "./progress.js";

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
  /** `--api-only`: read no coild view; every node's view is {@link API_ONLY_REASON}. */
  readonly apiOnly?: boolean;
  /** Progress of the lists and node queries; default none. */
  readonly progress?: Progress;
}

/** The `error` of every node's view under `--api-only`. */
export const API_ONLY_REASON = "coild's view not read (--api-only)";

/** The `error` of the view of a Node that was listed only after the coild views had been read. */
export const JOINED_REASON = "coild's view not read: the Node appeared while the views were read";

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

/** One page of a paginated LIST. */
interface Page<T> {
  readonly items: readonly T[];
  /** Continue token; undefined on the last page. */
  readonly continue: string | undefined;
  /** `metadata.remainingItemCount`, when the API server says. */
  readonly remaining: number | undefined;
}

/** Every page of a LIST (`limit` 500), reporting `phase` (`listing Pods: 1500/50000`) after each page. */
async function listPaged<T>(phase: string, progress: Progress, page: (cont: string | undefined) => ResultAsync<Page<T>, K8sError>): Promise<Result<T[], K8sError>> {
  const out: T[] = [];
  let cont: string | undefined;
  try {
    do {
      const r = await page(cont);
      if (r.isErr()) return err(r.error);
      for (const x of r.value.items) out.push(x);
      cont = r.value.continue;
      progress.update(phase, out.length, cont === undefined ? out.length : r.value.remaining === undefined ? undefined : out.length + r.value.remaining);
    } while (cont !== undefined);
    return ok(out);
  } finally {
    progress.end(phase);
  }
}

/** A client-node list's continue token (`""` on the last page). */
const next = (c: string | undefined): string | undefined => (c === undefined || c === "" ? undefined : c);

/** A page of one of Coil's resources. */
const coilPage = <T>(l: ObjectList<T>): Page<T> => ({ items: l.items, continue: l.continue, remaining: l.remainingItemCount });

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

function listPods(core: CoreV1Api, progress: Progress): Promise<Result<SnapshotPod[], K8sError>> {
  return listPaged("listing Pods", progress, (cont) =>
    k8sCall(() => core.listPodForAllNamespaces({ limit: PAGE, ...(cont === undefined ? {} : { _continue: cont }) })).map((l) => ({
      items: l.items.map(podOf),
      continue: next(l.metadata?._continue),
      remaining: l.metadata?.remainingItemCount,
    })),
  );
}

function listNodes(core: CoreV1Api, progress: Progress): Promise<Result<string[], K8sError>> {
  return listPaged("listing Nodes", progress, (cont) =>
    k8sCall(() => core.listNode({ limit: PAGE, ...(cont === undefined ? {} : { _continue: cont }) })).map((l) => ({
      items: l.items.map((n) => n.metadata?.name ?? ""),
      continue: next(l.metadata?._continue),
      remaining: l.metadata?.remainingItemCount,
    })),
  );
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
  const progress = a.progress ?? NO_PROGRESS;
  const out: NodeViewSnapshot[] = new Array<NodeViewSnapshot>(nodes.length);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < nodes.length) {
      const i = next++;
      out[i] = await readNodeView(a.core, nodes[i] ?? "", a.coildPort, a.nodeTimeoutMs);
      progress.update("nodes queried", ++done, nodes.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(a.concurrency ?? 16, nodes.length) }, worker));
  progress.end("nodes queried");
  return out;
}

/**
 * Take a snapshot; `viewsOf` limits the coild views read (default every Node; none with `apiOnly`).
 * The coild views are read BEFORE the AddressBlocks, BlockRequests and Pods are listed: coild
 * allocates only for a pod the API server already has, in a block that already exists, so every
 * allocation a view shows has its pod (live or gone) and block in the later lists. Listed the other
 * way round, a pod started while the views were read (seconds on a large cluster) held an address
 * no listed pod had, and was reported as `address-of-missing-pod`. The Nodes are listed again with
 * those lists and the snapshot has every Node of either list: a node that joined while the views
 * were read would otherwise have its first AddressBlock and BlockRequest reported as of a missing
 * node (whatever their age) and deleted by `release`; its view is not read
 * ({@link JOINED_REASON}).
 */
export async function readSnapshot(a: ClusterAccess, viewsOf?: (node: string) => boolean): Promise<Result<ClusterSnapshot, ReadError>> {
  const fail = (what: string) => (cause: K8sError): ReadError => ({ kind: "api-failed", what, cause });
  const progress = a.progress ?? NO_PROGRESS;
  const nodes = await listNodes(a.core, progress);
  if (nodes.isErr()) return err(fail("list Nodes")(nodes.error));
  // The views first: see the comment above.
  const names = [...new Set(nodes.value)].sort();
  const asked = names.filter((n) => viewsOf?.(n) ?? true);
  const views = a.apiOnly === true ? asked.map((node) => ({ node, error: API_ONLY_REASON })) : await readViews(a, asked);
  const page = { limit: PAGE };
  const [later, pools, blocks, requests, pods] = await Promise.all([
    listNodes(a.core, progress),
    listPaged("listing AddressPools", progress, (c) => a.coil.pools.list({ ...page, ...(c === undefined ? {} : { continue: c }) }).map(coilPage)),
    listPaged("listing AddressBlocks", progress, (c) => a.coil.blocks.list({ ...page, ...(c === undefined ? {} : { continue: c }) }).map(coilPage)),
    listPaged("listing BlockRequests", progress, (c) => a.coil.requests.list({ ...page, ...(c === undefined ? {} : { continue: c }) }).map(coilPage)),
    listPods(a.core, progress),
  ]);
  if (later.isErr()) return err(fail("list Nodes")(later.error));
  if (pools.isErr()) return err(fail("list AddressPools")(pools.error));
  if (blocks.isErr()) return err(fail("list AddressBlocks")(blocks.error));
  if (requests.isErr()) return err(fail("list BlockRequests")(requests.error));
  if (pods.isErr()) return err(fail("list Pods")(pods.error));
  const joined = [...new Set(later.value)].filter((n) => !names.includes(n) && (viewsOf?.(n) ?? true)).sort();
  return ok({
    nodes: [...new Set([...names, ...later.value])].sort(),
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
    views: [...views, ...joined.map((node) => ({ node, error: a.apiOnly === true ? API_ONLY_REASON : JOINED_REASON }))],
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
