// coil-ipam-controller with several BlockRequest workers (--max-concurrent-reconciles=8) against a real
// kube-apiserver: the AddressBlock CREATEs run outside the pool lock (pool-manager.ts), so a burst of
// requests must still get exactly one block each, the lowest indexes, no index twice, and a pool
// being deleted keeps its finalizer while blocks exist.
import t from "tap";
import { startCoilControlPlaneOrSkip, eventually, waitFor } from "../../helpers/coil-envtest.js";
import { api, createNodes, createPool, createRequest, deleteBlock, startController, waitCompleted } from "./harness.js";

const started = await startCoilControlPlaneOrSkip(t);
if (started !== undefined) {
  const { cp, kc } = started;
  const a = api(kc);
  const N = 48;
  const nodes = Array.from({ length: N }, (_, i) => `node${i}`);
  await createNodes(a, ...nodes);
  // 64 blocks of one address each (blockSizeBits 0).
  await createPool(a, "burst", 0, [{ ipv4: "10.50.0.0/26" }]);
  const ctrl = await startController(kc, "workers", ["--max-concurrent-reconciles=8"]);
  t.teardown(async () => {
    await ctrl.close();
    a.clients.destroy();
    await cp.stop();
  });
  await eventually("leader", () => (ctrl.isLeader() ? true : undefined));

  await t.test(`${N} requests at once: one block each, indexes 0..${N - 1}, none twice`, async (t) => {
    const uids = await Promise.all(nodes.map((n, i) => createRequest(a, `r${i}`, "burst", n)));
    const done = await Promise.all(nodes.map((_, i) => waitCompleted(a, `r${i}`, 60_000)));
    t.same(done.filter((r) => r.status?.conditions?.[0]?.reason !== "allocated").map((r) => r.metadata.name), [], "every request allocated");
    const blocks = (await a.coil.blocks.list({ labelSelector: "coil.cybozu.com/pool=burst" }))._unsafeUnwrap().items;
    t.equal(blocks.length, N, "exactly one block per request");
    t.same(blocks.map((b) => b.index).sort((x, y) => x - y), Array.from({ length: N }, (_, i) => i), "the lowest indexes, each once");
    for (const [i, r] of done.entries()) {
      const b = blocks.find((x) => x.metadata.name === r.status?.addressBlockName);
      t.equal(b?.metadata.labels?.["coil.cybozu.com/request"], uids[i], `r${i}'s block carries its request UID`);
      t.equal(b?.metadata.labels?.["coil.cybozu.com/node"], nodes[i], `r${i}'s block is its node's`);
    }
    t.same(ctrl.pools.usedIndexes("burst"), Array.from({ length: N }, (_, i) => i), "the pool state holds exactly those");
  });

  await t.test("a freed index is taken again, and the pool is full after the remaining 16", async (t) => {
    await deleteBlock(a, "burst-5");
    await waitFor("block index 5 free in the pool state", () => !(ctrl.pools.usedIndexes("burst") ?? []).includes(5));
    await Promise.all(Array.from({ length: 17 }, (_, i) => createRequest(a, `s${i}`, "burst", nodes[i] as string)));
    const done = await Promise.all(Array.from({ length: 17 }, (_, i) => waitCompleted(a, `s${i}`, 60_000)));
    const allocated = done.filter((r) => r.status?.conditions?.[0]?.reason === "allocated").map((r) => r.status?.addressBlockName);
    const failed = done.filter((r) => r.status?.conditions?.some((c) => c.type === "Failed" && c.reason === "out of blocks"));
    t.equal(allocated.length, 17 - failed.length);
    t.equal(failed.length, 0, "64 blocks: 47 + 17 fit");
    t.equal(new Set(allocated).size, 17, "distinct blocks");
    t.ok(allocated.includes("burst-5"), "the freed index is reused");
    const blocks = (await a.coil.blocks.list({ labelSelector: "coil.cybozu.com/pool=burst" }))._unsafeUnwrap().items;
    t.equal(blocks.length, 64);
    await createRequest(a, "full", "burst", "node0");
    const full = await waitCompleted(a, "full");
    t.ok(full.status?.conditions?.some((c) => c.type === "Failed" && c.reason === "out of blocks"), "then out of blocks");
  });

  await t.test("CREATEs that fail (names taken behind the pool state's back) are retried: every request Complete, no index twice", async (t) => {
    await createPool(a, "taken", 0, [{ ipv4: "10.51.0.0/26" }]);
    await waitFor("pool taken synced", () => ctrl.pools.usedIndexes("taken") !== undefined);
    // Blocks the controller's pool state does not know: its CREATEs of these names answer AlreadyExists.
    const taken = [0, 2, 4, 6, 8, 10, 12, 14];
    for (const i of taken) {
      (await a.coil.blocks.create({ metadata: { name: `taken-${i}`, labels: { "coil.cybozu.com/pool": "taken", "coil.cybozu.com/node": "elsewhere", "coil.cybozu.com/request": `outside-${i}` } }, index: i, ipv4: `10.51.0.${i}/32` }))._unsafeUnwrap();
    }
    t.same(ctrl.pools.usedIndexes("taken"), [], "the pool state has not seen them (block additions do not resync a pool)");
    const n = 24;
    const uids = await Promise.all(Array.from({ length: n }, (_, i) => createRequest(a, `t${i}`, "taken", nodes[i] as string)));
    const done = await Promise.all(Array.from({ length: n }, (_, i) => waitCompleted(a, `t${i}`, 60_000)));
    t.same(done.filter((r) => r.status?.conditions?.[0]?.reason !== "allocated").map((r) => r.metadata.name), [], "every request Complete and allocated");
    const blocks = (await a.coil.blocks.list({ labelSelector: "coil.cybozu.com/pool=taken" }))._unsafeUnwrap().items;
    const ours = blocks.filter((b) => !taken.includes(b.index));
    t.equal(blocks.length, n + taken.length, "one block per request, the others untouched");
    const free = Array.from({ length: 64 }, (_, i) => i).filter((i) => !taken.includes(i));
    t.same(ours.map((b) => b.index).sort((x, y) => x - y), free.slice(0, n), "the lowest free indexes, each once");
    t.same(new Set(done.map((r) => r.status?.addressBlockName)).size, n, "distinct blocks");
    for (const [i, r] of done.entries()) {
      const b = blocks.find((x) => x.metadata.name === r.status?.addressBlockName);
      t.equal(b?.metadata.labels?.["coil.cybozu.com/request"], uids[i], `t${i}'s block carries its request UID`);
    }
  });
}
