import t from "tap";
import fc from "fast-check";
import {
  BlockAllocator,
  NO_POLICY,
  blockExclusions,
  blockOffsetExclusions,
  formatFieldError,
  parseAddressRanges,
  parseStaticIps,
  poolLayout,
  poolPolicy,
  staticSlot,
  type AddressPoolSpec,
  type PoolPolicy,
} from "../../../lib/ipam/index.js";
import { ipFromBigInt, ipToBigInt, parseIp } from "../../../lib/net/index.js";

const R = "coil-ts.cybozu.com/reserved-ranges";
const S = "coil-ts.cybozu.com/static-ranges";
const Q = "coil-ts.cybozu.com/reuse-quarantine";

const n = (ip: string): bigint => ipToBigInt(parseIp(ip)._unsafeUnwrap());

t.test("parseAddressRanges: CIDRs, addresses and first-last ranges", async (t) => {
  const r = parseAddressRanges(" 10.0.0.0/30, 10.0.0.9 ,, 10.0.1.1-10.0.1.3, fd00::/126, fd00::10 - fd00::11")._unsafeUnwrap();
  t.same(
    r.map((x) => [x.family, x.first - n("10.0.0.0"), x.last - n("10.0.0.0")]).slice(0, 3),
    [
      [4, 0n, 3n],
      [4, 9n, 9n],
      [4, 257n, 259n],
    ],
  );
  t.same([r[3]?.family, r[3]?.last], [6, n("fd00::3")]);
  t.same([r[4]?.first, r[4]?.last, r[4]?.text], [n("fd00::10"), n("fd00::11"), "fd00::10 - fd00::11"]);
  t.same(parseAddressRanges("10.0.0.5/30")._unsafeUnwrap()[0]?.first, n("10.0.0.4"), "host bits of a CIDR are ignored");
  t.same(parseAddressRanges("")._unsafeUnwrap(), [], "empty text: no range");
  t.match(parseAddressRanges("10.0.0.x")._unsafeUnwrapErr(), { kind: "invalid-range", message: /"10.0.0.x" is not an IP address, CIDR or first-last range/ });
  t.match(parseAddressRanges("10.0.0.9-10.0.0.1")._unsafeUnwrapErr().message, /ends before it starts/);
  t.match(parseAddressRanges("10.0.0.1-fd00::1")._unsafeUnwrapErr().message, /mixes IPv4 and IPv6/);
  t.match(parseAddressRanges("10.0.0.0/33")._unsafeUnwrapErr().message, /is not a CIDR/);
});

const dual: AddressPoolSpec = { blockSizeBits: 2, subnets: [{ ipv4: "10.2.0.0/28", ipv6: "fd02::/124" }, { ipv4: "10.3.0.0/30", ipv6: "fd03::/126" }] };

t.test("poolPolicy: reads and checks the pool annotations", async (t) => {
  t.same(poolPolicy(dual, undefined)._unsafeUnwrap(), NO_POLICY, "no annotation: Coil's behaviour");
  const p = poolPolicy(dual, { [R]: "10.2.0.0/30", [S]: "fd02::8-fd02::b", [Q]: "45s", other: "x" })._unsafeUnwrap();
  t.equal(p.reserved.length, 1);
  t.equal(p.staticOnly.length, 1);
  t.equal(p.quarantineMs, 45_000);
  const e = poolPolicy(dual, { [R]: "10.2.0.0/24", [S]: "10.2.0.14-10.3.0.1", [Q]: "25h" })._unsafeUnwrapErr();
  t.same(
    e.map(formatFieldError),
    [
      `metadata.annotations[${R}]: Invalid value: "10.2.0.0/24": 10.2.0.0/24 is not inside one subnet of the pool (10.2.0.0/28, fd02::/124, 10.3.0.0/30, fd03::/126)`,
      `metadata.annotations[${S}]: Invalid value: "10.2.0.14-10.3.0.1": 10.2.0.14-10.3.0.1 is not inside one subnet of the pool (10.2.0.0/28, fd02::/124, 10.3.0.0/30, fd03::/126)`,
      `metadata.annotations[${Q}]: Invalid value: "25h": 25h is longer than 24h`,
    ],
    "every bad annotation at once, at its field",
  );
  t.match(poolPolicy({ subnets: [{ ipv4: "10.0.0.0/24" }] }, { [R]: "fd00::1" })._unsafeUnwrapErr()[0]?.message, /fd00::1 is not inside one subnet/, "a family the pool lacks");
  t.match(poolPolicy(dual, { [Q]: "soon" })._unsafeUnwrapErr()[0], { kind: "invalid-annotation", type: "Invalid", field: `metadata.annotations[${Q}]` });
});

t.test("poolPolicy: the reuse quarantine is a Go duration (util.parseDuration), not negative, at most 24h", async (t) => {
  const q = (text: string) => poolPolicy(dual, { [Q]: text });
  for (const [text, ms] of [["30s", 30_000], ["1h30m", 5_400_000], ["1.5h", 5_400_000], ["2m0.5s", 120_500], ["0", 0], ["-0", 0], ["1500us", 1.5], [" 45s ", 45_000], ["24h", 86_400_000]] as const) {
    t.equal(q(text)._unsafeUnwrap().quarantineMs, ms, text);
  }
  t.same(q("soon")._unsafeUnwrapErr().map(formatFieldError), [`metadata.annotations[${Q}]: Invalid value: "soon": invalid duration "soon": a duration such as 30s, 5m or 1h30m`]);
  t.same(q("5")._unsafeUnwrapErr().map(formatFieldError), [`metadata.annotations[${Q}]: Invalid value: "5": missing unit in duration "5": a duration such as 30s, 5m or 1h30m`]);
  t.same(q("1d")._unsafeUnwrapErr().map(formatFieldError), [`metadata.annotations[${Q}]: Invalid value: "1d": unknown unit "d" in duration "1d": a duration such as 30s, 5m or 1h30m`]);
  t.same(q("-5m")._unsafeUnwrapErr().map(formatFieldError), [`metadata.annotations[${Q}]: Invalid value: "-5m": "-5m" is negative`]);
  t.same(q("24h0m0.001s")._unsafeUnwrapErr().map(formatFieldError), [`metadata.annotations[${Q}]: Invalid value: "24h0m0.001s": 24h0m0.001s is longer than 24h`]);
});

t.test("blockExclusions: blocks wholly inside the ranges", async (t) => {
  const l = poolLayout(dual)._unsafeUnwrap();
  const ex = (text: string) => blockExclusions(l, parseAddressRanges(text)._unsafeUnwrap());
  t.same(ex("10.2.0.0/30"), [[0, 0]]);
  t.same(ex("10.2.0.1-10.2.0.9"), [[1, 1]], "partly covered blocks 0 and 2 stay");
  t.same(ex("fd02::4/126, 10.2.0.8/29"), [[1, 3]], "either family excludes the slot; adjacent intervals merge");
  t.same(ex("10.3.0.0/30"), [[4, 4]], "second item's indexes follow the first's");
  t.same(ex("10.9.0.0/16"), [], "outside the pool: nothing");
  t.same(ex("10.2.0.0-10.2.0.1, fd02::2-fd02::3"), [[0, 0]], "ranges of both families together cover block 0");
  t.same(ex("10.2.0.0-10.2.0.2, 10.2.0.3"), [[0, 0]], "adjacent ranges together cover block 0");
  const bits0 = poolLayout({ blockSizeBits: 0, subnets: [{ ipv4: "10.0.0.0/16" }] })._unsafeUnwrap();
  t.same(blockExclusions(bits0, parseAddressRanges("10.0.1.0/24, 10.0.0.7")._unsafeUnwrap()), [[7, 7], [256, 511]]);
});

t.test("blockExclusions agrees with a per-address check (property)", async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 3 }), fc.array(fc.tuple(fc.nat(70), fc.nat(8)), { maxLength: 4 }), (bits, raw) => {
      const spec: AddressPoolSpec = { blockSizeBits: bits, subnets: [{ ipv4: "10.0.0.0/27" }, { ipv4: "10.1.0.0/28" }] };
      const l = poolLayout(spec)._unsafeUnwrap();
      // Ranges over 10.0.0.0 .. 10.0.0.70 and the second subnet shifted in.
      const text = raw.map(([a, len]) => {
        const base = a < 40 ? n("10.0.0.0") + BigInt(a) : n("10.1.0.0") + BigInt(a - 40);
        return `${ipFromBigInt(4, base)._unsafeUnwrap()}-${ipFromBigInt(4, base + BigInt(len))._unsafeUnwrap()}`;
      }).join(",");
      const ranges = parseAddressRanges(text)._unsafeUnwrap();
      const got = blockExclusions(l, ranges);
      const inRanges = (x: bigint) => ranges.some((r) => r.first <= x && x <= r.last);
      const want: number[] = [];
      for (let i = 0; i < Number(l.maxBlocks); i++) {
        const item = l.items.find((it) => BigInt(i) >= it.first && BigInt(i) < it.first + it.count)!;
        const start = ipToBigInt(item.subnet.ipv4!.split("/")[0] as never) + (BigInt(i) - item.first) * (1n << BigInt(bits));
        let all = true;
        for (let k = 0n; k < 1n << BigInt(bits); k++) all &&= inRanges(start + k);
        if (all) want.push(i);
      }
      const flat = got.flatMap(([lo, hi]) => Array.from({ length: hi - lo + 1 }, (_, k) => lo + k));
      return JSON.stringify(flat) === JSON.stringify(want);
    }),
  );
  t.pass("a block is excluded exactly when every address of it is in a range");
});

t.test("blockOffsetExclusions: offsets of one block", async (t) => {
  const rs = parseAddressRanges("10.2.0.5, 10.2.0.6, fd02::4, 10.9.9.9")._unsafeUnwrap();
  t.same(blockOffsetExclusions({ ipv4: "10.2.0.4/30", ipv6: "fd02::4/126" }, rs), [[0, 2]]);
  t.same(blockOffsetExclusions({ ipv6: "fd02::4/126" }, rs), [[0, 0]]);
  t.same(blockOffsetExclusions({ ipv4: "bad" }, rs), []);
});

t.test("parseStaticIps: the pod annotation", async (t) => {
  t.same(parseStaticIps("10.2.0.5")._unsafeUnwrap(), { ipv4: "10.2.0.5" });
  t.same(parseStaticIps(" 10.2.0.5 , FD02::5 ")._unsafeUnwrap(), { ipv4: "10.2.0.5", ipv6: "fd02::5" });
  t.match(parseStaticIps("10.2.0.5,10.2.0.6")._unsafeUnwrapErr(), { kind: "invalid-static-ip", message: /more than one IPv4 address/ });
  t.match(parseStaticIps("10.2.0.x")._unsafeUnwrapErr().message, /"10.2.0.x" is not an IP address/);
  t.match(parseStaticIps(" , ")._unsafeUnwrapErr().message, /no address/);
});

t.test("staticSlot: block index and slot of a static address", async (t) => {
  const pol = (a: Record<string, string>): PoolPolicy => poolPolicy(dual, a)._unsafeUnwrap();
  t.same(staticSlot("p", dual, NO_POLICY, { ipv4: "10.2.0.6" })._unsafeUnwrap(), {
    index: 1,
    offset: 2,
    block: { index: 1, ipv4: "10.2.0.4/30", ipv6: "fd02::4/126" },
    ipv4: "10.2.0.6",
    ipv6: "fd02::6",
  });
  t.match(staticSlot("p", dual, NO_POLICY, { ipv6: "fd03::1" })._unsafeUnwrap(), { index: 4, offset: 1, ipv4: "10.3.0.1" }, "v6 only: v4 implied");
  t.match(staticSlot("p", dual, NO_POLICY, { ipv4: "10.2.0.6", ipv6: "fd02::6" })._unsafeUnwrap(), { index: 1, offset: 2 });
  t.equal(
    staticSlot("p", dual, NO_POLICY, { ipv4: "10.2.0.6", ipv6: "fd02::9" })._unsafeUnwrapErr().message,
    "10.2.0.6 and fd02::9 are not the same slot of pool p (block 1 slot 2, block 2 slot 1)",
  );
  t.equal(
    staticSlot("p", dual, NO_POLICY, { ipv4: "10.9.0.1" })._unsafeUnwrapErr().message,
    "10.9.0.1 is outside pool p (subnets 10.2.0.0/28, fd02::/124, 10.3.0.0/30, fd03::/126)",
  );
  t.equal(
    staticSlot("p", dual, pol({ [R]: "fd02::4/126" }), { ipv4: "10.2.0.6" })._unsafeUnwrapErr().message,
    `fd02::6 is reserved in pool p (${R}: fd02::4/126)`,
    "reserved through the other family of the slot",
  );
  t.match(staticSlot("p", dual, pol({ [S]: "10.2.0.4/30" }), { ipv4: "10.2.0.6" })._unsafeUnwrap(), { index: 1 }, "static-only ranges are for static requests");
  t.equal(staticSlot("p", dual, NO_POLICY, { ipv4: "fd02::1" })._unsafeUnwrapErr().kind, "invalid-static-ip");
  t.equal(staticSlot("p", dual, NO_POLICY, {})._unsafeUnwrapErr().kind, "invalid-static-ip");
  t.equal(staticSlot("p", { blockSizeBits: 9, subnets: [{ ipv4: "10.0.0.0/24" }] }, NO_POLICY, { ipv4: "10.0.0.1" })._unsafeUnwrapErr().kind, "invalid-pool");
  const bits0: AddressPoolSpec = { blockSizeBits: 0, subnets: [{ ipv4: "10.100.0.0/16" }] };
  t.match(staticSlot("s", bits0, NO_POLICY, { ipv4: "10.100.7.12" })._unsafeUnwrap(), { index: 7 * 256 + 12, offset: 0, block: { ipv4: "10.100.7.12/32" } });
});

t.test("BlockAllocator.setExclusions: dynamic allocation skips excluded blocks", async (t) => {
  const a = BlockAllocator.create({ blockSizeBits: 0, subnets: [{ ipv4: "10.0.0.0/29" }] })._unsafeUnwrap();
  a.setExclusions([[0, 1], [3, 3]]);
  t.equal(a.allocateBlock()._unsafeUnwrap().ipv4, "10.0.0.2/32");
  t.equal(a.allocateBlock()._unsafeUnwrap().index, 4);
  t.ok(a.isExcluded(3));
  t.notOk(a.isExcluded(2));
  t.equal(a.markUsed(3)._unsafeUnwrap().ipv4, "10.0.0.3/32", "markUsed (static, observed) ignores exclusions");
  for (const i of [5, 6, 7]) t.equal(a.allocateBlock()._unsafeUnwrap().index, i);
  t.equal(a.allocateBlock()._unsafeUnwrapErr().kind, "pool-exhausted", "only excluded indexes left: exhausted");
  a.setExclusions([]);
  t.equal(a.nextIndex()._unsafeUnwrap(), 0);
});

t.test("BlockAllocator.nextIndex is the lowest free non-excluded index (property)", async (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.nat(63), { maxLength: 40 }),
      fc.array(fc.tuple(fc.nat(63), fc.nat(10)), { maxLength: 5 }),
      (used, ex) => {
        const a = BlockAllocator.create({ blockSizeBits: 0, subnets: [{ ipv4: "10.0.0.0/26" }] })._unsafeUnwrap();
        a.rebuild(used);
        const intervals = ex.map(([lo, len]) => [lo, lo + len] as const);
        a.setExclusions(intervals);
        let want = -1;
        for (let i = 0; i < 64 && want < 0; i++) if (!used.includes(i) && !intervals.some(([lo, hi]) => lo <= i && i <= hi)) want = i;
        const got = a.nextIndex();
        return want < 0 ? got.isErr() : got.isOk() && got.value === want;
      },
    ),
  );
  t.pass("matches the brute-force choice");
});
