/**
 * lib/report's leak check: each category found from a seeded snapshot and nothing on a clean one,
 * the grace period boundary (exactly as old as the grace period is not a leak; 1 ms more is),
 * pods that cannot hold addresses (host-network, finished, unscheduled), dual-stack blocks and
 * addresses, deferral of a node whose new pod has no address yet, invalid input refused.
 */
import t from "tap";
import { checkLeaks, LEAK_CATEGORIES, type ClusterSnapshot, type Finding, type NodeAllocations, type SnapshotBlock, type SnapshotPod, type ViewAddress } from "../../../lib/report/index.js";
import { parseCidr, parseIp, type Cidr, type Ip } from "../../../lib/net/index.js";

const MIN = 60_000;
const NOW = 1_800_000_000_000;
const GRACE = 5 * MIN;
const opts = { nowMs: NOW, gracePeriodMs: GRACE };
const ip = (s: string): Ip => parseIp(s)._unsafeUnwrap();
const cidr = (s: string): Cidr => parseCidr(s)._unsafeUnwrap();

const block = (name: string, node: string | undefined, ipv4?: string, ipv6?: string, ageMs = 10 * MIN): SnapshotBlock => ({
  name,
  uid: `uid-${name}`,
  pool: "default",
  node,
  ...(ipv4 === undefined ? {} : { ipv4 }),
  ...(ipv6 === undefined ? {} : { ipv6 }),
  createdAtMs: NOW - ageMs,
});
const pod = (name: string, node: string | undefined, ips: string[], o: Partial<SnapshotPod> = {}): SnapshotPod => ({
  namespace: "ns",
  name,
  uid: `uid-${name}`,
  node,
  hostNetwork: false,
  phase: "Running",
  ips,
  createdAtMs: NOW - 10 * MIN,
  ...o,
});
const addr = (containerId: string, block: string, ipv4: string | null, ipv6: string | null = null): ViewAddress => ({
  pool: "default",
  block,
  ipv4: ipv4 === null ? null : ip(ipv4),
  ipv6: ipv6 === null ? null : ip(ipv6),
  containerId,
  ifname: "eth0",
  hostVeth: null,
});
const view = (node: string, addresses: ViewAddress[], blocks: string[] = []): NodeAllocations => ({
  node,
  generatedAt: "2027-01-15T08:00:00.000Z",
  blocks: blocks.map((b) => ({ name: b, pool: "default", ipv4: cidr("10.0.0.0/29"), ipv6: null, used: 0, size: 8 })),
  addresses,
  kernel: null,
});

/** Two nodes, each with one block and one pod in it, coild agreeing: nothing leaks. */
function clean(): ClusterSnapshot {
  return {
    nodes: ["n1", "n2"],
    pools: [{ name: "default", spec: { blockSizeBits: 3, subnets: [{ ipv4: "10.0.0.0/24", ipv6: "fd00::/120" }] } }],
    blocks: [block("default-0", "n1", "10.0.0.0/29", "fd00::/125"), block("default-1", "n2", "10.0.0.8/29", "fd00::8/125")],
    blockRequests: [{ name: "br-done", uid: "uid-br-done", pool: "default", node: "n1", addressBlockName: "default-0", failed: false, createdAtMs: NOW - 10 * MIN }],
    pods: [
      pod("a", "n1", ["10.0.0.1", "fd00::1"]),
      pod("b", "n2", ["10.0.0.9", "fd00::9"]),
      pod("host", "n1", ["192.0.2.1"], { hostNetwork: true }),
      pod("pending", undefined, []),
    ],
    views: [
      { node: "n1", view: view("n1", [addr("ca", "default-0", "10.0.0.1", "fd00::1")]) },
      { node: "n2", view: view("n2", [addr("cb", "default-1", "10.0.0.9", "fd00::9")]) },
    ],
  };
}

const check = (s: ClusterSnapshot, o = opts): readonly Finding[] => checkLeaks(s, o)._unsafeUnwrap().findings;
const brief = (fs: readonly Finding[]): string[] => fs.map((f) => `${f.category} ${f.subject}`);

t.test("a clean cluster: no finding, every count 0", async (t) => {
  const r = checkLeaks(clean(), opts)._unsafeUnwrap();
  t.same(r.findings, []);
  t.same(Object.keys(r.counts), [...LEAK_CATEGORIES]);
  t.ok(Object.values(r.counts).every((n) => n === 0));
  t.same(r.uncheckedNodes, []);
  t.same(r.deferredNodes, []);
  t.equal(r.checkedAtMs, NOW);
  t.equal(r.gracePeriodMs, GRACE);
});

t.test("block-of-missing-node: a block labelled with a Node that is gone, or with no label", async (t) => {
  const s = clean();
  const fs = check({ ...s, blocks: [...s.blocks, block("default-5", "gone", "10.0.0.40/29"), block("default-6", undefined, "10.0.0.48/29", undefined, 0)] });
  t.same(brief(fs), ["block-of-missing-node AddressBlock default-5", "block-of-missing-node AddressBlock default-6"]);
  t.same(fs[0], {
    category: "block-of-missing-node",
    subject: "AddressBlock default-5",
    node: "gone",
    pool: "default",
    addresses: ["10.0.0.40/29"],
    evidence: "its node label names gone, and no such Node exists",
    action: { kind: "delete-block", name: "default-5", uid: "uid-default-5" },
  });
  t.match(fs[1]?.evidence, /no coil\.cybozu\.com\/node label/, "reported whatever its age");
});

t.test("block-without-pods: past the grace period, no live pod of its node in it; the boundary", async (t) => {
  const s = clean();
  const at = (ageMs: number): readonly Finding[] => check({ ...s, blocks: [...s.blocks, block("default-2", "n1", "10.0.0.16/29", "fd00::10/125", ageMs)] });
  t.same(at(GRACE), [], "exactly as old as the grace period: not yet");
  const fs = at(GRACE + 1);
  t.same(brief(fs), ["block-without-pods AddressBlock default-2"], "1 ms older: reported");
  t.same(fs[0]?.addresses, ["10.0.0.16/29", "fd00::10/125"], "both CIDRs of a dual-stack block");
  t.same(fs[0]?.action, { kind: "delete-block", name: "default-2", uid: "uid-default-2" });
  t.match(fs[0]?.evidence, /no live pod on n1 has an address of it, and it is older than the grace period \(300s\); coild holds no address of it/);

  const onOtherNode = check({ ...s, blocks: [...s.blocks, block("default-2", "n1", "10.0.0.16/29")], pods: [...s.pods, pod("x", "n2", ["10.0.0.17"])] });
  t.ok(onOtherNode.some((f) => f.category === "block-without-pods"), "a pod of another node in it does not make it live");
  const v6Only = check({ ...s, blocks: [...s.blocks, block("default-2", "n1", "10.0.0.16/29", "fd00::10/125")], pods: [...s.pods, pod("x", "n1", ["fd00::11"])] });
  t.notOk(v6Only.some((f) => f.category === "block-without-pods"), "a pod with only the block's IPv6 address keeps it");
  const finished = check({ ...s, blocks: [...s.blocks, block("default-2", "n1", "10.0.0.16/29")], pods: [...s.pods, pod("x", "n1", ["10.0.0.17"], { phase: "Succeeded" })] });
  t.ok(finished.some((f) => f.category === "block-without-pods"), "a finished pod does not keep a block");
  const reserved = check({ ...s, blocks: [...s.blocks, { ...block("default-2", "n1", "10.0.0.16/29"), reserved: true }] });
  t.same(reserved, [], "a reserved block is never without pods");
});

t.test("block-without-pods names the addresses coild still holds in it", async (t) => {
  const s = clean();
  const fs = check({
    ...s,
    blocks: [...s.blocks, block("default-2", "n1", "10.0.0.16/29")],
    views: [{ node: "n1", view: view("n1", [addr("ca", "default-0", "10.0.0.1", "fd00::1"), addr("ghost", "default-2", "10.0.0.16")]) }, s.views[1] ?? { node: "n2", error: "" }],
  });
  t.same(brief(fs), ["block-without-pods AddressBlock default-2", "address-of-missing-pod container ghost:eth0"]);
  t.match(fs[0]?.evidence, /coild still holds 1 address\(es\) of it/);
});

t.test("address-of-missing-pod: coild holds an address no live pod of the node has (dual-stack)", async (t) => {
  const s = clean();
  const views = [{ node: "n1", view: view("n1", [addr("ca", "default-0", "10.0.0.1", "fd00::1"), addr("gone", "default-0", "10.0.0.2", "fd00::2")]) }, s.views[1] ?? { node: "n2", error: "" }];
  const fs = check({ ...s, views });
  t.same(fs, [{
    category: "address-of-missing-pod",
    subject: "container gone:eth0",
    node: "n1",
    pool: "default",
    addresses: ["10.0.0.2", "fd00::2"],
    evidence: "coild on n1 holds 10.0.0.2, fd00::2 (block default-0) and no live pod on n1 has any of them",
    action: { kind: "free-address", node: "n1", containerId: "gone", ifname: "eth0" },
  }]);
  const moved = check({ ...s, views, pods: [...s.pods, pod("elsewhere", "n2", ["10.0.0.2"])] });
  t.ok(moved.some((f) => f.category === "address-of-missing-pod"), "a pod with the address on another node does not make it live here");
  t.ok(moved.some((f) => f.category === "duplicate-address" && f.subject === "address 10.0.0.2"), "and that is a duplicate across nodes");
  const ipv6Holder = check({ ...s, views, pods: [...s.pods, pod("v6", "n1", ["fd00::2"])] });
  t.same(ipv6Holder, [], "a live pod with one of its addresses holds it");
  const finished = check({ ...s, views, pods: [...s.pods, pod("done", "n1", ["10.0.0.2"], { phase: "Failed" })] });
  t.same(brief(finished), ["address-of-missing-pod container gone:eth0"], "a finished pod does not hold it");
  const named = check({ ...s, views: [{ node: "n1", view: view("n1", [addr("ca", "default-0", "10.0.0.1", "fd00::1"), { ...addr("gone", "default-0", "10.0.0.2"), pod: { namespace: "ns", name: "old" } }]) }, s.views[1] ?? { node: "n2", error: "" }] });
  t.equal(named[0]?.evidence, "coild on n1 holds 10.0.0.2 (block default-0) and no live pod on n1 has it; coild set it up for pod ns/old", "the pod of the ADD, when coild knows it, is named");
});

t.test("a node with a new pod that has no address yet is deferred; an old one without address is not", async (t) => {
  const s = clean();
  const views = [{ node: "n1", view: view("n1", [addr("ca", "default-0", "10.0.0.1", "fd00::1"), addr("new", "default-0", "10.0.0.2")]) }, s.views[1] ?? { node: "n2", error: "" }];
  const blocks = [...s.blocks, block("default-2", "n1", "10.0.0.16/29")];
  const young = checkLeaks({ ...s, views, blocks, pods: [...s.pods, pod("starting", "n1", [], { phase: "Pending", createdAtMs: NOW - GRACE })] }, opts)._unsafeUnwrap();
  t.same(young.findings, [], "exactly grace old and without an address: the node is not judged");
  t.same(young.deferredNodes, [{ node: "n1", pod: "ns/starting" }]);
  const stuck = check({ ...s, views, blocks, pods: [...s.pods, pod("stuck", "n1", [], { phase: "Pending", createdAtMs: NOW - GRACE - 1 })] });
  t.same(brief(stuck), ["block-without-pods AddressBlock default-2", "address-of-missing-pod container new:eth0"], "older than the grace period: judged");
});

t.test("pod-outside-blocks: a live pod's address in none of its node's blocks; report only", async (t) => {
  const s = clean();
  const fs = check({ ...s, pods: [...s.pods, pod("stray", "n1", ["10.0.0.9", "fd00::1:5"]), pod("host2", "n2", ["198.51.100.7"], { hostNetwork: true })] });
  const outside = fs.filter((f) => f.category === "pod-outside-blocks");
  t.same(outside, [{
    category: "pod-outside-blocks",
    subject: "Pod ns/stray",
    node: "n1",
    pool: null,
    addresses: ["10.0.0.9", "fd00::1:5"],
    evidence: "10.0.0.9, fd00::1:5 are in none of the AddressBlocks of n1",
    action: null,
  }], "an address of another node's block and one of no block; host-network pods ignored");
});

t.test("duplicate-address: two pods, or two containers, with one address", async (t) => {
  const s = clean();
  const pods = check({ ...s, pods: [...s.pods, pod("twin", "n1", ["10.0.0.1"])] });
  t.same(pods.filter((f) => f.category === "duplicate-address"), [{
    category: "duplicate-address",
    subject: "address 10.0.0.1",
    node: "n1",
    pool: null,
    addresses: ["10.0.0.1"],
    evidence: "held by container ca:eth0 on n1, pod ns/a on n1, pod ns/twin on n1",
    action: null,
  }]);
  const containers = check({ ...s, views: [{ node: "n1", view: view("n1", [addr("ca", "default-0", "10.0.0.1", "fd00::1"), addr("cx", "default-0", "10.0.0.1")]) }, s.views[1] ?? { node: "n2", error: "" }] });
  t.same(brief(containers.filter((f) => f.category === "duplicate-address")), ["duplicate-address address 10.0.0.1"]);
  const ipv6 = check({ ...s, pods: [...s.pods, pod("twin6", "n1", ["fd00:0:0::1"])] });
  t.same(brief(ipv6.filter((f) => f.category === "duplicate-address")), ["duplicate-address address fd00::1"], "IPv6 compared canonically");
});

t.test("stale-block-request: unanswered or failed past the grace period, or of a missing node", async (t) => {
  const s = clean();
  const br = (name: string, o: { node?: string; ageMs?: number; addressBlockName?: string; failed?: boolean }) => ({
    name, uid: `uid-${name}`, pool: "default", node: o.node ?? "n1", failed: o.failed ?? false, createdAtMs: NOW - (o.ageMs ?? 10 * MIN),
    ...(o.addressBlockName === undefined ? {} : { addressBlockName: o.addressBlockName }),
  });
  const fs = check({
    ...s,
    blockRequests: [
      br("young", { ageMs: GRACE }),
      br("unanswered", { ageMs: GRACE + 1 }),
      br("failed", { failed: true }),
      br("no-block", { addressBlockName: "default-9" }),
      br("answered", { addressBlockName: "default-1" }),
      br("orphan", { node: "gone", ageMs: 0 }),
    ],
  });
  t.same(fs.map((f) => `${f.subject}: ${f.evidence}`), [
    "BlockRequest failed: it failed and is older than the grace period (300s)",
    "BlockRequest no-block: its AddressBlock default-9 does not exist and it is older than the grace period (300s)",
    "BlockRequest orphan: its node gone does not exist",
    "BlockRequest unanswered: it has no AddressBlock and is older than the grace period (300s)",
  ]);
  t.same(fs[0]?.action, { kind: "delete-block-request", name: "failed", uid: "uid-failed" });
});

t.test("a node whose coild view is missing: listed as unchecked, its API-side checks still run", async (t) => {
  const s = clean();
  const r = checkLeaks({ ...s, views: [s.views[0] ?? { node: "n1", error: "" }, { node: "n2", error: "connection refused" }], blocks: [...s.blocks, block("default-3", "n2", "10.0.0.24/29")] }, opts)._unsafeUnwrap();
  t.same(r.uncheckedNodes, [{ node: "n2", error: "connection refused" }]);
  t.same(brief(r.findings), ["block-without-pods AddressBlock default-3"]);
  t.notMatch(r.findings[0]?.evidence, /coild/, "says nothing about coild's view it did not read");
});

t.test("every category at once, in category order", async (t) => {
  const s = clean();
  const r = checkLeaks({
    ...s,
    blocks: [...s.blocks, block("default-7", "gone", "10.0.0.56/29"), block("default-2", "n2", "10.0.0.16/29")],
    pods: [...s.pods, pod("stray", "n2", ["10.1.0.1"]), pod("twin", "n2", ["10.0.0.9"])],
    views: [{ node: "n1", view: view("n1", [addr("ca", "default-0", "10.0.0.1", "fd00::1"), addr("dead", "default-0", "10.0.0.3")]) }, s.views[1] ?? { node: "n2", error: "" }],
    blockRequests: [{ name: "br-x", uid: "u", pool: "default", node: "gone", failed: false, createdAtMs: NOW }],
  }, opts)._unsafeUnwrap();
  t.same(r.findings.map((f) => f.category), [...LEAK_CATEGORIES]);
  t.same(Object.values(r.counts), [1, 1, 1, 1, 1, 1]);
});

t.test("invalid addresses and CIDRs are refused with where they are", async (t) => {
  const s = clean();
  t.same(checkLeaks({ ...s, blocks: [block("b", "n1", "10.0.0.0/33")] }, opts)._unsafeUnwrapErr(), { kind: "invalid-snapshot", where: "AddressBlock b ipv4", message: 'invalid CIDR "10.0.0.0/33": prefix length out of range' });
  t.match(checkLeaks({ ...s, pods: [pod("p", "n1", ["10.0.0.300"])] }, opts)._unsafeUnwrapErr(), { kind: "invalid-snapshot", where: "Pod ns/p podIPs" });
  t.same(checkLeaks({ ...s, pods: [pod("p", "n1", ["nonsense"], { hostNetwork: true })] }, opts).isOk(), true, "host-network pods' addresses are not looked at");
});
