/**
 * The egress data path end to end in network namespaces, real parts only (issue 10; Coil §6,
 * §9.7, §9.11 items 11-13), over VXLAN (this kernel has no FoU/IPIP modules):
 *
 *   client pods ─ node A (coild) ══ underlay ══ node B ─ br0 ─┬─ egress pod 1 (coil-egress)
 *                                                              └─ egress pod 2 (coil-egress)
 *                                                   node B ─ "internet" (9.9.9.9, 2606:4700:4700::9999, echo server)
 *
 * A real kube-apiserver + etcd holds the Node, the AddressPool, the Egress, its dual-stack Service
 * and the Pods; the real coil-ipam-controller code (in-process) serves node A's BlockRequests.
 * coild runs from source in node A (`--store=kubernetes --tunnel=vxlan --backend=<b>`); client pods
 * are created by the `coil` CNI executable (from source) through coild's socket, so coild's NAT
 * hook reads the Pod's `egress.coil.cybozu.com/internet` annotation, the Egress and the Service and
 * lays out the pod's NAT client; its EgressWatcher follows Egress changes. coil-egress runs from
 * source inside each egress pod's namespace. There is no kube-proxy: kube-proxy's Service DNAT
 * (ClusterIP:5555/udp → one egress pod, as with `sessionAffinity: ClientIP`) is played by a real
 * nft DNAT rule in node A, and when an egress pod dies the test moves that rule to the other pod
 * and flushes the UDP conntrack entries, as kube-proxy does for a removed endpoint.
 */
import t, { type Test } from "tap";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCoilControlPlaneOrSkip, eventually, waitFor } from "../helpers/coil-envtest.js";
import { requireRoot, withNetns, type TestNetns } from "../helpers/netns.js";
import { relayApiIntoNetns } from "../helpers/api-relay.js";
import { runCoil, startCoildInNetns, stopProcess, terminateProcess, type CoildProcess } from "../helpers/test-host.js";
import { api, createPool, NO_ELECTION, startController, type Api } from "../adapters/ipam-controller/harness.js";
import {
  ANNOTATION,
  ECHO_SERVER,
  HELLO_SERVER,
  NODE_A,
  POOL,
  ROUNDS,
  V4,
  V6,
  buildTopology,
  createInternetEgress,
  ingress,
  inNs,
  ip,
  markRunning,
  patchDestinations,
  rate,
  routes,
  servedBy,
  serviceDnat,
  startCoilEgress,
  startServer,
  transfer,
  type ClientPod,
} from "../helpers/egress-datapath.js";

t.setTimeout(1_800_000);

interface Harness {
  readonly a: Api;
  readonly kubeconfig: string;
  readonly server: string;
  readonly dir: string;
}

/** Create the Pod object, ADD it through the CNI executable and coild, mark it Running with its addresses. */
async function addClient(t: Test, h: Harness, socket: string, name: string, annotations: Record<string, string>): Promise<ClientPod> {
  const netns = withNetns(t, "egc");
  await h.a.core.createNamespacedPod({ namespace: "default", body: { metadata: { name, annotations }, spec: { nodeName: NODE_A.name, containers: [{ name: "c", image: "x" }] } } });
  t.teardown(() => h.a.core.deleteNamespacedPod({ namespace: "default", name, gracePeriodSeconds: 0 }).then(() => undefined, () => undefined));
  const r = await runCoil({ cmd: "ADD", containerId: name, netns: netns.path, socket, rpc: "fast", podNamespace: "default" });
  if (r.code !== 0) throw new Error(`ADD ${name} failed (${r.code}): ${r.stdout}`);
  const ips = (JSON.parse(r.stdout) as { ips: { address: string }[] }).ips.map((x) => x.address.split("/")[0] ?? "");
  const v4 = ips.find((x) => !x.includes(":")) ?? "";
  const v6 = ips.find((x) => x.includes(":")) ?? "";
  await markRunning(h.a, name, [v4, v6]);
  return { name, netns, v4, v6 };
}

async function startCoild(h: Harness, nodeA: TestNetns, socket: string, flags: readonly string[]): Promise<CoildProcess> {
  return startCoildInNetns({
    netnsPath: nodeA.path,
    nodeName: NODE_A.name,
    timeoutMs: 180_000,
    flags: ["--store=kubernetes", `--kubeconfig=${h.kubeconfig}`, `--socket=${socket}`, "--metrics-addr=127.0.0.1:9384", "--health-addr=127.0.0.1:9385", "--tunnel=vxlan", ...flags],
  });
}

const figures: string[] = [];
function figure(t: Test, line: string): void {
  figures.push(line);
  t.comment(line);
}

async function backendCase(t: Test, h: Harness, backend: "nftables" | "iptables"): Promise<void> {
  const topo = buildTopology(t);
  for (const ns of [topo.nodeA, topo.eg1, topo.eg2]) {
    const r = await relayApiIntoNetns(ns, h.server, await mkdtemp(join(h.dir, "relay-")));
    t.teardown(() => r.close());
  }
  await startServer(t, topo.inet, ECHO_SERVER, [V4.target, V6.target]);
  serviceDnat(topo.nodeA, { v4: V4.eg1, v6: V6.eg1 });
  const common = { kubeconfig: h.kubeconfig, backend };
  const [eg1] = await Promise.all([
    startCoilEgress(t, topo.eg1, { ...common, podIPs: `${V4.eg1},${V6.eg1}`, name: "egress-1" }),
    startCoilEgress(t, topo.eg2, { ...common, podIPs: `${V4.eg2},${V6.eg2}`, name: "egress-2" }),
  ]);
  for (const eg of [topo.eg1, topo.eg2]) {
    t.match(ip(eg, "rule", "show", "priority", "2000"), /iif eth0 lookup 118/, "egress pod: rule iif eth0 lookup 118");
    const ruleset = backend === "nftables" ? inNs(eg, ["nft", "list", "ruleset"]) : inNs(eg, ["iptables-save"]) + inNs(eg, ["ip6tables-save"]);
    t.match(ruleset, backend === "nftables" ? /masquerade/ : /-A POSTROUTING ! -s 10\.200\.0\.1[12]\/32 -o eth0 -j MASQUERADE/, "egress pod: masquerade rule");
    t.match(ruleset, backend === "nftables" ? /ct state invalid.*drop/ : /-A FORWARD -o eth0 -m state --state INVALID -j DROP/, "egress pod: INVALID drop rule");
  }

  const socket = join(await mkdtemp(join(h.dir, "coild-")), "coild.sock");
  let coild = await startCoild(h, topo.nodeA, socket, [`--backend=${backend}`, "--enable-originating-only=false"]);
  t.teardown(() => terminateProcess(coild.child, 10_000));

  if (backend === "nftables") {
    const links = ip(topo.nodeA, "-o", "link");
    const t116 = JSON.stringify([...routes(topo.nodeA, "-4", "116"), ...routes(topo.nodeA, "-6", "116")]);
    const bad = withNetns(t, "egx");
    const pod = "missing-egress";
    await h.a.core.createNamespacedPod({ namespace: "default", body: { metadata: { name: pod, annotations: { "egress.coil.cybozu.com/internet": "nope" } }, spec: { nodeName: NODE_A.name, containers: [{ name: "c", image: "x" }] } } });
    t.teardown(() => h.a.core.deleteNamespacedPod({ namespace: "default", name: pod, gracePeriodSeconds: 0 }).then(() => undefined, () => undefined));
    const r = await runCoil({ cmd: "ADD", containerId: pod, netns: bad.path, socket, rpc: "fast", podNamespace: "default" });
    t.not(r.code, 0, "ADD of a pod annotated for a missing Egress fails");
    t.match(JSON.parse(r.stdout), { code: 999, msg: "failed to setup NAT hook", details: /failed to get Egress internet\/nope: .*"nope" not found/ }, "with Coil's message naming the Egress");
    t.equal(ip(topo.nodeA, "-o", "link"), links, "no host link left behind");
    t.equal(JSON.stringify([...routes(topo.nodeA, "-4", "116"), ...routes(topo.nodeA, "-6", "116")]), t116, "no pod route left behind (table 116)");
    t.same((JSON.parse(ip(bad, "-j", "link")) as { ifname: string }[]).map((l) => l.ifname), ["lo"], "the pod's namespace holds only lo");
    t.same((JSON.parse(ip(bad, "-j", "addr")) as { addr_info: { local: string }[] }[]).flatMap((l) => l.addr_info.map((x) => x.local)), ["127.0.0.1", "::1"], "no address in the pod");
    t.notMatch(ip(bad, "rule"), /lookup 11[78]/, "no NAT rules in the pod");
  }

  const client = await addClient(t, h, socket, `nat-client-${backend}`, ANNOTATION);
  t.match(ip(client.netns, "rule"), /1800:\s+from all to 169\.254\.0\.0\/16 lookup main[\s\S]*1900:\s+from all lookup 117[\s\S]*2000:\s+from all to 10\.0\.0\.0\/8 lookup main[\s\S]*2001:\s+from all to 172\.16\.0\.0\/12 lookup main[\s\S]*2002:\s+from all to 192\.168\.0\.0\/16 lookup main[\s\S]*2100:\s+from all lookup 118/, "client pod: Coil's rules 1800-2100");
  t.match(ip(client.netns, "-6", "rule"), /1800:\s+from all to fe80::\/10 lookup main[\s\S]*1900:\s+from all lookup 117[\s\S]*2000:\s+from all to fc00::\/7 lookup main[\s\S]*2100:\s+from all lookup 118/, "client pod: IPv6 rules");
  t.same(routes(client.netns, "-4", "118").map((r) => r.dst), ["default"], "client pod: table 118 holds 0.0.0.0/0 through the tunnel");
  t.same(routes(client.netns, "-6", "118").map((r) => r.dst), ["default"], "client pod: table 118 holds ::/0 through the tunnel");
  await servedBy([topo.eg1, topo.eg2], client);
  const metrics = inNs(topo.eg1, ["curl", "-sf", "http://127.0.0.1:8080/metrics"]);
  t.match(metrics, new RegExp(`coil_egress_client_pod_info\\{namespace="default",pod="${client.name}",pod_ip="${client.v4.replaceAll(".", "\\.")}",interface="vx4_[0-9a-f]{8}",egress="egress",egress_namespace="internet"\\} 1`), "egress pod metrics: client_pod_info");

  for (const [family, target, egIP] of [["IPv4", V4.target, V4.eg1], ["IPv6", V6.target, V6.eg1]] as const) {
    const r = transfer(client.netns, target, ROUNDS);
    t.same({ ok: r.ok, sources: r.sources, error: r.error }, { ok: ROUNDS, sources: [egIP], error: undefined }, `${family}: ${ROUNDS} × 1 MiB echoed; the server saw egress pod 1's address only, never the client's`);
    if (r.error === undefined) figure(t, `${backend} ${family} through the VXLAN egress: ${rate(r)}`);
  }
  if (backend === "nftables") {
    const m = inNs(topo.eg1, ["curl", "-sf", "http://127.0.0.1:8080/metrics"]);
    const packets = /coil_egress_nftables_masqueraded_packets_total\{[^}]*protocol="ipv4"\} (\d+)/.exec(m);
    t.ok(packets !== null && Number(packets[1]) > 0, "masqueraded packets counted from the kernel's nft counter");
  }

  // §9.11 item 13, off: the client's replies to an ingress connection go into the tunnel.
  await startServer(t, client.netns, HELLO_SERVER);
  t.notOk(ingress(topo.inet, client.v4), "originating-only off: IPv4 ingress to the client pod fails");
  t.notOk(ingress(topo.inet, `[${client.v6}]`), "originating-only off: IPv6 ingress to the client pod fails");

  // Destinations changed live: coild's EgressWatcher updates the running pod in place.
  const eth0 = (): string => ip(client.netns, "-j", "link", "show", "dev", "eth0");
  const before = eth0();
  const t0 = performance.now();
  await patchDestinations(h.a, [`${V4.target}/32`, `${V6.target}/128`]);
  await waitFor("table 118 follows the new destinations", () => {
    const [r4, r6] = [routes(client.netns, "-4", "118"), routes(client.netns, "-6", "118")];
    return r4.length === 1 && r4[0]?.dst === V4.target && r6.length === 1 && r6[0]?.dst === V6.target;
  }, { timeoutMs: 60_000, intervalMs: 10 });
  figure(t, `${backend}: Egress destinations change → new table-118 route in the running client pod: ${(performance.now() - t0).toFixed(0)} ms`);
  t.equal(eth0(), before, "the pod was not restarted (same eth0, same namespace)");
  for (const [family, target] of [["IPv4", V4.target], ["IPv6", V6.target]] as const) {
    const r = transfer(client.netns, target, 5);
    t.same({ ok: r.ok, sources: r.sources }, { ok: 5, sources: [family === "IPv4" ? V4.eg1 : V6.eg1] }, `${family}: after the change the target is still reached through the egress`);
  }
  await patchDestinations(h.a, ["0.0.0.0/0", "::/0"]);
  await waitFor("table 118 back to the default routes", () => routes(client.netns, "-4", "118")[0]?.dst === "default" && routes(client.netns, "-6", "118")[0]?.dst === "default", { timeoutMs: 60_000, intervalMs: 10 });

  // The same transfer without egress: a pod without the annotation, routed by node A to the internet.
  if (backend === "nftables") {
    const plain = await addClient(t, h, socket, "plain", {});
    t.same(routes(plain.netns, "-4", "118"), [], "a pod without the annotation gets no NAT routes");
    for (const [family, target, self] of [["IPv4", V4.target, plain.v4], ["IPv6", V6.target, plain.v6]] as const) {
      const r = transfer(plain.netns, target, ROUNDS);
      t.same({ ok: r.ok, sources: r.sources }, { ok: ROUNDS, sources: [self] }, `${family} without egress: ${ROUNDS} × 1 MiB echoed, the server saw the pod itself`);
      if (r.error === undefined) figure(t, `${family} without egress (routed, no tunnel, no NAT): ${rate(r)}`);
    }
  }

  // §9.11 item 13, on: coild restarted with --enable-originating-only, a new client pod.
  await stopProcess(coild.child, "SIGTERM");
  coild = await startCoild(h, topo.nodeA, socket, [`--backend=${backend}`, "--enable-originating-only=true"]);
  const oo = await addClient(t, h, socket, `nat-client-oo-${backend}`, ANNOTATION);
  await servedBy([topo.eg1, topo.eg2], oo);
  await startServer(t, oo.netns, HELLO_SERVER);
  t.ok(ingress(topo.inet, oo.v4), "originating-only on: IPv4 ingress to the client pod works");
  t.ok(ingress(topo.inet, `[${oo.v6}]`), "originating-only on: IPv6 ingress to the client pod works");
  const connmark = backend === "nftables" ? inNs(oo.netns, ["nft", "list", "table", "ip", "mangle"]) : inNs(oo.netns, ["iptables-save", "-t", "mangle"]);
  t.match(connmark, backend === "nftables" ? /ct mark set/ : /CONNMARK --set-xmark/, `originating-only: connmark rules (${backend})`);
  for (const [family, target, egIP] of [["IPv4", V4.target, V4.eg1], ["IPv6", V6.target, V6.eg1]] as const) {
    const r = transfer(oo.netns, target, 5);
    t.same({ ok: r.ok, sources: r.sources }, { ok: 5, sources: [egIP] }, `originating-only on, ${family}: pod-originated connections still go through the egress`);
  }

  // Egress pod 1 dies: its process and its network go, kube-proxy moves the Service to pod 2.
  await stopProcess(eg1.child, "SIGKILL");
  ip(topo.nodeB, "link", "del", "veg1");
  serviceDnat(topo.nodeA, { v4: V4.eg2, v6: V6.eg2 });
  for (const [family, target, egIP] of [["IPv4", V4.target, V4.eg2], ["IPv6", V6.target, V6.eg2]] as const) {
    // The first new flow may wait for the neighbour entry of the tunnel's far end to be probed again.
    await eventually(`${family}: a new flow reaches the target through egress pod 2`, () => (transfer(client.netns, target, 1).ok === 1 ? true : undefined), { timeoutMs: 60_000, intervalMs: 200 });
    const r = transfer(client.netns, target, 5);
    t.same({ ok: r.ok, sources: r.sources }, { ok: 5, sources: [egIP] }, `egress pod 1 gone, ${family}: new flows of the client fail over to egress pod 2`);
  }
  t.teardown(() => terminateProcess(coild.child, 10_000));
}

if (requireRoot(t)) {
  const started = await startCoilControlPlaneOrSkip(t, { serviceClusterIPRange: "10.0.0.0/24,fd00:10:96::/112" });
  if (started !== undefined) {
    const { cp, kc } = started;
    const a = api(kc);
    const ctrl = await startController(kc, "egress-datapath", NO_ELECTION);
    t.teardown(async () => {
      await ctrl.close();
      a.clients.destroy();
      await cp.stop();
    });
    const dir = await mkdtemp(join(tmpdir(), "coil-egress-e2e-"));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    await createPool(a, "default", 3, [{ ipv4: POOL.v4, ipv6: POOL.v6 }]);
    await a.core.createNode({ body: { metadata: { name: NODE_A.name }, status: { addresses: [{ type: "InternalIP", address: NODE_A.v4 }, { type: "InternalIP", address: NODE_A.v6 }] } } });
    await eventually("namespace default", async () => ((await a.core.readNamespace({ name: "default" }).catch(() => undefined)) === undefined ? undefined : true));
    await eventually("controller leads", () => (ctrl.isLeader() ? true : undefined));
    await createInternetEgress(a);
    const h: Harness = { a, kubeconfig: cp.kubeconfigPath, server: cp.server, dir };
    for (const backend of ["nftables", "iptables"] as const) await t.test(`egress over VXLAN, ${backend} backend`, (t) => backendCase(t, h, backend));
    t.teardown(() => {
      if (figures.length > 0) console.log(`# egress figures\n${figures.map((f) => `#   ${f}`).join("\n")}`);
    });
  }
}
