/**
 * Flat L2 routing with coil-router (issue 9; Coil §5.2): three node namespaces on one bridge (a
 * "switch" namespace), no BIRD. Each node runs the dist coild (`--store=kubernetes`) and the dist
 * `coil-router`, against a real kube-apiserver + etcd and the real coil-ipam-controller code
 * (in-process); pods are created with the real CNI executable (test/helpers/multinode.ts).
 * Shown: every node routes the other nodes' blocks via their InternalIPs (protocol 31); pods on
 * different nodes ping each other (IPv4, IPv6); a block returned by one node and taken by another
 * moves on every node (timed); routes of other protocols (and protocol 31 in other tables) are never
 * touched.
 */
import t, { type Test } from "tap";
import { waitFor } from "../helpers/coil-envtest.js";
import { requireRoot } from "../helpers/netns.js";
import { missingPrerequisite } from "../helpers/prerequisites.js";
import { missingPrograms, startRoutingCluster, type SimNode, type SimPod } from "../helpers/multinode.js";
import { execFileSync } from "node:child_process";

t.setTimeout(600_000);

interface Block {
  readonly name: string;
  readonly node: string;
  readonly cidrs: readonly string[];
}

const sorted = (xs: Iterable<string>): string[] => [...xs].sort();
const same = (a: readonly string[], b: readonly string[]): boolean => JSON.stringify(a) === JSON.stringify(b);

if (requireRoot(t)) {
  const missing = missingPrograms({ bird: false });
  if (missing.length > 0) missingPrerequisite(t, `missing: ${missing.join(", ")}`);
  // Everything inside one test: a failure anywhere still runs the teardowns (processes, namespaces).
  else await t.test("flat L2: coil-router on three nodes on one bridge", main);
}

async function main(t: Test): Promise<void> {
  const cluster = await startRoutingCluster(t, { topology: "l2", identity: "routing-l2" });
  if (cluster === undefined) return;
  const { a, mn } = cluster;
  const [n1, n2, n3] = mn.nodes as [SimNode, SimNode, SimNode];
  const byName = new Map(mn.nodes.map((n) => [n.name, n]));

  // Not coil-router's: a static route (protocol 4) and a kernel-protocol route in main, and
  // protocol-31 routes in another table. Recorded now, compared at the end.
  const ip = (n: SimNode, args: readonly string[]): void => void execFileSync("ip", ["-n", n.netns.name, ...args], { stdio: ["ignore", "ignore", "pipe"] });
  for (const n of mn.nodes) {
    ip(n, ["route", "add", "10.12.0.0/16", "via", n === n3 ? n1.v4 : n3.v4, "proto", "4"]);
    ip(n, ["route", "add", "10.10.10.10", "via", n === n1 ? n2.v4 : n1.v4, "proto", "2"]);
    ip(n, ["route", "add", "10.11.0.0/16", "via", n === n2 ? n3.v4 : n2.v4, "proto", "31", "table", "200"]);
    ip(n, ["-6", "route", "add", "fd11::/64", "via", n === n2 ? n3.v6 : n2.v6, "proto", "31", "table", "200"]);
  }
  const others = (n: SimNode): string[] => sorted([
    ...mn.routes(n.netns.name, { proto: 4 }),
    ...mn.routes(n.netns.name, { proto: 2 }).filter((r) => r.dst === "10.10.10.10"),
    ...mn.routes(n.netns.name, { table: 200 }),
  ].map((r) => `${r.dst} via ${r.gateway ?? "-"} proto ${String(r.protocol ?? "")}`));
  const othersBefore = new Map(mn.nodes.map((n) => [n.name, others(n)]));

  const t0 = Date.now();
  await Promise.all(mn.nodes.map((n) => mn.startCoild(n)));
  t.comment(`3 coilds serving after ${Date.now() - t0} ms`);
  for (const n of mn.nodes) await mn.startRouter(n);

  const blocks = async (): Promise<Block[]> =>
    (await a.coil.blocks.list({}))._unsafeUnwrap().items.map((b) => ({
      name: b.metadata.name,
      node: b.metadata.labels?.["coil.cybozu.com/node"] ?? "",
      cidrs: [b.ipv4, b.ipv6].filter((x): x is string => x !== undefined),
    }));
  /** coil-router's routes on `n`: `<dst> via <gw>` of protocol 31 in main. */
  const routerRoutes = (n: SimNode): string[] => sorted(mn.routes(n.netns.name, { proto: 31 }).map((r) => `${r.dst} via ${r.gateway ?? "-"}`));
  /** What coil-router should hold on `n`: every other node's blocks via that node's InternalIP. */
  const want = (n: SimNode, bs: readonly Block[]): string[] =>
    sorted(bs.filter((b) => b.node !== n.name && byName.has(b.node)).flatMap((b) => {
      const owner = byName.get(b.node) as SimNode;
      return b.cidrs.map((c) => `${c} via ${c.includes(":") ? owner.v6 : owner.v4}`);
    }));
  const converged = async (what: string): Promise<void> => {
    const bs = await blocks();
    for (const n of mn.nodes) {
      await waitFor(`${what}: ${n.name}'s protocol-31 routes`, () => same(routerRoutes(n), want(n, bs)), { timeoutMs: 90_000, describe: () => ({ got: routerRoutes(n), want: want(n, bs) }) });
    }
  };

  let pods: SimPod[] = [];
  await t.test("each node routes the other nodes' blocks via their InternalIPs; pods ping across nodes", async (t) => {
    pods = [await mn.addPod(n1, "p1"), await mn.addPod(n2, "p2"), await mn.addPod(n3, "p3")];
    await converged("first blocks");
    t.pass("protocol-31 routes on every node = the other nodes' blocks (own blocks and unknown nodes ignored)");
    t.equal(routerRoutes(n1).length, 4, "node1: 2 nodes × (IPv4 + IPv6)");
    const [p1, p2, p3] = pods as [SimPod, SimPod, SimPod];
    for (const [from, to] of [[p1, p2], [p2, p3], [p3, p1]] as const) {
      for (const addr of [to.ipv4, to.ipv6]) {
        await waitFor(`${from.id} (${from.node.name}) pings ${to.id} (${to.node.name}) at ${addr ?? "?"}`, () => mn.ping(from, addr ?? ""), { timeoutMs: 60_000 });
      }
    }
    t.pass("cross-node pings over IPv4 and IPv6 on the flat L2 network");
  });

  await t.test("a block returned by node1 and taken by node2 moves on every node", async (t) => {
    const p1b = await mn.addPod(n1, "p1b"); // fills node1's first block
    const p1c = await mn.addPod(n1, "p1c"); // a second block for node1
    const moving = (await blocks()).find((b) => b.node === n1.name && b.cidrs.some((c) => c.startsWith(`${p1c.ipv4 ?? "?"}/`)));
    t.ok(moving, `p1c (${p1c.ipv4 ?? "?"}) is in a block of node1 of its own`);
    if (moving === undefined) return;
    await converged("node1's second block");
    t.ok(routerRoutes(n3).includes(`${moving.cidrs[0] ?? ""} via ${n1.v4}`), `node3 routes ${moving.cidrs[0] ?? ""} via node1`);
    t.equal((await mn.delPod(p1c)).code, 0, "DEL p1c: node1 returns the block");
    // coild returns a block a DEL emptied right after the DEL answered (docs/differences.md).
    await waitFor(`node1 returned ${moving.name}`, async () => !(await blocks()).some((b) => b.name === moving.name), { timeoutMs: 30_000 });
    await converged("block returned");
    t.notOk(routerRoutes(n3).some((r) => r.startsWith(`${moving.cidrs[0] ?? ""} `)), "no route left for the free block");
    const p2b = await mn.addPod(n2, "p2b"); // fills node2's first block
    const tAdd = Date.now();
    const p2c = await mn.addPod(n2, "p2c"); // takes the lowest free block: the one node1 returned
    const tReturned = Date.now();
    const now = (await blocks()).find((b) => b.name === moving.name);
    t.equal(now?.node, n2.name, `${moving.name} (${moving.cidrs.join(" ")}) now belongs to node2`);
    t.ok(moving.cidrs.some((c) => c.startsWith(`${p2c.ipv4 ?? "?"}/`)), "p2c got an address of it");
    const seen = new Map<string, number>();
    await waitFor("node1 and node3 route the moved block via node2", () => {
      for (const n of [n1, n3]) {
        if (!seen.has(n.name) && moving.cidrs.every((c) => routerRoutes(n).includes(`${c} via ${c.includes(":") ? n2.v6 : n2.v4}`))) seen.set(n.name, Date.now());
      }
      return seen.size === 2;
    }, { intervalMs: 10, timeoutMs: 90_000 });
    t.comment(`moved block routed via node2 on node1 ${(seen.get(n1.name) ?? 0) - tReturned} ms, node3 ${(seen.get(n3.name) ?? 0) - tReturned} ms after the ADD returned (the ADD took ${tReturned - tAdd} ms; probe upper bound)`);
    await converged("block moved");
    t.notOk(routerRoutes(n2).some((r) => moving.cidrs.some((c) => r.startsWith(`${c} `))), "node2 has no coil-router route for its own block");
    for (const addr of [p2c.ipv4, p2c.ipv6]) {
      await waitFor(`p3 pings p2c at ${addr ?? "?"} (moved block)`, () => mn.ping(pods[2] as SimPod, addr ?? ""), { timeoutMs: 60_000 });
    }
    t.pass("a pod in the moved block is reachable from node3");
    for (const p of [p1b, p2b, p2c]) t.equal((await mn.delPod(p)).code, 0, `DEL ${p.id}`);
    await converged("after the DELs");
  });

  await t.test("routes of other protocols and protocol 31 in other tables are never touched", async (t) => {
    for (const n of mn.nodes) {
      t.equal(othersBefore.get(n.name)?.length, 4, `${n.name}: 4 foreign routes were set up`);
      t.same(others(n), othersBefore.get(n.name), `${n.name}: static, kernel-protocol and table-200 routes unchanged`);
    }
  });
}
