import t from "tap";
import {
  addPoolFinalizer,
  formatFieldError,
  validatePoolCreate,
  validatePoolUpdate,
  withPoolDefaults,
  poolFamilies,
  type AddressPool,
  type AddressPoolSpec,
} from "../../../lib/ipam/index.js";

t.test("withPoolDefaults", async (t) => {
  t.equal(withPoolDefaults({ subnets: [{ ipv4: "10.2.0.0/24" }] }).blockSizeBits, 5, "absent → 5");
  t.equal(withPoolDefaults({ blockSizeBits: 0, subnets: [{ ipv4: "10.2.0.0/24" }] }).blockSizeBits, 0, "explicit 0 stays 0");
});

t.test("poolFamilies: every family of any subnet item", async (t) => {
  t.same(poolFamilies({ subnets: [{ ipv4: "10.2.0.0/24" }] }), [4]);
  t.same(poolFamilies({ subnets: [{ ipv6: "fd02::/112" }] }), [6]);
  t.same(poolFamilies({ subnets: [{ ipv4: "10.2.0.0/24", ipv6: "fd02::/120" }] }), [4, 6]);
  t.same(poolFamilies({ subnets: [{ ipv6: "fd02::/112" }, { ipv4: "10.2.0.0/24" }] }), [4, 6], "items of different families");
});

t.test("addPoolFinalizer (mutating webhook)", async (t) => {
  const pool: AddressPool = { apiVersion: "coil.cybozu.com/v2", kind: "AddressPool", metadata: { name: "default" }, spec: { subnets: [] } };
  const once = addPoolFinalizer(pool);
  t.same(once.metadata.finalizers, ["coil.cybozu.com"]);
  t.same(addPoolFinalizer(once).metadata.finalizers, ["coil.cybozu.com"], "idempotent");
  t.equal(pool.metadata.finalizers, undefined, "input not mutated");
});

// §9.1.6 create cases (the pool-level ones).
t.test("validatePoolCreate", async (t) => {
  const cases: { name: string; spec: AddressPoolSpec; want: string[] | null; bits?: number }[] = [
    { name: "only subnets → default bits 5", spec: { subnets: [{ ipv4: "10.2.0.0/24" }] }, want: null, bits: 5 },
    { name: "bits 0 stays 0", spec: { blockSizeBits: 0, subnets: [{ ipv4: "10.2.0.0/24" }] }, want: null, bits: 0 },
    { name: "bits 2", spec: { blockSizeBits: 2, subnets: [{ ipv4: "10.2.0.0/24" }] }, want: null, bits: 2 },
    {
      name: "bits -1 (schema)",
      spec: { blockSizeBits: -1, subnets: [{ ipv4: "10.2.0.0/24" }] },
      want: ["spec.blockSizeBits: Invalid value: -1: spec.blockSizeBits in body should be greater than or equal to 0"],
    },
    { name: "invalid subnet", spec: { subnets: [{ ipv4: "10.2.0.0" }] }, want: ['spec.subnets[0]: Invalid value: "": invalid CIDR address: 10.2.0.0'] },
    {
      name: "empty subnets (schema)",
      spec: { subnets: [] },
      want: ["spec.subnets: Invalid value: 0: spec.subnets in body should have at least 1 items"],
    },
    {
      name: "too narrow",
      spec: { blockSizeBits: 8, subnets: [{ ipv4: "10.2.0.0/30" }] },
      want: ['spec.subnets[0]: Invalid value: "": too narrow subnet: 10.2.0.0/30'],
    },
    {
      name: "all item errors at once",
      spec: { blockSizeBits: 4, subnets: [{ ipv4: "10.2.0.0/24" }, {}, { ipv4: "10.3.0.0/24", ipv6: "fd02::/112" }, { ipv6: "fd02::/126" }] },
      want: [
        'spec.subnets[1]: Invalid value: "": invalid subnet',
        'spec.subnets[2]: Invalid value: "": dual stack subnet must be the same size',
        'spec.subnets[3]: Invalid value: "": too narrow subnet: fd02::/126',
      ],
    },
  ];
  for (const c of cases) {
    const r = validatePoolCreate(c.spec);
    if (c.want === null) {
      t.ok(r.isOk(), c.name);
      t.equal(r.isOk() ? r.value.blockSizeBits : -99, c.bits, `${c.name}: bits`);
    } else {
      t.same(r.isErr() ? r.error.map(formatFieldError) : [], c.want, c.name);
    }
  }
});

// §9.1.6 update cases.
t.test("validatePoolUpdate", async (t) => {
  const v6pool: AddressPoolSpec = { blockSizeBits: 0, subnets: [{ ipv6: "fd02::/120" }] };
  const bits8: AddressPoolSpec = { blockSizeBits: 8, subnets: [{ ipv6: "fd02::/120" }] };
  const two: AddressPoolSpec = { blockSizeBits: 2, subnets: [{ ipv4: "10.2.0.0/24" }, { ipv4: "10.3.0.0/24" }] };
  const cases: { name: string; old: AddressPoolSpec; new: AddressPoolSpec; want: string[] | null }[] = [
    { name: "append fd03::/112 ok", old: v6pool, new: { ...v6pool, subnets: [...v6pool.subnets, { ipv6: "fd03::/112" }] }, want: null },
    {
      name: "append too narrow",
      old: bits8,
      new: { ...bits8, subnets: [...bits8.subnets, { ipv6: "fd03::/124" }] },
      want: ['spec.subnets[1]: Invalid value: "": too narrow subnet: fd03::/124'],
    },
    { name: "change bits", old: two, new: { ...two, blockSizeBits: 4 }, want: ["spec.blockSizeBits: Forbidden: unchangeable"] },
    { name: "remove subnet", old: two, new: { ...two, subnets: [{ ipv4: "10.2.0.0/24" }] }, want: ["spec.subnets: Forbidden: unshrinkable"] },
    {
      name: "change subnet[1]",
      old: two,
      new: { ...two, subnets: [{ ipv4: "10.2.0.0/24" }, { ipv4: "10.4.0.0/24" }] },
      want: ["spec.subnets[1]: Forbidden: unchangeable"],
    },
    {
      name: "defaulted bits equal explicit 5",
      old: { subnets: [{ ipv4: "10.2.0.0/24" }] },
      new: { blockSizeBits: 5, subnets: [{ ipv4: "10.2.0.0/24" }] },
      want: null,
    },
    {
      name: "every error at once",
      old: two,
      new: { blockSizeBits: 3, subnets: [{ ipv4: "10.9.0.0/24" }, { ipv4: "10.3.0.0/24" }, { ipv4: "10.5.0.0/31" }] },
      want: [
        "spec.blockSizeBits: Forbidden: unchangeable",
        "spec.subnets[0]: Forbidden: unchangeable",
        'spec.subnets[2]: Invalid value: "": too narrow subnet: 10.5.0.0/31',
      ],
    },
  ];
  for (const c of cases) {
    const r = validatePoolUpdate(c.old, c.new);
    if (c.want === null) t.ok(r.isOk(), c.name);
    else t.same(r.isErr() ? r.error.map(formatFieldError) : [], c.want, c.name);
  }
  const r = validatePoolUpdate(two, { ...two, subnets: [] });
  t.same(r.isErr() ? r.error.map((e) => e.kind) : [], ["empty-subnets"], "schema stage first");
});
