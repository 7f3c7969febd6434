import t from "tap";
import { applyOp, applyChangeset, applyNftCommands, EMPTY_NETNS_STATE, EMPTY_NFT_RULESET, netnsPath, HOST_NETNS } from "../../../lib/changeset/index.js";
import type { NetlinkOp, NetnsState } from "../../../lib/changeset/index.js";
import { BASE } from "./model-gen.js";
import { a, c, everyOpChangeset, someNft } from "./fixtures.js";

function run(s: NetnsState, ops: NetlinkOp[]) {
  let cur = s;
  for (const op of ops) cur = applyOp(cur, op)._unsafeUnwrap();
  return cur;
}

const errno = (s: NetnsState, op: NetlinkOp) => applyOp(s, op).match(() => "ok", (e) => e.errno);

t.test("kernel-like errors", async (t) => {
  const s = run(BASE, [
    { kind: "link.add-dummy", name: "d0" },
    { kind: "route.add", route: { family: 4, dst: c("10.1.0.0/16"), dev: "eth0", table: 116 } },
    { kind: "rule.add", rule: { family: 4, priority: 2000, table: 116 } },
    { kind: "fou.add", family: 4, port: 5555, ipproto: 4 },
  ]);
  const cases: { name: string; op: NetlinkOp; want: string }[] = [
    { name: "link exists", op: { kind: "link.add-dummy", name: "eth0" }, want: "EEXIST" },
    { name: "veth peer name taken", op: { kind: "link.add-veth", name: "v0", peer: { name: "d0", netns: HOST_NETNS } }, want: "EEXIST" },
    { name: "del missing link", op: { kind: "link.del", name: "nope" }, want: "ENODEV" },
    { name: "set missing link", op: { kind: "link.set", name: "nope", up: true }, want: "ENODEV" },
    { name: "addr exists", op: { kind: "addr.add", dev: "eth0", cidr: c("10.0.0.1/24") }, want: "EEXIST" },
    { name: "v4 same addr other prefix is fine", op: { kind: "addr.add", dev: "eth0", cidr: c("10.0.0.1/32") }, want: "ok" },
    { name: "v6 same addr other prefix", op: { kind: "addr.add", dev: "eth0", cidr: c("fd00::1/128") }, want: "EEXIST" },
    { name: "addr on missing link", op: { kind: "addr.add", dev: "nope", cidr: c("10.0.0.9/32") }, want: "ENODEV" },
    { name: "del missing addr", op: { kind: "addr.del", dev: "eth0", cidr: c("10.0.0.9/32") }, want: "EADDRNOTAVAIL" },
    { name: "route exists", op: { kind: "route.add", route: { family: 4, dst: c("10.1.0.0/16"), dev: "eth0", table: 116 } }, want: "EEXIST" },
    { name: "same key other dev", op: { kind: "route.add", route: { family: 4, dst: c("10.1.0.0/16"), dev: "d0", table: 116 } }, want: "ENETDOWN" },
    { name: "other metric is another route", op: { kind: "route.add", route: { family: 4, dst: c("10.1.0.0/16"), dev: "eth0", table: 116, metric: 7 } }, want: "ok" },
    { name: "replace is idempotent", op: { kind: "route.replace", route: { family: 4, dst: c("10.1.0.0/16"), dev: "eth0", table: 116 } }, want: "ok" },
    { name: "route via missing dev", op: { kind: "route.add", route: { family: 4, dst: c("10.2.0.0/16"), dev: "nope" } }, want: "ENODEV" },
    { name: "route via down dev", op: { kind: "route.add", route: { family: 4, dst: c("10.2.0.0/16"), dev: "d0" } }, want: "ENETDOWN" },
    { name: "unreachable gateway", op: { kind: "route.add", route: { family: 4, dst: c("10.2.0.0/16"), via: a("10.9.0.1") } }, want: "ENETUNREACH" },
    { name: "connected gateway", op: { kind: "route.add", route: { family: 4, dst: c("10.2.0.0/16"), via: a("10.0.0.254") } }, want: "ok" },
    { name: "onlink gateway", op: { kind: "route.add", route: { family: 4, dst: c("10.2.0.0/16"), via: a("10.9.0.1"), dev: "eth0", onlink: true } }, want: "ok" },
    { name: "host bits in dst", op: { kind: "route.add", route: { family: 4, dst: c("10.2.0.1/16"), dev: "eth0" } }, want: "EINVAL" },
    { name: "non-local src", op: { kind: "route.add", route: { family: 4, dst: c("10.2.0.0/16"), dev: "eth0", src: a("10.7.7.7") } }, want: "EINVAL" },
    { name: "v6 link-local gw without dev", op: { kind: "route.add", route: { family: 6, dst: c("::/0"), via: a("fe80::1") } }, want: "EINVAL" },
    { name: "del missing route", op: { kind: "route.del", route: { family: 4, dst: c("10.3.0.0/16") } }, want: "ESRCH" },
    { name: "rule exists", op: { kind: "rule.add", rule: { family: 4, priority: 2000, table: 116 } }, want: "EEXIST" },
    { name: "rule v6 is separate", op: { kind: "rule.add", rule: { family: 6, priority: 2000, table: 116 } }, want: "ok" },
    { name: "del missing rule", op: { kind: "rule.del", rule: { family: 4, priority: 2001, table: 116 } }, want: "ENOENT" },
    { name: "fou exists", op: { kind: "fou.add", family: 4, port: 5555, ipproto: 4 }, want: "EEXIST" },
    { name: "fou del missing", op: { kind: "fou.del", family: 6, port: 5555 }, want: "EINVAL" },
    { name: "sysctl of missing dev", op: { kind: "sysctl.set", key: "net.ipv4.conf.nope.rp_filter", value: "0" }, want: "ENOENT" },
    { name: "sysctl of all", op: { kind: "sysctl.set", key: "net.ipv4.conf.all.rp_filter", value: "0" }, want: "ok" },
  ];
  for (const k of cases) t.equal(errno(s, k.op), k.want, k.name);
});

t.test("deleting a link takes addresses, routes, sysctls and the veth peer", async (t) => {
  const s = run(BASE, [
    { kind: "link.add-veth", name: "v0", peer: { name: "p0", netns: HOST_NETNS } },
    { kind: "link.set", name: "v0", up: true },
    { kind: "addr.add", dev: "v0", cidr: c("10.5.0.1/32") },
    { kind: "route.add", route: { family: 4, dst: c("10.6.0.0/16"), dev: "v0", table: 116 } },
    { kind: "rule.add", rule: { family: 4, priority: 10, table: 116, oif: "v0" } },
    { kind: "sysctl.set", key: "net.ipv4.conf.v0.rp_filter", value: "0" },
  ]);
  t.equal(s.links.length, 3);
  const d = applyOp(s, { kind: "link.del", name: "p0" })._unsafeUnwrap();
  t.same(d.links.map((l) => l.name), ["eth0"], "both ends gone");
  t.same(d.addrs, BASE.addrs);
  t.same(d.routes, []);
  t.equal(d.rules.length, 1, "rules naming the link stay (detached)");
  t.same(d.sysctls, BASE.sysctls);
});

t.test("renaming a link (Coil's tunl0 -> coil_tunl) carries its addresses, sysctls and a veth peer's reference", async (t) => {
  const s = run(BASE, [
    { kind: "link.add-veth", name: "v0", peer: { name: "p0", netns: HOST_NETNS } },
    { kind: "addr.add", dev: "v0", cidr: c("10.5.0.1/32") },
    { kind: "sysctl.set", key: "net.ipv4.conf.v0.rp_filter", value: "0" },
  ]);
  // (A link being renamed is down, so no route goes through it.)
  const r = applyOp(s, { kind: "link.set", name: "v0", newName: "v1" })._unsafeUnwrap();
  t.same(r.links.map((l) => [l.name, l.peer]), [["eth0", undefined], ["v1", "p0"], ["p0", "v1"]]);
  t.same(r.addrs.filter((x) => x.cidr === "10.5.0.1/32").map((x) => x.dev), ["v1"]);
  t.equal(r.sysctls["net.ipv4.conf.v1.rp_filter"], "0");
  t.equal(r.sysctls["net.ipv4.conf.v0.rp_filter"], undefined);
  t.equal(errno(s, { kind: "link.set", name: "v0", newName: "p0" }), "EEXIST", "the new name is taken");
  t.equal(errno(s, { kind: "link.set", name: "nope", newName: "x" }), "ENODEV");
  t.equal(errno(s, { kind: "link.set", name: "eth0", newName: "eth9" }), "EBUSY", "the kernel refuses renaming a link that is up");
  t.same(applyOp(s, { kind: "link.set", name: "v0", newName: "v1", up: true })._unsafeUnwrap().links.find((l) => l.name === "v1")?.up, true, "renamed, then set up");
});

t.test("link down flushes routes and IPv6 addresses", async (t) => {
  const s = run(BASE, [
    { kind: "route.add", route: { family: 6, dst: c("fd01::/64"), dev: "eth0" } },
    { kind: "link.set", name: "eth0", up: false },
  ]);
  t.same(s.routes, []);
  t.same(s.addrs, [{ dev: "eth0", cidr: "10.0.0.1/24" }]);
});

t.test("deleting an IPv4 address takes routes with that src", async (t) => {
  const s = run(BASE, [
    { kind: "addr.add", dev: "eth0", cidr: c("10.0.0.7/32") },
    { kind: "route.add", route: { family: 4, dst: c("10.6.0.0/16"), dev: "eth0", src: a("10.0.0.7") } },
    { kind: "addr.del", dev: "eth0", cidr: c("10.0.0.7/32") },
  ]);
  t.same(s.routes, []);
});

t.test("rule delete matches the first rule with the given selectors", async (t) => {
  const s = run(BASE, [
    { kind: "rule.add", rule: { family: 4, priority: 2000, table: 116, from: c("10.1.0.0/16") } },
    { kind: "rule.add", rule: { family: 4, priority: 1000, table: 116 } },
    { kind: "rule.add", rule: { family: 4, priority: 2000, table: 116 } },
    { kind: "rule.del", rule: { family: 4, priority: 2000, table: 116 } },
  ]);
  t.same(s.rules, [{ family: 4, priority: 1000, table: 116 }, { family: 4, priority: 2000, table: 116 }], "the from-rule went first");
});

t.test("applyChangeset across namespaces, with nft", async (t) => {
  const pod = "/var/run/netns/pod1";
  const states = { host: EMPTY_NETNS_STATE, [pod]: EMPTY_NETNS_STATE };
  const r = applyChangeset(states, everyOpChangeset());
  t.ok(r.isErr(), "fails: the pod veth x0's peer goes to host where x1 is free, but mangle table is missing");
  const f = r._unsafeUnwrapErr();
  t.equal(f.step, 1);
  t.equal(f.op, "nft");
  t.match(f.cause, { kind: "nft-error", errno: "ENOENT" });
  t.same(f.states[pod]?.nft, undefined, "nft transaction is all-or-nothing");
  t.same(f.states.host?.links.map((l) => l.name).sort(), ["coil_ipip6", "fou-dummy", "fou4_0a010101", "veth3a9f01c2", "x1"]);
  t.same(f.states[pod]?.links.map((l) => l.name).sort(), ["eth0", "x0"]);
  const missing = applyChangeset({ host: EMPTY_NETNS_STATE }, { steps: [{ netns: netnsPath("/nope"), netlink: [{ kind: "link.add-dummy", name: "d" }], nft: [] }] });
  t.match(missing._unsafeUnwrapErr().cause, { kind: "netns-not-found", netns: "/nope" });
  const delPeer = applyChangeset(f.states, { steps: [{ netns: HOST_NETNS, netlink: [{ kind: "link.del", name: "veth3a9f01c2" }], nft: [] }] })._unsafeUnwrap();
  t.same(delPeer[pod]?.links.map((l) => l.name), ["x0"], "deleting the host end removes the pod end");
});

t.test("nft model", async (t) => {
  const cmds = someNft();
  t.match(applyNftCommands(EMPTY_NFT_RULESET, cmds)._unsafeUnwrapErr(), { errno: "ENOENT" }, "set needs its table");
  const ok = applyNftCommands(EMPTY_NFT_RULESET, [
    ...cmds.slice(0, 3),
    { add: { table: { family: "ip", name: "mangle" } } },
    { add: { chain: { family: "ip", table: "mangle", name: "input", type: "filter", hook: "input", prio: -150 } } },
    ...cmds.slice(3, 5),
    { add: { table: { family: "ip", name: "nat" } } },
  ])._unsafeUnwrap();
  t.equal(ok.tables.length, 2, "add table is ensure-exists");
  const nat = ok.tables[0];
  t.same(nat?.chains[0]?.rules.map((r) => r.handle), [2]);
  const again = (c: Parameters<typeof applyNftCommands>[1]) => applyNftCommands(ok, c).match(() => "ok", (e) => e.errno);
  t.equal(again([{ create: { table: { family: "ip", name: "nat" } } }]), "EEXIST");
  t.equal(again([{ delete: { chain: { family: "ip", table: "nat", name: "POSTROUTING" } } }]), "EBUSY");
  t.equal(again([{ delete: { set: { family: "ip", table: "mangle", name: "eth0", type: "ifname" } } }]), "EBUSY");
  t.equal(again([{ flush: { chain: { family: "ip", table: "nat", name: "POSTROUTING" } } }, { delete: { chain: { family: "ip", table: "nat", name: "POSTROUTING" } } }]), "ok");
  t.equal(again([{ delete: { rule: { family: "ip", table: "nat", chain: "POSTROUTING", expr: [], handle: 99 } } }]), "ENOENT");
  t.equal(again([{ delete: { element: { family: "ip", table: "mangle", name: "eth0", elem: ["eth9"] } } }]), "ENOENT");
  t.equal(again([{ delete: { table: { family: "ip", name: "nat" } } }, { delete: { table: { family: "ip", name: "nat" } } }]), "ENOENT");
});
