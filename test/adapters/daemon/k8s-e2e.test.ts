/**
 * Privileged end-to-end on the Kubernetes store: a REAL kube-apiserver + etcd, the real
 * coil-ipam-controller (in-process), the real coild process (adapters/daemon/main.ts,
 * `--store=kubernetes`) inside a test "host" netns, and the real `coil` executable doing ADD/DEL
 * for pods in further netns. coild reaches the API server at the kubeconfig's 127.0.0.1:<port>
 * through the shared loopback relay (test/helpers/api-relay.ts): a TCP listener inside the test host netns → a UNIX socket → the API
 * server in the machine's netns (no link, address or route is added outside test namespaces).
 */
import t from "tap";
import { execFileSync, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireRoot, withNetns, type TestNetns } from "../../helpers/netns.js";
import { relayApiIntoNetns, type ApiRelay } from "../../helpers/api-relay.js";
import { eventually, startCoilControlPlaneOrSkip } from "../../helpers/coil-envtest.js";
import { addNodeAddresses, runCoil, startCoildInNetns, stopProcess, type CniRun, type CoildProcess } from "../../helpers/test-host.js";
import { api, createPool, NO_ELECTION, startController } from "../ipam-controller/harness.js";

const ipj = (ns: string, args: string[]): unknown => JSON.parse(execFileSync("ip", ["-n", ns, "-j", ...args]).toString() || "[]");

function startCoild(host: TestNetns, dir: string, kubeconfig: string): Promise<CoildProcess> {
  const flags = ["--store=kubernetes", `--kubeconfig=${kubeconfig}`, `--socket=${join(dir, "coild.sock")}`,
    "--metrics-addr=127.0.0.1:9384", "--health-addr=127.0.0.1:9385", "--enable-egress=false"];
  return startCoildInNetns({ netnsPath: host.path, flags, nodeName: "e2e" });
}

function coil(cmd: string, id: string, netns: string, podNs: string, sock: string, rpc: "fast" | "grpc"): Promise<CniRun> {
  return runCoil({ cmd, containerId: id, netns, socket: sock, rpc, podNamespace: podNs });
}

const stop = stopProcess;

const ipsOf = (stdout: string): string[] => (JSON.parse(stdout) as { ips: { address: string }[] }).ips.map((i) => i.address);

t.test("real coild on the Kubernetes store, real coil executable, real API server", async (t) => {
  if (!requireRoot(t)) return;
  const started = await startCoilControlPlaneOrSkip(t);
  if (started === undefined) return;
  const { cp, kc } = started;
  const a = api(kc);
  const ctrl = await startController(kc, "e2e-ctrl", NO_ELECTION);
  const dir = mkdtempSync(join(tmpdir(), "coild-k8s-e2e-"));
  const relays: { api?: ApiRelay; coild?: ChildProcess } = {};
  t.teardown(async () => {
    if (relays.coild !== undefined) await stop(relays.coild, "SIGKILL");
    await relays.api?.close();
    await ctrl.close();
    a.clients.destroy();
    await cp.stop();
  });
  await a.core.createNode({ body: { metadata: { name: "e2e" }, status: { addresses: [{ type: "InternalIP", address: "10.20.30.41" }, { type: "InternalIP", address: "fd10::41" }] } } });
  await createPool(a, "default", 3, [{ ipv4: "10.100.0.0/24", ipv6: "fd02::/120" }]);
  await createPool(a, "b", 2, [{ ipv4: "10.101.0.0/24" }]);
  await a.core.createNamespace({ body: { metadata: { name: "team-b", annotations: { "coil.cybozu.com/pool": "b" } } } });
  await eventually("namespace default", async () => ((await a.core.readNamespace({ name: "default" }).catch(() => undefined)) === undefined ? undefined : true));
  await eventually("leader", () => (ctrl.isLeader() ? true : undefined));

  const host = withNetns(t, "coiltest-host");
  addNodeAddresses(host.name);
  relays.api = await relayApiIntoNetns(host, cp.server, dir);
  const t0 = Date.now();
  const coild = await startCoild(host, dir, cp.kubeconfigPath);
  relays.coild = coild.child;
  t.comment(`coild (--store=kubernetes) serving after ${Date.now() - t0} ms`);
  t.comment(`of which connecting to the API (Node GET, block + namespace LIST/watch): ${/"msg":"Kubernetes store ready".*"ms":(\d+)/.exec(coild.log())?.[1] ?? "?"} ms`);
  t.match(coild.log(), /"hostIPv4":"10\.20\.30\.41","hostIPv6":"fd10::41"/, "node addresses read from the Node object");
  const sock = join(dir, "coild.sock");

  const p1 = withNetns(t, "coiltest-pod");
  const p2 = withNetns(t, "coiltest-pod");
  const p3 = withNetns(t, "coiltest-pod");
  const a1 = await coil("ADD", "c1", p1.path, "default", sock, "fast");
  const a2 = await coil("ADD", "c2", p2.path, "default", sock, "grpc");
  const a3 = await coil("ADD", "c3", p3.path, "team-b", sock, "fast");
  t.equal(a1.code, 0, a1.stdout);
  t.equal(a2.code, 0, a2.stdout);
  t.equal(a3.code, 0, a3.stdout);
  t.same(ipsOf(a1.stdout), ["10.100.0.0/32", "fd02::/128"]);
  t.same(ipsOf(a2.stdout), ["10.100.0.1/32", "fd02::1/128"]);
  t.same(ipsOf(a3.stdout), ["10.101.0.0/32"], "namespace team-b → pool b");
  const blocks = (await a.coil.blocks.list({ labelSelector: "coil.cybozu.com/node=e2e" }))._unsafeUnwrap().items;
  t.same(blocks.map((b) => `${b.metadata.name} ${b.ipv4 ?? ""} ${b.ipv6 ?? ""}`).sort(), ["b-0 10.101.0.0/30 ", "default-0 10.100.0.0/29 fd02::/125"]);
  const t119 = (ipj(host.name, ["-4", "route", "show", "table", "119"]) as { dst: string }[]).map((r) => r.dst).sort();
  t.same(t119, ["10.100.0.0/29", "10.101.0.0/30"], "both blocks exported to table 119");
  execFileSync("ip", ["netns", "exec", p1.name, "ping", "-c1", "-W2", "10.100.0.1"]);
  execFileSync("ip", ["netns", "exec", p1.name, "ping", "-c1", "-W2", "fd02::1"]);
  execFileSync("ip", ["netns", "exec", p1.name, "ping", "-c1", "-W2", "10.101.0.0"]);
  t.pass("pod-to-pod pings (IPv4, IPv6, across pools) through the test host netns");

  for (const [id, p, ns] of [["c1", p1, "default"], ["c2", p2, "default"], ["c3", p3, "team-b"]] as const) {
    t.equal((await coil("DEL", id, p.path, ns, sock, "fast")).code, 0);
  }
  // coild returns an emptied block after the DEL answered (docs/differences.md): wait for it.
  await eventually("every emptied block returned to the API", async () =>
    (await a.coil.blocks.list({ labelSelector: "coil.cybozu.com/node=e2e" }))._unsafeUnwrap().items.length === 0 ? true : undefined);
  await eventually("table 119 empty", () => ((ipj(host.name, ["route", "show", "table", "119"]) as unknown[]).length === 0 ? true : undefined));
  t.pass("every emptied block returned to the API, table 119 empty");
  t.comment(`coil executable ADD wall times (node start-up, first ones include BlockRequests): ${[a1, a2, a3].map((x) => x.ms.toFixed(0)).join(", ")} ms`);
  await stop(coild.child, "SIGTERM");
});
