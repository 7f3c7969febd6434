// Parsers of `ip -j` output, tested against output captured from a real kernel
// (test/fixtures/ip/capture.sh). No root needed.
import t from "tap";
import { readFileSync } from "node:fs";
import { ok } from "neverthrow";
import { parseIpAddrs, parseIpLinkDetails, parseIpLinks } from "../../../adapters/kernel/parse-ip-link.js";
import { parseIpRoutes, parseIpRules } from "../../../adapters/kernel/parse-ip-route.js";
import { netnsStateFromJson, splitJsonLines } from "../../../adapters/kernel/observer.js";

const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`../../fixtures/ip/${name}`, import.meta.url), "utf8"));
const jsonl = (name: string, n: number): unknown[] =>
  splitJsonLines(readFileSync(new URL(`../../fixtures/ip/${name}`, import.meta.url), "utf8"), n, name)._unsafeUnwrap();

t.test("links: kinds need -d, alias, up, mtu", async (t) => {
  const plain = parseIpLinks(fixture("host-link.json"))._unsafeUnwrap();
  const detailed = parseIpLinks(fixture("host-link-details.json"))._unsafeUnwrap();
  t.same(plain.map((l) => [l.name, l.kind]), [["lo", "loopback"], ["veth0", "device"], ["vx0", "device"]]);
  t.same(detailed.map((l) => [l.name, l.kind, l.up, l.mtu]), [
    ["lo", "loopback", true, 65536],
    ["veth0", "veth", true, 1450],
    ["vx0", "vxlan", false, 1500],
  ]);
  t.equal(detailed[1]?.alias, "COIL:default:abc:eth0");
  t.equal(detailed[1]?.peer, undefined, "peer in another netns is not named");
  t.equal(detailed[1]?.peerIndex, 2, "but its index there is kept (link_index beside link_netnsid)");
  t.equal(plain[1]?.peerIndex, undefined, "only for a veth (the kind needs -d)");
  t.equal(detailed[0]?.alias, undefined);
});

t.test("link details keep info_kind and operstate beside the link state", async (t) => {
  const d = parseIpLinkDetails(fixture("host-link-details.json"))._unsafeUnwrap();
  t.same(d.map((x) => [x.link.name, x.infoKind, x.operState]), [
    ["lo", undefined, "UNKNOWN"],
    ["veth0", "veth", "UP"],
    ["vx0", "vxlan", "DOWN"],
  ]);
  t.same(d.map((x) => x.link), parseIpLinks(fixture("host-link-details.json"))._unsafeUnwrap(), "the same LinkStates as parseIpLinks");
  const odd = parseIpLinkDetails([{ ifname: "wg0", ifindex: 9, mtu: 1420, flags: ["UP"], operstate: "UNKNOWN", linkinfo: { info_kind: "wireguard" } }])._unsafeUnwrap();
  t.same([odd[0]?.link.kind, odd[0]?.infoKind], ["other", "wireguard"], "kinds outside LinkKind are kept as printed");
});

t.test("veth peer in the same namespace is named", async (t) => {
  const json = [
    { ifindex: 5, link_index: 6, ifname: "a", flags: ["UP"], mtu: 1500, linkinfo: { info_kind: "veth" } },
    { ifindex: 6, link_index: 5, ifname: "b", flags: [], mtu: 1500, linkinfo: { info_kind: "veth" } },
  ];
  t.same(parseIpLinks(json).map((ls) => ls.map((l) => l.peer)), ok(["b", "a"]));
});

t.test("addresses of both families", async (t) => {
  const addrs = parseIpAddrs(fixture("host-addr.json"))._unsafeUnwrap();
  const mine = addrs.filter((a) => !a.cidr.startsWith("fe80:"));
  t.same(mine, [
    { dev: "lo", cidr: "127.0.0.1/8" },
    { dev: "lo", cidr: "::1/128" },
    { dev: "veth0", cidr: "10.0.0.1/32" },
    { dev: "veth0", cidr: "fd00::1/128" },
  ]);
  t.ok(addrs.some((a) => a.dev === "veth0" && a.cidr.startsWith("fe80:") && a.cidr.endsWith("/64")), "kernel link-local");
});

t.test("routes: names and -N numbers give the same typed routes", async (t) => {
  const named = parseIpRoutes(fixture("host-route4.json"), 4)._unsafeUnwrap();
  const numeric = parseIpRoutes(jsonl("host-batch4.jsonl", 4)[2], 4)._unsafeUnwrap();
  const want = [
    { family: 4, dst: "10.1.0.5/32", dev: "veth0", table: 116, protocol: 30, scope: "link" },
    { family: 4, dst: "10.9.0.0/24", dev: "veth0", via: "10.1.0.5", table: 254, protocol: 31, metric: 10, onlink: true },
  ];
  t.same(named, want, "local/broadcast routes are skipped");
  t.same(numeric, want);
});

t.test("IPv6 routes and default routes", async (t) => {
  const host6 = parseIpRoutes(fixture("host-route6.json"), 6)._unsafeUnwrap();
  t.same(host6.find((r) => r.table === 116), { family: 6, dst: "fd01::5/128", dev: "veth0", table: 116, protocol: 30, metric: 1024 });
  t.ok(host6.some((r) => r.dst === "fe80::/64" && r.protocol === 2), "kernel link-local route, protocol kernel=2");
  const pod4 = parseIpRoutes(jsonl("pod-batch4.jsonl", 4)[2], 4)._unsafeUnwrap();
  t.same(pod4, [{ family: 4, dst: "0.0.0.0/0", dev: "eth0", via: "10.0.0.1", table: 254, protocol: 3, onlink: true }]);
  const pod6 = parseIpRoutes(jsonl("pod-batch6.jsonl", 3)[1], 6)._unsafeUnwrap();
  t.same(pod6.find((r) => r.dst === "::/0"), { family: 6, dst: "::/0", dev: "eth0", via: "fe80::1", table: 254, protocol: 3, metric: 1024 });
});

t.test("routes of the other family are refused, not misread", async (t) => {
  const r = parseIpRoutes(fixture("host-route-all.json"), 4);
  t.ok(r.isErr());
  t.match(r._unsafeUnwrapErr(), { kind: "unexpected-output", message: /not an IPv4 destination/ });
});

t.test("rules of both families", async (t) => {
  const r4 = parseIpRules(fixture("host-rule4.json"), 4)._unsafeUnwrap();
  t.same(r4, [
    { family: 4, priority: 0, table: 255 },
    { family: 4, priority: 1000, table: 1005, from: "10.1.0.0/24", to: "10.2.0.0/16", iif: "veth0", fwmark: 5, fwmask: 255 },
    { family: 4, priority: 1800, table: 254, to: "169.254.0.0/16", oif: "veth0" },
    { family: 4, priority: 2000, table: 116 },
    { family: 4, priority: 32766, table: 254 },
    { family: 4, priority: 32767, table: 253 },
  ]);
  t.same(parseIpRules(jsonl("host-batch4.jsonl", 4)[3], 4), ok(r4), "-N output parses the same");
  t.same(parseIpRules(fixture("host-rule6.json"), 6), ok([
    { family: 6, priority: 0, table: 255 },
    { family: 6, priority: 2000, table: 116 },
    { family: 6, priority: 32766, table: 254 },
  ]));
});

const hostile = [
  { name: "not an array", parse: () => parseIpLinks({ ifname: "x" }), where: "ip link" },
  { name: "ifname not a string", parse: () => parseIpLinks([{ ifindex: 1, ifname: 3, mtu: 1 }]), where: "ip link[0].ifname" },
  { name: "negative mtu", parse: () => parseIpLinks([{ ifindex: 1, ifname: "a", mtu: -1 }]), where: "ip link[0].mtu" },
  { name: "flags not strings", parse: () => parseIpLinks([{ ifindex: 1, ifname: "a", mtu: 1, flags: [1] }]), where: "ip link[0].flags" },
  { name: "bad address", parse: () => parseIpAddrs([{ ifname: "a", addr_info: [{ local: "10.0.0.300", prefixlen: 8 }] }]), where: "ip addr[0].addr_info[0].local" },
  { name: "prefix too long", parse: () => parseIpAddrs([{ ifname: "a", addr_info: [{ local: "10.0.0.1", prefixlen: 33 }] }]), where: "ip addr[0].addr_info[0].local" },
  { name: "unknown table name", parse: () => parseIpRoutes([{ dst: "10.0.0.0/8", table: "mytable" }], 4), where: "ip route[0].table" },
  { name: "protocol __proto__", parse: () => parseIpRoutes([{ dst: "10.0.0.0/8", protocol: "__proto__" }], 4), where: "ip route[0].protocol" },
  { name: "gateway not an IP", parse: () => parseIpRoutes([{ dst: "10.0.0.0/8", gateway: "x; rm" }], 4), where: "ip route[0].gateway" },
  { name: "rule without priority", parse: () => parseIpRules([{ table: "main" }], 4), where: "ip rule[0].priority" },
  { name: "fwmark garbage", parse: () => parseIpRules([{ priority: 1, table: "main", fwmark: "0xzz" }], 4), where: "ip rule[0].fwmark" },
];
for (const c of hostile) {
  t.test(`refuses: ${c.name}`, async (t) => {
    const r = c.parse();
    t.ok(r.isErr());
    if (r.isErr()) t.match(r.error, { kind: "unexpected-output", where: c.where });
  });
}

t.test("unrepresentable entries are skipped", async (t) => {
  t.same(parseIpRoutes([{ type: "blackhole", dst: "10.0.0.0/8" }, { dst: "10.1.0.0/16", nexthops: [] }, { dst: "10.2.0.0/16", scope: "site" }], 4), ok([]));
  t.same(parseIpRules([{ priority: 5, not: null, table: "main" }, { priority: 6, goto: 7 }], 4), ok([]));
});

t.test("assembled NetnsState from the observer's batch output", async (t) => {
  const s = netnsStateFromJson(jsonl("pod-batch4.jsonl", 4), jsonl("pod-batch6.jsonl", 3), { "net.ipv4.ip_forward": "0" })._unsafeUnwrap();
  t.same(s.links.map((l) => [l.name, l.kind, l.up]), [["lo", "loopback", true], ["eth0", "veth", true]]);
  t.same(s.addrs.filter((a) => !a.cidr.startsWith("fe80:")), [
    { dev: "lo", cidr: "127.0.0.1/8" },
    { dev: "eth0", cidr: "10.1.0.5/32" },
    { dev: "lo", cidr: "::1/128" },
    { dev: "eth0", cidr: "fd01::5/128" },
  ]);
  t.same(s.rules.map((r) => [r.family, r.priority]), [[4, 0], [4, 32766], [4, 32767], [6, 0], [6, 32766]]);
  t.same(s.sysctls, { "net.ipv4.ip_forward": "0" });
  t.match(splitJsonLines("[]\n", 2, "x"), { error: { kind: "unexpected-output", message: /expected 2 JSON lines, got 1/ } });
});
