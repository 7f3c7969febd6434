// coil-ipam-controller against a real kube-apiserver: Coil's §9.3.2/3 allocation sequences driven
// through BlockRequests, idempotency, pool deletion held by the finalizer, orphan-block GC on Node
// deletion, metrics and health endpoints.
import t from "tap";
import { eventually, startCoilControlPlaneOrSkip, waitFor } from "../../helpers/coil-envtest.js";
import type { AddressBlockObject, BlockRequestObject } from "../../../adapters/k8s/index.js";
import { api, createNodes, createPool, createRequest, deleteBlock, httpGet, startController, waitCompleted } from "./harness.js";

const started = await startCoilControlPlaneOrSkip(t);
if (started !== undefined) {
  const { cp, kc } = started;
  const a = api(kc);
  await createNodes(a, "node1", "node2", "node3");
  await createPool(a, "default", 1, [
    { ipv4: "10.2.0.0/29", ipv6: "fd02::200/125" },
    { ipv4: "10.3.0.0/30", ipv6: "fd02::300/126" },
  ]);
  await createPool(a, "v4", 2, [{ ipv4: "10.4.0.0/29" }]);
  const ctrl = await startController(kc, "only");
  t.teardown(async () => {
    await ctrl.close();
    a.clients.destroy();
    await cp.stop();
  });
  await eventually("leader", () => (ctrl.isLeader() ? true : undefined));

  const getBlock = async (name: string): Promise<AddressBlockObject> => (await a.coil.blocks.get(name))._unsafeUnwrap();
  const blocksOf = async (selector: string): Promise<AddressBlockObject[]> =>
    (await a.coil.blocks.list({ labelSelector: selector }))._unsafeUnwrap().items;
  const metric = async (name: string, pool: string): Promise<number | undefined> => {
    const text = await ctrl.metrics.registry.metrics();
    const m = new RegExp(`^${name}\\{pool="${pool}"\\} (\\d+)$`, "m").exec(text);
    return m === null ? undefined : Number(m[1]);
  };
  const cond = (r: BlockRequestObject) => (r.status?.conditions ?? []).map((c) => [c.type, c.status, c.reason, c.message]);

  await t.test("default pool: 6 blocks in index order, then out of blocks", async (t) => {
    const uid0 = await createRequest(a, "r0", "default", "node1");
    const r0 = await waitCompleted(a, "r0");
    t.equal(r0.status?.addressBlockName, "default-0");
    t.same(cond(r0), [["Complete", "True", "allocated", "allocated a block default-0"]]);
    t.match(r0.status?.conditions?.[0]?.lastTransitionTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const b0 = await getBlock("default-0");
    t.same([b0.index, b0.ipv4, b0.ipv6], [0, "10.2.0.0/31", "fd02::200/127"]);
    t.same(b0.metadata.labels, { "coil.cybozu.com/pool": "default", "coil.cybozu.com/node": "node1", "coil.cybozu.com/request": uid0 });
    t.same(b0.metadata.finalizers, ["coil.cybozu.com"]);
    const pool = (await a.coil.pools.get("default"))._unsafeUnwrap();
    t.same(b0.metadata.ownerReferences, [
      { apiVersion: "coil.cybozu.com/v2", kind: "AddressPool", name: "default", uid: pool.metadata.uid, controller: true, blockOwnerDeletion: true },
    ]);
    t.equal(await metric("coil_controller_max_blocks", "default"), 6);
    t.equal(await metric("coil_controller_allocated_blocks", "default"), 1);

    const want = [
      ["default-1", "10.2.0.2/31", "fd02::202/127"],
      ["default-2", "10.2.0.4/31", "fd02::204/127"],
      ["default-3", "10.2.0.6/31", "fd02::206/127"],
      ["default-4", "10.3.0.0/31", "fd02::300/127"],
      ["default-5", "10.3.0.2/31", "fd02::302/127"],
    ];
    for (const [i, [name, v4, v6]] of want.entries()) {
      await createRequest(a, `r${i + 1}`, "default", "node1");
      const r = await waitCompleted(a, `r${i + 1}`);
      t.equal(r.status?.addressBlockName, name);
      const b = await getBlock(name ?? "");
      t.same([b.ipv4, b.ipv6], [v4, v6], `${name} CIDRs`);
    }
    t.equal(await metric("coil_controller_allocated_blocks", "default"), 6);

    await createRequest(a, "r6", "default", "node1");
    const r6 = await waitCompleted(a, "r6");
    t.same(cond(r6), [
      ["Complete", "True", "completed with failure", "completed with failure"],
      ["Failed", "True", "out of blocks", "pool default does not have free blocks"],
    ]);
    t.equal(r6.status?.addressBlockName, undefined);
    t.equal((await blocksOf("coil.cybozu.com/pool=default")).length, 6);
  });

  await t.test("a deleted block's index is reused at once", async (t) => {
    await deleteBlock(a, "default-4");
    await eventually("resync after the block deletion", async () => ((await metric("coil_controller_allocated_blocks", "default")) === 5 ? true : undefined));
    await createRequest(a, "r7", "default", "node2");
    const r7 = await waitCompleted(a, "r7");
    t.equal(r7.status?.addressBlockName, "default-4");
    const b = await getBlock("default-4");
    t.same([b.index, b.ipv4, b.ipv6, b.metadata.labels?.["coil.cybozu.com/node"]], [4, "10.3.0.0/31", "fd02::300/127", "node2"]);
    t.equal(await metric("coil_controller_allocated_blocks", "default"), 6);
  });

  await t.test("v4 pool (bits 2): two blocks, third fails, reuse after delete", async (t) => {
    for (const [n, v4] of [["v0", "10.4.0.0/30"], ["v1", "10.4.0.4/30"]] as const) {
      await createRequest(a, n, "v4", "node1");
      const r = await waitCompleted(a, n);
      const b = await getBlock(r.status?.addressBlockName ?? "");
      t.same([b.ipv4, b.ipv6], [v4, undefined], `${n} → ${v4}, no IPv6`);
    }
    await createRequest(a, "v2", "v4", "node1");
    t.equal((await waitCompleted(a, "v2")).status?.conditions?.[1]?.reason, "out of blocks");
    await deleteBlock(a, "v4-1");
    await eventually("v4 resync", async () => ((await metric("coil_controller_allocated_blocks", "v4")) === 1 ? true : undefined));
    await createRequest(a, "v3", "v4", "node2");
    const v3 = await waitCompleted(a, "v3");
    t.equal(v3.status?.addressBlockName, "v4-1");
    t.equal((await getBlock("v4-1")).ipv4, "10.4.0.4/30");
  });

  await t.test("idempotency: clearing a completed request's conditions rewrites status, no second block", async (t) => {
    const r0 = (await a.coil.requests.get("r0"))._unsafeUnwrap();
    const before = (await a.coil.blocks.list())._unsafeUnwrap().items.length;
    (await a.coil.requests.replaceStatus({ ...r0, status: {} }))._unsafeUnwrap();
    const again = await waitCompleted(a, "r0");
    t.equal(again.status?.addressBlockName, "default-0");
    t.same(cond(again), [["Complete", "True", "allocated", "allocated a block default-0"]]);
    t.equal((await blocksOf(`coil.cybozu.com/request=${r0.metadata.uid}`)).length, 1, "still one block for the request");
    t.equal((await a.coil.blocks.list())._unsafeUnwrap().items.length, before, "no block created");
  });

  await t.test("a pool being deleted: no allocation, finalizer held while blocks exist", async (t) => {
    await createPool(a, "temp", 0, [{ ipv4: "10.9.0.0/30" }]);
    await createRequest(a, "t0", "temp", "node3");
    t.equal((await waitCompleted(a, "t0")).status?.addressBlockName, "temp-0");
    (await a.coil.pools.delete("temp"))._unsafeUnwrap();
    const deleting = (await a.coil.pools.get("temp"))._unsafeUnwrap();
    t.ok(deleting.metadata.deletionTimestamp, "pool has a deletionTimestamp");
    await eventually("cache sees the deletion", async () => {
      await createRequest(a, "t-probe", "temp", "node3");
      const r = await waitCompleted(a, "t-probe");
      (await a.coil.requests.delete("t-probe"))._unsafeUnwrap();
      return r.status?.conditions?.[1]?.reason === "out of blocks" ? true : (await deleteBlock(a, r.status?.addressBlockName ?? ""), undefined);
    });
    // Instead of a pause: prove the pool reconciler has decided on the deleting pool. Each round
    // marks the pool's gauge, touches the pool (an event) and waits until a reconcile's sync has
    // rewritten the gauge. Reconciles of one key never overlap, so by the end of round 3 the
    // reconcile of round 2 (which started after round 1's mark, when the cache already showed the
    // deletion) has finished, finalizer decision included.
    for (let round = 1; round <= 3; round++) {
      ctrl.metrics.setAllocated("temp", -1);
      (await a.coil.pools.mergePatch("temp", { metadata: { labels: { "test.coil.cybozu.com/round": String(round) } } }))._unsafeUnwrap();
      await waitFor(`pool temp reconciled (round ${round}: gauge rewritten by a sync)`, async () => (await metric("coil_controller_allocated_blocks", "temp")) === 1);
    }
    t.ok((await a.coil.pools.get("temp")).isOk(), "pool still exists while temp-0 exists");
    await deleteBlock(a, "temp-0");
    await eventually("pool gone", async () => ((await a.coil.pools.get("temp")).isErr() ? true : undefined));
    await eventually("metric series dropped", async () => ((await metric("coil_controller_max_blocks", "temp")) === undefined ? true : undefined));
    t.equal(ctrl.pools.usedIndexes("temp"), undefined, "state dropped");
  });

  await t.test("where a retry cannot help the outcome is terminal: logged, counted, not requeued", async (t) => {
    const counter = async (name: string, controller: string, result?: string): Promise<number> => {
      const text = await ctrl.metrics.registry.metrics();
      const labels = result === undefined ? `controller="${controller}"` : `controller="${controller}",result="${result}"`;
      const m = new RegExp(`^${name}\\{${labels}\\} (\\d+)$`, "m").exec(text);
      return m === null ? 0 : Number(m[1]);
    };
    const TERMINAL = "controller_runtime_terminal_reconcile_errors_total";
    const TOTAL = "controller_runtime_reconcile_total";
    const terminalBefore = await counter(TERMINAL, "blockrequest");
    // A pool that does not exist: the GET finds nothing; coild gives up and creates a new request.
    await createRequest(a, "x0", "nosuch", "node1");
    await waitFor("x0 failed terminally", async () => (await counter(TERMINAL, "blockrequest")) === terminalBefore + 1);
    const errorsAfter = await counter(TOTAL, "blockrequest", "error");
    // A pool whose blocks (2^5 addresses) do not fit its subnet (4 addresses): no allocator can be
    // built. The webhook would refuse it; here it is created directly.
    const addrPoolTerminal = await counter(TERMINAL, "addresspool");
    await createPool(a, "badpool", 5, [{ ipv4: "10.7.0.0/30" }]);
    await waitFor("badpool's sync failed terminally", async () => (await counter(TERMINAL, "addresspool")) === addrPoolTerminal + 1);
    await createRequest(a, "x1", "badpool", "node1");
    await waitFor("x1 failed terminally", async () => (await counter(TERMINAL, "blockrequest")) === terminalBefore + 2);
    // A request that succeeds, handled after both failures: a requeue of x0 or x1 (5 ms backoff)
    // would have run by now and failed again.
    await createPool(a, "okpool", 0, [{ ipv4: "10.6.0.0/30" }]);
    await createRequest(a, "x2", "okpool", "node1");
    t.equal((await waitCompleted(a, "x2")).status?.addressBlockName, "okpool-0");
    t.equal(await counter(TERMINAL, "blockrequest"), terminalBefore + 2, "x0 and x1: one terminal failure each");
    t.equal(await counter(TOTAL, "blockrequest", "error"), errorsAfter + 1, "no reconcile of x0 since; x1 once");
    t.equal(await counter(TERMINAL, "addresspool"), addrPoolTerminal + 1, "badpool is not retried either");
    for (const name of ["x0", "x1"]) {
      t.same((await a.coil.requests.get(name))._unsafeUnwrap().status?.conditions ?? [], [], `${name} has no status: coild times out on it`);
    }
  });

  await t.test("GC: a deleted Node's blocks are collected, others stay", async (t) => {
    await createPool(a, "gcpool", 0, [{ ipv4: "10.8.0.0/29" }]);
    await createNodes(a, "doomed");
    for (const [n, node] of [["g0", "doomed"], ["g1", "node1"], ["g2", "doomed"]] as const) {
      await createRequest(a, n, "gcpool", node);
      await waitCompleted(a, n);
    }
    t.equal((await blocksOf("coil.cybozu.com/node=doomed")).length, 2);
    await a.core.deleteNode({ name: "doomed" });
    await eventually("doomed's blocks deleted", async () => ((await blocksOf("coil.cybozu.com/node=doomed")).length === 0 ? true : undefined));
    t.equal((await blocksOf("coil.cybozu.com/pool=gcpool")).length, 1, "node1's block remains");
    await eventually("allocated gauge follows", async () => ((await metric("coil_controller_allocated_blocks", "gcpool")) === 1 ? true : undefined));
  });

  await t.test("metrics and health endpoints", async (t) => {
    const m = await httpGet(ctrl.metricsPort ?? 0, "/metrics");
    t.equal(m.status, 200);
    t.match(m.body, /^coil_controller_max_blocks\{pool="default"\} 6$/m);
    t.match(m.body, /^coil_controller_allocated_blocks\{pool="default"\} 6$/m);
    t.match(m.body, /^coil_controller_max_blocks\{pool="v4"\} 2$/m);
    t.notMatch(m.body, /pool="temp"/, "deleted pool has no series");
    t.same(await httpGet(ctrl.healthPort ?? 0, "/healthz"), { status: 200, body: "ok" });
    t.same(await httpGet(ctrl.healthPort ?? 0, "/readyz"), { status: 200, body: "ok" });
    t.equal((await httpGet(ctrl.healthPort ?? 0, "/nope")).status, 404);
  });
}
