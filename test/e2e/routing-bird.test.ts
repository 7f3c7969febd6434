/**
 * Routing across nodes with real BIRD (issue 9; Coil §5.1, seeds: table 119 + BIRD over BGP).
 *
 * A real kube-apiserver + etcd, the real coil-ipam-controller code (in-process), and three node
 * namespaces on separate L3 links to a ToR namespace (test/helpers/multinode.ts). Each node runs the
 * dist coild (`--store=kubernetes`) and Debian's BIRD 2 with config/bird/node.conf; the ToR runs
 * config/bird/tor.conf (node1 and node2 over eBGP, node3 as an iBGP route-reflector client). Pods are
 * created with the real CNI executable. Shown: cross-node pings (IPv4, IPv6); one route per block at
 * the ToR; a new block propagating (timed); a returned block withdrawn everywhere; a coild restart
 * without a flap; a Node deleted from the API: its blocks collected, and with
 * `--clear-routes-on-shutdown` its routes withdrawn when its coild stops.
 */
import t, { type Test } from "tap";
import { eventually, waitFor } from "../helpers/coil-envtest.js";
import { requireRoot } from "../helpers/netns.js";
import { missingPrerequisite } from "../helpers/prerequisites.js";
import { missingPrograms, startRoutingCluster, type BirdProcess, type SimNode, type SimPod } from "../helpers/multinode.js";
import type { Api } from "../adapters/ipam-controller/harness.js";

t.setTimeout(600_000);

/** Prefixes of the AddressBlocks the API assigns to `node` (both families), sorted. */
async function blocksOf(a: Api, node: string): Promise<string[]> {
  const items = (await a.coil.blocks.list({ labelSelector: `coil.cybozu.com/node=${node}` }))._unsafeUnwrap().items;
  return items.flatMap((b) => [b.ipv4, b.ipv6].filter((x): x is string => x !== undefined)).sort();
}

/**
 * When `bird` last changed its best route for `prefix` (the `[protocol HH:MM:SS.mmm]` of `birdc show
 * route for`, local time of today), in epoch ms; undefined when it has no such route.
 */
function birdSince(bird: BirdProcess, prefix: string, table?: string): number | undefined {
  const out = bird.birdc("show", "route", "for", prefix, ...(table === undefined ? [] : ["table", table]));
  const m = /^\S+\s+unicast \[\S+ (\d\d):(\d\d):(\d\d)\.(\d{3})\]/m.exec(out);
  if (m === null) return undefined;
  const d = new Date();
  d.setHours(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]));
  return d.getTime();
}

const sorted = (xs: Iterable<string>): string[] => [...xs].sort();
const same = (a: readonly string[], b: readonly string[]): boolean => JSON.stringify(a) === JSON.stringify(b);

if (requireRoot(t)) {
  const missing = missingPrograms({ bird: true });
  if (missing.length > 0) missingPrerequisite(t, `missing: ${missing.join(", ")}`);
  // Everything inside one test: a failure anywhere still runs the teardowns (processes, namespaces).
  else await t.test("routing across three nodes with BIRD (eBGP and iBGP route reflector)", main);
}

async function main(t: Test): Promise<void> {
  // A short GC interval: the Node-deletion case waits for the controller to collect the blocks.
  const cluster = await startRoutingCluster(t, { topology: "l3", identity: "routing-bird", controllerArgs: ["--gc-interval=1s"] });
  if (cluster === undefined) return;
  const { a, mn } = cluster;
  const [n1, n2, n3] = mn.nodes as [SimNode, SimNode, SimNode];
  const tor = await mn.startTorBird({ ibgp: [n3] });
  const t0 = Date.now();
  // node2 and node3 clear table 119 on a clean stop when their Node object is gone (Coil #370).
  await Promise.all([mn.startCoild(n1), mn.startCoild(n2, ["--clear-routes-on-shutdown"]), mn.startCoild(n3, ["--clear-routes-on-shutdown"])]);
  t.comment(`3 coilds serving after ${Date.now() - t0} ms`);
  const birds = new Map<string, BirdProcess>();
  for (const n of mn.nodes) birds.set(n.name, await mn.startNodeBird(n, { ibgp: n === n3 }));
  const t1 = Date.now();
  await waitFor("6 BGP sessions Established at the ToR", () => (tor.birdc("show", "protocols").match(/Established/g) ?? []).length === 6, {
    timeoutMs: 60_000,
    describe: () => tor.birdc("show", "protocols"),
  });
  t.comment(`BGP sessions established ${Date.now() - t1} ms after the node BIRDs started`);

  /** The ToR's BIRD routes (kernel main table, `proto bird`), sorted. */
  const torRoutes = (): string[] => sorted(mn.routes(mn.hub.name, { proto: "bird" }).map((r) => r.dst));
  /** `node`'s BIRD-installed main-table routes: `<dst> via <gw>`. */
  const nodeRoutes = (n: SimNode): string[] => sorted(mn.routes(n.netns.name, { proto: "bird" }).map((r) => `${r.dst} via ${r.gateway ?? "-"}`));
  const table119 = (n: SimNode): string[] => sorted(mn.routes(n.netns.name, { table: 119 }).map((r) => r.dst));
  /** What every node's main table should hold: the other nodes' blocks via its ToR address. */
  const expectNodeRoutes = async (blocks: Map<string, string[]>): Promise<void> => {
    for (const n of mn.nodes) {
      const want = sorted(mn.nodes.filter((m) => m !== n).flatMap((m) => (blocks.get(m.name) ?? []).map((c) => `${c} via ${c.includes(":") ? n.torV6 : n.torV4}`)));
      await waitFor(`${n.name}'s main table holds the other nodes' blocks via the ToR`, () => same(nodeRoutes(n), want), { timeoutMs: 90_000, describe: () => ({ got: nodeRoutes(n), want }) });
    }
  };
  const allBlocks = async (): Promise<Map<string, string[]>> => new Map(await Promise.all(mn.nodes.map(async (n) => [n.name, await blocksOf(a, n.name)] as const)));

  let pods: SimPod[] = [];
  await t.test("pods on different nodes reach each other; the ToR holds one route per block", async (t) => {
    pods = [await mn.addPod(n1, "p1"), await mn.addPod(n2, "p2"), await mn.addPod(n3, "p3")];
    const blocks = await allBlocks();
    const want = sorted([...blocks.values()].flat());
    t.equal(want.length, 6, "one dual-stack block per node");
    await waitFor("the ToR holds exactly the blocks", () => same(torRoutes(), want), { timeoutMs: 90_000, describe: torRoutes });
    t.same(torRoutes(), want, "the ToR's BIRD routes are exactly the AddressBlocks (no per-pod /32 or /128)");
    t.notOk(torRoutes().some((d) => d.endsWith("/32") || d.endsWith("/128")), "never a host route");
    for (const n of mn.nodes) t.same(table119(n), blocks.get(n.name), `${n.name}: table 119 = its blocks`);
    await expectNodeRoutes(blocks);
    t.pass("every node routes the other nodes' blocks via the ToR");
    const [p1, p2, p3] = pods as [SimPod, SimPod, SimPod];
    for (const [from, to] of [[p1, p2], [p2, p3], [p3, p1]] as const) {
      for (const addr of [to.ipv4, to.ipv6]) {
        await waitFor(`${from.id} (${from.node.name}) pings ${to.id} (${to.node.name}) at ${addr ?? "?"}`, () => mn.ping(from, addr ?? ""), { timeoutMs: 60_000 });
      }
    }
    t.pass("cross-node pings over IPv4 and IPv6 (node1↔node2 eBGP, node3 iBGP through the route reflector)");
  });

  await t.test("a node that needs a new block: its route reaches the ToR and the other nodes; returned: withdrawn everywhere", async (t) => {
    const before = await blocksOf(a, n1.name);
    const p1b = await mn.addPod(n1, "p1b"); // fills node1's first block
    t.same(await blocksOf(a, n1.name), before, "the second pod fits the first block");
    const tAdd = Date.now();
    const p1c = await mn.addPod(n1, "p1c");
    const tReturned = Date.now();
    const after = await blocksOf(a, n1.name);
    const fresh = after.filter((c) => !before.includes(c));
    t.equal(fresh.length, 2, `a new dual-stack block: ${fresh.join(" ")}`);
    t.same(table119(n1).filter((c) => fresh.includes(c)), fresh, "exported to table 119 when ADD returns");
    const seen = new Map<string, number>();
    await waitFor("the new block in the kernel main tables of the ToR, node2 and node3", () => {
      const now = Date.now();
      if (!seen.has("tor") && fresh.every((c) => torRoutes().includes(c))) seen.set("tor", now);
      for (const n of [n2, n3]) if (!seen.has(n.name) && fresh.every((c) => nodeRoutes(n).some((r) => r.startsWith(`${c} `)))) seen.set(n.name, now);
      return seen.size === 3;
    }, { intervalMs: 10, timeoutMs: 90_000 });
    // The probes above spawn `ip` several times each (slow on a loaded machine): an upper bound.
    // BIRD's own route timestamps (ms) say when each daemon took the route.
    const [v4] = fresh;
    const at = {
      node1: birdSince(birds.get(n1.name) as BirdProcess, v4 ?? "", "t119_4"),
      tor: birdSince(tor, v4 ?? ""),
      node2: birdSince(birds.get(n2.name) as BirdProcess, v4 ?? ""),
      node3: birdSince(birds.get(n3.name) as BirdProcess, v4 ?? ""),
    };
    const rel = (x: number | undefined, from: number): string => (x === undefined ? "?" : `${x - from} ms`);
    const stamp = (x: number | undefined): string => (x === undefined ? "?" : new Date(x).toISOString().slice(11, 23));
    t.ok(Object.values(at).every((x) => x !== undefined), "every BIRD has the new block with a timestamp");
    t.comment(`new block ${v4 ?? "?"}: the ADD that took it ran ${tReturned - tAdd} ms (BlockRequest, table 119 written before it returns)`);
    t.comment(`  BIRD timestamps relative to the ADD's start: node1 learned it from table 119 ${rel(at.node1, tAdd)}, ToR ${rel(at.tor, tAdd)}, node2 ${rel(at.node2, tAdd)}, node3 (iBGP) ${rel(at.node3, tAdd)}`);
    t.comment(`  BIRD route timestamps: node1 (table t119_4) ${stamp(at.node1)}, ToR ${stamp(at.tor)}, node2 ${stamp(at.node2)}, node3 ${stamp(at.node3)}`);
    t.comment(`  propagation from node1's BIRD: ToR +${rel(at.tor, at.node1 ?? 0)}, node2 +${rel(at.node2, at.node1 ?? 0)}, node3 +${rel(at.node3, at.node1 ?? 0)}`);
    t.comment(`  seen in the kernel main tables by the test's probes (upper bound) after the ADD returned: ToR ${rel(seen.get("tor"), tReturned)}, node2 ${rel(seen.get("node2"), tReturned)}, node3 ${rel(seen.get("node3"), tReturned)}`);
    for (const addr of [p1c.ipv4, p1c.ipv6]) await waitFor(`p2 pings p1c at ${addr ?? "?"}`, () => mn.ping(pods[1] as SimPod, addr ?? ""), { timeoutMs: 60_000 });
    t.pass("a pod in the new block is reachable from node2");

    const tDel = Date.now();
    t.equal((await mn.delPod(p1c)).code, 0, "DEL of the new block's only pod");
    // coild returns an emptied block right after the DEL answered (docs/differences.md).
    await waitFor("the emptied block returned to the API", async () => JSON.stringify(await blocksOf(a, n1.name)) === JSON.stringify(before), { timeoutMs: 30_000 });
    await waitFor("and removed from table 119", () => JSON.stringify(table119(n1)) === JSON.stringify(before), { timeoutMs: 30_000 });
    t.pass("the emptied block was returned to the API and removed from table 119");
    await waitFor("the block withdrawn at the ToR and on every node", () =>
      !fresh.some((c) => torRoutes().includes(c)) && [n2, n3].every((n) => !nodeRoutes(n).some((r) => fresh.some((c) => r.startsWith(`${c} `)))),
    { intervalMs: 10, timeoutMs: 90_000 });
    t.comment(`returned block withdrawn everywhere ${Date.now() - tDel} ms after the DEL started (probe upper bound)`);
    await expectNodeRoutes(await allBlocks());
    t.pass("every node's routes match the blocks again");
    t.equal((await mn.delPod(p1b)).code, 0, "DEL p1b");
    t.same(await blocksOf(a, n1.name), before, "the first block stays (p1 still uses it)");
  });

  await t.test("coild restarted: BIRD sees no withdraw", async (t) => {
    const stats = (): string => tor.birdc("show", "protocols", "all", `${n2.name}_4`) + tor.birdc("show", "protocols", "all", `${n2.name}_6`);
    const withdraws = (): string[] => [...stats().matchAll(/Import withdraws:\s+(\d+)/g)].map((m) => m[1] ?? "");
    /** The ToR's BIRD routes from node2 with the time BIRD last changed them. */
    const ages = (): string => tor.birdc("show", "route", "protocol", `${n2.name}_4`) + tor.birdc("show", "route", "protocol", `${n2.name}_6`);
    const w0 = withdraws();
    const a0 = ages();
    const b0 = table119(n2);
    await mn.stopCoild(n2, "SIGTERM");
    t.same(table119(n2), b0, "a stopped coild leaves table 119 alone (its Node still exists)");
    await mn.startCoild(n2, ["--clear-routes-on-shutdown"]);
    t.same(table119(n2), b0, "the restarted coild recovered the same blocks");
    // A barrier: a new block of node2 reaches the ToR. BIRD handles table 119's notifications in
    // order, so a withdraw or re-add caused by the restart would have been processed before it.
    const p2b = await mn.addPod(n2, "p2b");
    const p2c = await mn.addPod(n2, "p2c");
    const grown = table119(n2).filter((c) => !b0.includes(c));
    t.equal(grown.length, 2, "node2 took a new block after the restart");
    await waitFor("node2's new block at the ToR", () => grown.every((c) => torRoutes().includes(c)), { timeoutMs: 90_000 });
    t.same(withdraws(), w0, `no withdraw received from node2 (Import withdraws ${w0.join("/")})`);
    const kept = a0.split("\n").filter((l) => /^\S+\s+unicast/.test(l));
    t.ok(kept.length >= 2, "node2's routes were listed before");
    for (const l of kept) t.ok(ages().includes(l), `route unchanged, same age: ${l.trim()}`);
    for (const p of [p2b, p2c]) t.equal((await mn.delPod(p)).code, 0, `DEL ${p.id}`);
  });

  await t.test("a Node deleted from the API: blocks collected; with --clear-routes-on-shutdown its routes go on the clean stop", async (t) => {
    const gone = await blocksOf(a, n3.name);
    t.equal(gone.length, 2, `node3 owns one dual-stack block: ${gone.join(" ")}`);
    await a.core.deleteNode({ name: n3.name });
    await eventually("the controller collects node3's blocks", async () => ((await blocksOf(a, n3.name)).length === 0 ? true : undefined), { timeoutMs: 90_000 });
    t.pass("node3's AddressBlocks are gone from the API");
    const tStop = performance.now();
    await mn.stopCoild(n3, "SIGTERM");
    t.same(table119(n3), [], "coild emptied table 119 on shutdown (Node NotFound)");
    await waitFor("node3's blocks withdrawn at the ToR and on node1/node2", () =>
      !gone.some((c) => torRoutes().includes(c)) && [n1, n2].every((n) => !nodeRoutes(n).some((r) => gone.some((c) => r.startsWith(`${c} `)))),
    { intervalMs: 10, timeoutMs: 90_000, describe: () => ({ tor: torRoutes(), n1: nodeRoutes(n1) }) });
    t.comment(`node3's routes withdrawn everywhere ${(performance.now() - tStop).toFixed(0)} ms after SIGTERM`);
    const p1 = pods[0] as SimPod;
    const p3 = pods[2] as SimPod;
    t.notOk(mn.ping(p1, p3.ipv4 ?? ""), "nothing routes to node3's old IPv4 block");
    t.notOk(mn.ping(p1, p3.ipv6 ?? ""), "nor to its IPv6 block");
    t.ok(mn.ping(p1, pods[1]?.ipv4 ?? ""), "node1 ↔ node2 still fine");
  });
}
