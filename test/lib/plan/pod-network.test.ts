import t from "tap";
import { isEmptyChangeset, type NetnsState } from "../../../lib/changeset/index.js";
import { planPodSetup, planPodTeardown, type PodSetupOptions } from "../../../lib/plan/index.js";
import { allOps, cidr, ip, opKinds, applyModel } from "./fixtures.js";

const NS = "/var/run/netns/pod1";
const base = { netnsPath: NS, ifname: "eth0", hostVeth: "veth3a9f01c2", pool: "default", containerId: "abc123" };
const v4 = { ipv4: ip("10.2.0.5"), hostIPv4: ip("10.20.30.41") };
const v6 = { ipv6: ip("fd02::5"), hostIPv6: ip("fd10::41") };
export const podCases: { name: string; opts: PodSetupOptions }[] = [
  { name: "ipv4", opts: { ...base, ...v4 } },
  { name: "ipv6", opts: { ...base, ...v6 } },
  { name: "dual", opts: { ...base, ...v4, ...v6, mtu: 1450 } },
];

t.test("op-level layout per family", async (t) => {
  for (const c of podCases) {
    const cs = planPodSetup(c.opts)._unsafeUnwrap();
    t.same(cs.steps.map((s) => (s.netns.kind === "host" ? "host" : s.netns.path)), [NS, "host", NS], `${c.name}: step order`);
    const [create, host, pod] = cs.steps;
    t.same(create?.netlink[0], {
      kind: "link.add-veth",
      name: "eth0",
      ...(c.opts.mtu !== undefined ? { mtu: 1450 } : {}),
      peer: { name: "veth3a9f01c2", netns: { kind: "host" } },
    });
    t.same(host?.netlink[0], { kind: "sysctl.set", key: "net.ipv6.conf.veth3a9f01c2.accept_ra", value: "0" });
    t.same(host?.netlink[1], { kind: "link.set", name: "veth3a9f01c2", up: true, alias: "COIL:default:abc123:eth0" });
    const hostRoutes = host?.netlink.flatMap((o) => (o.kind === "route.replace" ? [o.route] : [])) ?? [];
    const podRoutes = pod?.netlink.flatMap((o) => (o.kind === "route.replace" ? [o.route] : [])) ?? [];
    const addrs = (ops: typeof host) => ops?.netlink.flatMap((o) => (o.kind === "addr.add" ? [`${o.cidr}${o.nodad === true ? " nodad" : ""}`] : [])) ?? [];
    if (c.opts.ipv4 !== undefined) {
      t.ok(addrs(host).includes("10.20.30.41/32"));
      t.ok(addrs(pod).includes("10.2.0.5/32"));
      t.has(hostRoutes, [{ family: 4, dst: "10.2.0.5/32", dev: "veth3a9f01c2", scope: "link", protocol: 30, table: 116 }]);
      t.same(podRoutes.filter((r) => r.family === 4), [
        { family: 4, dst: "10.20.30.41/32", dev: "eth0", scope: "link" },
        { family: 4, dst: "0.0.0.0/0", via: "10.20.30.41", dev: "eth0" },
      ]);
    }
    if (c.opts.ipv6 !== undefined) {
      t.ok(addrs(host).includes("fd10::41/128 nodad") && addrs(host).includes("fe80::1/64 nodad"), `${c.name}: host v6 addrs nodad`);
      t.ok(addrs(pod).includes("fd02::5/128 nodad"), `${c.name}: pod v6 nodad`);
      t.same(podRoutes.filter((r) => r.family === 6), [{ family: 6, dst: "::/0", via: "fe80::1", dev: "eth0" }]);
      t.ok(hostRoutes.some((r) => r.family === 6 && r.dst === "fd02::5/128" && r.table === 116 && r.protocol === 30));
    } else {
      t.notOk(addrs(host).some((a) => a.startsWith("fe80")), `${c.name}: no v6 gateway without v6`);
    }
    t.equal(pod?.netlink[0]?.kind, "link.set", `${c.name}: pod link up before addresses and routes`);
  }
});

t.test("idempotent as a diff: re-plan against the applied state is empty", async (t) => {
  for (const c of podCases) {
    const cs = planPodSetup(c.opts)._unsafeUnwrap();
    const after = applyModel({ host: EMPTY, [NS]: EMPTY }, cs);
    const observed = { host: after.host ?? EMPTY, pod: after[NS] ?? EMPTY };
    const again = planPodSetup({ ...c.opts, observed })._unsafeUnwrap();
    t.ok(isEmptyChangeset(again), `${c.name}: ${JSON.stringify(again)}`);
  }
});

const EMPTY: NetnsState = { links: [], addrs: [], routes: [], rules: [], sysctls: {} };

t.test("diff: garbage cleanup, recreation, missing pieces, stale table-116 routes", async (t) => {
  const opts = podCases[2]?.opts ?? base;
  const after = applyModel({ host: EMPTY, [NS]: EMPTY }, planPodSetup(opts)._unsafeUnwrap());
  const host = after.host ?? EMPTY;
  const pod = after[NS] ?? EMPTY;
  // A stale link with the same container id + ifname (another name) is deleted first.
  const stale: NetnsState = { ...host, links: [...host.links, { name: "vethold00000", kind: "veth", up: true, mtu: 1500, alias: "COIL:default:abc123:eth0" }] };
  const r1 = planPodSetup({ ...opts, observed: { host: stale, pod } })._unsafeUnwrap();
  t.same(allOps(r1), [{ kind: "link.del", name: "vethold00000" }]);
  // A missing route and a stale owned route.
  const routes = host.routes.filter((r) => r.family !== 4);
  routes.push({ family: 4, dst: cidr("10.2.0.99/32"), dev: "veth3a9f01c2", scope: "link", protocol: 30, table: 116 });
  routes.push({ family: 4, dst: cidr("10.9.9.9/32"), dev: "veth3a9f01c2", protocol: 2, table: 116 });
  const r2 = planPodSetup({ ...opts, observed: { host: { ...host, routes }, pod } })._unsafeUnwrap();
  t.same(opKinds(r2), ["route.del", "route.replace"]);
  // Host veth with a foreign alias: deleted and recreated.
  const foreign: NetnsState = { ...host, links: host.links.map((l) => (l.name === "veth3a9f01c2" ? { ...l, alias: "x" } : l)) };
  const r3 = planPodSetup({ ...opts, observed: { host: foreign, pod } })._unsafeUnwrap();
  t.same(opKinds(r3).slice(0, 2), ["link.del", "link.add-veth"]);
  t.same(allOps(planPodSetup({ ...opts, observed: { host, pod: { ...pod, links: [] } } })._unsafeUnwrap())[0], { kind: "link.del", name: "veth3a9f01c2" });
});

t.test("ADD onto a foreign existing interface fails; our own (by alias) is replaced", async (t) => {
  const opts = podCases[2]?.opts ?? base;
  const foreignPod: NetnsState = { ...EMPTY, links: [{ name: opts.ifname, kind: "veth", up: true, mtu: 1500, peer: "peer0" }] };
  const r = planPodSetup({ ...opts, observed: { host: EMPTY, pod: foreignPod } });
  t.equal(r.isErr() ? r.error.kind : "ok", "interface-exists", "no host link of ours owns it: error, nothing planned");
  const staleHost: NetnsState = { ...EMPTY, links: [{ name: "vethold00000", kind: "veth", up: true, mtu: 1500, alias: `COIL:default:${opts.containerId}:${opts.ifname}` }] };
  const ours = planPodSetup({ ...opts, observed: { host: staleHost, pod: foreignPod } });
  t.ok(ours.isOk(), "a stale host link of this container owns it: replaced");
});

t.test("validation: hostile names, families, missing addresses", async (t) => {
  const cases: { name: string; opts: PodSetupOptions; kind: string }[] = [
    { name: "ifname injection", opts: { ...base, ...v4, ifname: "eth0;reboot" }, kind: "invalid-name" },
    { name: "hostVeth too long", opts: { ...base, ...v4, hostVeth: "veth0123456789ab" }, kind: "invalid-name" },
    { name: "relative netns", opts: { ...base, ...v4, netnsPath: "pod1" }, kind: "invalid-netns-path" },
    { name: "dotdot netns", opts: { ...base, ...v4, netnsPath: "/var/run/netns/../../etc" }, kind: "invalid-netns-path" },
    { name: "pool with colon", opts: { ...base, ...v4, pool: "a:b" }, kind: "invalid-alias" },
    { name: "no address", opts: { ...base }, kind: "missing-address" },
    { name: "v4 without host v4", opts: { ...base, ipv4: ip("10.2.0.5") }, kind: "missing-host-address" },
    { name: "v6 in ipv4", opts: { ...base, ipv4: ip("fd02::5"), hostIPv4: ip("10.20.30.41") }, kind: "family-mismatch" },
    { name: "mtu", opts: { ...base, ...v4, mtu: 10 }, kind: "invalid-number" },
    { name: "protocol", opts: { ...base, ...v4, protocol: 256 }, kind: "invalid-number" },
  ];
  for (const c of cases) t.equal(planPodSetup(c.opts)._unsafeUnwrapErr().kind, c.kind, c.name);
});

t.test("teardown", async (t) => {
  t.same(allOps(planPodTeardown({ hostVeth: "veth3a9f01c2" })._unsafeUnwrap()), [{ kind: "link.del", name: "veth3a9f01c2" }]);
  t.ok(isEmptyChangeset(planPodTeardown({ hostVeth: "veth3a9f01c2", observed: EMPTY })._unsafeUnwrap()), "absent link: no-op");
  const host: NetnsState = {
    ...EMPTY,
    links: [
      { name: "vethaaaa0000", kind: "veth", up: true, mtu: 1500, alias: "COIL:default:abc123:eth0" },
      { name: "vethbbbb0000", kind: "veth", up: true, mtu: 1500, alias: "COIL:default:other:eth0" },
    ],
  };
  t.same(allOps(planPodTeardown({ containerId: "abc123", ifname: "eth0", observed: host })._unsafeUnwrap()), [{ kind: "link.del", name: "vethaaaa0000" }]);
  t.equal(planPodTeardown({ hostVeth: "x y" })._unsafeUnwrapErr().kind, "invalid-name");
  t.ok(planPodTeardown({ containerId: "abc123" }).isErr());
});

/**
 * Coil v2's own layout of a pod (nodenet `SetupIPAM`), as our planned one applied and then changed
 * where Coil differs: the host veth has no `fe80::1/64` but its kernel-generated link-local
 * address, and the pod's IPv6 default route goes through that address.
 */
function coilV2Layout(opts: PodSetupOptions, hostLinkLocal = "fe80::a8c1:abff:fe12:3456"): { host: NetnsState; pod: NetnsState } {
  const after = applyModel({ host: EMPTY, [NS]: EMPTY }, planPodSetup(opts)._unsafeUnwrap());
  const host = after.host ?? EMPTY;
  const pod = after[NS] ?? EMPTY;
  const ll = ip(hostLinkLocal);
  return {
    host: {
      ...host,
      addrs: [...host.addrs.filter((a) => a.cidr !== "fe80::1/64"), { dev: opts.hostVeth, cidr: cidr(`${hostLinkLocal}/64`) }],
    },
    pod: {
      ...pod,
      addrs: [...pod.addrs, { dev: opts.ifname, cidr: cidr("fe80::4c3b:2aff:fe99:1/64") }],
      routes: pod.routes.map((r) => (r.family === 6 && r.dst === "::/0" ? { ...r, via: ll } : r)),
    },
  };
}

t.test("Coil v2's own layout: IPv6 default route via the host veth's kernel link-local address is correct", async (t) => {
  for (const c of podCases.filter((x) => x.opts.ipv6 !== undefined)) {
    const observed = coilV2Layout(c.opts);
    const plan = planPodSetup({ ...c.opts, observed })._unsafeUnwrap();
    const ops = allOps(plan).filter((o) => o.kind !== "sysctl.set");
    t.same(ops, [], `${c.name}: nothing to change on a pod Coil v2 set up (besides sysctls, which Coil does not set)`);
  }
  const opts = podCases[2]?.opts ?? base;
  const fixed = { kind: "route.replace", route: { family: 6, dst: "::/0", via: "fe80::1", dev: "eth0" } };
  const addFixed = { kind: "addr.add", dev: "veth3a9f01c2", cidr: "fe80::1/64", nodad: true };

  // Precisely that layout, nothing looser: each of these is still a drift to our layout.
  const { host, pod } = coilV2Layout(opts);
  const withoutHostLl: NetnsState = { ...host, addrs: host.addrs.filter((a) => !a.cidr.startsWith("fe80::a8c1")) };
  t.same(allOps(planPodSetup({ ...opts, observed: { host: withoutHostLl, pod } })._unsafeUnwrap()).filter((o) => o.kind !== "sysctl.set"), [addFixed, fixed],
    "a link-local gateway the host veth does not carry");
  const elsewhere: NetnsState = { ...host, addrs: host.addrs.map((a) => (a.cidr.startsWith("fe80::a8c1") ? { ...a, dev: "eth9" } : a)) };
  t.same(allOps(planPodSetup({ ...opts, observed: { host: elsewhere, pod } })._unsafeUnwrap()).filter((o) => o.kind !== "sysctl.set"), [addFixed, fixed],
    "a link-local gateway on another host link");
  const global = coilV2Layout(opts, "fd10::41");
  t.same(allOps(planPodSetup({ ...opts, observed: global })._unsafeUnwrap()).filter((o) => o.kind !== "sysctl.set"), [addFixed, fixed],
    "a gateway that is a host veth address but not link-local");
  const otherDev: NetnsState = { ...pod, routes: pod.routes.map((r) => (r.family === 6 && r.dst === "::/0" ? { ...r, dev: "net1" } : r)) };
  t.same(allOps(planPodSetup({ ...opts, observed: { host, pod: otherDev } })._unsafeUnwrap()).filter((o) => o.kind !== "sysctl.set"), [addFixed, fixed],
    "the default route through another pod interface");
  const inTable: NetnsState = { ...pod, routes: pod.routes.map((r) => (r.family === 6 && r.dst === "::/0" ? { ...r, table: 100 } : r)) };
  t.same(allOps(planPodSetup({ ...opts, observed: { host, pod: inTable } })._unsafeUnwrap()).filter((o) => o.kind !== "sysctl.set"), [addFixed, fixed],
    "the default route in another table");
  const metric: NetnsState = { ...pod, routes: pod.routes.map((r) => (r.family === 6 && r.dst === "::/0" ? { ...r, metric: 5 } : r)) };
  const ll = ip("fe80::a8c1:abff:fe12:3456");
  t.same(allOps(planPodSetup({ ...opts, observed: { host, pod: metric } })._unsafeUnwrap()).filter((o) => o.kind !== "sysctl.set"),
    [{ kind: "route.replace", route: { family: 6, dst: "::/0", via: ll, dev: "eth0" } }],
    "Coil's gateway with another attribute (metric) is repaired to Coil's exact route, not accepted");
  const missing: NetnsState = { ...pod, routes: pod.routes.filter((r) => !(r.family === 6 && r.dst === "::/0")) };
  t.same(allOps(planPodSetup({ ...opts, observed: { host, pod: missing } })._unsafeUnwrap()).filter((o) => o.kind !== "sysctl.set"), [addFixed, fixed],
    "no IPv6 default route at all: our layout is planned");
  // Our layout with fe80::1 lost from the host veth is repaired as before (the kernel link-local there does not count).
  const ours = applyModel({ host: EMPTY, [NS]: EMPTY }, planPodSetup(opts)._unsafeUnwrap());
  const oursHost = ours.host ?? EMPTY;
  const lostFixed: NetnsState = { ...oursHost, addrs: [...oursHost.addrs.filter((a) => a.cidr !== "fe80::1/64"), { dev: "veth3a9f01c2", cidr: cidr("fe80::a8c1:abff:fe12:3456/64") }] };
  t.same(allOps(planPodSetup({ ...opts, observed: { host: lostFixed, pod: ours[NS] ?? EMPTY } })._unsafeUnwrap()).filter((o) => o.kind !== "sysctl.set"), [addFixed],
    "our layout missing fe80::1 on the host veth: re-added");
  // A veth that is recreated gets our layout.
  const foreign: NetnsState = { ...host, links: host.links.map((l) => (l.name === "veth3a9f01c2" ? { ...l, alias: "x" } : l)) };
  const recreated = allOps(planPodSetup({ ...opts, observed: { host: foreign, pod } })._unsafeUnwrap());
  t.ok(recreated.some((o) => o.kind === "route.replace" && o.route.family === 6 && o.route.via === "fe80::1"), "recreated veth: default via fe80::1");
  // An IPv4-only pod is unaffected by IPv6 routes it happens to have.
  const v4only = podCases[0]?.opts ?? base;
  const v4after = applyModel({ host: EMPTY, [NS]: EMPTY }, planPodSetup(v4only)._unsafeUnwrap());
  t.ok(isEmptyChangeset(planPodSetup({ ...v4only, observed: { host: v4after.host ?? EMPTY, pod: v4after[NS] ?? EMPTY } })._unsafeUnwrap()), "IPv4 only: unchanged");
});
