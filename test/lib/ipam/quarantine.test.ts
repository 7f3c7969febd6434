import t from "tap";
import fc from "fast-check";
import { AddressAllocator, NodeIpam, poolPolicy, staticSlot, type PoolPolicy } from "../../../lib/ipam/index.js";

const block8 = (): AddressAllocator => AddressAllocator.create({ ipv4: "10.2.3.0/29" })._unsafeUnwrap();

t.test("excluded offsets are never handed out; a block with only excluded free offsets is full", async (t) => {
  const a = block8();
  a.setPolicy({ excluded: [[0, 1], [5, 5], [7, 99]] });
  t.same(a.policy.excluded, [[0, 1], [5, 5], [7, 7]], "clipped to the block and merged");
  const got: number[] = [];
  while (!a.isFull()) got.push(a.allocate()._unsafeUnwrap().index);
  t.same(got, [2, 3, 4, 6]);
  t.equal(a.allocate()._unsafeUnwrapErr().kind, "block-full");
  t.equal(a.usedCount, 4, "excluded offsets are not counted as used");
  t.equal(a.register({ ipv4: "10.2.3.5" })._unsafeUnwrap(), 5, "an address in use before the range was added registers");
  a.free(5);
  a.free(3);
  t.equal(a.allocate()._unsafeUnwrap().index, 3, "freed excluded offset 5 is not handed out again");
  a.free(4);
  a.free(3);
  a.setPolicy({});
  t.equal(a.allocate()._unsafeUnwrap().index, 4, "policy cleared: Coil's cursor again (first free after 3)");
  t.ok(a.isExcluded(9) === false && a.policy.quarantineMs === 0);
});

t.test("reuse quarantine: a freed offset is skipped until quarantineMs has passed", async (t) => {
  const a = block8();
  a.setPolicy({ quarantineMs: 1000 });
  for (let i = 0; i < 8; i++) a.allocate(0)._unsafeUnwrap();
  // Coil's cursor is at 7: after freeing 2 and 4 it wraps and hands back 2.
  a.free(2, 100);
  a.free(4, 200);
  t.notOk(a.hasFresh(300), "both free offsets are in quarantine");
  t.equal(a.allocate(300)._unsafeUnwrap().index, 2, "nothing else free: the one freed longest ago");
  a.free(6, 400);
  t.equal(a.allocate(1250)._unsafeUnwrap().index, 4, "4 is out of quarantine (1050 ms), 6 is not (850 ms)");
  t.ok(a.hasFresh(1400) === true, "6 leaves quarantine at 1400");
  t.equal(a.allocate(1400)._unsafeUnwrap().index, 6);
  a.free(1, 2000);
  t.equal(a.allocate()._unsafeUnwrap().index, 1, "without now the quarantine does not apply");
  a.free(3, 5000);
  a.free(3, 9000);
  t.same(a.toJSON().freedAt, [[3, 5000]], "a repeated free keeps the first time");
  const b = AddressAllocator.fromJSON(a.toJSON())._unsafeUnwrap();
  t.same(b.toJSON(), a.toJSON(), "freed-at times round-trip through JSON");
  t.equal(AddressAllocator.fromJSON({ ...a.toJSON(), freedAt: [[8, 0]] })._unsafeUnwrapErr().kind, "invalid-block");
});

t.test("allocateAt: a static offset, conflicts change nothing", async (t) => {
  const a = block8();
  a.setPolicy({ excluded: [[4, 4]] });
  t.equal(a.allocateAt(4)._unsafeUnwrap().ipv4, "10.2.3.4", "exclusions are for dynamic allocation");
  const before = a.toJSON();
  t.match(a.allocateAt(4)._unsafeUnwrapErr(), { kind: "address-in-use", message: "10.2.3.4 is in use" });
  t.equal(a.allocateAt(8)._unsafeUnwrapErr().kind, "address-not-in-block");
  t.same(a.toJSON(), before, "unchanged");
  t.equal(a.lastAllocIdx, -1, "the cursor does not move");
  t.equal(a.allocate()._unsafeUnwrap().index, 0);
});

/** The rule, written plainly: cyclic order from the cursor; skip used and excluded; prefer out of quarantine; else oldest freed. */
function reference(size: number, used: Set<number>, last: number, excluded: Set<number>, freedAt: Map<number, number>, q: number, now: number | undefined): number {
  const order = [...Array.from({ length: size - last - 1 }, (_, k) => last + 1 + k), ...Array.from({ length: last + 1 }, (_, k) => k)];
  const cands = order.filter((i) => !used.has(i) && !excluded.has(i));
  const inQ = (i: number) => now !== undefined && q > 0 && freedAt.has(i) && now - freedAt.get(i)! < q;
  const fresh = cands.find((i) => !inQ(i));
  if (fresh !== undefined) return fresh;
  let best = -1;
  for (const i of cands) if (best < 0 || freedAt.get(i)! < freedAt.get(best)!) best = i;
  return best;
}

t.test("allocate follows the written rule under any policy (property)", async (t) => {
  const op = fc.oneof(fc.record({ k: fc.constant("a" as const), dt: fc.nat(400) }), fc.record({ k: fc.constant("f" as const), i: fc.nat(15), dt: fc.nat(400) }));
  fc.assert(
    fc.property(
      fc.constantFrom(0, 500, 2000),
      fc.array(fc.tuple(fc.nat(15), fc.nat(3)), { maxLength: 3 }),
      fc.boolean(),
      fc.array(op, { maxLength: 80 }),
      (q, ex, withNow, ops) => {
        const a = AddressAllocator.create({ ipv4: "10.0.0.0/28", ipv6: "fd00::/124" })._unsafeUnwrap();
        a.setPolicy({ excluded: ex.map(([lo, len]) => [lo, lo + len] as const), quarantineMs: q });
        const excluded = new Set<number>();
        for (const [lo, len] of ex) for (let i = lo; i <= Math.min(15, lo + len); i++) excluded.add(i);
        const used = new Set<number>();
        const freedAt = new Map<number, number>();
        let last = -1;
        let now = 0;
        for (const o of ops) {
          now += o.dt;
          const at = withNow ? now : undefined;
          if (o.k === "a") {
            const want = reference(16, used, last, excluded, freedAt, q, at);
            const got = a.allocate(at);
            if (want < 0) {
              if (got.isOk()) return false;
              continue;
            }
            if (got.isErr() || got.value.index !== want) return false;
            used.add(want);
            freedAt.delete(want);
            last = want;
          } else {
            a.free(o.i, at);
            if (used.delete(o.i) && at !== undefined) freedAt.set(o.i, at);
          }
          if (a.usedCount !== used.size || a.isFull() !== (reference(16, used, last, excluded, new Map(), 0, undefined) < 0)) return false;
        }
        return true;
      },
    ),
    { numRuns: 300 },
  );
  t.pass("matches the reference rule: never excluded, quarantine respected unless nothing else is free");
});

t.test("with no policy the allocator is Coil's (the worked example of §3.4)", async (t) => {
  const a = AddressAllocator.create({ ipv4: "10.2.3.0/30" })._unsafeUnwrap();
  a.setPolicy({ excluded: [], quarantineMs: 0 });
  a.register({ ipv4: "10.2.3.0" })._unsafeUnwrap();
  a.register({ ipv4: "10.2.3.2" })._unsafeUnwrap();
  t.equal(a.allocate(5)._unsafeUnwrap().index, 3);
  t.equal(a.allocate(6)._unsafeUnwrap().index, 1);
  a.free(1, 7);
  t.equal(a.allocate(8)._unsafeUnwrap().index, 1, "quarantine 0: the freed offset comes straight back");
});

const dualPool = { blockSizeBits: 2, subnets: [{ ipv4: "10.2.0.0/28", ipv6: "fd02::/124" }] };
const policy = (a: Record<string, string>): PoolPolicy => poolPolicy(dualPool, a)._unsafeUnwrap();

function node(): NodeIpam {
  const n = new NodeIpam();
  n.addBlock({ name: "p-0", pool: "p", index: 0, ipv4: "10.2.0.0/30", ipv6: "fd02::/126" })._unsafeUnwrap();
  return n;
}

t.test("NodeIpam: pool policy applies to present and future blocks", async (t) => {
  const n = node();
  n.setPoolPolicy("p", policy({ "coil-ts.cybozu.com/reserved-ranges": "10.2.0.0", "coil-ts.cybozu.com/static-ranges": "fd02::5" }));
  n.addBlock({ name: "p-1", pool: "p", index: 1, ipv4: "10.2.0.4/30", ipv6: "fd02::4/126" })._unsafeUnwrap();
  const got: string[] = [];
  for (let i = 0; ; i++) {
    const r = n.allocate({ pool: "p", containerId: `c${i}`, ifname: "eth0" });
    if (r.isErr()) {
      t.equal(r.error.kind, "need-block");
      break;
    }
    got.push(r.value.ipv4 ?? "");
  }
  t.same(got, ["10.2.0.1", "10.2.0.2", "10.2.0.3", "10.2.0.4", "10.2.0.6", "10.2.0.7"], "reserved .0 and static-only .5 skipped");
  t.ok(n.poolPolicy("p") !== undefined && n.poolPolicy("q") === undefined);
});

t.test("NodeIpam.allocateStatic: the slot, idempotent, conflicts change nothing", async (t) => {
  const n = node();
  const pol = policy({ "coil-ts.cybozu.com/reserved-ranges": "10.2.0.3", "coil-ts.cybozu.com/static-ranges": "10.2.0.2" });
  n.setPoolPolicy("p", pol);
  const slot = staticSlot("p", dualPool, pol, { ipv4: "10.2.0.2" })._unsafeUnwrap();
  const first = n.allocateStatic({ pool: "p", containerId: "s", ifname: "eth0", index: slot.index, offset: slot.offset })._unsafeUnwrap();
  t.match(first, { block: "p-0", index: 2, ipv4: "10.2.0.2", ipv6: "fd02::2" }, "a static-only slot goes to a static request");
  t.same(n.allocateStatic({ pool: "p", containerId: "s", ifname: "eth0", index: 0, offset: 2 })._unsafeUnwrap(), first, "idempotent ADD");
  const before = JSON.stringify(n.toJSON());
  t.match(n.allocateStatic({ pool: "p", containerId: "other", ifname: "eth0", index: 0, offset: 2 })._unsafeUnwrapErr(), {
    kind: "address-in-use",
    message: "10.2.0.2, fd02::2 is in use by s:eth0",
  });
  t.match(n.allocateStatic({ pool: "p", containerId: "s", ifname: "eth0", index: 0, offset: 1 })._unsafeUnwrapErr(), {
    kind: "allocation-mismatch",
    message: "s:eth0 already holds 10.2.0.2, fd02::2 (block p-0), not slot 1 of block 0 of pool p",
  });
  t.match(n.allocateStatic({ pool: "p", containerId: "x", ifname: "eth0", index: 0, offset: 3 })._unsafeUnwrapErr(), { kind: "address-reserved", message: "10.2.0.3, fd02::3 is reserved in pool p" });
  t.match(n.allocateStatic({ pool: "p", containerId: "x", ifname: "eth0", index: 3, offset: 0 })._unsafeUnwrapErr(), { kind: "need-block", pool: "p", index: 3 });
  t.equal(n.allocateStatic({ pool: "p", containerId: "x", ifname: "eth0", index: 0, offset: 4 })._unsafeUnwrapErr().kind, "address-not-in-block");
  t.equal(JSON.stringify(n.toJSON()), before, "no failed request changed anything");
  t.same(n.allocate({ pool: "p", containerId: "d", ifname: "eth0" })._unsafeUnwrap().ipv4, "10.2.0.0");
  t.same(n.allocate({ pool: "p", containerId: "e", ifname: "eth0" })._unsafeUnwrap().ipv4, "10.2.0.1");
  t.equal(n.allocate({ pool: "p", containerId: "f", ifname: "eth0" })._unsafeUnwrapErr().kind, "need-block", "dynamic skips static-only .2 and reserved .3");
});

t.test("NodeIpam: a reserved (labelled) block refuses static requests", async (t) => {
  const n = new NodeIpam();
  n.addBlock({ name: "p-0", pool: "p", index: 0, ipv4: "10.2.0.0/30", reserved: true })._unsafeUnwrap();
  t.match(n.allocateStatic({ pool: "p", containerId: "s", ifname: "eth0", index: 0, offset: 1 })._unsafeUnwrapErr(), {
    kind: "address-reserved",
    message: "10.2.0.1 is in block p-0, which is reserved (label coil.cybozu.com/reserved)",
  });
});

t.test("NodeIpam: the quarantine prefers another block over a quarantined address", async (t) => {
  const n = node();
  n.setPoolPolicy("p", policy({ "coil-ts.cybozu.com/reuse-quarantine": "10s" }));
  n.addBlock({ name: "p-1", pool: "p", index: 1, ipv4: "10.2.0.4/30", ipv6: "fd02::4/126" })._unsafeUnwrap();
  for (let i = 0; i < 4; i++) n.allocate({ pool: "p", containerId: `c${i}`, ifname: "eth0", now: 0 })._unsafeUnwrap();
  n.free("c1", "eth0", 1000);
  t.equal(n.allocate({ pool: "p", containerId: "n1", ifname: "eth0", now: 2000 })._unsafeUnwrap().ipv4, "10.2.0.4", "p-0's only free address is in quarantine: p-1");
  n.free("n1", "eth0", 2500);
  for (let i = 5; i < 8; i++) n.allocate({ pool: "p", containerId: `c${i}`, ifname: "eth0", now: 3000 })._unsafeUnwrap();
  t.equal(n.allocate({ pool: "p", containerId: "n2", ifname: "eth0", now: 4000 })._unsafeUnwrap().ipv4, "10.2.0.1", "every free address quarantined: the oldest");
  t.equal(n.allocate({ pool: "p", containerId: "n3", ifname: "eth0", now: 4000 })._unsafeUnwrap().ipv4, "10.2.0.4");
  t.equal(n.allocate({ pool: "p", containerId: "n4", ifname: "eth0", now: 4000 })._unsafeUnwrapErr().kind, "need-block");
});
