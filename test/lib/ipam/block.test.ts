import t from "tap";
import { blockAt, blockIndexOf, blockName, poolMaxBlocks, type AddressPoolSpec } from "../../../lib/ipam/index.js";

const defaultPool: AddressPoolSpec = {
  blockSizeBits: 1,
  subnets: [
    { ipv4: "10.2.0.0/29", ipv6: "fd02::200/125" },
    { ipv4: "10.3.0.0/30", ipv6: "fd02::300/126" },
  ],
};

t.test("poolMaxBlocks", async (t) => {
  const cases: { name: string; spec: AddressPoolSpec; want: bigint }[] = [
    { name: "default pool: 4 + 2", spec: defaultPool, want: 6n },
    { name: "v4 pool bits 2 /29", spec: { blockSizeBits: 2, subnets: [{ ipv4: "10.4.0.0/29" }] }, want: 2n },
    { name: "/16 bits 0 = 65536", spec: { blockSizeBits: 0, subnets: [{ ipv4: "10.0.0.0/16" }] }, want: 65536n },
    { name: "v6-only uses v6 host bits", spec: { blockSizeBits: 5, subnets: [{ ipv6: "fd00::/48" }] }, want: 1n << 75n },
  ];
  for (const c of cases) t.equal(poolMaxBlocks(c.spec)._unsafeUnwrap(), c.want, c.name);
  const bad = poolMaxBlocks({ blockSizeBits: 8, subnets: [{ ipv4: "10.0.0.0/30" }] });
  t.equal(bad.isErr() ? bad.error.kind : "", "invalid-pool");
});

t.test("blockAt: global numbering across items", async (t) => {
  const cases = [
    { spec: defaultPool, i: 0, want: { index: 0, ipv4: "10.2.0.0/31", ipv6: "fd02::200/127" } },
    { spec: defaultPool, i: 3, want: { index: 3, ipv4: "10.2.0.6/31", ipv6: "fd02::206/127" } },
    { spec: defaultPool, i: 4, want: { index: 4, ipv4: "10.3.0.0/31", ipv6: "fd02::300/127" } },
    { spec: defaultPool, i: 5, want: { index: 5, ipv4: "10.3.0.2/31", ipv6: "fd02::302/127" } },
    { spec: { blockSizeBits: 2, subnets: [{ ipv4: "10.4.0.0/29" }] }, i: 1, want: { index: 1, ipv4: "10.4.0.4/30" } },
    // §3.1 examples, as pools big enough to hold them.
    { spec: { blockSizeBits: 0, subnets: [{ ipv4: "10.2.0.0/24" }] }, i: 3, want: { index: 3, ipv4: "10.2.0.3/32" } },
    { spec: { blockSizeBits: 2, subnets: [{ ipv4: "10.2.0.0/24" }] }, i: 3, want: { index: 3, ipv4: "10.2.0.12/30" } },
    { spec: { blockSizeBits: 0, subnets: [{ ipv6: "fd02::900:0/116" }] }, i: 257, want: { index: 257, ipv6: "fd02::900:101/128" } },
    { spec: { blockSizeBits: 5, subnets: [{ ipv6: "fd02::900:0/116" }] }, i: 10, want: { index: 10, ipv6: "fd02::900:140/123" } },
    {
      spec: { blockSizeBits: 5, subnets: [{ ipv4: "10.2.0.0/23", ipv6: "fd02::900:0/119" }] },
      i: 10,
      want: { index: 10, ipv4: "10.2.1.64/27", ipv6: "fd02::900:140/123" },
    },
    { spec: { blockSizeBits: 2, subnets: [{ ipv4: "10.2.0.5/24" }] }, i: 1, want: { index: 1, ipv4: "10.2.0.4/30" } },
  ];
  for (const c of cases) t.same(blockAt(c.spec, c.i)._unsafeUnwrap(), c.want, `${JSON.stringify(c.spec.subnets)} #${c.i}`);
  for (const i of [6, -1, 1.5, 2 ** 60]) {
    const r = blockAt(defaultPool, i);
    t.equal(r.isErr() ? r.error.kind : "", "block-not-found", `index ${i}`);
  }
});

t.test("blockIndexOf inverts blockAt", async (t) => {
  for (let i = 0; i < 6; i++) {
    const b = blockAt(defaultPool, i)._unsafeUnwrap();
    t.equal(blockIndexOf(defaultPool, b.ipv4 as string)._unsafeUnwrap(), i, `v4 ${b.ipv4}`);
    t.equal(blockIndexOf(defaultPool, b.ipv6 as string)._unsafeUnwrap(), i, `v6 ${b.ipv6}`);
  }
  for (const c of ["10.2.0.1/31", "10.2.0.0/30", "10.9.0.0/31", "bogus", "fd02::400/127"]) {
    const r = blockIndexOf(defaultPool, c);
    t.equal(r.isErr() ? r.error.kind : "", "block-not-found", c);
  }
});

t.test("blockName", async (t) => {
  t.equal(blockName("default", 0), "default-0");
  t.equal(blockName("v4", 12), "v4-12");
});

t.test("blockAt (fast path) agrees with the GetBlock port for random pools", async (t) => {
  const { default: fc } = await import("fast-check");
  const { subnetSetBlock, validateSubnetSet } = await import("../../../lib/ipam/index.js");
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
      fc.integer({ min: 0, max: 12 }),
      fc.integer({ min: 0, max: 12 }),
      fc.nat(),
      (v4, v6, hostBits, rawBits, rawIndex) => {
        const bits = rawBits % (hostBits + 1);
        const quad = [24, 16, 8, 0].map((s) => Math.floor(v4 / 2 ** s) % 256).join(".");
        const hex = v6.toString(16).padStart(32, "0").match(/.{4}/g)?.join(":") ?? "::";
        const item = { ipv4: `${quad}/${32 - hostBits}`, ipv6: `${hex}/${128 - hostBits}` };
        const spec = { blockSizeBits: bits, subnets: [item] };
        const index = rawIndex % 2 ** (hostBits - bits);
        const want = subnetSetBlock(validateSubnetSet(item, bits)._unsafeUnwrap(), index, bits)._unsafeUnwrap();
        return JSON.stringify(blockAt(spec, index)._unsafeUnwrap()) === JSON.stringify(want);
      },
    ),
  );
  t.pass("fast carving matches");
});
