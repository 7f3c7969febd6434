// Two replicas and restarts against a real kube-apiserver: only the Lease holder acts, the other
// takes over when the leader stops, and a controller process killed mid-flight (SIGKILL, no lease
// release) and restarted leaves every request with exactly one block and no index used twice.
import t from "tap";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { eventually, waitFor } from "../../helpers/coil-envtest.js";
import { controlPlaneWithApi, createNodes, createPool, createRequest, startController, waitCompleted } from "./harness.js";
import { sourceChildEnv } from "../../helpers/child-env.js";

const MAIN = fileURLToPath(new URL("../../../adapters/ipam-controller/main.ts", import.meta.url));

const started = await controlPlaneWithApi(t);
if (started !== undefined) {
  const { cp, kc, a } = started;
  await createNodes(a, "node1", "node2");
  await createPool(a, "default", 0, [{ ipv4: "10.20.0.0/24" }]);
  // An orphan block (its node does not exist) present before any controller starts.
  (await a.coil.blocks.create({ metadata: { name: "default-200", labels: { "coil.cybozu.com/pool": "default", "coil.cybozu.com/node": "ghost" }, finalizers: ["coil.cybozu.com"] }, index: 200, ipv4: "10.20.0.200/32" }))._unsafeUnwrap();

  await t.test("two replicas: only the leader acts; the other takes over", async (t) => {
    const r1 = await startController(kc, "replica-1");
    const r2 = await startController(kc, "replica-2");
    const leader = await eventually("one leader", () => (r1.isLeader() ? r1 : r2.isLeader() ? r2 : undefined));
    const follower = leader === r1 ? r2 : r1;
    await eventually("GC at leadership start removes the orphan", async () => ((await a.coil.blocks.get("default-200")).isErr() ? true : undefined));
    await createRequest(a, "a0", "default", "node1");
    t.equal((await waitCompleted(a, "a0")).status?.addressBlockName, "default-0");
    // Instead of a fixed pause: let the leader renew the Lease three more times. Both replicas run
    // on this event loop with the same 200 ms retry period, so the follower has made (and lost)
    // campaign attempts meanwhile.
    const leaderId = leader === r1 ? "replica-1" : "replica-2";
    const renewals = new Set<string>();
    const holders = new Set<string>();
    await waitFor(
      "the leader to renew the Lease 3 more times",
      async () => {
        const l = await a.clients.coordination.readNamespacedLease({ name: "coil-ipam-leader", namespace: "kube-system" });
        holders.add(l.spec?.holderIdentity ?? "");
        renewals.add(l.metadata?.resourceVersion ?? ""); // every renewal is a write
        return renewals.size >= 4;
      },
      { describe: () => ({ renewals: [...renewals], holders: [...holders] }) },
    );
    t.same([...holders], [leaderId], "the Lease named only the leader meanwhile");
    t.notOk(follower.isLeader(), "follower does not lead");
    t.equal(follower.pools.usedIndexes("default"), undefined, "follower never synced a pool");
    t.notMatch(await follower.metrics.registry.metrics(), /pool="default"/, "follower exports no pool series");
    const status = async (r: typeof leader): Promise<string | undefined> => /^leader_election_master_status\{name="coil-ipam-leader"\} (\d)$/m.exec(await r.metrics.registry.metrics())?.[1];
    t.same([await status(leader), await status(follower)], ["1", "0"], "leader_election_master_status: 1 on the leader, 0 on the follower");
    t.same(leader.pools.usedIndexes("default"), [0]);
    const lease = await a.clients.coordination.readNamespacedLease({ name: "coil-ipam-leader", namespace: "kube-system" });
    t.equal(lease.spec?.holderIdentity, leader === r1 ? "replica-1" : "replica-2", "Lease kube-system/coil-ipam-leader names the leader");

    await leader.close();
    t.equal(await leader.done, "stopped");
    t.equal(await status(leader), "0", "a stopped leader reports 0");
    await eventually("follower leads", () => (follower.isLeader() ? true : undefined), { timeoutMs: 10_000 });
    t.equal(await status(follower), "1", "the new leader reports 1");
    await createRequest(a, "a1", "default", "node2");
    t.equal((await waitCompleted(a, "a1")).status?.addressBlockName, "default-1", "new leader serves new requests");
    await follower.close();
  });

  await t.test("controller killed mid-flight and restarted: one block per request, no index twice", async (t) => {
    const spawnController = (): ChildProcess =>
      spawn(
        process.execPath,
        [
          "--import", "tsx", MAIN,
          `--kubeconfig=${cp.kubeconfigPath}`,
          "--metrics-addr=127.0.0.1:0",
          "--health-addr=127.0.0.1:0",
          // Its own port: the default :9443 may be held by another test's or program's webhook.
          "--webhook-addr=127.0.0.1:0",
          // Each Lease request gets half the renew deadline (2 s) before the leader gives up: a
          // loaded machine must not make the first process step down before it is killed.
          "--leader-elect-lease-duration=6s",
          "--leader-elect-renew-deadline=4s",
          "--leader-elect-retry-period=500ms",
        ],
        { stdio: ["ignore", "ignore", "pipe"], env: sourceChildEnv() },
      );
    const N = 150;
    const first = spawnController();
    let logs = "";
    first.stderr?.setEncoding("utf8").on("data", (d: string) => (logs += d));
    await eventually("first process leads", () => (logs.includes('"became leader"') ? true : undefined), {
      timeoutMs: 30_000,
      abortIf: () => (first.exitCode === null && first.signalCode === null ? undefined : `the controller exited (${String(first.exitCode ?? first.signalCode)})`),
      describe: () => logs.slice(-2000),
    });
    const creating = (async () => {
      for (let i = 0; i < N; i++) await createRequest(a, `k${i}`, "default", i % 2 === 0 ? "node1" : "node2");
    })();
    await eventually(
      "some requests served",
      async () => ((await a.coil.blocks.list())._unsafeUnwrap().items.length >= 20 ? true : undefined),
      { intervalMs: 5 },
    );
    first.kill("SIGKILL");
    await once(first, "exit");
    const servedBeforeKill = (await a.coil.blocks.list())._unsafeUnwrap().items.length - 2;
    await creating;
    const second = spawnController();
    t.teardown(() => {
      second.kill("SIGTERM");
    });
    const results = await Promise.all(Array.from({ length: N }, (_, i) => waitCompleted(a, `k${i}`, 60_000)));
    t.comment(`killed after ${servedBeforeKill} of ${N} requests had blocks`);
    t.ok(servedBeforeKill > 0 && servedBeforeKill < N, "the kill happened mid-flight");
    const blocks = (await a.coil.blocks.list())._unsafeUnwrap().items;
    const byName = new Map(blocks.map((b) => [b.metadata.name, b]));
    let mismatches = 0;
    for (const r of results) {
      const mine = blocks.filter((b) => b.metadata.labels?.["coil.cybozu.com/request"] === r.metadata.uid);
      if (mine.length !== 1 || mine[0]?.metadata.name !== r.status?.addressBlockName) mismatches++;
      if (byName.get(r.status?.addressBlockName ?? "")?.metadata.labels?.["coil.cybozu.com/node"] !== r.spec.nodeName) mismatches++;
    }
    t.equal(mismatches, 0, "every request has exactly one block, the one its status names, for its node");
    t.equal(blocks.length, N + 2, "no extra blocks (a0, a1 + one per request)");
    const indexes = blocks.map((b) => b.index);
    t.equal(new Set(indexes).size, indexes.length, "no index assigned twice");
    t.same([...indexes].sort((x, y) => x - y), Array.from({ length: N + 2 }, (_, i) => i), "indexes are 0..N+1 without holes");
    second.kill("SIGTERM");
    const [code] = (await once(second, "exit")) as [number | null];
    t.equal(code, 0, "SIGTERM → clean exit");
  });
}
