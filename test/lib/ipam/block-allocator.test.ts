import t from "tap";
import { BlockAllocator, type AddressPoolSpec } from "../../../lib/ipam/index.js";

const defaultPool: AddressPoolSpec = {
  blockSizeBits: 1,
  subnets: [
    { ipv4: "10.2.0.0/29", ipv6: "fd02::200/125" },
    { ipv4: "10.3.0.0/30", ipv6: "fd02::300/126" },
  ],
};

// §9.3.2
t.test("PoolManager sequence: default pool", async (t) => {
  const a = BlockAllocator.create(defaultPool)._unsafeUnwrap();
  t.equal(a.maxBlocks, 6n);
  t.equal(a.allocatedCount, 0);
  t.same(a.allocateBlock()._unsafeUnwrap(), { index: 0, ipv4: "10.2.0.0/31", ipv6: "fd02::200/127" });
  t.equal(a.allocatedCount, 1);
  const more = [1, 2, 3, 4].map(() => a.allocateBlock()._unsafeUnwrap().index);
  t.same(more, [1, 2, 3, 4]);
  t.equal(a.allocateBlock()._unsafeUnwrap().index, 5);
  t.equal(a.allocatedCount, 6);
  const r = a.allocateBlock();
  t.same(r.isErr() ? r.error : null, { kind: "pool-exhausted", message: "out of blocks" }, "7th → ErrNoBlock");
  // delete block[4], resync from the observed blocks
  a.rebuild([0, 1, 2, 3, 5]);
  t.equal(a.allocatedCount, 5);
  t.same(a.allocateBlock()._unsafeUnwrap(), { index: 4, ipv4: "10.3.0.0/31", ipv6: "fd02::300/127" });
  a.rebuild([]);
  t.equal(a.allocatedCount, 0, "after deleting all, not used");
});

// §9.3.3
t.test("PoolManager sequence: v4 pool", async (t) => {
  const a = BlockAllocator.create({ blockSizeBits: 2, subnets: [{ ipv4: "10.4.0.0/29" }] })._unsafeUnwrap();
  t.same(a.allocateBlock()._unsafeUnwrap(), { index: 0, ipv4: "10.4.0.0/30" });
  t.same(a.allocateBlock()._unsafeUnwrap(), { index: 1, ipv4: "10.4.0.4/30" });
  t.equal(a.allocateBlock().isErr(), true);
  a.release(1);
  a.release(1);
  t.same(a.allocateBlock()._unsafeUnwrap(), { index: 1, ipv4: "10.4.0.4/30" }, "released index is reused at once");
});

t.test("lowest hole first, appended subnets extend, rebuild reports outsiders", async (t) => {
  const spec: AddressPoolSpec = { blockSizeBits: 0, subnets: [{ ipv4: "10.0.0.0/30" }] };
  const a = BlockAllocator.create(spec)._unsafeUnwrap();
  t.same(a.rebuild([0, 2, 3, 9]), [9]);
  t.equal(a.nextIndex()._unsafeUnwrap(), 1);
  t.equal(a.allocateBlock()._unsafeUnwrap().ipv4, "10.0.0.1/32");
  t.ok(a.allocateBlock().isErr(), "full");
  const bigger: AddressPoolSpec = { ...spec, subnets: [...spec.subnets, { ipv4: "10.1.0.0/31" }] };
  t.ok(a.updatePool(bigger).isOk());
  t.equal(a.maxBlocks, 6n);
  t.same(a.allocateBlock()._unsafeUnwrap(), { index: 4, ipv4: "10.1.0.0/32" });
  t.same(a.usedIndexes(), [0, 1, 2, 3, 4]);
  const changed = a.updatePool({ blockSizeBits: 0, subnets: [{ ipv4: "10.9.0.0/30" }, { ipv4: "10.1.0.0/31" }] });
  t.equal(changed.isErr() ? changed.error.kind : "", "unchangeable");
  t.equal(a.updatePool({ blockSizeBits: 1, subnets: bigger.subnets }).isErr(), true, "bits cannot change");
  t.equal(a.markUsed(7).isErr(), true, "index outside the pool");
});

t.test("65,536 blocks: every index once, in order, then exhausted", async (t) => {
  const a = BlockAllocator.create({ blockSizeBits: 0, subnets: [{ ipv4: "10.0.0.0/16" }] })._unsafeUnwrap();
  let expect = 0;
  let ok = true;
  for (;;) {
    const r = a.nextIndex();
    if (r.isErr()) break;
    if (r.value !== expect) ok = false;
    a.markUsed(r.value)._unsafeUnwrap();
    expect++;
  }
  t.ok(ok, "indexes ascend without gaps");
  t.equal(expect, 65536);
  a.release(40000);
  a.release(123);
  t.equal(a.allocateBlock()._unsafeUnwrap().ipv4, "10.0.0.123/32");
  t.equal(a.allocateBlock()._unsafeUnwrap().ipv4, "10.0.156.64/32");
});

t.test("huge v6 pool is capped at int32 indexes and allocates lazily", async (t) => {
  const a = BlockAllocator.create({ blockSizeBits: 5, subnets: [{ ipv6: "fd00::/48" }] })._unsafeUnwrap();
  t.equal(a.maxBlocks, 1n << 75n);
  t.equal(a.markUsed(2 ** 31 - 1)._unsafeUnwrap().ipv6, "fd00::f:ffff:ffe0/123");
  t.equal(a.allocateBlock()._unsafeUnwrap().index, 0);
});
