/**
 * coild's read-only view of its allocations, `GET /allocations` on the health port (see
 * docs/coilctl.md): the blocks and allocations of the node's allocator (the in-memory state the
 * `coil_node_*` gauges read) and the kernel side — pod routes (table 116), exported blocks (table
 * 119), Coil host veths — read with the executor's observer. Each address names the pod its ADD
 * was for when this coild process saw that ADD (`NodeState.podOf`); after a restart the recovered
 * ones have none (the kernel alias records only pool, container ID and interface). Nothing here
 * changes any state.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { HOST_NETNS } from "../../../lib/changeset/index.js";
import { parseLinkAlias } from "../../../lib/plan/index.js";
import type { NodeAllocations, ViewKernel } from "../../../lib/report/index.js";
import type { Kernel } from "../../kernel/kernel.js";
import type { NodeState } from "../node/state.js";

/** The request path. */
export const ALLOCATIONS_PATH = "/allocations";

/** What the view is computed from. */
export interface AllocationsSource {
  readonly node: NodeState;
  readonly nodeName: string;
  readonly kernel: Kernel;
  /** `--pod-table-id` (116). */
  readonly podTable: number;
  /** `--export-table-id` (119). */
  readonly exportTable: number;
  /** The clock (for `generatedAt`). */
  readonly now: () => Date;
  /** Per-process timeout of the kernel observation; default 5 s. */
  readonly observeTimeoutMs?: number;
}

/** The kernel part: one host observation, or why it failed. */
async function readKernel(s: AllocationsSource): Promise<{ kernel: ViewKernel | null; kernelError?: string }> {
  const host = await s.kernel.observe(HOST_NETNS, { timeoutMs: s.observeTimeoutMs ?? 5000 });
  if (host.isErr()) return { kernel: null, kernelError: JSON.stringify(host.error) };
  const h = host.value;
  const hostVeths = h.links.flatMap((l) => parseLinkAlias(l.alias ?? "").match((a) => (a.pool === "" ? [] : [{ name: l.name, ...a }]), () => []));
  return {
    kernel: {
      podRoutes: h.routes.filter((r) => r.table === s.podTable).map((r) => ({ dst: r.dst, dev: r.dev ?? null })),
      exportedRoutes: h.routes.filter((r) => r.table === s.exportTable).map((r) => r.dst),
      hostVeths: hostVeths.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    },
  };
}

/** The view now: allocator state (synchronous, so consistent) and then the kernel. */
export async function nodeAllocations(s: AllocationsSource): Promise<NodeAllocations> {
  const generatedAt = s.now().toISOString();
  const blocks = s.node.ipam
    .blocks()
    .map((b) => ({ name: b.name, pool: b.pool, ipv4: b.ipv4 ?? null, ipv6: b.ipv6 ?? null, used: b.used, size: b.size }));
  const allocations = s.node.ipam.allocations();
  const { kernel, kernelError } = await readKernel(s);
  const veth = new Map((kernel?.hostVeths ?? []).map((v) => [`${v.containerId}:${v.ifname}`, v.name]));
  const addresses = allocations
    .map((a) => ({
      pool: a.pool,
      block: a.block,
      ipv4: a.ipv4 ?? null,
      ipv6: a.ipv6 ?? null,
      containerId: a.containerId,
      ifname: a.ifname,
      hostVeth: veth.get(`${a.containerId}:${a.ifname}`) ?? null,
      pod: s.node.podOf(a.containerId, a.ifname) ?? null,
    }))
    .sort((a, b) => (a.block === b.block ? (a.containerId < b.containerId ? -1 : 1) : a.block < b.block ? -1 : 1));
  return { node: s.nodeName, generatedAt, blocks, addresses, kernel, ...(kernelError === undefined ? {} : { kernelError }) };
}

/**
 * Answer `GET /allocations` (and HEAD): 200 with the JSON view; 503 while coild is starting
 * (`source` undefined: no allocator yet); 405 for any other method.
 */
export function serveAllocations(req: IncomingMessage, res: ServerResponse, source: AllocationsSource | undefined): void {
  if (req.method !== "GET" && req.method !== "HEAD") return void res.writeHead(405, { allow: "GET, HEAD" }).end();
  if (source === undefined) return void res.writeHead(503, { "content-type": "text/plain" }).end("not ready");
  void nodeAllocations(source).then(
    (view) => res.writeHead(200, { "content-type": "application/json" }).end(req.method === "HEAD" ? undefined : JSON.stringify(view)),
    (e: unknown) => res.writeHead(500, { "content-type": "text/plain" }).end(e instanceof Error ? e.message : String(e)),
  );
}
