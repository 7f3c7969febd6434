import t from "tap";
import {
  isDualStackSubnetSet,
  isIPv4SubnetSet,
  isIPv6SubnetSet,
  subnetSetBlock,
  subnetSetEqual,
  validateSubnetSet,
  type SubnetSet,
} from "../../../lib/ipam/index.js";

function ss(ipv4: string, ipv6: string): SubnetSet {
  return { ...(ipv4 === "" ? {} : { ipv4 }), ...(ipv6 === "" ? {} : { ipv6 }) };
}

// §9.1.1: Coil's SubnetSet.Validate table, plus the error kind and message we expect.
t.test("validateSubnetSet (Coil TestSubnetSet/Validate)", async (t) => {
  const cases = [
    { name: "empty", min: 2, in: ss("", ""), want: "invalid-subnet", msg: "invalid subnet" },
    { name: "valid-ipv4", min: 2, in: ss("10.0.0.0/24", ""), want: null },
    { name: "invalid-ipv4", min: 2, in: ss("a.b.c.d/16", ""), want: "invalid-subnet", msg: "invalid CIDR address: a.b.c.d/16" },
    { name: "valid-ipv6", min: 2, in: ss("", "fd02::/112"), want: null },
    { name: "invalid-ipv6", min: 2, in: ss("", "q293::/112"), want: "invalid-subnet", msg: "invalid CIDR address: q293::/112" },
    { name: "valid-dual", min: 2, in: ss("10.0.0.0/24", "fd02::/120"), want: null },
    { name: "invalid-dual-1", min: 2, in: ss("10.0.0.0/24", "q293::/120"), want: "invalid-subnet" },
    { name: "invalid-dual-2", min: 2, in: ss("a.b.c.d/16", "fd02::/120"), want: "invalid-subnet" },
    {
      name: "dual-different-size",
      min: 2,
      in: ss("10.0.0.0/24", "fd02::/112"),
      want: "dual-stack-size-mismatch",
      msg: "dual stack subnet must be the same size",
    },
    { name: "size-bits-0", min: 0, in: ss("10.0.0.1/32", ""), want: null },
    { name: "too-small-ipv4", min: 5, in: ss("10.0.0.0/30", ""), want: "too-narrow-subnet", msg: "too narrow subnet: 10.0.0.0/30" },
    { name: "too-small-ipv6", min: 5, in: ss("", "fd02::/124"), want: "too-narrow-subnet", msg: "too narrow subnet: fd02::/124" },
    { name: "v6-in-ipv4-field", min: 0, in: ss("fd02::/120", ""), want: "invalid-subnet", msg: "invalid IPv4 subnet: fd02::/120" },
    { name: "v4-in-ipv6-field", min: 0, in: ss("", "10.0.0.0/24"), want: "invalid-subnet", msg: "invalid IPv6 subnet: 10.0.0.0/24" },
  ];
  for (const c of cases) {
    const r = validateSubnetSet(c.in, c.min);
    if (c.want === null) {
      t.ok(r.isOk(), `${c.name} valid`);
    } else {
      t.equal(r.isErr() ? r.error.kind : "ok", c.want, `${c.name} kind`);
      if (c.msg !== undefined) t.equal(r.isErr() ? r.error.message : "", c.msg, `${c.name} message`);
    }
  }
});

t.test("validateSubnetSet masks host bits and reports host bits", async (t) => {
  t.same(validateSubnetSet(ss("10.0.0.1/24", "fd02::5/120"), 0)._unsafeUnwrap(), {
    ipv4: "10.0.0.0/24",
    ipv6: "fd02::/120",
    hostBits: 8,
  });
  t.equal(validateSubnetSet(ss("", "fd02::/112"), 0)._unsafeUnwrap().hostBits, 16);
});

// §9.1.2
t.test("IsIPv4 / IsIPv6 / IsDualStack", async (t) => {
  const cases = [
    { name: "IPv4", in: ss("10.0.0.0/24", ""), want: [true, false, false] },
    { name: "IPv6", in: ss("", "fd02::/120"), want: [false, true, false] },
    { name: "DualStack", in: ss("10.2.0.0/24", "fd02::/120"), want: [false, false, true] },
  ];
  for (const c of cases) {
    t.same([isIPv4SubnetSet(c.in), isIPv6SubnetSet(c.in), isDualStackSubnetSet(c.in)], c.want, c.name);
  }
});

// §9.1.3
t.test("Equal", async (t) => {
  const cases = [
    { name: "ipv4-equal", a: ss("10.0.0.0/24", ""), b: ss("10.0.0.0/24", ""), want: true },
    { name: "ipv4-not-equal", a: ss("10.0.0.0/24", ""), b: ss("10.2.0.0/24", ""), want: false },
    { name: "ipv4-extra-ipv6-1", a: ss("10.0.0.0/24", "fd00::/120"), b: ss("10.0.0.0/24", ""), want: false },
    { name: "ipv4-extra-ipv6-2", a: ss("10.0.0.0/24", ""), b: ss("10.0.0.0/24", "fd00::/120"), want: false },
    { name: "ipv6-equal", a: ss("", "fd00::/120"), b: ss("", "fd00::/120"), want: true },
    { name: "ipv6-not-equal", a: ss("", "fd00::/120"), b: ss("", "fd00::/112"), want: false },
    { name: "ipv6-extra-ipv4-1", a: ss("10.0.0.0/24", "fd00::/120"), b: ss("", "fd00::/120"), want: false },
    { name: "ipv6-extra-ipv4-2", a: ss("", "fd00::/120"), b: ss("10.0.0.0/24", "fd00::/120"), want: false },
    { name: "dualstack-equal", a: ss("10.0.0.0/24", "fd02::/120"), b: ss("10.0.0.0/24", "fd02::/120"), want: true },
    { name: "dualstack-not-equal-ipv4", a: ss("10.0.0.0/24", "fd02::/120"), b: ss("10.2.0.0/24", "fd02::/120"), want: false },
    { name: "dualstack-not-equal-ipv6", a: ss("10.0.0.0/24", "fd02::/120"), b: ss("10.0.0.0/24", "fd02::/122"), want: false },
    { name: "not-canonicalised", a: ss("", "fd00::/120"), b: ss("", "FD00::/120"), want: false },
  ];
  for (const c of cases) t.equal(subnetSetEqual(c.a, c.b), c.want, c.name);
});

// §9.1.4 / §3.1: GetBlock examples.
t.test("GetBlock examples", async (t) => {
  const cases = [
    { in: ss("10.2.0.0/24", ""), n: 3, bits: 0, want: { index: 3, ipv4: "10.2.0.3/32" } },
    { in: ss("10.2.0.0/24", ""), n: 3, bits: 2, want: { index: 3, ipv4: "10.2.0.12/30" } },
    { in: ss("", "fd02::900:0/116"), n: 257, bits: 0, want: { index: 257, ipv6: "fd02::900:101/128" } },
    { in: ss("", "fd02::900:0/116"), n: 10, bits: 5, want: { index: 10, ipv6: "fd02::900:140/123" } },
    {
      in: ss("10.2.0.0/24", "fd02::900:0/120"),
      n: 10,
      bits: 5,
      want: { index: 10, ipv4: "10.2.1.64/27", ipv6: "fd02::900:140/123" },
    },
  ];
  for (const c of cases) {
    const parsed = validateSubnetSet(c.in, 0)._unsafeUnwrap();
    t.same(subnetSetBlock(parsed, c.n, c.bits)._unsafeUnwrap(), c.want, `${JSON.stringify(c.in)} n=${c.n} bits=${c.bits}`);
  }
  const top = validateSubnetSet(ss("255.255.255.0/24", ""), 0)._unsafeUnwrap();
  t.ok(subnetSetBlock(top, 8, 5).isErr(), "leaving the IPv4 range fails");
});
