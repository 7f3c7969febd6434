// A replica that no longer leads writes nothing on the BlockRequest path (run.ts' `mayWrite`, asked
// right before each AddressBlock CREATE and each status write): with 16 workers, several allocations
// can be waiting for the pool lock or the API server when the Lease goes, and a block created after
// it could be missed by the next leader's LIST and become a second block for the same request. The
// pool manager and the reconciler run here against a real kube-apiserver with a switch for
// "leading"; nothing may be created or written while it is off, and a reservation made before the
// check is given back (the next allocation gets the same lowest index).
import t from "tap";
import { LABEL_POOL } from "../../../lib/constants.js";
import { SILENT_LOGGER } from "../../../adapters/k8s/index.js";
import { BlockRequestReconciler } from "../../../adapters/ipam-controller/block-request-reconciler.js";
import { createControllerMetrics } from "../../../adapters/ipam-controller/metrics.js";
import { PoolManager } from "../../../adapters/ipam-controller/pool-manager.js";
import { eventually } from "../../helpers/coil-envtest.js";
import { controlPlaneWithApi, createNodes, createPool, createRequest } from "./harness.js";

const started = await controlPlaneWithApi(t);
if (started !== undefined) {
  const { a } = started;
  await createNodes(a, "n1", "n2");
  await createPool(a, "fenced", 0, [{ ipv4: "10.60.0.0/28" }]);
  // A fresh API server answers 429 ("storage is (re)initializing") for a resource at first.
  await eventually("AddressBlocks listable", async () => ((await a.coil.blocks.list()).isOk() ? true : undefined));
  let leading = true;
  const metrics = createControllerMetrics({ processMetrics: false });
  // No informer here: the pool manager GETs the pool, the reconciler reads the request through `cached`.
  const pools = new PoolManager({ coil: a.coil, cachedPool: () => undefined, metrics, log: SILENT_LOGGER, mayWrite: () => leading });
  const cached = new Map<string, Awaited<ReturnType<typeof getRequest>>>();
  async function getRequest(name: string) {
    return (await a.coil.requests.get(name))._unsafeUnwrap();
  }
  const reqs = new BlockRequestReconciler({ coil: a.coil, pools, cachedRequest: (n) => cached.get(n), now: () => new Date(), log: SILENT_LOGGER, mayWrite: () => leading });
  const blocks = async (): Promise<string[]> =>
    (await a.coil.blocks.list({ labelSelector: `${LABEL_POOL}=fenced` }))._unsafeUnwrap().items.map((b) => b.metadata.name).sort();

  await t.test("not leading: allocateBlock creates nothing and gives its reservation back", async (t) => {
    leading = false;
    const r = await pools.allocateBlock("fenced", "n1", "uid-1");
    t.same(r.isErr() ? r.error : r.value, { kind: "not-leading", pool: "fenced" });
    t.same(await blocks(), [], "no AddressBlock");
    t.same(pools.usedIndexes("fenced"), [], "the reserved index is free again");
    leading = true;
    const again = await pools.allocateBlock("fenced", "n1", "uid-1");
    t.equal(again._unsafeUnwrap().metadata.name, "fenced-0", "leading again: the lowest index, as if nothing happened");
    t.same(pools.usedIndexes("fenced"), [0]);
  });

  await t.test("not leading: a static request creates nothing", async (t) => {
    leading = false;
    const r = await pools.allocateStaticBlock("fenced", "n2", "uid-2", 5);
    t.same(r.isErr() ? r.error : r.value, { kind: "not-leading", pool: "fenced" });
    t.same(await blocks(), ["fenced-0"], "still only the block of the first test");
    t.same(pools.usedIndexes("fenced"), [0], "index 5 not taken");
    leading = true;
  });

  await t.test("not leading: reconciling a request writes neither a block nor its status; leading again, it is served", async (t) => {
    await createRequest(a, "r1", "fenced", "n2");
    cached.set("r1", await getRequest("r1"));
    leading = false;
    t.same(await reqs.reconcile("r1"), { kind: "done" }, "done: the next leader serves it");
    t.same(await blocks(), ["fenced-0"], "no block created");
    t.same((await getRequest("r1")).status ?? {}, {}, "no status written");
    leading = true;
    t.same(await reqs.reconcile("r1"), { kind: "done" });
    const served = await getRequest("r1");
    t.equal(served.status?.addressBlockName, "fenced-1", "served by the lowest free block");
    t.same(await blocks(), ["fenced-0", "fenced-1"]);
  });

  await t.test("not leading: a request whose block exists gets no status write either", async (t) => {
    await createRequest(a, "r2", "fenced", "n2");
    const r2 = await getRequest("r2");
    cached.set("r2", r2);
    // The block a previous leader created for r2 before it lost the Lease (found by its request label).
    const created = (await pools.allocateBlock("fenced", "n2", r2.metadata.uid ?? ""))._unsafeUnwrap();
    reqs.noteBlock(created);
    leading = false;
    t.same(await reqs.reconcile("r2"), { kind: "done" });
    t.same((await getRequest("r2")).status ?? {}, {}, "no status written");
    leading = true;
    await reqs.reconcile("r2");
    t.equal((await getRequest("r2")).status?.addressBlockName, created.metadata.name, "leading again: the existing block is written, no second one");
    t.same(await blocks(), ["fenced-0", "fenced-1", "fenced-2"]);
  });
}
