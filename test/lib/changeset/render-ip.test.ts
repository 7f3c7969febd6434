import t from "tap";
import { ipArgv, batchLine, validateIfName, validateAlias, sysctlPath, netnsPath, HOST_NETNS } from "../../../lib/changeset/index.js";
import type { NetlinkOp, RenderedOp } from "../../../lib/changeset/index.js";
import { a, c } from "./fixtures.js";

const POD = netnsPath("/var/run/netns/pod1");

const cases: { name: string; op: NetlinkOp; want: RenderedOp }[] = [
  {
    name: "veth from host into pod",
    op: { kind: "link.add-veth", name: "veth3a9f01c2", mtu: 1450, peer: { name: "eth0", netns: POD } },
    want: { kind: "ip", family: null, args: "link add name veth3a9f01c2 mtu 1450 type veth peer name eth0 mtu 1450 netns /var/run/netns/pod1".split(" ") },
  },
  {
    name: "veth in the same namespace",
    op: { kind: "link.add-veth", name: "a", peer: { name: "b", netns: HOST_NETNS } },
    want: { kind: "ip", family: null, args: "link add name a type veth peer name b".split(" ") },
  },
  {
    name: "vxlan",
    op: { kind: "link.add-vxlan", name: "vx0", vni: 42, dstport: 4789, local: a("10.0.0.1"), remote: a("10.0.0.2"), dev: "eth0", learning: false },
    want: { kind: "ip", family: null, args: "link add name vx0 type vxlan id 42 dstport 4789 local 10.0.0.1 remote 10.0.0.2 dev eth0 nolearning".split(" ") },
  },
  {
    name: "vxlan external",
    op: { kind: "link.add-vxlan", name: "vx1", dstport: 4790, external: true, mtu: 1400 },
    want: { kind: "ip", family: null, args: "link add name vx1 mtu 1400 type vxlan dstport 4790 external".split(" ") },
  },
  {
    name: "ipip over fou, sport auto",
    op: { kind: "link.add-tunnel", name: "fou4_0a010101", mode: "ipip", local: a("10.0.0.5"), remote: a("10.1.1.1"), ttl: 225, encap: { sport: 0, dport: 5555 } },
    want: { kind: "ip", family: null, args: "link add name fou4_0a010101 type ipip local 10.0.0.5 remote 10.1.1.1 ttl 225 encap fou encap-sport auto encap-dport 5555".split(" ") },
  },
  {
    name: "ip6tnl over fou, fixed sport",
    op: { kind: "link.add-tunnel", name: "fou6_deadbeef", mode: "ip6tnl", local: a("fd00::5"), remote: a("fd00::1"), ttl: 225, encap: { sport: 5555, dport: 5555 } },
    want: { kind: "ip", family: null, args: "link add name fou6_deadbeef type ip6tnl mode any local fd00::5 remote fd00::1 hoplimit 225 encap fou encap-sport 5555 encap-dport 5555".split(" ") },
  },
  {
    name: "external ipip",
    op: { kind: "link.add-tunnel", name: "coil_ipip4", mode: "ipip", external: true },
    want: { kind: "ip", family: null, args: "link add name coil_ipip4 type ipip external".split(" ") },
  },
  {
    name: "vxlan with a fixed MAC",
    op: { kind: "link.add-vxlan", name: "vx4_0a020005", vni: 7, dstport: 5555, address: "0a:6d:4e:3d:4d:c0", learning: false },
    want: { kind: "ip", family: null, args: "link add name vx4_0a020005 address 0a:6d:4e:3d:4d:c0 type vxlan id 7 dstport 5555 nolearning".split(" ") },
  },
  {
    name: "vxlan with zero outer UDP checksums (egress tunnels behind kube-proxy's DNAT)",
    op: { kind: "link.add-vxlan", name: "vx6_0a020005", vni: 7, dstport: 5555, mtu: 1430, learning: false, udpChecksum: false },
    want: { kind: "ip", family: null, args: "link add name vx6_0a020005 mtu 1430 type vxlan id 7 dstport 5555 nolearning noudpcsum udp6zerocsumtx udp6zerocsumrx".split(" ") },
  },
  { name: "dummy", op: { kind: "link.add-dummy", name: "fou-dummy" }, want: { kind: "ip", family: null, args: "link add name fou-dummy type dummy".split(" ") } },
  {
    name: "link set with spaced alias",
    op: { kind: "link.set", name: "veth1", up: true, alias: "COIL:default:abc def:eth0", mtu: 1500 },
    want: { kind: "ip", family: null, args: ["link", "set", "dev", "veth1", "up", "alias", "COIL:default:abc def:eth0", "mtu", "1500"] },
  },
  { name: "link down", op: { kind: "link.set", name: "veth1", up: false }, want: { kind: "ip", family: null, args: "link set dev veth1 down".split(" ") } },
  { name: "link rename (Coil's fallback device)", op: { kind: "link.set", name: "tunl0", newName: "coil_tunl" }, want: { kind: "ip", family: null, args: "link set dev tunl0 name coil_tunl".split(" ") } },
  { name: "link del", op: { kind: "link.del", name: "veth1" }, want: { kind: "ip", family: null, args: "link del dev veth1".split(" ") } },
  { name: "fou v4", op: { kind: "fou.add", family: 4, port: 5555, ipproto: 4 }, want: { kind: "ip", family: 4, args: "fou add port 5555 ipproto 4".split(" ") } },
  { name: "fou v6", op: { kind: "fou.add", family: 6, port: 5555, ipproto: 41 }, want: { kind: "ip", family: 6, args: "fou add port 5555 ipproto 41".split(" ") } },
  { name: "fou del v6", op: { kind: "fou.del", family: 6, port: 5555 }, want: { kind: "ip", family: 6, args: "fou del port 5555".split(" ") } },
  { name: "addr v4", op: { kind: "addr.add", dev: "eth0", cidr: c("10.2.0.3/32") }, want: { kind: "ip", family: 4, args: "address add 10.2.0.3/32 dev eth0".split(" ") } },
  {
    name: "addr v6 nodad",
    op: { kind: "addr.add", dev: "eth0", cidr: c("fd02::3/128"), nodad: true, scope: "universe" },
    want: { kind: "ip", family: 6, args: "address add fd02::3/128 dev eth0 nodad scope global".split(" ") },
  },
  { name: "addr del", op: { kind: "addr.del", dev: "eth0", cidr: c("fd02::3/128") }, want: { kind: "ip", family: 6, args: "address del fd02::3/128 dev eth0".split(" ") } },
  {
    name: "pod host route",
    op: { kind: "route.add", route: { family: 4, dst: c("10.2.0.3/32"), dev: "veth1", scope: "link", table: 116, protocol: 30 } },
    want: { kind: "ip", family: 4, args: "route add 10.2.0.3/32 dev veth1 table 116 proto 30 scope link".split(" ") },
  },
  {
    name: "default route v4 replace",
    op: { kind: "route.replace", route: { family: 4, dst: c("0.0.0.0/0"), via: a("10.20.30.41"), dev: "eth0", src: a("10.2.0.3"), metric: 100, onlink: true } },
    want: { kind: "ip", family: 4, args: "route replace default via 10.20.30.41 dev eth0 src 10.2.0.3 metric 100 onlink".split(" ") },
  },
  {
    name: "default route v6",
    op: { kind: "route.replace", route: { family: 6, dst: c("::/0"), via: a("fe80::1"), dev: "eth0" } },
    want: { kind: "ip", family: 6, args: "route replace default via fe80::1 dev eth0".split(" ") },
  },
  {
    name: "route del drops onlink",
    op: { kind: "route.del", route: { family: 4, dst: c("10.9.0.0/24"), via: a("10.0.0.1"), onlink: true, table: 117, protocol: 30 } },
    want: { kind: "ip", family: 4, args: "route del 10.9.0.0/24 via 10.0.0.1 table 117 proto 30".split(" ") },
  },
  {
    name: "rule v4 full",
    op: { kind: "rule.add", rule: { family: 4, priority: 1000, table: 1005, from: c("10.0.0.0/8"), to: c("10.1.0.0/16"), iif: "eth0", oif: "eth1", fwmark: 5, fwmask: 255 } },
    want: { kind: "ip", family: 4, args: "rule add from 10.0.0.0/8 to 10.1.0.0/16 iif eth0 oif eth1 fwmark 0x5/0xff lookup 1005 priority 1000".split(" ") },
  },
  {
    name: "rule v6 del",
    op: { kind: "rule.del", rule: { family: 6, priority: 2000, table: 116 } },
    want: { kind: "ip", family: 6, args: "rule del lookup 116 priority 2000".split(" ") },
  },
  {
    name: "sysctl",
    op: { kind: "sysctl.set", key: "net.ipv4.conf.eth0/100.rp_filter", value: "0" },
    want: { kind: "sysctl", key: "net.ipv4.conf.eth0/100.rp_filter", path: "net/ipv4/conf/eth0.100/rp_filter", value: "0" },
  },
];

t.test("ipArgv renders every op kind", async (t) => {
  for (const k of cases) t.same(ipArgv(k.op)._unsafeUnwrap(), k.want, k.name);
});

t.test("veth peer to host from a pod namespace", async (t) => {
  const op: NetlinkOp = { kind: "link.add-veth", name: "eth0", peer: { name: "veth1", netns: HOST_NETNS } };
  t.same(ipArgv(op, { netns: POD }).isErr() && ipArgv(op, { netns: POD })._unsafeUnwrapErr().kind, "unresolvable-netns");
  const r = ipArgv(op, { netns: POD, hostNetnsPath: "/proc/1/ns/net" })._unsafeUnwrap();
  t.same(r.kind === "ip" && r.args.slice(-2), ["netns", "/proc/1/ns/net"]);
});

const hostile = ["eth0;rm", "eth\n0", "a".repeat(16), "..", ".", "", "eth0 x", 'eth"0', "eth'0", "a/b", "a:b", "eth0#", "eth0\\", "ëth0"];

t.test("hostile interface names are rejected everywhere", async (t) => {
  for (const n of hostile) {
    t.equal(validateIfName(n)._unsafeUnwrapErr().kind, "invalid-name", `validateIfName ${JSON.stringify(n)}`);
    const ops: NetlinkOp[] = [
      { kind: "link.del", name: n },
      { kind: "link.add-veth", name: "ok0", peer: { name: n, netns: POD } },
      { kind: "addr.add", dev: n, cidr: c("10.0.0.1/32") },
      { kind: "route.add", route: { family: 4, dst: c("10.0.0.0/8"), dev: n } },
      { kind: "rule.add", rule: { family: 4, priority: 1, table: 1, iif: n } },
      { kind: "link.add-vxlan", name: "vx0", dstport: 1, dev: n },
    ];
    for (const op of ops) t.ok(ipArgv(op).isErr(), `${op.kind} with ${JSON.stringify(n)}`);
  }
  t.ok(validateIfName("a".repeat(15)).isOk(), "15 chars is fine");
  t.ok(validateIfName("eth0.100").isOk(), "vlan-style name is fine");
});

t.test("hostile aliases, netns paths, sysctl keys and numbers", async (t) => {
  for (const al of ["a\nb", 'x"y', "x'y", "x#y", "x\\", "x".repeat(128), "\u0000"]) {
    t.ok(validateAlias(al).isErr(), `alias ${JSON.stringify(al)}`);
    t.ok(ipArgv({ kind: "link.set", name: "eth0", alias: al }).isErr());
  }
  t.ok(validateAlias("é".repeat(63)).isOk(), "126 bytes");
  t.ok(validateAlias("é".repeat(64)).isErr(), "128 bytes");
  for (const p of ["relative", "/var/run/netns/a\nb", "/x/../etc", "/x/#", '/x"']) {
    t.ok(ipArgv({ kind: "link.add-veth", name: "a", peer: { name: "b", netns: netnsPath(p) } }).isErr(), `path ${JSON.stringify(p)}`);
  }
  for (const k of ["net..ipv4", "net.ipv4.conf.//.x", "net/ipv4 x", "net.ipv4.conf.a;b.x", "."]) t.ok(sysctlPath(k).isErr(), `key ${k}`);
  t.ok(ipArgv({ kind: "sysctl.set", key: "net.ipv4.ip_forward", value: "1\nx" }).isErr(), "value with newline");
  for (const m of [-1, 1.5, Number.NaN, 70000, 10]) t.ok(ipArgv({ kind: "link.set", name: "eth0", mtu: m }).isErr(), `mtu ${m}`);
  for (const n of ["", "a b", "x".repeat(16), "../x"]) t.ok(ipArgv({ kind: "link.set", name: "tunl0", newName: n }).isErr(), `new name ${JSON.stringify(n)}`);
  t.ok(ipArgv({ kind: "route.add", route: { family: 4, dst: c("10.0.0.0/8"), table: 0 } }).isErr(), "table 0");
  t.ok(ipArgv({ kind: "fou.add", family: 4, port: 0, ipproto: 4 }).isErr(), "port 0");
});

t.test("batchLine quotes the way ip -batch parses", async (t) => {
  t.same(batchLine(["link", "set", "dev", "v", "alias", "a b"])._unsafeUnwrap(), 'link set dev v alias "a b"');
  t.same(batchLine(["alias", ""])._unsafeUnwrap(), 'alias ""');
  t.same(batchLine(["a\tb"])._unsafeUnwrap(), '"a\tb"');
  for (const bad of ["a#b", "a\\", 'a"', "a'", "a\nb"]) t.ok(batchLine(["x", bad]).isErr(), JSON.stringify(bad));
});

t.test("a vxlan MAC that is not a lowercase unicast address is rejected before anything runs", async (t) => {
  for (const address of ["01:00:5e:00:00:01", "0A:00:00:00:00:01", "0a:00:00:00:00", "0a:00:00:00:00:01 up", ""]) {
    t.equal(ipArgv({ kind: "link.add-vxlan", name: "vx", vni: 1, dstport: 5555, address })._unsafeUnwrapErr().kind, "invalid-name", JSON.stringify(address));
  }
});
