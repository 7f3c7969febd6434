import t from "tap";
import fc from "fast-check";
import ipaddr from "ipaddr.js";
import { addrAt, addrBase } from "../../../lib/ipam/addr-math.js";
import { ipFromBigInt, type Cidr } from "../../../lib/net/index.js";

// Groups biased towards zero runs (the case RFC 5952 compression is about).
const group = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 1, max: 15 }), fc.integer({ min: 0, max: 0xffff }));
const groups = fc.array(group, { minLength: 8, maxLength: 8 });

t.test("addrAt on an IPv6 base equals base + offset through bigint (fast path and carries)", async (t) => {
  const offset = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }));
  fc.assert(
    fc.property(groups, offset, (g, off) => {
      const base = addrBase(`${new ipaddr.IPv6(g).toRFC5952String()}/128` as Cidr);
      const n = g.reduce((acc, x) => (acc << 16n) | BigInt(x), 0n) + BigInt(off);
      const want = n < 1n << 128n ? ipFromBigInt(6, n)._unsafeUnwrap() : "::";
      return addrAt(base, off) === want;
    }),
    { numRuns: 4000 },
  );
  const top = addrBase("fd02::ffff:ffff/128" as Cidr);
  t.equal(addrAt(top, 1), "fd02::1:0:0", "a carry out of the two low groups");
  t.equal(addrAt(addrBase("fd02::/123" as Cidr), 0), "fd02::");
  t.equal(addrAt(addrBase("fd02::/123" as Cidr), 31), "fd02::1f");
});

t.test("addrAt on an IPv4 base", async (t) => {
  t.equal(addrAt(addrBase("10.2.0.0/27" as Cidr), 31), "10.2.0.31");
  t.equal(addrAt(addrBase("255.255.255.0/24" as Cidr), 255), "255.255.255.255");
});
