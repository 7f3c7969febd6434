// coil-router against a REAL kube-apiserver + etcd (Coil §9.10.5), its kernel side inside a test
// netns: the router's `netns` dependency points realKernel's observe/apply at /var/run/netns/<name>,
// so the host's main table is never read for planning nor written. The netns gets a veth pair
// rt0/rt1 (both ends inside it, both up, so rt0 has carrier; this kernel has no `dummy` module),
// rt0 carrying 10.20.30.41/24 and fd10::41/64 (node1's addresses, `nodad`): the connected /24 and
// /64 make the other nodes' InternalIPs on-link gateways, which the kernel requires for `via` routes.
import t from "tap";
import { execFileSync } from "node:child_process";
import { get } from "node:http";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { realKernel } from "../../../adapters/kernel/index.js";
import { coilClient, createJsonLogger } from "../../../adapters/k8s/index.js";
import { parseRouterFlags, type RouterFlags } from "../../../adapters/router/flags.js";
import { runRouter } from "../../../adapters/router/run.js";
import type { RouterSyncReport } from "../../../adapters/router/sync.js";
import { eventually, startCoilControlPlaneOrSkip } from "../../helpers/coil-envtest.js";
import { requireRoot, withNetns } from "../../helpers/netns.js";

interface IpRoute {
  readonly dst: string;
  readonly gateway?: string;
  readonly protocol?: string | number;
}
const ipJson = (args: readonly string[]): IpRoute[] => JSON.parse(execFileSync("ip", ["-j", "-N", ...args], { encoding: "utf8" }) || "[]") as IpRoute[];
/** `<dst> via <gw>` of the routes of protocol `proto` in `table` of netns `ns` (undefined = host), both families, sorted. */
function routes(ns: string | undefined, proto: number, table = "main"): string[] {
  const n = ns === undefined ? [] : ["-n", ns];
  return [...ipJson([...n, "-4", "route", "show", "table", table, "proto", String(proto)]), ...ipJson([...n, "-6", "route", "show", "table", table, "proto", String(proto)])]
    .map((r) => `${r.dst} via ${r.gateway ?? "-"}`)
    .sort();
}
function metricsText(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    get(`http://127.0.0.1:${port}/metrics`, (res) => {
      let body = "";
      res.on("data", (b: Buffer) => (body += b.toString()));
      res.on("end", () => resolve(body));
    }).on("error", reject);
  });
}
const status = (port: number, path: string): Promise<number> =>
  new Promise((resolve) => get(`http://127.0.0.1:${port}${path}`, (res) => (res.resume(), resolve(res.statusCode ?? 0))).on("error", () => resolve(0)));
const sample = (text: string, name: string): number | undefined => {
  const m = new RegExp(`^${name}\\{node="node1"\\} (\\S+)$`, "m").exec(text);
  return m === null ? undefined : Number(m[1]);
};

if (requireRoot(t)) {
  const started = await startCoilControlPlaneOrSkip(t);
  if (started !== undefined) {
    const { cp, kc } = started;
    t.teardown(() => cp.stop());
    const core = kc.makeApiClient(CoreV1Api);
    const coil = coilClient(kc.makeApiClient(CustomObjectsApi));
    const ns = withNetns(t, "coilrt");
    const ip = (args: string[]): void => void execFileSync("ip", ["-n", ns.name, ...args], { stdio: ["ignore", "ignore", "pipe"] });
    ip(["link", "add", "rt0", "type", "veth", "peer", "name", "rt1"]);
    ip(["link", "set", "rt1", "up"]);
    ip(["link", "set", "rt0", "up"]);
    ip(["addr", "add", "10.20.30.41/24", "dev", "rt0"]);
    ip(["-6", "addr", "add", "fd10::41/64", "dev", "rt0", "nodad"]);
    // Not coil-router's: other protocols in main (2 = kernel, as Coil's test; 4 = static), and
    // protocol 31 in another table.
    ip(["route", "add", "10.10.10.10", "via", "10.20.30.99", "proto", "2"]);
    ip(["route", "add", "10.12.0.0/16", "via", "10.20.30.46", "proto", "4"]);
    ip(["route", "add", "10.11.0.0/16", "via", "10.20.30.46", "proto", "31", "table", "200"]);
    ip(["-6", "route", "add", "fd11::/64", "via", "fd10::46", "proto", "31", "table", "200"]);
    const others = (): string[] => [...routes(ns.name, 2).filter((r) => r.startsWith("10.10.10.10 ")), ...routes(ns.name, 4)];
    const othersWant = ["10.10.10.10 via 10.20.30.99", "10.12.0.0/16 via 10.20.30.46"];
    const table200 = ["10.11.0.0/16 via 10.20.30.46", "fd11::/64 via fd10::46"];
    // A stale protocol-31 route in main (no block behind it): the first sync deletes it.
    ip(["route", "add", "10.99.0.0/24", "via", "10.20.30.46", "proto", "31"]);
    const hostBefore = routes(undefined, 31);

    const node = (name: string, addrs: string[]) =>
      core.createNode({ body: { metadata: { name }, status: { addresses: addrs.map((address) => ({ type: "InternalIP", address })) } } });
    await node("node1", ["10.20.30.41", "fd10::41"]);
    await node("node4", ["fd10::44"]);
    await node("node5", ["10.20.30.45"]);
    await node("node6", ["10.20.30.46", "fd10::46"]);
    let index = 0;
    const block = async (name: string, nodeName: string, cidrs: { ipv4?: string; ipv6?: string }): Promise<void> => {
      const r = await coil.blocks.create({ metadata: { name, labels: { "coil.cybozu.com/node": nodeName, "coil.cybozu.com/pool": "default" } }, index: index++, ...cidrs });
      if (r.isErr()) throw new Error(`create ${name}: ${r.error.message}`);
    };
    await block("default-0", "node1", { ipv4: "10.30.1.0/24", ipv6: "fd02::100/120" });
    await block("default-1", "node2", { ipv4: "10.30.2.0/24", ipv6: "fd02::200/120" });
    await block("default-3", "node4", { ipv4: "10.30.4.0/24", ipv6: "fd02::400/120" });
    await block("default-4", "node5", { ipv4: "10.30.5.0/24", ipv6: "fd02::500/120" });
    await block("default-5", "node6", { ipv4: "10.30.6.0/24", ipv6: "fd02::600/120" });

    const parsed = parseRouterFlags(["--metrics-addr", "127.0.0.1:0", "--health-addr", "127.0.0.1:0"], { COIL_NODE_NAME: "node1" });
    const flags = parsed._unsafeUnwrap() as RouterFlags;
    const syncs: number[] = [];
    const reports: RouterSyncReport[] = [];
    const t0 = performance.now();
    let logText = "";
    const log = createJsonLogger({ write: (l) => void (logText += l) });
    const running = (await runRouter(flags, { kc, log, kernel: realKernel(), netns: ns.ref, processMetrics: false, onSynced: (r) => (syncs.push(performance.now() - t0), reports.push(r)) }))._unsafeUnwrap();
    t.teardown(() => running.close());
    const port = running.metricsPort ?? 0;
    /**
     * A scrape is a snapshot and `syncs` keeps growing (a notification that arrived during a sync
     * runs one more): take a scrape during which no sync finished, with the successful syncs counted
     * at that moment.
     */
    const steadyScrape = (what: string, accept: (text: string) => boolean = () => true): Promise<{ text: string; syncs: number }> =>
      eventually(what, async () => {
        const before = syncs.length;
        const text = await metricsText(port);
        return syncs.length === before && accept(text) ? { text, syncs: before } : undefined;
      });
    const want4 = ["10.30.5.0/24 via 10.20.30.45", "10.30.6.0/24 via 10.20.30.46", "fd02::400/120 via fd10::44", "fd02::600/120 via fd10::46"];

    await t.test("initial blocks: own and unknown nodes ignored, single-family nodes get their family only", async (t) => {
      const got = await eventually("4 routes", () => {
        const r = routes(ns.name, 31);
        return JSON.stringify(r) === JSON.stringify(want4) ? r : undefined;
      });
      t.same(got, want4, "exactly these; the stale 10.99.0.0/24 proto 31 route is gone");
      // The routes are visible in the kernel a moment before the sync reports back: wait for the report.
      const first = await eventually("first sync report", () => reports[0]);
      t.same(first, { desired: 4, deleted: 1, added: 4 }, "first sync: 1 stale route deleted, 4 added");
      t.comment(`first sync done ${Math.round(syncs[0] ?? -1)} ms after start`);
      t.same(others(), othersWant, "the protocol-2 and protocol-4 routes are untouched");
      t.same(routes(ns.name, 31, "200"), table200, "protocol 31 outside main is untouched");
      t.match(logText, /"msg":"node has no IPv4 address; skipping".*"node":"node4"/, "node4's v4 block is skipped with a log");
      t.match(logText, /"msg":"node has no IPv6 address; skipping".*"node":"node5"/, "node5's v6 block is skipped with a log");
      t.equal(await status(running.healthPort ?? 0, "/healthz"), 200);
      t.equal(await status(running.healthPort ?? 0, "/readyz"), 200);
    });

    await t.test("v4-only and v6-only blocks for node6 accumulate; metrics", async (t) => {
      await block("v4-0", "node6", { ipv4: "10.40.6.0/24" });
      await block("v6-0", "node6", { ipv6: "fd04::600/120" });
      const want6 = [...want4, "10.40.6.0/24 via 10.20.30.46", "fd04::600/120 via fd10::46"].sort();
      t.same(await eventually("6 routes", () => (routes(ns.name, 31).length === 6 ? routes(ns.name, 31) : undefined)), want6);
      const { text, syncs: done } = await steadyScrape("a scrape with routes_synced 6", (m) => sample(m, "coil_router_routes_synced") === 6);
      t.equal(sample(text, "coil_router_routes_synced"), 6, 'coil_router_routes_synced{node="node1"} == 6');
      const n = sample(text, "coil_router_syncs_total") ?? 0;
      t.ok(n >= 2, `coil_router_syncs_total{node="node1"} = ${n} >= 2`);
      t.equal(n, done, "one increment per successful sync");
    });

    await t.test("deleting a block removes its route; other routes untouched", async (t) => {
      const before = syncs.length;
      (await coil.blocks.delete("default-4"))._unsafeUnwrap();
      const want = [...want4.filter((r) => !r.startsWith("10.30.5.")), "10.40.6.0/24 via 10.20.30.46", "fd04::600/120 via fd10::46"].sort();
      t.same(await eventually("5 routes", () => (routes(ns.name, 31).length === 5 ? routes(ns.name, 31) : undefined)), want);
      await eventually("metrics", async () => (sample(await metricsText(port), "coil_router_routes_synced") === 5 ? true : undefined));
      t.ok(syncs.length > before, "the delete event triggered a sync");
      t.same(others(), othersWant, "the protocol-2 and protocol-4 routes are untouched");
      t.same(routes(ns.name, 31, "200"), table200, "protocol 31 in table 200 is untouched");
    });

    await t.test("a ticker-style notify with nothing changed applies nothing new", async (t) => {
      const before = syncs.length;
      running.notify();
      await eventually("one more sync", () => (syncs.length > before ? true : undefined));
      t.same(reports.at(-1), { desired: 5, deleted: 0, added: 0 }, "no op");
      t.equal(routes(ns.name, 31).length, 5);
    });

    await t.test("a route the kernel rejects fails the sync: logged, nothing half-applied, retried until it succeeds", async (t) => {
      await node("node7", ["10.20.31.47"]); // not on-link in the netns: `via 10.20.31.47` is refused
      await block("default-7", "node7", { ipv4: "10.30.7.0/24" });
      await eventually("sync failed", () => (/"msg":"sync failed".*"apply-failed"/.test(logText) ? true : undefined));
      // The loop logs the retry after the sync returned: wait for that line too.
      await eventually("the first retry scheduled", () => (/"msg":"retrying sync","afterMs":\d+,"failures":1/.test(logText) ? true : undefined));
      t.equal(routes(ns.name, 31).length, 5, "routes unchanged (the only op was refused)");
      // A sync left over from the previous subtest may still succeed before the failing one, so the
      // counter is not compared with a value read before the block was added but with the
      // successful syncs at a steady moment.
      const failing = await steadyScrape("a scrape after the failure");
      t.equal(sample(failing.text, "coil_router_syncs_total"), failing.syncs, "a failed sync is not counted (the counter equals the successful syncs)");
      const t1 = performance.now();
      ip(["addr", "add", "10.20.31.1/24", "dev", "rt0"]); // now on-link
      await eventually("7th route", () => (routes(ns.name, 31).includes("10.30.7.0/24 via 10.20.31.47") ? true : undefined), { timeoutMs: 30_000 });
      t.comment(`recovered ${Math.round(performance.now() - t1)} ms after the gateway became on-link`);
      t.equal(routes(ns.name, 31).length, 6);
      const m = await eventually("metrics", async () => {
        const text = await metricsText(port);
        return sample(text, "coil_router_routes_synced") === 6 ? text : undefined;
      });
      t.ok((sample(m, "coil_router_syncs_total") ?? 0) > failing.syncs, "counted again after recovery");
    });

    await t.test("a Node's new InternalIP re-routes its blocks without any block event (Nodes come from a watch)", async (t) => {
      const n6 = await core.readNode({ name: "node6" });
      const syncsBefore = syncs.length;
      await core.replaceNodeStatus({ name: "node6", body: { ...n6, status: { ...n6.status, addresses: [{ type: "InternalIP", address: "10.20.30.56" }, { type: "InternalIP", address: "fd10::46" }] } } });
      const want = await eventually("node6's v4 blocks via 10.20.30.56", () => {
        const r = routes(ns.name, 31);
        return r.includes("10.30.6.0/24 via 10.20.30.56") && r.includes("10.40.6.0/24 via 10.20.30.56") ? r : undefined;
      });
      t.notOk(want.some((r) => r.endsWith("via 10.20.30.46")), "no route left via the old address");
      t.ok(want.includes("fd02::600/120 via fd10::46"), "the unchanged IPv6 address keeps its routes");
      // The routes are visible a moment before the sync reports back: wait for the report.
      t.ok(await eventually("the sync's report", () => (syncs.length > syncsBefore ? true : undefined)), "the Node update triggered a sync");
    });

    await t.test("restarted router: a route whose block was deleted while it was down is removed, others kept", async (t) => {
      await running.close();
      (await coil.blocks.delete("v4-0"))._unsafeUnwrap();
      ip(["route", "add", "10.40.7.0/24", "via", "10.20.30.46", "proto", "4"]); // someone else's, another protocol
      const before = routes(ns.name, 31);
      t.ok(before.includes("10.40.6.0/24 via 10.20.30.56"), "the route of the deleted block is still there while the router is down");
      const again = (await runRouter(flags, { kc, log, kernel: realKernel(), netns: ns.ref, processMetrics: false }))._unsafeUnwrap();
      t.teardown(() => again.close());
      const got = await eventually("10.40.6.0/24 gone", () => {
        const r = routes(ns.name, 31);
        return r.includes("10.40.6.0/24 via 10.20.30.56") ? undefined : r;
      });
      t.same(got, before.filter((r) => !r.startsWith("10.40.6.0/24 ")), "only that route removed");
      t.same(others(), [...othersWant, "10.40.7.0/24 via 10.20.30.46"], "the other protocols' routes are untouched, the new one included");
      t.same(routes(ns.name, 31, "200"), table200);
      await again.close();
    });

    t.test("the host's own main table was not touched", async (t) => {
      t.same(routes(undefined, 31), hostBefore);
      t.comment(`${syncs.length} syncs in ${Math.round(performance.now() - t0)} ms`);
    });
  }
}
