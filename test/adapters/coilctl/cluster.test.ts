// coilctl's snapshot (adapters/coilctl/cluster.ts) against a real kube-apiserver: a pod that starts
// while the coild views are read is in the snapshot, so its address is not reported as leaked.
// The node proxy answer (coild's /allocations) is produced here, at the moment the view is read —
// the e2e test (test/e2e/coilctl.test.ts) reads a real coild through the real node proxy.
import t from "tap";
import { checkLeaks, type NodeAllocations } from "../../../lib/report/index.js";
import { JOINED_REASON, readSnapshot } from "../../../adapters/coilctl/cluster.js";
import { coilClient, makeClients } from "../../../adapters/k8s/index.js";
import { startCoilControlPlaneOrSkip } from "../../helpers/coil-envtest.js";

const started = await startCoilControlPlaneOrSkip(t);
if (started !== undefined) {
  const { cp, kc } = started;
  const clients = makeClients(kc);
  t.teardown(async () => {
    clients.destroy();
    await cp.stop();
  });

  await t.test("a pod started while the views are read is listed with its address", async (t) => {
    const real = clients.core;
    await real.createNode({ body: { metadata: { name: "n1" } } });
    const view = (): NodeAllocations => ({
      node: "n1",
      generatedAt: new Date().toISOString(),
      blocks: [{ name: "default-0", pool: "default", ipv4: "10.0.0.0/29" as never, ipv6: null, used: 1, size: 8 }],
      addresses: [{ pool: "default", block: "default-0", ipv4: "10.0.0.5" as never, ipv6: null, containerId: "c-new", ifname: "eth0", hostVeth: null }],
      kernel: null,
    });
    // coild answers for n1 while kubelet has just started pod p-new there: the Pod exists (with
    // its address in its status) by the time the answer is back.
    let proxied = 0;
    const core = new Proxy(real, {
      get(target, prop, receiver) {
        if (prop !== "connectGetNodeProxyWithPath") return Reflect.get(target, prop, receiver) as unknown;
        return async (): Promise<string> => {
          proxied += 1;
          await real.createNamespacedPod({ namespace: "default", body: { metadata: { name: "p-new" }, spec: { nodeName: "n1", containers: [{ name: "c", image: "example.invalid/none" }] } } });
          const p = await real.readNamespacedPod({ namespace: "default", name: "p-new" });
          await real.replaceNamespacedPodStatus({ namespace: "default", name: "p-new", body: { ...p, status: { phase: "Running", podIP: "10.0.0.5", podIPs: [{ ip: "10.0.0.5" }] } } });
          return JSON.stringify(view());
        };
      },
    });
    const s = (await readSnapshot({ core, coil: coilClient(clients.custom), coildPort: 9385, nodeTimeoutMs: 10_000 }))._unsafeUnwrap();
    t.equal(proxied, 1, "n1's view was read");
    t.same(
      s.pods.map((p) => [p.name, p.ips]),
      [["p-new", ["10.0.0.5"]]],
      "the pod is in the snapshot",
    );
    const report = checkLeaks(s, { nowMs: Date.now() + 3_600_000, gracePeriodMs: 300_000 })._unsafeUnwrap();
    t.equal(report.counts["address-of-missing-pod"], 0, "its address is not reported as leaked");
  });

  await t.test("a node that joins while the views are read: its first block and BlockRequest are not of a missing node", async (t) => {
    const real = clients.core;
    const coil = coilClient(clients.custom);
    // While n1's coild answers, n2 joins and its coild asks for a block, which the controller makes.
    let joined = 0;
    const core = new Proxy(real, {
      get(target, prop, receiver) {
        if (prop !== "connectGetNodeProxyWithPath") return Reflect.get(target, prop, receiver) as unknown;
        return async (): Promise<string> => {
          if (joined++ === 0) {
            await real.createNode({ body: { metadata: { name: "n2" } } });
            (await coil.requests.create({ metadata: { name: "req-default-n2" }, spec: { nodeName: "n2", poolName: "default" } }))._unsafeUnwrap();
            const labels = { "coil.cybozu.com/node": "n2", "coil.cybozu.com/pool": "default" };
            (await coil.blocks.create({ metadata: { name: "default-1", labels, finalizers: ["coil.cybozu.com"] }, index: 1, ipv4: "10.0.0.8/29" }))._unsafeUnwrap();
          }
          return JSON.stringify({ node: "n1", generatedAt: new Date().toISOString(), blocks: [], addresses: [], kernel: null } satisfies NodeAllocations);
        };
      },
    });
    const s = (await readSnapshot({ core, coil, coildPort: 9385, nodeTimeoutMs: 10_000 }))._unsafeUnwrap();
    t.ok(s.blocks.some((b) => b.name === "default-1"), "n2's block is in the snapshot");
    t.ok(s.nodes.includes("n2"), "so is n2");
    t.same(s.views.map((v) => [v.node, "error" in v ? v.error : "read"]), [["n1", "read"], ["n2", JOINED_REASON]], "n2's view was not read, and the snapshot says so");
    const report = checkLeaks(s, { nowMs: Date.now(), gracePeriodMs: 300_000 })._unsafeUnwrap();
    t.same(report.findings.filter((f) => f.node === "n2").map((f) => `${f.category} ${f.subject}`), [], "nothing of n2 reported (a release would delete them)");
  });
}
