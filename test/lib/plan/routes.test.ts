import t from "tap";
import { isEmptyChangeset, type Changeset, type NetnsState, type Route } from "../../../lib/changeset/index.js";
import { planHostInit, planRouteExport, planRouterRoutes, type RouterRoutesOptions } from "../../../lib/plan/index.js";
import { allOps, applyModel, cidr, ip } from "./fixtures.js";

/** A host with `lo` and an uplink `eth0` on 10.9.0.0/24 and fd09::/64 (where the router's gateways live). */
const HOST: NetnsState = {
  links: [
    { name: "lo", kind: "loopback", up: true, mtu: 65536 },
    { name: "eth0", kind: "device", up: true, mtu: 1500 },
  ],
  addrs: [{ dev: "eth0", cidr: cidr("10.9.0.1/24") }, { dev: "eth0", cidr: cidr("fd09::1/64") }],
  routes: [],
  rules: [],
  sysctls: {},
};
const UPLINK: readonly Route[] = [
  { family: 4, dst: cidr("10.9.0.0/24"), dev: "eth0", protocol: 2, scope: "link" },
  { family: 6, dst: cidr("fd09::/64"), dev: "eth0", protocol: 2 },
];

/** The host routes after the kernel model applies `cs` to a host whose routes are `routes`. */
function applyRoutes(routes: readonly Route[], cs: Changeset): Route[] {
  return [...(applyModel({ host: { ...HOST, routes } }, cs).host?.routes ?? [])];
}

t.test("host init: forwarding and pod-table rules only when no rule at that priority", async (t) => {
  t.same(allOps(planHostInit()._unsafeUnwrap()), [
    { kind: "sysctl.set", key: "net.ipv4.ip_forward", value: "1" },
    { kind: "sysctl.set", key: "net.ipv6.conf.all.forwarding", value: "1" },
    { kind: "rule.add", rule: { family: 4, priority: 2000, table: 116 } },
    { kind: "rule.add", rule: { family: 6, priority: 2000, table: 116 } },
  ]);
  const observed = {
    links: [], addrs: [], routes: [],
    rules: [{ family: 4 as const, priority: 2000, table: 200 }],
    sysctls: { "net.ipv4.ip_forward": "1", "net.ipv6.conf.all.forwarding": "0" },
  };
  t.same(allOps(planHostInit({ observed })._unsafeUnwrap()), [
    { kind: "sysctl.set", key: "net.ipv6.conf.all.forwarding", value: "1", previous: "0" },
    { kind: "rule.add", rule: { family: 6, priority: 2000, table: 116 } },
  ]);
  t.same(allOps(planHostInit({ families: [6], podTable: 255, podRulePrio: 3000 })._unsafeUnwrap()), [
    { kind: "sysctl.set", key: "net.ipv6.conf.all.forwarding", value: "1" },
    { kind: "rule.add", rule: { family: 6, priority: 3000, table: 255 } },
  ]);
  t.equal(planHostInit({ podRulePrio: -1 })._unsafeUnwrapErr().kind, "invalid-number");
});


t.test("route exporter: Coil §9.4.6 sequence (table 133, proto 99)", async (t) => {
  const n1 = cidr("10.2.0.0/27");
  const n2 = cidr("10.3.0.0/31");
  const n3 = cidr("fd02::200/123");
  const n4 = cidr("fd02::300/127");
  const unrelated: Route = { family: 4, dst: cidr("10.10.10.0/24"), dev: "eth0", table: 254 };
  let kernel: Route[] = [...UPLINK, unrelated];
  const sync = (blocks: typeof n1[]): void => {
    kernel = applyRoutes(kernel, planRouteExport({ blocks, observed: kernel, table: 133, protocol: 99 })._unsafeUnwrap());
    const table = kernel.filter((r) => r.table === 133).map((r) => r.dst).sort();
    t.same(table, [...blocks].sort(), `table 133 = {${blocks.join(", ")}}`);
    t.ok(kernel.includes(unrelated), "other tables untouched");
    t.ok(isEmptyChangeset(planRouteExport({ blocks, observed: kernel, table: 133, protocol: 99 })._unsafeUnwrap()), "re-sync is empty");
  };
  sync([n1, n2, n3, n4]);
  t.same(kernel.find((r) => r.dst === n1), { family: 4, dst: n1, dev: "lo", scope: "universe", protocol: 99, table: 133, metric: 0 }, "stored in kernel form");
  sync([n1, n3]);
  sync([n1, n2, n4]);
  sync([]);
});

t.test("route exporter keeps a desired destination whatever its attributes (Coil semantics)", async (t) => {
  const odd: Route = { family: 4, dst: cidr("10.2.0.0/27"), dev: "eth0", protocol: 4, table: 119 };
  t.ok(isEmptyChangeset(planRouteExport({ blocks: [cidr("10.2.0.0/27")], observed: [odd] })._unsafeUnwrap()));
  t.equal(planRouteExport({ blocks: [], observed: [], table: 0 })._unsafeUnwrapErr().kind, "invalid-number");
});

const nodes: RouterRoutesOptions["nodes"] = [
  { name: "self", internalIPs: [ip("10.9.0.1"), ip("fd09::1")] },
  { name: "n2", internalIPs: [ip("10.9.0.9"), ip("10.9.0.2"), ip("fd09::2")] },
  { name: "n3", internalIPs: [ip("10.9.0.3")] },
  { name: "n4", internalIPs: [ip("fd09::4")] },
];

t.test("router: desired routes (last InternalIP wins; own, unknown nodes and missing families skipped)", async (t) => {
  const blocks = [
    { node: "self", ipv4: cidr("10.2.0.0/27"), ipv6: cidr("fd02::/123") },
    { node: "n2", ipv4: cidr("10.2.0.32/27"), ipv6: cidr("fd02::20/123") },
    { node: "n3", ipv4: cidr("10.2.0.64/27"), ipv6: cidr("fd02::40/123") },
    { node: "n4", ipv4: cidr("10.2.0.96/27"), ipv6: cidr("fd02::60/123") },
    { node: "gone", ipv4: cidr("10.2.0.128/27") },
  ];
  const plan = planRouterRoutes({ self: "self", nodes, blocks, observed: [] })._unsafeUnwrap();
  t.same(plan.desired, [
    { family: 4, dst: "10.2.0.32/27", via: "10.9.0.2", protocol: 31 },
    { family: 6, dst: "fd02::20/123", via: "fd09::2", protocol: 31 },
    { family: 4, dst: "10.2.0.64/27", via: "10.9.0.3", protocol: 31 },
    { family: 6, dst: "fd02::60/123", via: "fd09::4", protocol: 31 },
  ]);
  t.equal(plan.desiredCount, 4);
  t.same(allOps(plan.changeset).map((o) => o.kind), ["route.replace", "route.replace", "route.replace", "route.replace"]);
});

t.test("router: Coil §9.4.7 route syncer sequence", async (t) => {
  const unrelated: Route = { family: 4, dst: cidr("10.10.10.10/32"), via: ip("127.0.0.1"), protocol: 2 };
  let kernel: Route[] = [...UPLINK, unrelated];
  const gw = (name: string, ips: string[]) => ({ name, internalIPs: ips.map(ip) });
  const sync = (ns: RouterRoutesOptions["nodes"], blocks: RouterRoutesOptions["blocks"], want: string[]): void => {
    const plan = planRouterRoutes({ self: "me", nodes: ns, blocks, observed: kernel })._unsafeUnwrap();
    kernel = applyRoutes(kernel, plan.changeset);
    const got = kernel.filter((r) => r.protocol === 31).map((r) => `${r.dst} via ${r.via}`).sort();
    t.same(got, [...want].sort());
    t.equal(plan.desiredCount, want.length, "proto-31 count equals desired set");
    t.ok(kernel.includes(unrelated), "route of another protocol untouched");
    t.ok(isEmptyChangeset(planRouterRoutes({ self: "me", nodes: ns, blocks, observed: kernel })._unsafeUnwrap().changeset), "re-sync empty");
  };
  const a = [gw("a", ["10.9.0.2", "fd09::2"])];
  sync(a, [{ node: "a", ipv4: cidr("10.1.0.0/24"), ipv6: cidr("fd01::/120") }, { node: "a", ipv4: cidr("10.1.1.0/24") }], [
    "10.1.0.0/24 via 10.9.0.2", "fd01::/120 via fd09::2", "10.1.1.0/24 via 10.9.0.2",
  ]);
  sync(a, [{ node: "a", ipv4: cidr("10.1.0.0/24") }], ["10.1.0.0/24 via 10.9.0.2"]);
  sync([gw("a", ["10.9.0.3"])], [{ node: "a", ipv4: cidr("10.1.0.0/24") }], ["10.1.0.0/24 via 10.9.0.3"]);
  const moved = planRouterRoutes({ self: "me", nodes: [gw("a", ["10.9.0.4"])], blocks: [{ node: "a", ipv4: cidr("10.1.0.0/24") }], observed: kernel });
  t.same(allOps(moved._unsafeUnwrap().changeset).map((o) => o.kind), ["route.del", "route.replace"], "moving a network: delete then add");
  sync([], [], []);
  t.equal(planRouterRoutes({ self: "me", nodes: [], blocks: [], observed: [], protocol: 300 })._unsafeUnwrapErr().kind, "invalid-number");
});

t.test("route exporter: options checked, blocks normalised, desired destinations kept as they are", async (t) => {
  t.equal(planRouteExport({ blocks: [], observed: [], table: 0 })._unsafeUnwrapErr().kind, "invalid-number");
  t.equal(planRouteExport({ blocks: [], observed: [], protocol: 256 })._unsafeUnwrapErr().kind, "invalid-number");
  t.same(allOps(planRouteExport({ blocks: [cidr("10.224.0.7/30")], observed: [] })._unsafeUnwrap()), [
    { kind: "route.replace", route: { family: 4, dst: "10.224.0.4/30", dev: "lo", scope: "universe", protocol: 30, table: 119 } },
  ], "host bits cleared; Coil's defaults table 119, protocol 30");
  const foreignAttrs: Route = { family: 4, dst: cidr("10.224.0.0/30"), dev: "eth0", protocol: 4, table: 119 };
  t.ok(isEmptyChangeset(planRouteExport({ blocks: [cidr("10.224.0.0/30")], observed: [foreignAttrs] })._unsafeUnwrap()), "Coil keeps a route whose destination is desired");
});
