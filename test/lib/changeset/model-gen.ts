import fc from "fast-check";
import type { NetlinkOp, NetnsState, Route } from "../../../lib/changeset/index.js";
import { c, a } from "./fixtures.js";

/** A host namespace with an up device, addresses, a forwarding sysctl. */
export const BASE: NetnsState = {
  links: [{ name: "eth0", kind: "device", up: true, mtu: 1500 }],
  addrs: [
    { dev: "eth0", cidr: c("10.0.0.1/24") },
    { dev: "eth0", cidr: c("fd00::1/64") },
  ],
  routes: [],
  rules: [],
  sysctls: { "net.ipv4.ip_forward": "0" },
};

const route4: fc.Arbitrary<Route> = fc.record({
  dst: fc.constantFrom("10.1.0.0/16", "10.2.0.3/32", "0.0.0.0/0"),
  dev: fc.constantFrom("eth0", "v0"),
  via: fc.constantFrom(undefined, "10.0.0.254", "10.9.9.9"),
  table: fc.constantFrom(116, 254),
  protocol: fc.constantFrom(undefined, 30),
  metric: fc.constantFrom(undefined, 5),
}).map((r) => {
  const out: Route = { family: 4, dst: c(r.dst), dev: r.dev, table: r.table };
  return {
    ...out,
    ...(r.via !== undefined ? { via: a(r.via), onlink: r.via === "10.9.9.9" } : {}),
    ...(r.protocol !== undefined ? { protocol: r.protocol } : {}),
    ...(r.metric !== undefined ? { metric: r.metric } : {}),
  };
});

const route6: fc.Arbitrary<Route> = fc.record({
  dst: fc.constantFrom("fd01::/64", "::/0"),
  table: fc.constantFrom(116, 254),
  via: fc.constantFrom(undefined, "fe80::1"),
}).map((r) => ({ family: 6, dst: c(r.dst), dev: "eth0", table: r.table, ...(r.via !== undefined ? { via: a(r.via) } : {}) }));

export const route = fc.oneof(route4, route6);

export const rule = fc.record({
  family: fc.constantFrom(4 as const, 6 as const),
  priority: fc.constantFrom(2000, 2001),
  table: fc.constantFrom(116, 117),
  from: fc.boolean(),
  oif: fc.constantFrom(undefined, "eth0"),
}).map((r) => ({
  family: r.family,
  priority: r.priority,
  table: r.table,
  ...(r.from ? { from: c(r.family === 4 ? "10.1.0.0/16" : "fd01::/64") } : {}),
  ...(r.oif !== undefined ? { oif: r.oif } : {}),
}));

export const addr = fc.record({ dev: fc.constantFrom("eth0", "d0", "v0"), cidr: fc.constantFrom("10.0.0.2/32", "10.0.0.2/24", "fd00::2/128", "fd00::2/64", "10.5.0.1/32") })
  .map((x) => ({ dev: x.dev, cidr: c(x.cidr) }));

/** Random ops over a small universe of names, so that they collide often. */
export const op: fc.Arbitrary<NetlinkOp> = fc.oneof(
  fc.constantFrom<NetlinkOp>(
    { kind: "link.add-dummy", name: "d0" },
    { kind: "link.add-veth", name: "v0", peer: { name: "p0", netns: { kind: "host" } } },
    { kind: "link.add-vxlan", name: "x0", dstport: 4789 },
    { kind: "link.set", name: "d0", up: true },
    { kind: "link.set", name: "v0", up: true },
    { kind: "fou.add", family: 4, port: 5555, ipproto: 4 },
    { kind: "fou.add", family: 6, port: 5555, ipproto: 41 },
    { kind: "sysctl.set", key: "net.ipv4.ip_forward", value: "1" },
  ),
  addr.map((x): NetlinkOp => ({ kind: "addr.add", ...x })),
  addr.map((x): NetlinkOp => ({ kind: "addr.del", ...x })),
  route.map((r): NetlinkOp => ({ kind: "route.add", route: r })),
  route.map((r): NetlinkOp => ({ kind: "route.replace", route: r })),
  route.map((r): NetlinkOp => ({ kind: "route.del", route: r })),
  rule.map((r): NetlinkOp => ({ kind: "rule.add", rule: r })),
  rule.map((r): NetlinkOp => ({ kind: "rule.del", rule: r })),
);

/** A state with its lists sorted, for order-insensitive comparison (rules keep priority order). */
export function canon(s: NetnsState): unknown {
  const sort = <T>(xs: readonly T[]) => [...xs].map((x) => JSON.stringify(x)).sort();
  return { links: sort(s.links), addrs: sort(s.addrs), routes: sort(s.routes), rules: sort(s.rules), sysctls: s.sysctls, fou: sort(s.fou ?? []) };
}
