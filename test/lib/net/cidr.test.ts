import t from "tap";
import fc from "fast-check";
import {
  cidrAddress,
  cidrAt,
  cidrContains,
  cidrCovers,
  cidrFamily,
  cidrHostBits,
  cidrNetwork,
  cidrOffset,
  cidrOverlaps,
  cidrPrefix,
  cidrSize,
  cidrSplit,
  cidrSubnet,
  familyBits,
  hostCidr,
  ipAdd,
  ipCompare,
  ipDiff,
  ipFromBigInt,
  ipToBigInt,
  makeCidr,
  parseCidr,
  parseIp,
  type Cidr,
  type Family,
  type Ip,
} from "../../../lib/net/index.js";

const ip = (s: string): Ip => parseIp(s)._unsafeUnwrap();
const cidr = (s: string): Cidr => parseCidr(s)._unsafeUnwrap();

t.test("CIDR parts, sizes and networks (host bits kept as written)", async (t) => {
  const cases = [
    { in: "10.2.0.7/24", addr: "10.2.0.7", prefix: 24, family: 4, hostBits: 8, size: 256n, net: "10.2.0.0/24" },
    { in: "0.0.0.0/0", addr: "0.0.0.0", prefix: 0, family: 4, hostBits: 32, size: 1n << 32n, net: "0.0.0.0/0" },
    { in: "10.2.0.5/32", addr: "10.2.0.5", prefix: 32, family: 4, hostBits: 0, size: 1n, net: "10.2.0.5/32" },
    { in: "fd02::901/116", addr: "fd02::901", prefix: 116, family: 6, hostBits: 12, size: 4096n, net: "fd02::/116" },
    { in: "::/0", addr: "::", prefix: 0, family: 6, hostBits: 128, size: 1n << 128n, net: "::/0" },
  ] as const;
  for (const c of cases) {
    const x = cidr(c.in);
    t.same(
      [cidrAddress(x), cidrPrefix(x), cidrFamily(x), cidrHostBits(x), cidrSize(x), cidrNetwork(x)],
      [c.addr, c.prefix, c.family, c.hostBits, c.size, c.net],
      c.in,
    );
  }
  t.equal(hostCidr(ip("10.2.0.5")), "10.2.0.5/32");
  t.equal(hostCidr(ip("fd02::5")), "fd02::5/128");
  t.same([familyBits(4), familyBits(6)], [32, 128]);
});

t.test("makeCidr checks the prefix against the family", async (t) => {
  t.equal(makeCidr(ip("10.0.0.0"), 8)._unsafeUnwrap(), "10.0.0.0/8");
  t.equal(makeCidr(ip("fd02::"), 128)._unsafeUnwrap(), "fd02::/128");
  for (const [a, p] of [["10.0.0.0", 33], ["10.0.0.0", -1], ["10.0.0.0", 8.5], ["fd02::", 129]] as const) {
    t.equal(makeCidr(ip(a), p)._unsafeUnwrapErr().kind, "invalid-cidr", `${a}/${p}`);
  }
});

t.test("containment, covering and overlap", async (t) => {
  const net = cidr("10.2.0.0/24");
  t.ok(cidrContains(net, ip("10.2.0.255")));
  t.notOk(cidrContains(net, ip("10.2.1.0")));
  t.notOk(cidrContains(cidr("::/0"), ip("10.2.0.1")), "an IPv4 address is never inside an IPv6 network");
  t.ok(cidrCovers(net, cidr("10.2.0.128/25")));
  t.notOk(cidrCovers(cidr("10.2.0.128/25"), net), "a smaller network does not cover a larger one");
  t.notOk(cidrCovers(net, cidr("10.2.1.0/25")));
  t.ok(cidrOverlaps(net, cidr("10.0.0.0/8")), "either direction");
  t.ok(cidrOverlaps(cidr("10.0.0.0/8"), net));
  t.notOk(cidrOverlaps(net, cidr("10.2.1.0/24")));
  t.notOk(cidrOverlaps(cidr("0.0.0.0/0"), cidr("::/0")), "families never overlap");
});

t.test("offsets: cidrAt and cidrOffset are inverse inside the network and fail outside", async (t) => {
  const v6 = cidr("fd02::900:0/116");
  t.equal(cidrAt(v6, 257)._unsafeUnwrap(), "fd02::900:101");
  t.equal(cidrOffset(v6, ip("fd02::900:101"))._unsafeUnwrap(), 257n);
  t.equal(cidrAt(cidr("10.2.0.9/24"), 0)._unsafeUnwrap(), "10.2.0.0", "offsets count from the network address");
  t.equal(cidrAt(cidr("10.2.0.0/24"), 256)._unsafeUnwrapErr().kind, "out-of-range");
  t.equal(cidrAt(cidr("10.2.0.0/24"), -1)._unsafeUnwrapErr().kind, "out-of-range");
  t.equal(cidrOffset(cidr("10.2.0.0/24"), ip("10.2.1.0"))._unsafeUnwrapErr().kind, "out-of-range");
});

t.test("splitting", async (t) => {
  t.same([...cidrSplit(cidr("10.2.0.0/30"), 31)], ["10.2.0.0/31", "10.2.0.2/31"]);
  t.same([...cidrSplit(cidr("fd02::/126"), 126)], ["fd02::/126"]);
  t.same([...cidrSplit(cidr("10.2.0.0/24"), 23)], [], "a longer network cannot be a subnet");
  t.equal(cidrSubnet(cidr("10.2.0.0/24"), 33, 0)._unsafeUnwrapErr().kind, "out-of-range");
  t.equal(cidrSubnet(cidr("10.2.0.0/24"), 26, 4)._unsafeUnwrapErr().kind, "out-of-range");
  t.equal(cidrSubnet(cidr("10.2.0.0/24"), 26, -1)._unsafeUnwrapErr().kind, "out-of-range");
});

t.test("address arithmetic", async (t) => {
  t.equal(ipAdd(ip("10.0.0.255"), 1)._unsafeUnwrap(), "10.0.1.0");
  t.equal(ipAdd(ip("255.255.255.255"), 1)._unsafeUnwrapErr().kind, "out-of-range", "overflow");
  t.equal(ipAdd(ip("0.0.0.0"), -1)._unsafeUnwrapErr().kind, "out-of-range", "underflow");
  t.equal(ipAdd(ip("fd02::ffff"), 1n)._unsafeUnwrap(), "fd02::1:0");
  t.equal(ipDiff(ip("10.0.1.0"), ip("10.0.0.255"))._unsafeUnwrap(), 1n);
  t.equal(ipDiff(ip("10.0.0.0"), ip("10.0.0.2"))._unsafeUnwrap(), -2n, "signed");
  t.equal(ipDiff(ip("10.0.0.0"), ip("::1"))._unsafeUnwrapErr().kind, "family-mismatch");
  t.same([ip("fd02::1"), ip("10.0.0.2"), ip("::"), ip("10.0.0.10")].sort(ipCompare), ["10.0.0.2", "10.0.0.10", "::", "fd02::1"]);
  t.equal(ipCompare(ip("fd02::1"), ip("fd02::1")), 0);
  t.equal(ipFromBigInt(6, 1n << 128n)._unsafeUnwrapErr().kind, "out-of-range");
  t.equal(ipFromBigInt(4, 0xc0a80001n)._unsafeUnwrap(), "192.168.0.1");
});

const family = fc.constantFrom<Family>(4, 6);
const addrOf = (f: Family) => fc.bigInt({ min: 0n, max: (1n << BigInt(familyBits(f))) - 1n });

t.test("property: integer round trip and offset arithmetic agree with bigint math", async (t) => {
  fc.assert(
    fc.property(
      family.chain((f) => fc.tuple(fc.constant(f), addrOf(f), fc.integer({ min: 0, max: familyBits(f) }))),
      ([f, n, prefix]) => {
        const a = ipFromBigInt(f, n)._unsafeUnwrap();
        if (parseIp(a)._unsafeUnwrap() !== a || ipToBigInt(a) !== n) return false;
        const c = makeCidr(a, prefix)._unsafeUnwrap();
        const hb = BigInt(familyBits(f) - prefix);
        const base = (n >> hb) << hb;
        const off = cidrOffset(c, a)._unsafeUnwrap();
        return (
          off === n - base &&
          cidrAt(c, off)._unsafeUnwrap() === a &&
          cidrContains(c, a) &&
          ipToBigInt(cidrAddress(cidrNetwork(c))) === base &&
          cidrCovers(cidrNetwork(c), hostCidr(a))
        );
      },
    ),
  );
  t.pass("property held");
});

t.test("property: the subnets of a split tile the network in order", async (t) => {
  fc.assert(
    fc.property(
      family.chain((f) => fc.tuple(fc.constant(f), addrOf(f), fc.integer({ min: familyBits(f) - 12, max: familyBits(f) }))),
      fc.integer({ min: 0, max: 4 }),
      ([f, n, prefix], extra) => {
        const c = cidrNetwork(makeCidr(ipFromBigInt(f, n)._unsafeUnwrap(), prefix)._unsafeUnwrap());
        const newPrefix = Math.min(familyBits(f), prefix + extra);
        const parts = [...cidrSplit(c, newPrefix)];
        const step = 1n << BigInt(familyBits(f) - newPrefix);
        return (
          BigInt(parts.length) === cidrSize(c) / step &&
          parts.every((p, i) => cidrCovers(c, p) && ipToBigInt(cidrAddress(p)) === ipToBigInt(cidrAddress(c)) + BigInt(i) * step)
        );
      },
    ),
  );
  t.pass("property held");
});
