// coil-ipam-controller beyond Coil, against a real kube-apiserver (docs/static-addresses.md): the
// pool's reserved and static-only ranges keep dynamic requests off their blocks, and a static
// BlockRequest (annotation coil-ts.cybozu.com/block-index) gets exactly its block or a Failed
// condition saying why (invalid index, reserved, owned by another node) with nothing created.
import t from "tap";
import { eventually, startCoilControlPlaneOrSkip } from "../../helpers/coil-envtest.js";
import type { BlockRequestObject } from "../../../adapters/k8s/index.js";
import { api, createNodes, deleteBlock, startController, waitCompleted, type Api } from "./harness.js";

const started = await startCoilControlPlaneOrSkip(t);
if (started !== undefined) {
  const { cp, kc } = started;
  const a = api(kc);
  await createNodes(a, "node1", "node2");
  (
    await a.coil.pools.create({
      metadata: {
        name: "s",
        finalizers: ["coil.cybozu.com"],
        annotations: { "coil-ts.cybozu.com/reserved-ranges": "10.100.0.0-10.100.0.1", "coil-ts.cybozu.com/static-ranges": "10.100.0.5" },
      },
      spec: { blockSizeBits: 0, subnets: [{ ipv4: "10.100.0.0/29" }] },
    })
  )._unsafeUnwrap();
  const ctrl = await startController(kc, "only");
  t.teardown(async () => {
    await ctrl.close();
    a.clients.destroy();
    await cp.stop();
  });
  await eventually("leader", () => (ctrl.isLeader() ? true : undefined));

  const request = async (x: Api, name: string, node: string, index?: string): Promise<BlockRequestObject> => {
    const annotations = index === undefined ? undefined : { "coil-ts.cybozu.com/block-index": index };
    (await x.coil.requests.create({ metadata: { name, ...(annotations === undefined ? {} : { annotations }) }, spec: { nodeName: node, poolName: "s" } }))._unsafeUnwrap();
    return waitCompleted(x, name);
  };
  const failed = (r: BlockRequestObject) => (r.status?.conditions ?? []).filter((c) => c.type === "Failed").map((c) => [c.reason, c.message]);
  const blocks = async () =>
    (await a.coil.blocks.list({ labelSelector: "coil.cybozu.com/pool=s" }))._unsafeUnwrap().items.map((b) => `${b.metadata.name}@${b.metadata.labels?.["coil.cybozu.com/node"]}`).sort();

  await t.test("dynamic requests skip reserved blocks", async (t) => {
    const r = await request(a, "d0", "node1");
    t.equal(r.status?.addressBlockName, "s-2", "blocks 0 and 1 are reserved");
  });

  await t.test("a static request gets its block, also inside static-ranges; again: the same block", async (t) => {
    const r = await request(a, "st1", "node1", "5");
    t.equal(r.status?.addressBlockName, "s-5");
    t.same((r.status?.conditions ?? []).map((c) => [c.type, c.reason]), [["Complete", "allocated"]]);
    const b = (await a.coil.blocks.get("s-5"))._unsafeUnwrap();
    t.same([b.index, b.ipv4, b.metadata.labels?.["coil.cybozu.com/node"], b.metadata.labels?.["coil.cybozu.com/request"]], [5, "10.100.0.5/32", "node1", r.metadata.uid]);
    const again = await request(a, "st1b", "node1", "5");
    t.equal(again.status?.addressBlockName, "s-5", "owned by the same node: that block is the answer");
  });

  await t.test("refusals say why and create nothing", async (t) => {
    const before = await blocks();
    t.same(failed(await request(a, "st2", "node2", "5")), [["block in use", "block s-5 (10.100.0.5/32) is owned by node node1"]]);
    t.same(failed(await request(a, "st3", "node2", "1")), [["reserved", "block s-1 is inside the reserved ranges of pool s"]]);
    t.same(failed(await request(a, "st4", "node2", "8")), [["invalid block index", "block index 8 is not in pool s (8 blocks)"]]);
    t.same(failed(await request(a, "st5", "node2", "five")), [["invalid block index", 'annotation coil-ts.cybozu.com/block-index: "five" is not a block index']]);
    t.same(await blocks(), before, "no block created or changed");
  });

  await t.test("dynamic requests never take static-only blocks; the static block moves once released", async (t) => {
    const names: string[] = [];
    for (let i = 1; ; i++) {
      const r = await request(a, `d${i}`, "node2");
      if (r.status?.addressBlockName === undefined) {
        t.same(failed(r), [["out of blocks", "pool s does not have free blocks"]]);
        break;
      }
      names.push(r.status.addressBlockName);
    }
    t.same(names, ["s-3", "s-4", "s-6", "s-7"]);
    await deleteBlock(a, "s-5");
    const moved = await eventually("s-5 for node2", async () => {
      const name = `mv-${Date.now()}`;
      const r = await request(a, name, "node2", "5");
      return r.status?.addressBlockName === "s-5" ? r : undefined;
    });
    t.equal(moved.status?.addressBlockName, "s-5");
    t.equal((await a.coil.blocks.get("s-5"))._unsafeUnwrap().metadata.labels?.["coil.cybozu.com/node"], "node2", "the static address moved to node2");
  });
}
