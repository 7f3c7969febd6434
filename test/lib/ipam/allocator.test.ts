import t from "tap";
import { AddressAllocator } from "../../../lib/ipam/index.js";

// §9.3.1 / §3.4: v4, v6 and dual variants of the same scenario.
const variants = [
  { name: "v4", block: { ipv4: "10.2.3.0/30" }, reg: (i: number) => ({ ipv4: `10.2.3.${i}` }), out: { ipv4: "192.168.0.1" } },
  { name: "v6", block: { ipv6: "fd02::/126" }, reg: (i: number) => ({ ipv6: `fd02::${i}` }), out: { ipv6: "fe03::1" } },
  {
    name: "dual",
    block: { ipv4: "10.2.3.0/30", ipv6: "fd02::/126" },
    reg: (i: number) => ({ ipv4: `10.2.3.${i}`, ipv6: `fd02::${i}` }),
    out: { ipv4: "192.168.0.1", ipv6: "fe03::1" },
  },
];

for (const v of variants) {
  t.test(`allocator ${v.name}: §3.4 worked example`, async (t) => {
    const a = AddressAllocator.create(v.block)._unsafeUnwrap();
    t.ok(a.isEmpty(), "new allocator is empty");
    const out = a.register(v.out);
    t.equal(out.isErr() ? out.error.kind : "", "address-not-in-block", "out of scope address ignored");
    t.equal(a.register(v.reg(0))._unsafeUnwrap(), 0);
    t.equal(a.register(v.reg(2))._unsafeUnwrap(), 2);
    t.notOk(a.isEmpty() || a.isFull(), "neither empty nor full");
    const first = a.allocate()._unsafeUnwrap();
    t.same(first, { index: 3, ...v.reg(3) }, "allocate after last registered offset (idx 3)");
    t.same(a.allocate()._unsafeUnwrap(), { index: 1, ...v.reg(1) }, "then wraps to idx 1");
    t.ok(a.isFull());
    t.equal(a.allocate().isErr() ? "block-full" : "", "block-full");
    a.free(1);
    a.free(1);
    t.notOk(a.isFull());
    t.equal(a.allocate()._unsafeUnwrap().index, 1, "only idx 1 is free");
    t.ok(a.isFull());
  });
}

t.test("fill then free: allocation resumes after the last index", async (t) => {
  const a = AddressAllocator.create({ ipv4: "10.2.3.0/30", ipv6: "fd02::/126" })._unsafeUnwrap();
  a.fill();
  t.ok(a.isFull());
  t.equal(a.lastAllocIdx, 3);
  a.free(3);
  a.free(0);
  t.same(a.allocate()._unsafeUnwrap(), { index: 0, ipv4: "10.2.3.0", ipv6: "fd02::" });
  t.same(a.allocate()._unsafeUnwrap(), { index: 3, ipv4: "10.2.3.3", ipv6: "fd02::3" });
  a.fill();
  for (const i of [0, 1, 2, 3]) a.free(i);
  t.ok(a.isEmpty(), "fill keeps the length");
});

t.test("not to reuse a just-freed address", async (t) => {
  const a = AddressAllocator.create({ ipv4: "10.2.3.0/29" })._unsafeUnwrap();
  t.equal(a.allocate()._unsafeUnwrap().ipv4, "10.2.3.0");
  t.equal(a.allocate()._unsafeUnwrap().ipv4, "10.2.3.1");
  a.free(0);
  t.equal(a.allocate()._unsafeUnwrap().ipv4, "10.2.3.2", "not .0 again");
  a.free(2);
  t.equal(a.allocate()._unsafeUnwrap().ipv4, "10.2.3.3");
});

t.test("create rejects bad blocks", async (t) => {
  const cases = [
    { name: "none", in: {} },
    { name: "bad v4", in: { ipv4: "10.0.0.0" } },
    { name: "v6 in v4 field", in: { ipv4: "fd02::/126" } },
    { name: "size mismatch", in: { ipv4: "10.0.0.0/30", ipv6: "fd02::/120" } },
    { name: "too large", in: { ipv4: "10.0.0.0/7" } },
  ];
  for (const c of cases) {
    const r = AddressAllocator.create(c.in);
    t.equal(r.isErr() ? r.error.kind : "", "invalid-block", c.name);
  }
  t.equal(AddressAllocator.create({ ipv4: "10.2.3.5/30" })._unsafeUnwrap().ipv4, "10.2.3.4/30", "masked like net.ParseCIDR");
});

t.test("JSON round trip", async (t) => {
  const a = AddressAllocator.create({ ipv4: "10.2.3.0/29", ipv6: "fd02::/125" })._unsafeUnwrap();
  for (let i = 0; i < 3; i++) a.allocate()._unsafeUnwrap();
  a.free(1);
  const state = JSON.parse(JSON.stringify(a)) as ReturnType<typeof a.toJSON>;
  t.same(state, { ipv4: "10.2.3.0/29", ipv6: "fd02::/125", used: [0, 2], lastAllocIdx: 2 });
  const b = AddressAllocator.fromJSON(state)._unsafeUnwrap();
  t.same(b.allocate()._unsafeUnwrap(), a.allocate()._unsafeUnwrap(), "same next allocation");
  t.ok(AddressAllocator.fromJSON({ ...state, used: [8] }).isErr(), "offset out of range");
  t.ok(AddressAllocator.fromJSON({ ...state, lastAllocIdx: -2 }).isErr(), "bad last index");
});
