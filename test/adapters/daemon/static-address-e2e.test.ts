/**
 * Static addresses end to end (beyond Coil, docs/static-addresses.md), privileged: a REAL
 * kube-apiserver + etcd, the real coil-ipam-controller (in-process), two real coild processes
 * (`--store=kubernetes`, nodes `sa-node-a` and `sa-node-b`) in their own host netns, and the real
 * `coil` executable. A pod annotated `coil-ts.cybozu.com/static-ip` in a `blockSizeBits: 0` pool
 * gets its address on node A, a pod asking for the same address on node B is refused naming node
 * A, bad annotations are refused with nothing created, and once the pod is deleted on node A it
 * gets the same address on node B (the block moves; table 119 follows).
 */
import t from "tap";
import { execFileSync, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireRoot, withNetns, type TestNetns } from "../../helpers/netns.js";
import { relayApiIntoNetns, type ApiRelay } from "../../helpers/api-relay.js";
import { eventually, startCoilControlPlaneOrSkip } from "../../helpers/coil-envtest.js";
import { addNodeAddresses, runCoil, startCoildInNetns, stopProcess, type CniRun } from "../../helpers/test-host.js";
import { api, NO_ELECTION, startController } from "../ipam-controller/harness.js";

const NS = "stat";
const ipj = (ns: string, args: string[]): unknown => JSON.parse(execFileSync("ip", ["-n", ns, "-j", ...args]).toString() || "[]");
/** Table 119's destinations (`ip -j` prints a host route without its prefix length; a table never used does not exist). */
const routes = (ns: string, family: "-4" | "-6"): { dst: string }[] => {
  try {
    return ipj(ns, [family, "route", "show", "table", "119"]) as { dst: string }[];
  } catch {
    return [];
  }
};
const t119 = (ns: string): string[] => [...routes(ns, "-4"), ...routes(ns, "-6")].map((r) => r.dst).sort();
const ipsOf = (stdout: string): string[] => (JSON.parse(stdout) as { ips: { address: string }[] }).ips.map((i) => i.address);

t.test("a static address: refused precisely, honoured on whichever node the pod runs", async (t) => {
  if (!requireRoot(t)) return;
  const started = await startCoilControlPlaneOrSkip(t);
  if (started === undefined) return;
  const { cp, kc } = started;
  const a = api(kc);
  const ctrl = await startController(kc, "sa-ctrl", NO_ELECTION);
  const dir = mkdtempSync(join(tmpdir(), "coild-static-e2e-"));
  const procs: ChildProcess[] = [];
  const relays: ApiRelay[] = [];
  t.teardown(async () => {
    for (const p of procs) await stopProcess(p, "SIGKILL");
    for (const r of relays) await r.close();
    await ctrl.close();
    a.clients.destroy();
    await cp.stop();
  });
  for (const [name, v4, v6] of [["sa-node-a", "10.20.30.41", "fd10::41"], ["sa-node-b", "10.20.30.42", "fd10::42"]] as const) {
    await a.core.createNode({ body: { metadata: { name }, status: { addresses: [{ type: "InternalIP", address: v4 }, { type: "InternalIP", address: v6 }] } } });
  }
  (
    await a.coil.pools.create({
      metadata: {
        name: "st",
        finalizers: ["coil.cybozu.com"],
        annotations: { "coil-ts.cybozu.com/reserved-ranges": "10.200.0.0", "coil-ts.cybozu.com/static-ranges": "10.200.0.8-10.200.0.15" },
      },
      spec: { blockSizeBits: 0, subnets: [{ ipv4: "10.200.0.0/28", ipv6: "fd02:200::/124" }] },
    })
  )._unsafeUnwrap();
  await a.core.createNamespace({ body: { metadata: { name: NS, annotations: { "coil.cybozu.com/pool": "st" } } } });
  const pod = async (name: string, staticIp?: string): Promise<void> => {
    const annotations = staticIp === undefined ? undefined : { "coil-ts.cybozu.com/static-ip": staticIp };
    await a.core.createNamespacedPod({ namespace: NS, body: { metadata: { name, ...(annotations === undefined ? {} : { annotations }) }, spec: { containers: [{ name: "c", image: "x" }] } } });
  };
  await pod("web-0", "10.200.0.9");
  await pod("web-1", "fd02:200::9");
  await pod("dyn");
  await pod("outside", "10.9.9.9");
  await pod("reserved", "10.200.0.0");
  await pod("mismatch", "10.200.0.9,fd02:200::a");
  await pod("garbage", "10.200.0.x");
  await eventually("leader", () => (ctrl.isLeader() ? true : undefined));

  const nodes: Record<"a" | "b", { host: TestNetns; sock: string }> = {} as never;
  for (const [k, name] of [["a", "sa-node-a"], ["b", "sa-node-b"]] as const) {
    const host = withNetns(t, `coiltest-sa${k}`);
    addNodeAddresses(host.name);
    const d = mkdtempSync(join(dir, `${k}-`));
    relays.push(await relayApiIntoNetns(host, cp.server, d));
    const flags = ["--store=kubernetes", `--kubeconfig=${cp.kubeconfigPath}`, `--socket=${join(d, "coild.sock")}`, "--metrics-addr=127.0.0.1:9384", "--health-addr=127.0.0.1:9385"];
    const c = await startCoildInNetns({ netnsPath: host.path, flags, nodeName: name });
    procs.push(c.child);
    nodes[k] = { host, sock: join(d, "coild.sock") };
  }
  const cni = (cmd: string, id: string, on: "a" | "b", netns: TestNetns): Promise<CniRun> =>
    runCoil({ cmd, containerId: id, netns: netns.path, socket: nodes[on].sock, rpc: "fast", podNamespace: NS });
  const blocks = async (): Promise<string[]> =>
    (await a.coil.blocks.list({ labelSelector: "coil.cybozu.com/pool=st" }))._unsafeUnwrap().items.map((b) => `${b.metadata.name}@${b.metadata.labels?.["coil.cybozu.com/node"]}`).sort();
  const requests = async (): Promise<string[]> => (await a.coil.requests.list())._unsafeUnwrap().items.map((r) => r.metadata.name).filter((n) => n.includes("static")).sort();

  const webA = withNetns(t, "coiltest-pod");
  const r0 = await cni("ADD", "web-0", "a", webA);
  t.equal(r0.code, 0, r0.stdout);
  t.same(ipsOf(r0.stdout), ["10.200.0.9/32", "fd02:200::9/128"], "the annotated address (IPv6 at the same slot)");
  t.same(await blocks(), ["st-9@sa-node-a"], "its one-address block, owned by node A");
  t.same(t119(nodes.a.host.name), ["10.200.0.9", "fd02:200::9"], "exported by node A");
  t.same(await requests(), [], "the static BlockRequest is deleted once answered");

  const dynA = withNetns(t, "coiltest-pod");
  const d0 = await cni("ADD", "dyn", "a", dynA);
  t.equal(d0.code, 0, d0.stdout);
  t.same(ipsOf(d0.stdout), ["10.200.0.1/32", "fd02:200::1/128"], "a dynamic pod skips the reserved .0 (and the static-only range)");

  const before = await blocks();
  const refusals: [string, "a" | "b", RegExp][] = [
    ["web-1", "b", /^static address fd02:200::9 of pool st: block st-9 \(10\.200\.0\.9\/32, fd02:200::9\/128\) is owned by node sa-node-a \(BlockRequest req-st-sa-node-b-static-9: block in use\)$/],
    ["outside", "a", /^10\.9\.9\.9 is outside pool st \(subnets 10\.200\.0\.0\/28, fd02:200::\/124\)$/],
    ["reserved", "b", /^10\.200\.0\.0 is reserved in pool st \(coil-ts\.cybozu\.com\/reserved-ranges: 10\.200\.0\.0\)$/],
    ["mismatch", "a", /^10\.200\.0\.9 and fd02:200::a are not the same slot of pool st \(block 9 slot 0, block 10 slot 0\)$/],
    ["garbage", "a", /^pod stat\/garbage: annotation coil-ts\.cybozu\.com\/static-ip: "10\.200\.0\.x": "10\.200\.0\.x" is not an IP address$/],
  ];
  for (const [id, on, details] of refusals) {
    const ns = withNetns(t, "coiltest-pod");
    const r = await cni("ADD", id, on, ns);
    t.not(r.code, 0, `${id}: ADD fails`);
    t.match(JSON.parse(r.stdout), { code: 999, msg: "failed to allocate address", details }, `${id}: precise message`);
    t.same((ipj(ns.name, ["link", "show"]) as { ifname: string }[]).map((l) => l.ifname), ["lo"], `${id}: no pod interface`);
  }
  t.same(await blocks(), before, "no refusal created or moved a block");
  t.same(t119(nodes.b.host.name), [], "node B exports nothing");
  t.same(await requests(), [], "no static BlockRequest left behind");

  t.equal((await cni("DEL", "web-0", "a", webA)).code, 0);
  // coild returns an emptied block right after the DEL answered (docs/differences.md).
  await eventually("the emptied static block returned", async () => ((await blocks()).length === 1 ? true : undefined));
  t.same(await blocks(), ["st-1@sa-node-a"], "the emptied static block is returned");
  const webB = withNetns(t, "coiltest-pod");
  const moved = await eventually("web-0 on node B", async () => {
    const r = await cni("ADD", "web-0", "b", webB);
    return r.code === 0 ? r : undefined;
  });
  t.same(ipsOf(moved.stdout), ["10.200.0.9/32", "fd02:200::9/128"], "the same address on node B");
  t.same(await blocks(), ["st-1@sa-node-a", "st-9@sa-node-b"], "the block moved to node B");
  t.same(t119(nodes.b.host.name), ["10.200.0.9", "fd02:200::9"], "exported by node B");
  await eventually("node A stopped exporting it", () => (t119(nodes.a.host.name).includes("10.200.0.9") ? undefined : true));
  const again = await cni("ADD", "web-0", "b", webB);
  t.same(ipsOf(again.stdout), ["10.200.0.9/32", "fd02:200::9/128"], "a repeated ADD gives the same answer");

  t.equal((await cni("DEL", "web-0", "b", webB)).code, 0);
  t.equal((await cni("DEL", "dyn", "a", dynA)).code, 0);
  await eventually("every block returned", async () => ((await blocks()).length === 0 ? true : undefined));
  t.pass("every block returned");
});
