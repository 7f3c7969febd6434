import t from "tap";
import { choosePool, parseAddressBlock, parsePool } from "../../../lib/ipam/index.js";

t.test("choosePool", async (t) => {
  const cases = [
    { name: "no annotations", in: undefined, want: "default" },
    { name: "other annotations", in: { "foo/bar": "x" }, want: "default" },
    { name: "annotated", in: { "coil.cybozu.com/pool": "bar" }, want: "bar" },
  ];
  for (const c of cases) t.equal(choosePool(c.in), c.want, c.name);
});

t.test("parsePool", async (t) => {
  const good = {
    apiVersion: "coil.cybozu.com/v2",
    kind: "AddressPool",
    metadata: { name: "default", finalizers: ["coil.cybozu.com"], resourceVersion: "12" },
    spec: { blockSizeBits: 0, subnets: [{ ipv4: "10.2.0.0/24", ipv6: "fd02::/120" }, { ipv4: "10.3.0.0/24" }] },
  };
  t.same(parsePool(good)._unsafeUnwrap(), {
    apiVersion: "coil.cybozu.com/v2",
    kind: "AddressPool",
    metadata: { name: "default", finalizers: ["coil.cybozu.com"] },
    spec: { blockSizeBits: 0, subnets: [{ ipv4: "10.2.0.0/24", ipv6: "fd02::/120" }, { ipv4: "10.3.0.0/24" }] },
  });
  const noBits = parsePool({ ...good, spec: { subnets: [] } })._unsafeUnwrap();
  t.equal(noBits.spec.blockSizeBits, undefined, "absent bits stay absent (defaulting is separate)");
  const bad = [
    { name: "not an object", in: 3, path: "" },
    { name: "wrong kind", in: { ...good, kind: "Egress" }, path: "kind" },
    { name: "no name", in: { ...good, metadata: {} }, path: "metadata.name" },
    { name: "bits not integer", in: { ...good, spec: { blockSizeBits: 1.5, subnets: [] } }, path: "spec.blockSizeBits" },
    { name: "subnets not list", in: { ...good, spec: { subnets: {} } }, path: "spec.subnets" },
    { name: "ipv6 not string", in: { ...good, spec: { subnets: [{ ipv6: 7 }] } }, path: "spec.subnets[0].ipv6" },
    { name: "labels not strings", in: { ...good, metadata: { name: "x", labels: { a: 1 } } }, path: "metadata.labels" },
  ];
  for (const c of bad) {
    const r = parsePool(c.in);
    t.equal(r.isErr() ? r.error.path : "ok", c.path, c.name);
  }
});

t.test("parseAddressBlock", async (t) => {
  const block = {
    apiVersion: "coil.cybozu.com/v2",
    kind: "AddressBlock",
    metadata: {
      name: "default-2",
      labels: { "coil.cybozu.com/pool": "default", "coil.cybozu.com/node": "node1", "coil.cybozu.com/reserved": "true" },
    },
    index: 2,
    ipv4: "10.2.0.4/31",
  };
  t.same(parseAddressBlock(block)._unsafeUnwrap(), {
    name: "default-2",
    pool: "default",
    index: 2,
    ipv4: "10.2.0.4/31",
    reserved: true,
    node: "node1",
  });
  const noPool = parseAddressBlock({ ...block, metadata: { name: "x" } });
  t.equal(noPool.isErr() ? noPool.error.path : "", 'metadata.labels["coil.cybozu.com/pool"]');
  t.equal(parseAddressBlock({ ...block, index: -1 }).isErr(), true);
  const v4 = parseAddressBlock({ ...block, ipv4: 1 });
  t.equal(v4.isErr() ? v4.error.path : "", "ipv4");
});
