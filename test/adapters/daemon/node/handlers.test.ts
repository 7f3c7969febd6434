import t from "tap";
import { HOST_NETNS, netnsPath, type NetnsState } from "../../../../lib/changeset/index.js";
import { harness, ipsOf, pod, poolDoc, type Harness } from "../harness.js";

const DUAL = poolDoc("default", { blockSizeBits: 2, subnets: [{ ipv4: "10.2.0.0/28", ipv6: "fd02::/124" }] });
const host = (h: Harness): NetnsState => h.kernel.dump()["host"] as NetnsState;
const table = (h: Harness, n: number) => host(h).routes.filter((r) => r.table === n).map((r) => `${r.dst} ${r.dev}`).sort();

t.test("ADD lays out the pod, exports the block; DEL undoes it and returns the block", async (t) => {
  const h = await harness(DUAL);
  const q = pod(h, "c1");
  const r = (await h.handlers.add(q))._unsafeUnwrap();
  const res = JSON.parse(r.result.toString()) as { cniVersion: string; interfaces: { name: string; sandbox?: string }[] };
  t.same(ipsOf(r.result), ["10.2.0.0/32", "fd02::/128"]);
  t.equal(res.cniVersion, "1.1.0");
  t.same(res.interfaces[0], { name: "eth0", sandbox: "/run/netns/c1" });
  const veth = res.interfaces[1]?.name ?? "";
  t.match(veth, /^veth[0-9a-f]{8}$/);
  t.equal(host(h).links.find((l) => l.name === veth)?.alias, "COIL:default:c1:eth0");
  t.same(table(h, 116), [`10.2.0.0/32 ${veth}`, `fd02::/128 ${veth}`]);
  t.same(table(h, 119), ["10.2.0.0/30 lo", "fd02::/126 lo"]);
  const podState = h.kernel.dump()["/run/netns/c1"] as NetnsState;
  t.same(podState.addrs.filter((a) => a.dev === "eth0").map((a) => a.cidr).sort(), ["10.2.0.0/32", "fd02::/128"]);
  t.equal(podState.links.find((l) => l.name === "eth0")?.mtu, 1450);
  (await h.handlers.check(q))._unsafeUnwrap();

  (await h.handlers.del(q))._unsafeUnwrap();
  t.notOk(host(h).links.some((l) => l.name === veth), "host veth gone");
  t.same(table(h, 116), []);
  await h.node.settled(); // the empty block is returned after the DEL answered
  t.same(table(h, 119), [], "empty block returned, export table emptied");
  t.same(h.node.ipam.blocks(), []);
  (await h.handlers.del(q))._unsafeUnwrap();
  (await h.handlers.del(pod(h, "never-added", { create: false })))._unsafeUnwrap();
  const c = await h.handlers.check(q);
  t.equal(c.isErr() && c.error.msg, "check failed");
});

t.test("ADD is idempotent for containerId:ifname; a second ifname gets its own address", async (t) => {
  const h = await harness(DUAL);
  const q = pod(h, "c1");
  const a1 = (await h.handlers.add(q))._unsafeUnwrap();
  const a2 = (await h.handlers.add(q))._unsafeUnwrap();
  t.same(ipsOf(a2.result), ipsOf(a1.result));
  t.same(JSON.parse(a2.result.toString()), JSON.parse(a1.result.toString()), "same veth reused");
  t.equal(host(h).links.filter((l) => l.alias === "COIL:default:c1:eth0").length, 1);
  const b = (await h.handlers.add({ ...q, ifname: "net1" }))._unsafeUnwrap();
  t.same(ipsOf(b.result), ["10.2.0.1/32", "fd02::1/128"]);
});

t.test("DEL succeeds when the netns is already gone and after a restart", async (t) => {
  const h = await harness(DUAL);
  const q = pod(h, "c1");
  (await h.handlers.add(q))._unsafeUnwrap();
  h.kernel.removeNetns(netnsPath(q.netns));
  const h2 = await harness(DUAL, h);
  t.equal(h2.node.ipam.allocations().length, 1, "recovered from the host veth alias + table 116");
  (await h2.handlers.del(q))._unsafeUnwrap();
  t.equal(h2.node.ipam.allocations().length, 0);
  t.same(table(h2, 116), []);
  await h2.node.settled();
  t.same(table(h2, 119), []);
});

t.test("CHECK detects a removed address and a removed route", async (t) => {
  const h = await harness(DUAL);
  const q = pod(h, "c1");
  (await h.handlers.add(q))._unsafeUnwrap();
  (await h.handlers.check(q))._unsafeUnwrap();
  (await h.kernel.apply({ steps: [{ netns: netnsPath(q.netns), netlink: [{ kind: "addr.del", dev: "eth0", cidr: "10.2.0.0/32" as never }], nft: [] }] }))._unsafeUnwrap();
  const c1 = await h.handlers.check(q);
  t.ok(c1.isErr());
  if (c1.isErr()) t.match(c1.error, { code: 999, msg: "check failed", details: /10\.2\.0\.0\/32 dev eth0/ });
  (await h.handlers.add(q))._unsafeUnwrap(); // ADD again repairs it
  (await h.handlers.check(q))._unsafeUnwrap();
  const r116 = host(h).routes.find((r) => r.table === 116 && r.family === 6);
  (await h.kernel.apply({ steps: [{ netns: HOST_NETNS, netlink: [{ kind: "route.del", route: r116! }], nft: [] }] }))._unsafeUnwrap();
  const c2 = await h.handlers.check(q);
  t.ok(c2.isErr());
  if (c2.isErr()) t.match(c2.error.details, /fd02::\/128.*table 116/);
});

t.test("exhaustion: TRY_AGAIN_LATER on ADD, 50 on STATUS; freeing recovers", async (t) => {
  const h = await harness(poolDoc("default", { blockSizeBits: 1, subnets: [{ ipv4: "10.4.0.0/31" }] }));
  (await h.handlers.status({ stdinData: Buffer.alloc(0), path: "" }))._unsafeUnwrap();
  (await h.handlers.add(pod(h, "a")))._unsafeUnwrap();
  (await h.handlers.add(pod(h, "b")))._unsafeUnwrap();
  const c = await h.handlers.add(pod(h, "c"));
  t.ok(c.isErr());
  if (c.isErr()) t.match(c.error, { code: 11, msg: "failed to allocate address", details: /does not have free blocks/ });
  const st = await h.handlers.status({ stdinData: Buffer.alloc(0), path: "" });
  t.equal(st.isErr() && st.error.code, 50);
  t.notOk(host(h).links.some((l) => l.alias?.includes(":c:")), "no link for the failed pod");
  (await h.handlers.del(pod(h, "a")))._unsafeUnwrap();
  (await h.handlers.status({ stdinData: Buffer.alloc(0), path: "" }))._unsafeUnwrap();
  t.same(ipsOf((await h.handlers.add(pod(h, "c")))._unsafeUnwrap().result), ["10.4.0.0/32"]);
});

t.test("an unknown pool from the namespace mapping is an INTERNAL error", async (t) => {
  const h = await harness(DUAL);
  const h2 = await harness(DUAL, undefined, { team: "nope" });
  t.ok(h);
  const r = await h2.handlers.add(pod(h2, "x", { ns: "team" }));
  t.match(r.isErr() && r.error, { code: 999, details: /pool nope is not defined/ });
});

t.test("a failed setup frees the address and returns a new block", async (t) => {
  const h = await harness(DUAL, undefined, {}, (cs) => cs.steps.some((s) => s.netlink.some((op) => op.kind === "link.add-veth")));
  const r = await h.handlers.add(pod(h, "c1"));
  t.ok(r.isErr());
  if (r.isErr()) t.match(r.error, { msg: "failed to setup pod network IPAM", details: /No buffer space/ });
  t.same(h.node.ipam.allocations(), []);
  t.same(h.node.ipam.blocks(), [], "block returned");
  t.same(table(h, 119), []);
  t.notOk(host(h).links.some((l) => l.kind === "veth"), "rolled back");
});

t.test("chained invocation and bad arguments are refused", async (t) => {
  const h = await harness(DUAL);
  const q = pod(h, "c1");
  const r = await h.handlers.add({ ...q, args: { ...q.args, IS_CHAINED: "true" } });
  t.match(r.isErr() && r.error, { code: 999, msg: /first plugin/ });
  const r2 = await h.handlers.add({ ...q, containerId: "" });
  t.match(r2.isErr() && r2.error, { code: 4 });
  const r3 = await h.handlers.add({ ...q, netns: "relative" });
  t.match(r3.isErr() && r3.error, { code: 4 });
});

t.test("50 concurrent ADDs: 50 distinct addresses, minimal blocks; restart recovers without duplicates", async (t) => {
  const POOL = poolDoc("default", { blockSizeBits: 3, subnets: [{ ipv4: "10.8.0.0/24" }] });
  const h = await harness(POOL);
  const ids = Array.from({ length: 50 }, (_, i) => `p${i}`);
  const t0 = performance.now();
  const rs = await Promise.all(ids.map((id) => h.handlers.add(pod(h, id))));
  const ms = performance.now() - t0;
  const ips = rs.map((r) => (ipsOf(r._unsafeUnwrap().result)[0] ?? "").replace("/32", ""));
  t.equal(new Set(ips).size, 50, `50 distinct addresses (${ms.toFixed(0)} ms on the fake kernel)`);
  t.equal(h.node.ipam.blocks().length, 7, "ceil(50/8) = 7 blocks, none acquired twice");
  t.equal(table(h, 119).length, 7);
  // Free a few, restart, and allocate more: nothing handed out twice.
  for (const id of ["p3", "p17", "p40"]) (await h.handlers.del(pod(h, id)))._unsafeUnwrap();
  const live = new Set(ips.filter((_, i) => !["p3", "p17", "p40"].includes(ids[i] ?? "")));
  const h2 = await harness(POOL, h);
  t.equal(h2.node.ipam.allocations().length, 47, "all live pods recovered");
  t.same(new Set(h2.node.ipam.allocations().map((a) => a.ipv4)), live);
  const more = await Promise.all(Array.from({ length: 20 }, (_, i) => h2.handlers.add(pod(h2, `q${i}`))));
  const fresh = more.map((r) => ipsOf(r._unsafeUnwrap().result)[0] ?? "");
  t.notOk(fresh.some((ip) => live.has(ip.replace("/32", ""))), "no live address handed out again");
  t.equal(new Set(fresh).size, 20);
  t.equal(h2.node.ipam.allocations().length, 67);
});

t.test("restart releases blocks left empty by a crash", async (t) => {
  const h = await harness(DUAL);
  (await h.node.allocate({ pool: "default", containerId: "ghost", ifname: "eth0" }))._unsafeUnwrap(); // crash before setup
  t.equal(h.node.ipam.blocks().length, 1);
  const h2 = await harness(DUAL, h);
  t.same(h2.node.ipam.blocks(), [], "the block persisted in the store was returned by the startup GC");
  t.same(table(h2, 119), []);
});

t.test("GC removes attachments not in the valid list", async (t) => {
  const h = await harness(DUAL);
  for (const id of ["a", "b", "c"]) (await h.handlers.add(pod(h, id)))._unsafeUnwrap();
  (await h.handlers.gc({ stdinData: Buffer.alloc(0), path: "", validAttachments: [{ containerId: "b", ifname: "eth0" }] }))._unsafeUnwrap();
  t.same(h.node.ipam.allocations().map((a) => a.containerId), ["b"]);
  t.same(host(h).links.filter((l) => l.alias !== undefined).map((l) => l.alias), ["COIL:default:b:eth0"]);
});

t.test("no global lock: a stalled kernel apply for one pod does not block another pod's ADD", async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const h = await harness(DUAL, undefined, {}, undefined, async (cs) => {
    if (cs.steps.some((s) => s.netns.kind === "path" && s.netns.path === "/run/netns/slow")) await gate;
  });
  const stalled = h.handlers.add(pod(h, "slow"));
  const fast = await h.handlers.add(pod(h, "quick"));
  t.ok(fast.isOk(), "the other pod's ADD completed while the first one is stalled in the kernel");
  release();
  t.ok((await stalled).isOk());
});
