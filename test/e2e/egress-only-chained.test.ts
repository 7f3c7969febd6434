/**
 * Egress-only (chained) mode end to end, real parts only (Coil §4.5; issue 10 item 3): coild runs
 * with `--enable-ipam=false` in node A, and pods are made as a runtime makes them with a chained
 * configuration: Debian's `ptp` + `host-local` (containernetworking-plugins) first, then our `coil`
 * executable (from source) with ptp's result as prevResult. The egress world is the one of
 * test/e2e/egress-datapath.test.ts (test/helpers/egress-datapath.ts: node B, two egress pods running
 * coil-egress over VXLAN, the "internet", kube-proxy's DNAT played by nft), with a real
 * kube-apiserver + etcd for the Pods (their UID, their Egress annotation), the Egress and its Service.
 *
 * Shown: coil leaves ptp's pod network alone (addresses, routes, both ends) and prints prevResult in
 * the configuration's version; the host veth gets `COIL::<podUID>:eth0`; an annotated pod gets the NAT
 * client and its traffic leaves through an egress pod, an Egress change reaches it in place; CHECK;
 * DEL removes coil's part only (ptp's DEL then removes the pod network); bad prevResults and a NAT
 * set-up that fails give clear errors and leave nothing behind; coild creates no BlockRequest or
 * AddressBlock and touches neither node A's rules nor table 119.
 */
import t, { type Test } from "tap";
import { execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { vxlanVniFor } from "../../lib/plan/index.js";
import type { Ip } from "../../lib/net/index.js";
import { eventually, startCoilControlPlaneOrSkip, skipOrFail, waitFor } from "../helpers/coil-envtest.js";
import { requireRoot, withNetns, type TestNetns } from "../helpers/netns.js";
import { relayApiIntoNetns } from "../helpers/api-relay.js";
import { runCoil, startCoildInNetns, terminateProcess, type CniRun } from "../helpers/test-host.js";
import { api, type Api } from "../adapters/ipam-controller/harness.js";
import {
  ANNOTATION,
  ECHO_SERVER,
  NODE_A,
  POOL,
  V4,
  V6,
  buildTopology,
  createInternetEgress,
  inNs,
  ip,
  markRunning,
  patchDestinations,
  routes,
  servedBy,
  serviceDnat,
  startCoilEgress,
  startServer,
  transfer,
  type ClientPod,
} from "../helpers/egress-datapath.js";

t.setTimeout(900_000);

/** Where Debian's containernetworking-plugins are (bench/cni.ts uses the same). */
const REF_DIR = "/usr/lib/cni";
/** Transfers per family through the egress (the long runs are egress-datapath's). */
const ROUNDS = 5;

type Json = Record<string, unknown>;

interface World {
  readonly a: Api;
  readonly nodeA: TestNetns;
  readonly socket: string;
  readonly tmp: string;
}

/** Run Debian's ptp (with host-local) in node A as a runtime does: its stdout and exit code. */
function ptp(w: World, cmd: "ADD" | "DEL" | "CHECK", id: string, netns: TestNetns, cniVersion: string, prevResult?: Json): Promise<CniRun> {
  const conf = {
    cniVersion,
    name: "egress-only",
    type: "ptp",
    ipMasq: false,
    ipam: { type: "host-local", ranges: [[{ subnet: POOL.v4 }], [{ subnet: POOL.v6 }]], routes: [{ dst: "0.0.0.0/0" }, { dst: "::/0" }], dataDir: join(w.tmp, "host-local") },
    ...(prevResult === undefined ? {} : { prevResult }),
  };
  const env = { PATH: process.env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin", CNI_COMMAND: cmd, CNI_CONTAINERID: id, CNI_NETNS: netns.path, CNI_IFNAME: "eth0", CNI_PATH: REF_DIR, CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${id}` };
  const t0 = performance.now();
  const child = spawn("nsenter", [`--net=${w.nodeA.path}`, "--", join(REF_DIR, "ptp")], { env, stdio: ["pipe", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stdin.end(JSON.stringify(conf));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code: code ?? -1, stdout: out, ms: performance.now() - t0 })));
}

/** Run our `coil` executable chained (prevResult given unless `null`), in node A's namespace like ptp. */
function coil(w: World, cmd: "ADD" | "DEL" | "CHECK", pod: string, netns: TestNetns, cniVersion: string, prevResult: Json | null, rpc: "fast" | "grpc" = "fast"): Promise<CniRun> {
  const conf = { cniVersion, name: "egress-only", type: "coil", socket: w.socket, rpc, ...(prevResult === null ? {} : { prevResult }) };
  return runCoil({ cmd, containerId: `sandbox-${pod}`, podName: pod, netns: netns.path, socket: w.socket, rpc, conf });
}

/**
 * What ptp made and coil must not change: the addresses and main-table routes of the pod's `lo` and
 * `eth0` (the NAT client's tunnel devices come with kernel link-local addresses and routes of their
 * own), node A's main-table routes.
 */
function podNetwork(w: World, pod: TestNetns): string {
  const ptpLinks = new Set(["lo", "eth0"]);
  const addrs = (JSON.parse(ip(pod, "-j", "addr")) as Array<Json & { ifname: string }>).filter((l) => ptpLinks.has(l.ifname)).map(({ ifindex: _i, ...rest }) => rest);
  const podRoutes = (family: "-4" | "-6"): unknown => (JSON.parse(ip(pod, family, "-j", "route")) as Array<{ dev?: string }>).filter((r) => r.dev === undefined || ptpLinks.has(r.dev));
  return JSON.stringify({
    podAddrs: addrs,
    podRoutes4: podRoutes("-4"),
    podRoutes6: podRoutes("-6"),
    hostRoutes4: JSON.parse(ip(w.nodeA, "-j", "route")) as unknown,
    hostRoutes6: JSON.parse(ip(w.nodeA, "-6", "-j", "route")) as unknown,
  });
}

/** The NAT client's rule priorities (1800-2100, and 1000 of originating-only mode) in `pod`, both families. */
function natRules(pod: TestNetns): number[] {
  const prios = (family: "-4" | "-6"): number[] => (JSON.parse(ip(pod, family, "-j", "rule")) as Array<{ priority: number }>).map((r) => r.priority);
  return [...prios("-4"), ...prios("-6")].filter((p) => p === 1000 || (p >= 1800 && p <= 2100));
}

/**
 * prevResult as coil prints it back: the same JSON, except that an empty `dns` is left out in the 1.x
 * forms (lib/cni's `convertResult`; Go's ptp prints `"dns":{}`).
 */
function printedBack(prev: Json): Json {
  const { dns, ...rest } = prev;
  const empty = typeof dns === "object" && dns !== null && Object.keys(dns).length === 0;
  return empty && String(prev["cniVersion"]).startsWith("1.") ? rest : prev;
}

/** Node A's links with their aliases (`name=alias`). */
function hostAliases(w: World): string[] {
  return (JSON.parse(ip(w.nodeA, "-j", "link")) as Array<{ ifname: string; ifalias?: string }>).map((l) => `${l.ifname}=${l.ifalias ?? ""}`).sort();
}

/** Everything of a pod namespace but its sysctls: links, addresses, routes and rules of both families, nftables. */
function podState(pod: TestNetns): string {
  return [ip(pod, "-o", "link"), ip(pod, "-o", "addr"), ip(pod, "route", "show", "table", "all"), ip(pod, "-6", "route", "show", "table", "all"), ip(pod, "rule"), ip(pod, "-6", "rule"), inNs(pod, ["nft", "list", "ruleset"])].join("\n");
}

const hostVethOf = (prev: Json): string => ((prev["interfaces"] as Array<{ name: string; sandbox?: string }>).find((i) => i.sandbox === undefined || i.sandbox === "")?.name ?? "");
const addressesOf = (prev: Json): { v4: string; v6: string } => {
  const ips = (prev["ips"] as Array<{ address: string }>).map((x) => x.address.split("/")[0] ?? "");
  return { v4: ips.find((x) => !x.includes(":")) ?? "", v6: ips.find((x) => x.includes(":")) ?? "" };
};

/** A Pod object on node A; its UID. Deleted in teardown. */
async function createPod(t: Test, a: Api, name: string, annotations: Record<string, string>): Promise<string> {
  const p = await a.core.createNamespacedPod({ namespace: "default", body: { metadata: { name, annotations }, spec: { nodeName: NODE_A.name, containers: [{ name: "c", image: "x" }] } } });
  t.teardown(() => a.core.deleteNamespacedPod({ namespace: "default", name, gracePeriodSeconds: 0 }).then(() => undefined, () => undefined));
  return p.metadata?.uid ?? "";
}

/** A pod made by ptp (its result) with the Pod object; the pod is not yet given to coil. */
async function ptpPod(t: Test, w: World, name: string, cniVersion: string, annotations: Record<string, string>): Promise<{ netns: TestNetns; uid: string; prev: Json }> {
  const netns = withNetns(t, "eoc");
  const uid = await createPod(t, w.a, name, annotations);
  const r = await ptp(w, "ADD", `sandbox-${name}`, netns, cniVersion);
  if (r.code !== 0) throw new Error(`ptp ADD ${name} failed (${r.code}): ${r.stdout}`);
  const prev = JSON.parse(r.stdout) as Json;
  t.teardown(async () => void (await ptp(w, "DEL", `sandbox-${name}`, netns, cniVersion, prev)));
  return { netns, uid, prev };
}

if (requireRoot(t)) {
  if (!existsSync(join(REF_DIR, "ptp")) || !existsSync(join(REF_DIR, "host-local"))) {
    skipOrFail(t, `${REF_DIR}/ptp or host-local missing: apt-get install containernetworking-plugins`);
  } else {
    const started = await startCoilControlPlaneOrSkip(t, { serviceClusterIPRange: "10.0.0.0/24,fd00:10:96::/112" });
    if (started !== undefined) await main(t, started.cp, api(started.kc));
  }
}

async function main(t: Test, cp: { kubeconfigPath: string; server: string; stop(): Promise<void> }, a: Api): Promise<void> {
  t.teardown(async () => {
    a.clients.destroy();
    await cp.stop();
  });
  const tmp = await mkdtemp(join(tmpdir(), "coil-egress-only-"));
  t.teardown(() => rm(tmp, { recursive: true, force: true }));
  await createInternetEgress(a);

  const topo = buildTopology(t);
  for (const ns of [topo.nodeA, topo.eg1, topo.eg2]) {
    const r = await relayApiIntoNetns(ns, cp.server, await mkdtemp(join(tmp, "relay-")));
    t.teardown(() => r.close());
  }
  await startServer(t, topo.inet, ECHO_SERVER, [V4.target, V6.target]);
  serviceDnat(topo.nodeA, { v4: V4.eg1, v6: V6.eg1 });
  const common = { kubeconfig: cp.kubeconfigPath, backend: "nftables" };
  await Promise.all([
    startCoilEgress(t, topo.eg1, { ...common, podIPs: `${V4.eg1},${V6.eg1}`, name: "egress-1" }),
    startCoilEgress(t, topo.eg2, { ...common, podIPs: `${V4.eg2},${V6.eg2}`, name: "egress-2" }),
  ]);

  const rulesBefore = ip(topo.nodeA, "rule") + ip(topo.nodeA, "-6", "rule");
  const socket = join(await mkdtemp(join(tmp, "coild-")), "coild.sock");
  const coild = await startCoildInNetns({
    netnsPath: topo.nodeA.path,
    nodeName: NODE_A.name,
    timeoutMs: 180_000,
    flags: ["--enable-ipam=false", "--store=kubernetes", `--kubeconfig=${cp.kubeconfigPath}`, `--socket=${socket}`, "--metrics-addr=127.0.0.1:9384", "--health-addr=127.0.0.1:9385", "--tunnel=vxlan", "--backend=nftables"],
  });
  t.teardown(() => terminateProcess(coild.child, 10_000));
  const w: World = { a, nodeA: topo.nodeA, socket, tmp };

  await t.test("an annotated pod: ptp's network untouched, prevResult printed back, alias, NAT client, egress traffic", async (t) => {
    const { netns, uid, prev } = await ptpPod(t, w, "client", "1.0.0", ANNOTATION);
    const before = podNetwork(w, netns);
    const r = await coil(w, "ADD", "client", netns, "1.0.0", prev);
    t.equal(r.code, 0, `coil ADD chained after ptp (${r.stdout.trim().slice(0, 300)})`);
    t.same(JSON.parse(r.stdout), printedBack(prev), "coil prints prevResult (CNI 1.0.0) unchanged");
    t.equal(podNetwork(w, netns), before, "ptp's addresses and routes (pod and node A) are untouched");
    const veth = hostVethOf(prev);
    t.ok(hostAliases(w).includes(`${veth}=COIL::${uid}:eth0`), `${veth} carries COIL::${uid}:eth0`);
    t.match(ip(netns, "rule"), /1800:\s+from all to 169\.254\.0\.0\/16 lookup main[\s\S]*1900:\s+from all lookup 117[\s\S]*2000:\s+from all to 10\.0\.0\.0\/8 lookup main[\s\S]*2100:\s+from all lookup 118/, "NAT client rules 1800-2100");
    t.match(ip(netns, "-6", "rule"), /1900:\s+from all lookup 117[\s\S]*2100:\s+from all lookup 118/, "IPv6 NAT client rules");
    t.same(routes(netns, "-4", "118").map((x) => [x.dst, x.dev.startsWith("vx4_")]), [["default", true]], "table 118: 0.0.0.0/0 through the VXLAN tunnel");
    t.same(routes(netns, "-6", "118").map((x) => [x.dst, x.dev.startsWith("vx6_")]), [["default", true]], "table 118: ::/0 through the VXLAN tunnel");

    const { v4, v6 } = addressesOf(prev);
    await markRunning(a, "client", [v4, v6]);
    const client: ClientPod = { name: "client", netns, v4, v6 };
    await servedBy([topo.eg1, topo.eg2], client);
    for (const [family, target, egIP] of [["IPv4", V4.target, V4.eg1], ["IPv6", V6.target, V6.eg1]] as const) {
      const x = transfer(netns, target, ROUNDS);
      t.same({ ok: x.ok, sources: x.sources, error: x.error }, { ok: ROUNDS, sources: [egIP], error: undefined }, `${family}: ${ROUNDS} × 1 MiB echoed; the server saw egress pod 1's address, never the pod's`);
    }

    // The EgressWatcher finds the chained pod by the UID in its alias and updates it in place.
    await patchDestinations(a, [`${V4.target}/32`, `${V6.target}/128`]);
    await waitFor("table 118 follows the new destinations", () => routes(netns, "-4", "118")[0]?.dst === V4.target && routes(netns, "-6", "118")[0]?.dst === V6.target, { timeoutMs: 60_000, intervalMs: 50 });
    t.pass("an Egress change reached the running chained pod (table 118 follows)");
    await patchDestinations(a, ["0.0.0.0/0", "::/0"]);
    await waitFor("table 118 back to the default routes", () => routes(netns, "-4", "118")[0]?.dst === "default" && routes(netns, "-6", "118")[0]?.dst === "default", { timeoutMs: 60_000, intervalMs: 50 });

    const check = await coil(w, "CHECK", "client", netns, "1.0.0", prev);
    t.equal(check.code, 0, `CHECK passes (${check.stdout.trim()})`);

    // DEL: coil's part goes, ptp's stays until ptp's own DEL.
    const del = await coil(w, "DEL", "client", netns, "1.0.0", prev);
    t.equal(del.code, 0, `coil DEL (${del.stdout.trim()})`);
    t.equal(podNetwork(w, netns), before, "after coil DEL ptp's addresses and routes are still there");
    t.same(natRules(netns), [], "no NAT client rules (priorities 1000, 1800-2100) left in the pod");
    t.same([...routes(netns, "-4", "118"), ...routes(netns, "-6", "118"), ...routes(netns, "-4", "117"), ...routes(netns, "-6", "117")], [], "no routes in tables 117/118");
    t.notMatch(ip(netns, "-o", "link"), /vx[46]_/, "no tunnel link left");
    t.equal(inNs(netns, ["nft", "list", "ruleset"]).trim(), "", "the pod's nftables ruleset is empty");
    t.ok(hostAliases(w).includes(`${veth}=`), `${veth} is still there (ptp's) and its alias is cleared`);
    const checkAfter = await coil(w, "CHECK", "client", netns, "1.0.0", prev);
    t.match({ code: checkAfter.code, out: JSON.parse(checkAfter.stdout) as unknown }, { code: 1, out: { code: 999, msg: "check failed", details: `no host link with alias COIL::${uid}:eth0` } }, "CHECK after DEL fails: no aliased host link");
    t.equal((await coil(w, "DEL", "client", netns, "1.0.0", prev)).code, 0, "DEL again: nothing to do");
    const p = await ptp(w, "DEL", "sandbox-client", netns, "1.0.0", prev);
    t.equal(p.code, 0, "ptp DEL removes the pod network");
    t.notOk(hostAliases(w).some((l) => l.startsWith(`${veth}=`)), "the host veth went with ptp's DEL");
  });

  await t.test("a pod without Egress annotation, CNI 0.4.0 over gRPC: alias only, no NAT client; DEL with the namespace gone", async (t) => {
    const { netns, uid, prev } = await ptpPod(t, w, "plain", "0.4.0", {});
    const before = podNetwork(w, netns);
    const stateBefore = podState(netns);
    const r = await coil(w, "ADD", "plain", netns, "0.4.0", prev, "grpc");
    t.equal(r.code, 0, `coil ADD (${r.stdout.trim().slice(0, 300)})`);
    t.same(JSON.parse(r.stdout), printedBack(prev), "coil prints prevResult (CNI 0.4.0, ips[].version kept) unchanged");
    t.equal((prev["ips"] as Array<{ version?: string }>)[0]?.version, "4", "the 0.4.0 form");
    t.equal(podNetwork(w, netns), before, "ptp's addresses and routes are untouched");
    t.equal(podState(netns), stateBefore, "nothing added in the pod");
    t.ok(hostAliases(w).includes(`${hostVethOf(prev)}=COIL::${uid}:eth0`), "host veth alias");
    const { v4, v6 } = addressesOf(prev);
    for (const [family, target, self] of [["IPv4", V4.target, v4], ["IPv6", V6.target, v6]] as const) {
      const x = transfer(netns, target, 1);
      t.same({ ok: x.ok, sources: x.sources }, { ok: 1, sources: [self] }, `${family}: routed by node A, the server sees the pod itself`);
    }
    t.equal((await coil(w, "CHECK", "plain", netns, "0.4.0", prev, "grpc")).code, 0, "CHECK");
    const del = await coil(w, "DEL", "plain", netns, "0.4.0", prev, "grpc");
    t.equal(del.code, 0, `DEL (${del.stdout.trim()})`);
    t.equal(podState(netns), stateBefore, "the pod is as ptp left it");
    t.ok(hostAliases(w).includes(`${hostVethOf(prev)}=`), "alias cleared");
    const gone = { ...netns, path: `/var/run/netns/eoc-gone-${netns.name}` };
    const delGone = await coil(w, "DEL", "plain", gone, "0.4.0", prev, "grpc");
    t.equal(delGone.code, 0, `DEL with the namespace gone: nothing to remove (${delGone.stdout.trim()})`);
  });

  await t.test("bad prevResults and failed ADDs: clear errors, nothing changed", async (t) => {
    const { netns, uid, prev } = await ptpPod(t, w, "bad", "1.0.0", ANNOTATION);
    const veth = hostVethOf(prev);
    const podBefore = podState(netns);
    const aliasesBefore = hostAliases(w);
    const expectRefused = async (what: string, r: CniRun, code: number, msg: string | RegExp, details?: RegExp): Promise<void> => {
      t.equal(r.code, 1, `${what}: exit 1`);
      t.match(JSON.parse(r.stdout || "{}"), { code, msg, ...(details === undefined ? {} : { details }) }, `${what}: code ${code}`);
      t.equal(podState(netns), podBefore, `${what}: the pod's namespace is unchanged`);
      t.same(hostAliases(w), aliasesBefore, `${what}: no alias set`);
    };
    await expectRefused("no prevResult", await coil(w, "ADD", "bad", netns, "1.0.0", null), 7, "coil must be chained after another plugin in egress-only mode");
    await expectRefused("prevResult without IPs", await coil(w, "ADD", "bad", netns, "1.0.0", { ...prev, ips: [] }), 7, "invalid prevResult", /no IP address/);
    const sandboxOnly = (prev["interfaces"] as Array<{ sandbox?: string }>).filter((i) => (i.sandbox ?? "") !== "");
    await expectRefused("prevResult without a host-side interface", await coil(w, "ADD", "bad", netns, "1.0.0", { ...prev, interfaces: sandboxOnly, ips: (prev["ips"] as Json[]).map(({ interface: _i, ...x }) => x) }), 7, "invalid prevResult", /no host-side interface/);
    const renamed = (prev["interfaces"] as Json[]).map((i) => (i["name"] === veth ? { ...i, name: "vethmissing0" } : i));
    await expectRefused("prevResult naming a missing host interface", await coil(w, "ADD", "bad", netns, "1.0.0", { ...prev, interfaces: renamed }), 7, "invalid prevResult", /"vethmissing0" does not exist/);
    const bogus = { ...prev, ips: [{ ...(prev["ips"] as Json[])[0], address: "10.100.0.999/24" }] };
    await expectRefused("an unparsable prevResult address", await coil(w, "ADD", "bad", netns, "1.0.0", bogus), 6, /prevResult|decode/);

    // A NAT set-up that fails half-way (a VXLAN device with the tunnel's VNI and port already in
    // the pod): the rules already laid out are removed again, the alias is not left behind.
    const { v4 } = addressesOf(prev);
    ip(netns, "link", "add", "blocker", "type", "vxlan", "id", String(vxlanVniFor(v4 as Ip)), "dstport", "5555", "local", v4, "nolearning", "noudpcsum", "udp6zerocsumtx", "udp6zerocsumrx");
    const blocked = podState(netns);
    const r = await coil(w, "ADD", "bad", netns, "1.0.0", prev);
    t.equal(r.code, 1, `NAT set-up failure: exit 1 (${r.stdout.trim().slice(0, 400)})`);
    t.match(JSON.parse(r.stdout || "{}"), { code: 999, msg: "failed to setup pod network egress" }, "Coil's message");
    t.equal(podState(netns), blocked, "the pod's namespace is as before the ADD (the blocker stays, nothing of coil's)");
    t.same(hostAliases(w), aliasesBefore, "the alias was taken back");
    ip(netns, "link", "del", "blocker");

    // A pod annotated for an Egress that does not exist: refused before anything is touched.
    const missing = await ptpPod(t, w, "missing-egress", "1.0.0", { "egress.coil.cybozu.com/internet": "nope" });
    const aliases = hostAliases(w);
    const state = podState(missing.netns);
    const m = await coil(w, "ADD", "missing-egress", missing.netns, "1.0.0", missing.prev);
    t.match({ code: m.code, out: JSON.parse(m.stdout || "{}") as unknown }, { code: 1, out: { code: 999, msg: "failed to setup NAT hook", details: /"nope" not found/ } }, "missing Egress: Coil's message");
    t.same(hostAliases(w), aliases, "missing Egress: no alias");
    t.equal(podState(missing.netns), state, "missing Egress: the pod is unchanged");
    t.ok(uid !== "", "the pods have UIDs");
  });

  await t.test("coild in egress-only mode: no BlockRequest or AddressBlock, node A's rules and table 119 untouched", async (t) => {
    // Retried: a loaded API server may answer 429 "storage is (re)initializing" for a while.
    const list = (plural: string): Promise<unknown[]> =>
      eventually(`list ${plural}`, async () => ((await a.clients.custom.listClusterCustomObject({ group: "coil.cybozu.com", version: "v2", plural })) as { items: unknown[] }).items, { timeoutMs: 60_000, intervalMs: 500 });
    t.same(await list("blockrequests"), [], "no BlockRequest");
    t.same(await list("addressblocks"), [], "no AddressBlock");
    t.equal(ip(topo.nodeA, "rule") + ip(topo.nodeA, "-6", "rule"), rulesBefore, "node A's rules are as before coild (no lookup 116 rule)");
    t.same([...routes(topo.nodeA, "-4", "119"), ...routes(topo.nodeA, "-6", "119"), ...routes(topo.nodeA, "-4", "116"), ...routes(topo.nodeA, "-6", "116")], [], "tables 116 and 119 are empty");
    const metrics = execFileSync("nsenter", [`--net=${topo.nodeA.path}`, "--", "curl", "-sf", "http://127.0.0.1:9384/metrics"], { encoding: "utf8" });
    t.match(metrics, /grpc_server_handled_total\{grpc_type="unary",grpc_service="pkg.cnirpc.CNI",grpc_method="Add",grpc_code="OK"\} [1-9]/, "coild counted the chained ADDs");
  });
}
