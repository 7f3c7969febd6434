import t from "tap";
import { isEmptyChangeset, type NetnsState } from "../../../lib/changeset/index.js";
import {
  planEgressClientInit,
  planEgressClientSync,
  planEgressClientTeardown,
  planEgressGateway,
  type EgressClientSyncOptions,
  type EgressGatewayOptions,
} from "../../../lib/plan/index.js";
import { addedNftRules, allOps, cidr, ip, opKinds, applyModel } from "./fixtures.js";

const NS = "/var/run/netns/client";
const EMPTY: NetnsState = { links: [], addrs: [], routes: [], rules: [], sysctls: {} };
const podState = (v4: boolean, v6: boolean): NetnsState => ({
  links: [
    { name: "lo", kind: "loopback", up: true, mtu: 65536, index: 1 },
    { name: "eth0", kind: "veth", up: true, mtu: 1500, index: 2 },
  ],
  addrs: [
    { dev: "lo", cidr: cidr("127.0.0.1/8") },
    ...(v4 ? [{ dev: "eth0", cidr: cidr("10.2.0.5/32") }] : []),
    ...(v6 ? [{ dev: "eth0", cidr: cidr("fd02::5/128") }, { dev: "eth0", cidr: cidr("fe80::2/64") }] : []),
  ],
  routes: [
    // As planPodSetup lays it out: the host's address on-link, then the default route via it.
    ...(v4 ? [{ family: 4 as const, dst: cidr("10.20.30.41/32"), dev: "eth0", scope: "link" as const }] : []),
    ...(v4 ? [{ family: 4 as const, dst: cidr("0.0.0.0/0"), via: ip("10.20.30.41"), dev: "eth0" }] : []),
    ...(v6 ? [{ family: 6 as const, dst: cidr("::/0"), via: ip("fe80::1"), dev: "eth0" }] : []),
  ],
  rules: [],
  sysctls: {},
});

t.test("client init: rules per family, clears 1800-2100 and tables 117/118 (Coil §9.6.2)", async (t) => {
  const v4 = planEgressClientInit({ netnsPath: NS, families: [4] })._unsafeUnwrap();
  t.same(allOps(v4).map((o) => (o.kind === "rule.add" ? `${o.rule.priority}:${o.rule.to ?? "all"}->${o.rule.table}` : o.kind)), [
    "1800:169.254.0.0/16->254", "1900:all->117", "2000:10.0.0.0/8->254", "2001:172.16.0.0/12->254", "2002:192.168.0.0/16->254", "2100:all->118",
  ]);
  const custom = planEgressClientInit({ families: [4, 6], inClusterNetworks: [cidr("192.168.10.0/24"), cidr("fd02::/16")] })._unsafeUnwrap();
  t.same(allOps(custom).map((o) => (o.kind === "rule.add" ? `${o.rule.family}/${o.rule.priority}:${o.rule.to ?? "all"}` : o.kind)), [
    "4/1800:169.254.0.0/16", "4/1900:all", "4/2000:192.168.10.0/24", "4/2100:all",
    "6/1800:fe80::/10", "6/1900:all", "6/2000:fd02::/16", "6/2100:all",
  ]);
  const dirty: NetnsState = {
    ...EMPTY,
    rules: [{ family: 4, priority: 1850, table: 5 }, { family: 4, priority: 32766, table: 254 }, { family: 6, priority: 1900, table: 9 }],
    routes: [{ family: 4, dst: cidr("9.9.9.9/32"), dev: "fou4_0a60000a", table: 118, protocol: 30 }, { family: 4, dst: cidr("1.1.1.1/32"), dev: "eth0" }],
  };
  const re = planEgressClientInit({ families: [4], observed: dirty })._unsafeUnwrap();
  t.same(opKinds(re).filter((k) => k.endsWith(".del")), ["rule.del", "route.del"], "only the v4 rule in range and the table-118 route");
  const after = applyModel({ [NS]: EMPTY }, v4)[NS] ?? EMPTY;
  t.ok(isEmptyChangeset(planEgressClientInit({ netnsPath: NS, families: [4], observed: after })._unsafeUnwrap()));
  t.equal(planEgressClientInit({ netnsPath: "x", families: [4] })._unsafeUnwrapErr().kind, "invalid-netns-path");
});

const fou = (peer: string, local4?: string, local6?: string, sportAuto = false): EgressClientSyncOptions["tunnel"] => ({
  kind: "fou", port: 5555, sportAuto, peer: ip(peer),
  ...(local4 !== undefined ? { localIPv4: ip(local4) } : {}), ...(local6 !== undefined ? { localIPv6: ip(local6) } : {}),
});
const syncCases: { name: string; opts: EgressClientSyncOptions; tables: Record<string, number> }[] = [
  { name: "ipv4 fou", opts: { netnsPath: NS, tunnel: fou("10.96.0.10", "10.2.0.5"), destinations: [cidr("10.1.2.0/24"), cidr("0.0.0.0/0"), cidr("fd02::/64")] }, tables: { "10.1.2.0/24": 117, "0.0.0.0/0": 118 } },
  { name: "ipv6 fou", opts: { netnsPath: NS, tunnel: fou("fd96::10", undefined, "fd02::5", true), destinations: [cidr("fd02::/64"), cidr("::/0")] }, tables: { "fd02::/64": 117, "::/0": 118 } },
  { name: "dual fou, v4 peer", opts: { netnsPath: NS, tunnel: fou("10.96.0.10", "10.2.0.5", "fd02::5"), destinations: [cidr("9.9.9.9/32")] }, tables: { "9.9.9.9/32": 118 } },
  { name: "ipv4 vxlan", opts: { netnsPath: NS, tunnel: { kind: "vxlan", vni: 42, port: 4789, peer: ip("10.96.0.10"), local: ip("10.2.0.5") }, destinations: [cidr("0.0.0.0/0")] }, tables: { "0.0.0.0/0": 118 } },
];

t.test("client sync: tunnel, link up before routes, table 117/118 split (Coil §9.6.4)", async (t) => {
  for (const c of syncCases) {
    const cs = planEgressClientSync(c.opts)._unsafeUnwrap();
    const ops = allOps(cs);
    const routes = ops.flatMap((o) => (o.kind === "route.replace" ? [o.route] : []));
    t.same(Object.fromEntries(routes.map((r) => [r.dst, r.table])), c.tables, `${c.name}: tables`);
    const link = routes[0]?.dev ?? "";
    const upAt = ops.findIndex((o) => o.kind === "link.set" && o.name === link && o.up === true);
    const firstRoute = ops.findIndex((o) => o.kind === "route.replace");
    t.ok(upAt >= 0 && upAt < firstRoute, `${c.name}: ${link} up before routes`);
    if (c.opts.tunnel.kind === "fou") {
      const add = ops.find((o) => o.kind === "link.add-tunnel" && o.name === link);
      t.match(add, { ttl: 225, encap: { dport: 5555, sport: c.opts.tunnel.sportAuto ? 0 : 5555 } }, `${c.name}: encap`);
      t.ok(ops.some((o) => o.kind === "link.add-tunnel" && o.external === true), `${c.name}: flow-based catch-all`);
      t.ok(ops.some((o) => o.kind === "fou.add"), `${c.name}: fou listener`);
    } else {
      t.match(ops.find((o) => o.kind === "link.add-vxlan"), { name: "vx4_0a60000a", vni: 42, dstport: 4789, remote: "10.96.0.10", local: "10.2.0.5" });
    }
    const after = applyModel({ [NS]: EMPTY }, cs)[NS] ?? EMPTY;
    t.ok(isEmptyChangeset(planEgressClientSync({ ...c.opts, observed: after })._unsafeUnwrap()), `${c.name}: idempotent`);
  }
});

t.test("client sync: destination diff, family mismatch, sport change", async (t) => {
  const opts = syncCases[0]?.opts;
  if (opts === undefined) throw new Error("case");
  const after = applyModel({ [NS]: EMPTY }, planEgressClientSync(opts)._unsafeUnwrap())[NS] ?? EMPTY;
  const next = planEgressClientSync({ ...opts, destinations: [cidr("10.1.3.0/24"), cidr("9.9.9.9/32"), cidr("0.0.0.0/0")], observed: after })._unsafeUnwrap();
  t.same(allOps(next).map((o) => (o.kind.startsWith("route") && "route" in o ? `${o.kind} ${o.route.dst} ${o.route.table}` : o.kind)), [
    "route.del 10.1.2.0/24 117", "route.replace 10.1.3.0/24 117", "route.replace 9.9.9.9/32 118",
  ]);
  t.equal(planEgressClientSync({ ...opts, tunnel: fou("fd96::10", "10.2.0.5") })._unsafeUnwrapErr().kind, "family-mismatch");
  const resport = planEgressClientSync({ ...opts, tunnel: fou("10.96.0.10", "10.2.0.5", undefined, true), observed: after, observedSport: 5555 })._unsafeUnwrap();
  t.same(opKinds(resport).slice(0, 2), ["link.del", "link.add-tunnel"], "sport change recreates the link");
  // The kernel deletes a link's routes with it: the recreated link gets them again, after it is up.
  t.same(allOps(resport).slice(2).map((o) => (o.kind === "route.replace" ? `${o.kind} ${o.route.dst} ${o.route.table}` : o.kind)), [
    "link.set", "route.replace 10.1.2.0/24 117", "route.replace 0.0.0.0/0 118",
  ], "sport change: routes through the recreated link laid out again");
  t.equal(planEgressClientSync({ ...opts, tunnel: { kind: "vxlan", vni: 0, port: 4789, peer: ip("10.96.0.10"), local: ip("10.2.0.5") } })._unsafeUnwrapErr().kind, "invalid-number");
});

t.test("FoU: the kernel's fallback tunl0/ip6tnl0 renamed coil_tunl/coil_ip6tnl, as Coil does (§6.3)", async (t) => {
  const fallbacks: NetnsState = {
    ...EMPTY,
    links: [
      { name: "tunl0", kind: "ipip", up: false, mtu: 1480 },
      { name: "ip6tnl0", kind: "ip6tnl", up: false, mtu: 1452 },
    ],
  };
  const renames = (cs: Parameters<typeof allOps>[0]): string[] =>
    allOps(cs).flatMap((o) => (o.kind === "link.set" && o.newName !== undefined ? [`${o.name}->${o.newName}`] : []));
  for (const [peer, l4, l6, want] of [
    ["10.96.0.10", "10.2.0.5", undefined, "tunl0->coil_tunl"],
    ["fd96::10", undefined, "fd02::5", "ip6tnl0->coil_ip6tnl"],
  ] as const) {
    const opts = { netnsPath: NS, tunnel: fou(peer, l4, l6), destinations: [cidr(peer.includes(":") ? "::/0" : "0.0.0.0/0")], observed: fallbacks };
    const cs = planEgressClientSync(opts)._unsafeUnwrap();
    t.same(renames(cs), [want], `client ${peer}: ${want}`);
    const after = applyModel({ [NS]: fallbacks }, cs)[NS] ?? EMPTY;
    t.ok(isEmptyChangeset(planEgressClientSync({ ...opts, observed: after })._unsafeUnwrap()), "renamed once: the next sync plans nothing");
  }
  const up = { ...fallbacks, links: fallbacks.links.map((l) => ({ ...l, up: true })) };
  t.same(renames(planEgressClientSync({ netnsPath: NS, tunnel: fou("10.96.0.10", "10.2.0.5"), destinations: [cidr("0.0.0.0/0")], observed: up })._unsafeUnwrap()), [], "a fallback device in use (up) is left alone");
  t.same(renames(planEgressClientSync({ netnsPath: NS, tunnel: fou("10.96.0.10", "10.2.0.5"), destinations: [cidr("0.0.0.0/0")] })._unsafeUnwrap()), [], "no fallback device: nothing to rename");
});

t.test("client sync: originating-only mode (Coil §6.4, §9.6.4)", async (t) => {
  for (const [family, obs, opts] of [
    [4, podState(true, false), { tunnel: fou("10.96.0.10", "10.2.0.5"), destinations: [cidr("0.0.0.0/0")] }],
    [6, podState(false, true), { tunnel: fou("fd96::10", undefined, "fd02::5"), destinations: [cidr("::/0")] }],
  ] as const) {
    const o: EgressClientSyncOptions = { ...opts, netnsPath: NS, originatingOnly: true, observed: obs };
    const cs = planEgressClientSync(o)._unsafeUnwrap();
    const ops = allOps(cs);
    t.ok(ops.some((x) => x.kind === "rule.add" && x.rule.priority === 1000 && x.rule.fwmark === 2 && x.rule.table === 1002), `v${family}: fwmark rule`);
    t.ok(ops.some((x) => x.kind === "route.replace" && x.route.table === 1002 && x.route.dev === "eth0"), `v${family}: table copy`);
    const nft = cs.steps.flatMap((s) => s.nft);
    const rules = addedNftRules(cs);
    t.same(rules.map((r) => `${r.family} ${r.table} ${r.chain} ${r.comment}`), [
      `${family === 4 ? "ip" : "ip6"} mangle input coil-input-eth0`, `${family === 4 ? "ip" : "ip6"} mangle output coil-output-eth0`,
    ]);
    t.ok(nft.some((c) => "add" in c && "set" in c.add && c.add.set.name === "eth0" && c.add.set.type === "ifname"), "set named after the link");
    const after = applyModel({ [NS]: obs }, cs)[NS] ?? EMPTY;
    t.ok(isEmptyChangeset(planEgressClientSync({ ...o, observed: after, observedNft: rules })._unsafeUnwrap()), `v${family}: idempotent`);
    const off = planEgressClientSync({ ...o, originatingOnly: false, observed: after, observedNft: rules })._unsafeUnwrap();
    const copied = obs.routes.filter((r) => r.dev === "eth0").map(() => "route.del");
    t.same(opKinds(off).filter((k) => k.endsWith(".del")), ["rule.del", ...copied], "disabling removes the rule and every route of table 1002");
    t.same(off.steps.flatMap((s) => s.nft), [{ delete: { table: { family: family === 4 ? "ip" : "ip6", name: "mangle" } } }]);
  }
  const noIndex: NetnsState = { ...podState(true, false), links: [{ name: "eth0", kind: "veth", up: true, mtu: 1500 }] };
  t.equal(planEgressClientSync({ tunnel: fou("10.96.0.10", "10.2.0.5"), destinations: [cidr("0.0.0.0/0")], originatingOnly: true, observed: noIndex })._unsafeUnwrapErr().kind, "missing-ifindex");
});

const gwCases: { name: string; opts: EgressGatewayOptions; families: string[] }[] = [
  { name: "ipv4 fou", opts: { podIPv4: ip("10.2.0.9"), tunnel: { kind: "fou", port: 5555, sportAuto: false }, clients: [ip("10.2.0.5"), ip("fd02::5")] }, families: ["ip"] },
  { name: "ipv6 fou", opts: { podIPv6: ip("fd02::9"), tunnel: { kind: "fou", port: 5555, sportAuto: true }, clients: [ip("fd02::5")] }, families: ["ip6"] },
  { name: "dual vxlan", opts: { podIPv4: ip("10.2.0.9"), podIPv6: ip("fd02::9"), tunnel: { kind: "vxlan", port: 4789 }, clients: [ip("10.2.0.5"), ip("fd02::5")] }, families: ["ip", "ip6"] },
];

t.test("egress gateway: NAT rules, iif rule, per-client tunnel and route (Coil §9.6.5-6)", async (t) => {
  for (const c of gwCases) {
    const cs = planEgressGateway({ ...c.opts, netnsPath: "/var/run/netns/egress" })._unsafeUnwrap();
    const rules = addedNftRules(cs);
    t.same([...new Set(rules.map((r) => r.family))], c.families, `${c.name}: nft families`);
    t.same(rules.filter((r) => r.family === "ip").map((r) => `${r.table} ${r.chain}`), c.families.includes("ip") ? ["nat POSTROUTING", "filter FORWARD"] : []);
    const ops = allOps(cs);
    t.same(ops.flatMap((o) => (o.kind === "rule.add" ? [o.rule] : [])).map((r) => `${r.family} iif ${r.iif} ${r.table} ${r.priority}`),
      c.families.map((f) => `${f === "ip" ? 4 : 6} iif eth0 118 2000`));
    const routes = ops.flatMap((o) => (o.kind === "route.replace" ? [o.route] : []));
    const clients = c.opts.clients.filter((x) => (x.includes(":") ? c.opts.podIPv6 : c.opts.podIPv4) !== undefined);
    t.same(routes.map((r) => `${r.dst} ${r.table} ${r.protocol}`), clients.map((x) => `${x}/${x.includes(":") ? 128 : 32} 118 30`), `${c.name}: client routes (mismatched family skipped)`);
    const after = applyModel({ [NS]: EMPTY }, { steps: cs.steps.map((s) => ({ ...s, netns: { kind: "path", path: NS } })) })[NS] ?? EMPTY;
    t.ok(isEmptyChangeset(planEgressGateway({ ...c.opts, netnsPath: "/var/run/netns/egress", observed: after, observedNft: rules })._unsafeUnwrap()), `${c.name}: idempotent`);
    const removed = planEgressGateway({ ...c.opts, clients: [], observed: after, observedNft: rules })._unsafeUnwrap();
    t.same(opKinds(removed), clients.map(() => "link.del"), `${c.name}: tunnels of removed clients deleted`);
  }
  t.equal(planEgressGateway({ tunnel: { kind: "fou", port: 5555, sportAuto: false }, clients: [] })._unsafeUnwrapErr().kind, "missing-address");
  t.equal(planEgressGateway({ iface: "eth0 ", podIPv4: ip("10.2.0.9"), tunnel: { kind: "fou", port: 5555, sportAuto: false }, clients: [] })._unsafeUnwrapErr().kind, "invalid-name");
  t.equal(planEgressGateway({ podIPv4: ip("10.2.0.9"), tunnel: { kind: "fou", port: 0, sportAuto: false }, clients: [] })._unsafeUnwrapErr().kind, "invalid-number");
});

t.test("vxlan over IPv6: inner link-local ends, routes via the far end, the gateway end's MAC is shared by all egress pods", (t) => {
  const client = planEgressClientSync({
    netnsPath: NS,
    tunnel: { kind: "vxlan", vni: 42, port: 5555, peer: ip("fd03::10"), local: ip("fd02::5") },
    destinations: [cidr("::/0")],
  })._unsafeUnwrap();
  const cops = allOps(client);
  t.match(cops.find((o) => o.kind === "addr.add"), { dev: "vx6_" + cops.find((o) => o.kind === "link.add-vxlan")?.name.slice(4), cidr: "fe80::2/64", nodad: true });
  t.match(cops.find((o) => o.kind === "route.replace"), { route: { dst: "::/0", via: "fe80::1", table: 118 } });
  t.notOk((cops.find((o) => o.kind === "link.add-vxlan") as { address?: string }).address, "the client end keeps a kernel-chosen MAC");
  const gw = (podIPv6: string) =>
    allOps(planEgressGateway({ podIPv6: ip(podIPv6), tunnel: { kind: "vxlan", port: 5555 }, clients: [ip("fd02::5")] })._unsafeUnwrap());
  const [a, b] = [gw("fd02::9"), gw("fd02::a")];
  const mac = (ops: ReturnType<typeof allOps>) => (ops.find((o) => o.kind === "link.add-vxlan") as { address?: string }).address;
  t.match(mac(a), /^0a(:[0-9a-f]{2}){5}$/);
  t.equal(mac(a), mac(b), "both egress pods give the client's tunnel the same MAC");
  t.match(a.find((o) => o.kind === "addr.add"), { cidr: "fe80::1/64", nodad: true });
  t.match(a.find((o) => o.kind === "route.replace"), { route: { dst: "fd02::5/128", via: "fe80::2", table: 118 } });
  const v4 = allOps(planEgressClientSync({ netnsPath: NS, tunnel: { kind: "vxlan", vni: 42, port: 5555, peer: ip("10.96.0.10"), local: ip("10.2.0.5") }, destinations: [cidr("0.0.0.0/0")] })._unsafeUnwrap());
  t.notOk(v4.some((o) => o.kind === "addr.add"), "IPv4 needs no inner address");
  t.notOk((v4.find((o) => o.kind === "route.replace") as { route: { via?: string } }).route.via, "IPv4 routes go dev only (proxy_arp at the gateway end)");
  t.end();
});

t.test("VXLAN devices: MTU of the underlay (the default route's link) minus the overhead, zero outer UDP checksums", async (t) => {
  const observed: NetnsState = {
    links: [{ name: "eth0", kind: "veth", up: true, mtu: 1400, index: 2 }],
    addrs: [],
    routes: [
      { family: 4, dst: cidr("0.0.0.0/0"), via: ip("10.20.30.41"), dev: "eth0" },
      { family: 6, dst: cidr("::/0"), via: ip("fe80::1"), dev: "eth0" },
    ],
    rules: [],
    sysctls: {},
  };
  for (const [peer, local, mtu] of [["10.96.0.10", "10.2.0.5", 1350], ["fd00::10", "fd02::5", 1330]] as const) {
    const cs = planEgressClientSync({ tunnel: { kind: "vxlan", port: 5555, vni: 7, peer: ip(peer), local: ip(local) }, destinations: [cidr(peer.includes(":") ? "::/0" : "0.0.0.0/0")], observed })._unsafeUnwrap();
    t.match(allOps(cs).find((o) => o.kind === "link.add-vxlan"), { mtu, udpChecksum: false, learning: false }, `IPv${peer.includes(":") ? 6 : 4}: mtu ${mtu}`);
  }
  const bare = planEgressClientSync({ tunnel: { kind: "vxlan", port: 5555, vni: 7, peer: ip("10.96.0.10"), local: ip("10.2.0.5") }, destinations: [cidr("0.0.0.0/0")] })._unsafeUnwrap();
  t.equal((allOps(bare).find((o) => o.kind === "link.add-vxlan") as { mtu?: number } | undefined)?.mtu, undefined, "no underlay observed: the kernel's default");
});

t.test("client teardown (egress-only DEL): everything the NAT client added goes, the pod's own network stays", async (t) => {
  const vxlan = (peer: string, local: string) => ({ kind: "vxlan" as const, vni: 4242, port: 5555, peer: ip(peer), local: ip(local) });
  for (const [name, tunnels, oo] of [
    ["FoU, dual stack", [fou("10.96.0.10", "10.2.0.5", "fd02::5"), fou("fd96::10", "10.2.0.5", "fd02::5")], false],
    ["VXLAN, dual stack, originating-only", [vxlan("10.96.0.10", "10.2.0.5"), vxlan("fd96::10", "fd02::5")], true],
  ] as const) {
    const pod = { ...podState(true, true), links: [...podState(true, true).links, { name: "tunl0", kind: "ipip" as const, up: false, mtu: 1480 }] };
    let state = applyModel({ [NS]: pod }, planEgressClientInit({ netnsPath: NS, families: [4, 6], observed: pod })._unsafeUnwrap())[NS] ?? EMPTY;
    let nft: ReturnType<typeof addedNftRules> = [];
    for (const tunnel of tunnels) {
      const cs = planEgressClientSync({ netnsPath: NS, tunnel, destinations: [cidr("0.0.0.0/0"), cidr("::/0"), cidr("10.1.2.0/24")], originatingOnly: oo, observed: state, observedNft: nft })._unsafeUnwrap();
      state = applyModel({ [NS]: state }, cs)[NS] ?? EMPTY;
      nft = [...nft, ...addedNftRules(cs)];
    }
    t.ok(state.rules.length > 0 && state.routes.some((r) => r.table === 118), `${name}: the NAT client is there`);
    const down = planEgressClientTeardown({ netnsPath: NS, observed: state, observedNft: nft, fouPort: 5555, fouFamilies: [4, 6] })._unsafeUnwrap();
    const after = applyModel({ [NS]: state }, down)[NS] ?? EMPTY;
    const fallback = tunnels[0].kind === "fou" ? "coil_tunl" : "tunl0";
    t.same(after.links.map((l) => l.name).sort(), ["eth0", "lo", fallback].sort(), `${name}: only the pod's links (and the kernel's fallback device) remain`);
    t.same(after.addrs, pod.addrs, `${name}: addresses untouched`);
    t.same(after.routes, pod.routes, `${name}: the pod's routes untouched, tables 117/118 (and 1002) empty`);
    t.same(after.rules, [], `${name}: rules 1000 and 1800-2100 gone`);
    const kinds = opKinds(down);
    t.equal(kinds.filter((k) => k === "fou.del").length, tunnels[0].kind === "fou" ? 2 : 0, `${name}: FoU receive ports closed only for FoU`);
    t.same(down.steps.flatMap((s) => s.nft), oo ? [{ delete: { table: { family: "ip", name: "mangle" } } }, { delete: { table: { family: "ip6", name: "mangle" } } }] : [], `${name}: mangle tables deleted only when coil's rules are in them`);
    t.ok(isEmptyChangeset(planEgressClientTeardown({ netnsPath: NS, observed: after, fouPort: 5555, fouFamilies: [4, 6] })._unsafeUnwrap()), `${name}: a second teardown plans nothing`);
  }
  t.ok(isEmptyChangeset(planEgressClientTeardown({ netnsPath: NS, observed: podState(true, true), fouPort: 5555, fouFamilies: [4] })._unsafeUnwrap()), "a pod without NAT client: nothing to do");
  t.equal(planEgressClientTeardown({ netnsPath: "relative", observed: EMPTY, fouPort: 5555, fouFamilies: [] })._unsafeUnwrapErr().kind, "invalid-netns-path");
});
