/**
 * The one suite every {@link Kernel} implementation passes (Hono `runTest` pattern): the real
 * executor in real namespaces and the FakeKernel over the lib model. Each test asks the harness
 * for its own empty namespaces (lo up) and only ever touches those.
 */
import type { Test } from "tap";
import type { Changeset, NetlinkOp, NetnsRef, NetnsState, NftCommand, Route, Rule } from "../../lib/changeset/index.js";
import { parseCidr, parseIp, type Cidr, type Ip } from "../../lib/net/index.js";
import type { Kernel } from "../../adapters/kernel/kernel.js";

/** What an implementation provides to the suite. */
export interface ConformanceHarness {
  readonly kernel: Kernel;
  /** A new empty namespace (only `lo`, up) owned by test `t` and removed in its teardown. */
  readonly newNetns: (t: Test) => NetnsRef;
}

const cidr = (s: string): Cidr => parseCidr(s)._unsafeUnwrap();
const ipa = (s: string): Ip => parseIp(s)._unsafeUnwrap();
const FWD = "net.ipv4.ip_forward";

/** Whether every field of `want` deep-equals the same field of `have`. */
export function isSubset(want: object, have: object): boolean {
  return Object.entries(want).every(([k, v]) => JSON.stringify((have as Record<string, unknown>)[k]) === JSON.stringify(v));
}

function hasMatching<T extends object>(t: Test, list: readonly T[], want: object, what: string): void {
  t.ok(list.some((x) => isSubset(want, x)), `${what}: ${JSON.stringify(want)}`, { found: list });
}

const step = (netns: NetnsRef, netlink: NetlinkOp[], nft: NftCommand[] = []) => ({ netns, netlink, nft });

function hostRoute4(dev: string): Route {
  return { family: 4, dst: cidr("10.100.1.5/32"), dev, table: 116, protocol: 30, scope: "link" };
}
const hostRoute6 = (dev: string): Route => ({ family: 6, dst: cidr("fd00:100::5/128"), dev, table: 116, protocol: 30 });
const rule4: Rule = { family: 4, priority: 2000, table: 116 };
const rule6: Rule = { family: 6, priority: 2000, table: 116 };

/** A pod-setup-like changeset: veth H↔P, pod addresses and routes, host routes in table 116, rules at 2000, a VXLAN link, a sysctl. */
export function podSetup(h: NetnsRef, p: NetnsRef, n = 1): Changeset {
  const veth = `veth-ct${n}`;
  return {
    steps: [
      step(h, [
        { kind: "link.add-veth", name: veth, mtu: 1450, peer: { name: "eth0", netns: p } },
        { kind: "link.set", name: veth, up: true, alias: `COIL:default:ct${n}:eth0` },
        { kind: "link.add-vxlan", name: "vx-test", vni: 42, dstport: 4789, learning: false, mtu: 1400 },
        { kind: "sysctl.set", key: FWD, value: "1" },
      ]),
      step(p, [
        { kind: "link.set", name: "eth0", up: true },
        { kind: "addr.add", dev: "eth0", cidr: cidr("10.100.1.5/32") },
        { kind: "addr.add", dev: "eth0", cidr: cidr("fd00:100::5/128"), nodad: true },
        { kind: "route.replace", route: { family: 4, dst: cidr("169.254.1.1/32"), dev: "eth0", scope: "link" } },
        { kind: "route.replace", route: { family: 4, dst: cidr("0.0.0.0/0"), via: ipa("169.254.1.1"), dev: "eth0" } },
        { kind: "route.replace", route: { family: 6, dst: cidr("fd00:100::1/128"), dev: "eth0" } },
        { kind: "route.replace", route: { family: 6, dst: cidr("::/0"), via: ipa("fd00:100::1"), dev: "eth0" } },
      ]),
      step(h, [
        { kind: "route.replace", route: hostRoute4(veth) },
        { kind: "route.replace", route: hostRoute6(veth) },
        { kind: "rule.add", rule: rule4 },
        { kind: "rule.add", rule: rule6 },
      ]),
    ],
  };
}

async function observeBoth(t: Test, k: Kernel, refs: readonly NetnsRef[]): Promise<NetnsState[]> {
  const out: NetnsState[] = [];
  for (const r of refs) {
    const s = await k.observe(r, { sysctls: [FWD] });
    if (s.isErr()) t.fail(`observe: ${JSON.stringify(s.error)}`);
    else out.push(s.value);
  }
  return out;
}

/** Run the shared suite against the kernel the harness makes. */
export function runExecutorConformance(t: Test, make: (t: Test) => ConformanceHarness): void {
  t.test("pod setup: veth between namespaces, addresses, table 116 routes, rule 2000, vxlan, sysctl", async (t) => {
    const { kernel, newNetns } = make(t);
    const h = newNetns(t);
    const p = newNetns(t);
    const r = await kernel.apply(podSetup(h, p));
    t.ok(r.isOk(), "applied", { error: r.isErr() ? r.error : undefined });
    const [hs, ps] = await observeBoth(t, kernel, [h, p]);
    if (hs === undefined || ps === undefined) return;
    hasMatching(t, hs.links, { name: "veth-ct1", kind: "veth", up: true, mtu: 1450, alias: "COIL:default:ct1:eth0" }, "host veth");
    hasMatching(t, hs.links, { name: "vx-test", kind: "vxlan", up: false, mtu: 1400 }, "vxlan");
    hasMatching(t, hs.routes, hostRoute4("veth-ct1"), "host v4 route");
    hasMatching(t, hs.routes, hostRoute6("veth-ct1"), "host v6 route");
    hasMatching(t, hs.rules, rule4, "v4 rule");
    hasMatching(t, hs.rules, rule6, "v6 rule");
    t.same(hs.sysctls, { [FWD]: "1" }, "sysctl written in the host-side namespace");
    t.same(ps.sysctls, { [FWD]: "0" }, "pod namespace sysctl untouched");
    hasMatching(t, ps.links, { name: "eth0", kind: "veth", up: true, mtu: 1450 }, "pod eth0");
    hasMatching(t, ps.addrs, { dev: "eth0", cidr: "10.100.1.5/32" }, "pod v4 address");
    hasMatching(t, ps.addrs, { dev: "eth0", cidr: "fd00:100::5/128" }, "pod v6 address");
    hasMatching(t, ps.routes, { family: 4, dst: "0.0.0.0/0", via: "169.254.1.1", dev: "eth0" }, "pod v4 default");
    hasMatching(t, ps.routes, { family: 6, dst: "::/0", via: "fd00:100::1", dev: "eth0" }, "pod v6 default");
    t.notOk(ps.links.some((l) => l.name === "veth-ct1"), "host end not in the pod namespace");
  });

  t.test("re-applying an idempotent changeset changes nothing", async (t) => {
    const { kernel, newNetns } = make(t);
    const h = newNetns(t);
    const p = newNetns(t);
    t.ok((await kernel.apply(podSetup(h, p))).isOk(), "setup");
    const again: Changeset = {
      steps: [
        step(h, [
          { kind: "link.set", name: "veth-ct1", up: true, mtu: 1450 },
          { kind: "route.replace", route: hostRoute4("veth-ct1") },
          { kind: "route.replace", route: hostRoute6("veth-ct1") },
          { kind: "sysctl.set", key: FWD, value: "1" },
        ]),
        step(p, [{ kind: "route.replace", route: { family: 4, dst: cidr("0.0.0.0/0"), via: ipa("169.254.1.1"), dev: "eth0" } }]),
      ],
    };
    const before = await observeBoth(t, kernel, [h, p]);
    for (const i of [1, 2]) t.ok((await kernel.apply(again)).isOk(), `apply #${i}`);
    t.same(await observeBoth(t, kernel, [h, p]), before, "state unchanged");
    t.ok((await kernel.apply({ steps: [] })).isOk(), "empty changeset is a no-op");
  });

  t.test("a failing op rolls back everything applied before it", async (t) => {
    const { kernel, newNetns } = make(t);
    const h = newNetns(t);
    const p = newNetns(t);
    const before = await observeBoth(t, kernel, [h, p]);
    const cs: Changeset = {
      steps: [
        step(h, [
          { kind: "link.add-veth", name: "veth-rb", peer: { name: "eth1", netns: p } },
          { kind: "link.set", name: "veth-rb", up: true },
          { kind: "sysctl.set", key: FWD, value: "1" },
          { kind: "route.replace", route: { family: 4, dst: cidr("10.200.0.0/24"), dev: "veth-rb", table: 116 } },
          { kind: "rule.add", rule: { family: 4, priority: 2100, table: 116 } },
        ]),
        step(p, [
          { kind: "link.set", name: "eth1", up: true },
          { kind: "addr.add", dev: "eth1", cidr: cidr("10.200.0.5/32") },
          { kind: "route.replace", route: { family: 4, dst: cidr("10.201.0.0/24"), dev: "nodev0" } },
          { kind: "route.replace", route: { family: 4, dst: cidr("10.202.0.0/24"), dev: "eth1" } },
        ]),
      ],
    };
    const r = await kernel.apply(cs);
    t.ok(r.isErr(), "apply fails");
    if (r.isOk()) return;
    const e = r.error;
    t.equal(e.kind, "apply-failed");
    if (e.kind !== "apply-failed") return;
    t.same(e.failedOp, { kind: "netlink", step: 1, index: 2, op: cs.steps[1]?.netlink[2] }, "the route via the missing device failed");
    t.equal(e.applied.length, 7, "the 7 ops before it were applied");
    t.ok(e.stderr.length > 0, "stderr carried");
    t.same({ reason: e.reason, retryable: e.retryable }, { reason: "not-found", retryable: false }, "classified: the device is missing, not worth retrying");
    t.same(e.rollbackProblems, []);
    t.equal(e.rolledBack, true);
    t.same(await observeBoth(t, kernel, [h, p]), before, "both namespaces exactly as before");
  });

  t.test("observeRoutes lists one table (and protocol), both families, as observe does", async (t) => {
    const { kernel, newNetns } = make(t);
    const h = newNetns(t);
    const r = (family: 4 | 6, dst: string, table: number | undefined, protocol: number): NetlinkOp => ({
      kind: "route.replace",
      route: { family, dst: cidr(dst), dev: "lo", ...(table === undefined ? {} : { table }), protocol, ...(family === 4 ? { scope: "link" as const } : {}) },
    });
    const cs: Changeset = {
      steps: [
        step(h, [
          r(4, "10.119.0.0/24", 119, 30),
          r(6, "fd19::/64", 119, 30),
          r(4, "10.119.1.0/24", 119, 4),
          r(4, "10.31.0.0/24", undefined, 31),
          r(6, "fd31::/64", undefined, 31),
          r(4, "10.32.0.0/24", undefined, 4),
          r(4, "10.200.0.0/24", 200, 31),
        ]),
      ],
    };
    (await kernel.apply(cs))._unsafeUnwrap();
    const all = (await kernel.observe(h))._unsafeUnwrap().routes;
    const key = (x: Route): string => `${x.dst} ${x.table ?? 254} ${x.protocol ?? "-"}`;
    const keys = (rs: readonly Route[]): string[] => rs.map(key).sort();
    const query = async (q: { table: number; protocol?: number }): Promise<readonly Route[]> => {
      if (kernel.observeRoutes === undefined) return t.fail("observeRoutes missing") ? [] : [];
      return (await kernel.observeRoutes(h, q))._unsafeUnwrap();
    };
    const t119 = await query({ table: 119 });
    t.same(keys(t119), ["10.119.0.0/24 119 30", "10.119.1.0/24 119 4", "fd19::/64 119 30"], "table 119, every protocol");
    t.same(keys(t119), keys(all.filter((x) => x.table === 119)), "the same routes as observe");
    t.same(
      [...t119].sort((a, b) => key(a).localeCompare(key(b))),
      all.filter((x) => x.table === 119).sort((a, b) => key(a).localeCompare(key(b))),
      "field for field",
    );
    t.same(keys(await query({ table: 254, protocol: 31 })), ["10.31.0.0/24 254 31", "fd31::/64 254 31"], "main, protocol 31 only");
    t.same(keys(await query({ table: 119, protocol: 4 })), ["10.119.1.0/24 119 4"]);
    t.same(await query({ table: 77 }), [], "a table without routes is empty");
  });

  t.test("refusals are classified the same way: exists, not-found", async (t) => {
    const { kernel, newNetns } = make(t);
    const h = newNetns(t);
    const p = newNetns(t);
    const reason = async (cs: Changeset): Promise<unknown> => {
      const r = await kernel.apply(cs);
      return r.isErr() && r.error.kind === "apply-failed" ? { reason: r.error.reason, retryable: r.error.retryable, rolledBack: r.error.rolledBack } : r;
    };
    const veth: NetlinkOp = { kind: "link.add-veth", name: "veth-cl", peer: { name: "eth0", netns: p } };
    (await kernel.apply({ steps: [step(h, [veth])] }))._unsafeUnwrap();
    t.same(await reason({ steps: [step(h, [veth])] }), { reason: "exists", retryable: false, rolledBack: true }, "a link that exists");
    const other: NetlinkOp = { kind: "link.add-veth", name: "veth-cl2", peer: { name: "eth0", netns: p } };
    t.same(await reason({ steps: [step(h, [other])] }), { reason: "exists", retryable: false, rolledBack: true }, "a peer name taken in the other namespace");
    t.same(await reason({ steps: [step(h, [{ kind: "link.del", name: "nosuch0" }])] }), { reason: "not-found", retryable: false, rolledBack: true }, "a link that is gone");
    const nft: NftCommand = { delete: { table: { family: "inet", name: "nosuch" } } };
    t.same(await reason({ steps: [step(h, [], [nft])] }), { reason: "not-found", retryable: false, rolledBack: true }, "an nft table that is gone");
  });

  t.test("hostile names are refused before anything runs", async (t) => {
    const { kernel, newNetns } = make(t);
    const h = newNetns(t);
    const p = newNetns(t);
    const before = await observeBoth(t, kernel, [h, p]);
    const first: NetlinkOp = { kind: "link.add-veth", name: "ok0", peer: { name: "ok1", netns: p } };
    const hostile: { name: string; cs: Changeset }[] = [
      { name: "shell metacharacters", cs: { steps: [step(h, [first, { kind: "link.set", name: "x;reboot", up: true }])] } },
      { name: "batch line injection in an alias", cs: { steps: [step(h, [first, { kind: "link.set", name: "ok0", alias: "a\nlink del lo" }])] } },
      { name: "comment in a name", cs: { steps: [step(h, [first, { kind: "addr.add", dev: "ok0#", cidr: cidr("10.0.0.1/32") }])] } },
      { name: "sysctl path escape", cs: { steps: [step(h, [first, { kind: "sysctl.set", key: "net.../../x", value: "1" }])] } },
      { name: "later step in a missing namespace", cs: { steps: [step(h, [first]), step({ kind: "path", path: "/var/run/netns/does-not-exist-coil" }, [])] } },
    ];
    for (const c of hostile) {
      const r = await kernel.apply(c.cs);
      t.match(r.isErr() ? r.error : r.value, { kind: "invalid-changeset", retryable: false }, c.name);
    }
    t.same(await observeBoth(t, kernel, [h, p]), before, "nothing ran");
  });

  t.test("nft: a nat table with a masquerade rule, read back", async (t) => {
    const { kernel, newNetns } = make(t);
    const h = newNetns(t);
    const table = { family: "ip", name: "coilnat" } as const;
    const chain = { family: "ip", table: "coilnat", name: "postrouting", type: "nat", hook: "postrouting", prio: 100, policy: "accept" } as const;
    const expr = [
      { match: { op: "==", left: { payload: { protocol: "ip", field: "saddr" } }, right: { prefix: { addr: "10.100.0.0", len: 16 } } } },
      { masquerade: null },
    ] as const;
    const cs: Changeset = {
      steps: [step(h, [], [{ add: { table } }, { add: { chain } }, { add: { rule: { family: "ip", table: "coilnat", chain: "postrouting", expr, comment: "coil test" } } }])],
    };
    const r = await kernel.apply(cs);
    t.ok(r.isOk(), "applied", { error: r.isErr() ? r.error : undefined });
    const l = (await kernel.observeNft(h, { family: "ip", table: "coilnat" }))._unsafeUnwrap();
    t.same(l.tables, [table]);
    t.same(l.chains, [chain]);
    t.same(l.rules.map(({ handle: _h, ...rest }) => rest), [{ family: "ip", table: "coilnat", chain: "postrouting", expr, comment: "coil test" }]);
    t.same((await kernel.observeNft(h, { family: "ip", table: "absent" }))._unsafeUnwrap().tables, [], "missing table: empty listing");
  });

  t.test("nft: a committed transaction is undone when a later step fails, pre-existing objects kept", async (t) => {
    const { kernel, newNetns } = make(t);
    const h = newNetns(t);
    const p = newNetns(t);
    const keep = { family: "inet", table: "keep", name: "fwd", type: "filter", hook: "forward", prio: 0, policy: "accept" } as const;
    const accept = [{ accept: null }] as const;
    const pre: Changeset = { steps: [step(h, [], [{ add: { table: { family: "inet", name: "keep" } } }, { add: { chain: keep } }, { add: { rule: { family: "inet", table: "keep", chain: "fwd", expr: accept } } }])] };
    t.ok((await kernel.apply(pre)).isOk(), "pre-existing table");
    const before = (await kernel.observeNft(h))._unsafeUnwrap();
    const cs: Changeset = {
      steps: [
        step(h, [], [
          { add: { table: { family: "inet", name: "keep" } } },
          { add: { chain: keep } },
          { add: { rule: { family: "inet", table: "keep", chain: "fwd", expr: [{ drop: null }] } } },
          { add: { table: { family: "ip", name: "coilnat" } } },
          { add: { chain: { family: "ip", table: "coilnat", name: "post", type: "nat", hook: "postrouting", prio: 100, policy: "accept" } } },
          { add: { rule: { family: "ip", table: "coilnat", chain: "post", expr: [{ masquerade: null }] } } },
        ]),
        step(p, [{ kind: "route.replace", route: { family: 4, dst: cidr("10.9.0.0/24"), dev: "nodev1" } }]),
      ],
    };
    const r = await kernel.apply(cs);
    t.match(r.isErr() ? r.error : r.value, { kind: "apply-failed", failedOp: { kind: "netlink", step: 1, index: 0 }, rolledBack: true, rollbackProblems: [] });
    t.same((await kernel.observeNft(h))._unsafeUnwrap(), before, "ruleset exactly as before: new table gone, added rule gone, old rule kept");
  });
}
