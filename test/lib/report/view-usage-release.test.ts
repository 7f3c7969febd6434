/**
 * lib/report beyond the check: the `/allocations` answer's validation, utilisation per pool and
 * node, the block and address listings, and release's report parsing, order and re-check (a
 * finding that became live, vanished, was replaced, or whose block coild still routes, is not
 * released).
 */
import t from "tap";
import {
  addressRows,
  blockRows,
  checkLeaks,
  parseNodeAllocations,
  parseReportFindings,
  recheckFinding,
  releaseOrder,
  utilisation,
  type ClusterSnapshot,
  type Finding,
  type NodeAllocations,
} from "../../../lib/report/index.js";

const NOW = 1_800_000_000_000;
const opts = { nowMs: NOW, gracePeriodMs: 60_000 };

const wire = {
  node: "n1",
  generatedAt: "2027-01-15T08:00:00.000Z",
  blocks: [{ name: "default-0", pool: "default", ipv4: "10.0.0.0/30", ipv6: "fd00:0::/126", used: 2, size: 4 }],
  addresses: [
    { pool: "default", block: "default-0", ipv4: "10.0.0.0", ipv6: "fd00::", containerId: "c1", ifname: "eth0", hostVeth: "veth1", pod: { namespace: "ns", name: "p1" } },
    { pool: "default", block: "default-0", ipv4: "10.0.0.1", ipv6: "fd00::1", containerId: "c2", ifname: "eth0", hostVeth: null },
  ],
  kernel: { podRoutes: [{ dst: "10.0.0.0/32", dev: "veth1" }], exportedRoutes: ["10.0.0.0/30"], hostVeths: [{ name: "veth1", pool: "default", containerId: "c1", ifname: "eth0" }] },
};

t.test("parseNodeAllocations: canonical addresses; each malformed field named", async (t) => {
  const v = parseNodeAllocations(wire)._unsafeUnwrap();
  t.equal(v.blocks[0]?.ipv6, "fd00::/126", "IPv6 CIDR canonical");
  t.equal(v.addresses[1]?.hostVeth, null);
  t.same(v.addresses.map((a) => a.pod), [{ namespace: "ns", name: "p1" }, null], "the pod of the ADD; absent (an older coild) is null");
  t.same(v.kernel?.exportedRoutes, ["10.0.0.0/30"]);
  t.same(parseNodeAllocations({ ...wire, kernel: null, kernelError: "observe failed" })._unsafeUnwrap().kernelError, "observe failed");
  const bad = (x: unknown): string => parseNodeAllocations(x)._unsafeUnwrapErr().where;
  t.equal(bad([]), "$");
  t.equal(bad({ ...wire, node: 1 }), "$.node");
  t.equal(bad({ ...wire, blocks: {} }), "$.blocks");
  t.equal(bad({ ...wire, blocks: [{ ...wire.blocks[0], used: -1 }] }), "$.blocks[0].used");
  t.equal(bad({ ...wire, addresses: [{ ...wire.addresses[0], ipv4: "10.0.0.256" }] }), "$.addresses[0].ipv4");
  t.equal(bad({ ...wire, addresses: [{ ...wire.addresses[0], pod: "ns/p1" }] }), "$.addresses[0].pod");
  t.equal(bad({ ...wire, addresses: [{ ...wire.addresses[0], pod: { namespace: "ns" } }] }), "$.addresses[0].pod.name");
  t.equal(bad({ ...wire, addresses: [{ ...wire.addresses[0], pod: { namespace: "ns", name: "" } }] }), "$.addresses[0].pod.name");
  t.equal(bad({ ...wire, kernel: { ...wire.kernel, exportedRoutes: ["x"] } }), "$.kernel.exportedRoutes[0]");
  t.equal(bad({ ...wire, kernel: { ...wire.kernel, podRoutes: [{ dev: "x" }] } }), "$.kernel.podRoutes[0].dst");
});

function snapshot(): ClusterSnapshot {
  const v = parseNodeAllocations(wire)._unsafeUnwrap();
  return {
    nodes: ["n1", "n2"],
    pools: [
      { name: "default", spec: { blockSizeBits: 2, subnets: [{ ipv4: "10.0.0.0/28", ipv6: "fd00::/124" }] } },
      { name: "v4", spec: { blockSizeBits: 0, subnets: [{ ipv4: "10.9.0.0/30" }] } },
    ],
    blocks: [
      { name: "default-0", uid: "u0", pool: "default", node: "n1", ipv4: "10.0.0.0/30", ipv6: "fd00::/126", createdAtMs: NOW - 600_000 },
      { name: "default-1", uid: "u1", pool: "default", node: "n2", ipv4: "10.0.0.4/30", ipv6: "fd00::4/126", createdAtMs: NOW - 600_000 },
      { name: "v4-0", uid: "u2", pool: "v4", node: "n1", ipv4: "10.9.0.0/32", createdAtMs: NOW - 600_000 },
    ],
    blockRequests: [],
    pods: [
      { namespace: "ns", name: "p1", uid: "p1", node: "n1", hostNetwork: false, phase: "Running", ips: ["10.0.0.0", "fd00::"], createdAtMs: NOW - 600_000 },
      { namespace: "ns", name: "p4", uid: "p4", node: "n2", hostNetwork: false, phase: "Running", ips: ["10.0.0.4", "fd00::4"], createdAtMs: NOW - 600_000 },
      { namespace: "ns", name: "v4", uid: "p5", node: "n1", hostNetwork: false, phase: "Running", ips: ["10.9.0.0"], createdAtMs: NOW - 600_000 },
    ],
    views: [{ node: "n1", view: v }, { node: "n2", error: "connection refused" }],
  };
}

t.test("utilisation: blocks from the API, addresses from the coild views (unknown where unread)", async (t) => {
  const u = utilisation(snapshot())._unsafeUnwrap();
  t.same(u.pools, [
    { pool: "default", blockSize: 4, blocksTotal: 4, blocksUsed: 2, blocksFree: 2, addressesUsed: null, addressesFreeInBlocks: null, addressesUnassigned: 8 },
    { pool: "v4", blockSize: 1, blocksTotal: 4, blocksUsed: 1, blocksFree: 3, addressesUsed: 0, addressesFreeInBlocks: 1, addressesUnassigned: 3 },
  ]);
  t.same(u.nodes, [
    { node: "n1", pool: "default", blocks: 1, addressesUsed: 2 },
    { node: "n1", pool: "v4", blocks: 1, addressesUsed: 0 },
    { node: "n2", pool: "default", blocks: 1, addressesUsed: null },
  ]);
  const s = snapshot();
  const known = utilisation({ ...s, views: [s.views[0] ?? { node: "", error: "" }] })._unsafeUnwrap();
  t.same(known.pools[0]?.addressesUsed, null, "a node not asked at all is unknown too");
  t.match(utilisation({ ...s, pools: [{ name: "bad", spec: { subnets: [] } }] })._unsafeUnwrapErr(), { kind: "invalid-snapshot", where: "AddressPool bad spec" });
});

t.test("blockRows and addressRows", async (t) => {
  const s = snapshot();
  t.same(blockRows(s).map((b) => `${b.node} ${b.name} ${String(b.used)}/${String(b.size)}`), ["n1 default-0 2/4", "n1 v4-0 null/null", "n2 default-1 null/null"]);
  t.same(blockRows(s, "n2").map((b) => b.name), ["default-1"]);
  t.same(addressRows(s), [
    { node: "n1", pool: "default", block: "default-0", ipv4: "10.0.0.0", ipv6: "fd00::", containerId: "c1", ifname: "eth0", hostVeth: "veth1", pod: "ns/p1", coildPod: "ns/p1" },
    { node: "n1", pool: "default", block: "default-0", ipv4: "10.0.0.1", ipv6: "fd00::1", containerId: "c2", ifname: "eth0", hostVeth: null, pod: null, coildPod: null },
  ]);
  t.same(addressRows(s, "n2"), []);
});

t.test("release: report parsing, order, and the re-check of each finding", async (t) => {
  const s = snapshot();
  const seeded: ClusterSnapshot = {
    ...s,
    blocks: [...s.blocks, { name: "default-2", uid: "u5", pool: "default", node: "n2", ipv4: "10.0.0.8/30", createdAtMs: NOW - 600_000 }, { name: "default-3", uid: "u3", pool: "default", node: "gone", ipv4: "10.0.0.12/30", createdAtMs: NOW }, { name: "v4-1", uid: "u4", pool: "v4", node: "n1", ipv4: "10.9.0.1/32", createdAtMs: NOW - 600_000 }],
    blockRequests: [{ name: "br", uid: "ub", pool: "default", node: "gone", failed: false, createdAtMs: NOW }],
  };
  const report = checkLeaks(seeded, opts)._unsafeUnwrap();
  t.same(report.findings.map((f) => `${f.category} ${f.subject}`), [
    "block-of-missing-node AddressBlock default-3",
    "block-without-pods AddressBlock default-2",
    "block-without-pods AddressBlock v4-1",
    "address-of-missing-pod container c2:eth0",
    "stale-block-request BlockRequest br",
  ], "default-1 keeps n2's pod p4; default-2 and v4-1 have none");
  const fromFile = parseReportFindings(JSON.parse(JSON.stringify(report)))._unsafeUnwrap();
  t.same(fromFile, report.findings, "a report survives its JSON round trip");
  t.same(releaseOrder(fromFile).map((f) => f.action?.kind), ["free-address", "delete-block-request", "delete-block", "delete-block", "delete-block"]);

  const byCat = (c: string): Finding => fromFile.find((f) => f.category === c) ?? (undefined as never);
  const recheck = (f: Finding, fresh: ClusterSnapshot) => recheckFinding(f, fresh, checkLeaks(fresh, opts)._unsafeUnwrap());
  t.same(recheck(byCat("block-of-missing-node"), seeded), { kind: "release" });
  t.same(recheck(byCat("stale-block-request"), seeded), { kind: "release" });
  t.same(recheck(byCat("address-of-missing-pod"), seeded), { kind: "release" });
  const wb = fromFile.filter((f) => f.category === "block-without-pods");
  t.match(recheck(wb[0] as Finding, seeded), { kind: "refused", reason: /coild's view of n2 cannot be read \(connection refused\)/ }, "no view of the node: refused");
  t.same(recheck(wb[1] as Finding, seeded), { kind: "release" }, "coild holds nothing in it: released");

  const v = parseNodeAllocations({ ...wire, addresses: [...wire.addresses, { ...wire.addresses[0], containerId: "c9", ipv4: "10.9.0.1", ipv6: null, block: "v4-1", pool: "v4" }] })._unsafeUnwrap();
  const held = { ...seeded, views: [{ node: "n1", view: v }, seeded.views[1] ?? { node: "", error: "" }] };
  t.match(recheck(wb[1] as Finding, held), { kind: "refused", reason: /coild on n1 still holds 1 address\(es\) of it/ }, "coild still routes it: refused");

  const live = { ...seeded, pods: [...seeded.pods, { namespace: "ns", name: "late", uid: "pl", node: "n1", hostNetwork: false, phase: "Running", ips: ["10.0.0.1"], createdAtMs: NOW }] };
  t.match(recheck(byCat("address-of-missing-pod"), live), { kind: "live", reason: "a live pod on n1 now has 10.0.0.1, fd00::1" }, "became live: skipped");
  const waiting = { ...seeded, pods: [...seeded.pods, { namespace: "ns", name: "new", uid: "pn", node: "n1", hostNetwork: false, phase: "Pending", ips: [], createdAtMs: NOW }] };
  t.match(recheck(byCat("address-of-missing-pod"), waiting), { kind: "live", reason: /pod ns\/new on n1 is new and has no address yet/ });
  const freed = { ...seeded, views: [{ node: "n1", view: { ...(seeded.views[0] as { view: NodeAllocations }).view, addresses: [] } }] };
  t.match(recheck(byCat("address-of-missing-pod"), freed), { kind: "gone" });
  t.match(recheck(byCat("address-of-missing-pod"), { ...seeded, views: [] }), { kind: "refused" }, "node's view missing: refused");

  const recreated = { ...seeded, blocks: seeded.blocks.map((b) => (b.name === "default-3" ? { ...b, uid: "other" } : b)) };
  t.match(recheck(byCat("block-of-missing-node"), recreated), { kind: "gone", reason: /another UID/ }, "same name, new object: not touched");
  t.match(recheck(byCat("block-of-missing-node"), { ...seeded, blocks: s.blocks }), { kind: "gone" });
  t.match(recheck(byCat("block-of-missing-node"), { ...seeded, nodes: [...seeded.nodes, "gone"] }), { kind: "live" }, "its node came back");
  t.match(recheck(byCat("stale-block-request"), { ...seeded, blockRequests: [] }), { kind: "gone" });
  t.match(recheck(byCat("stale-block-request"), { ...seeded, nodes: [...seeded.nodes, "gone"] }), { kind: "live" });
  t.same(recheckFinding({ ...byCat("stale-block-request"), action: null }, seeded, report), { kind: "report-only" });
});

t.test("parseReportFindings refuses what is not a report", async (t) => {
  const where = (x: unknown): string => parseReportFindings(x)._unsafeUnwrapErr().where;
  t.equal(where({}), "$.findings");
  t.equal(where({ findings: [{ category: "nope", subject: "x" }] }), "$.findings[0].category");
  t.equal(where({ findings: [{ category: "duplicate-address" }] }), "$.findings[0].subject");
  t.equal(where({ findings: [{ category: "stale-block-request", subject: "x", action: { kind: "delete-block-request", name: "br" } }] }), "$.findings[0].action.uid");
  t.equal(where({ findings: [{ category: "stale-block-request", subject: "x", action: { kind: "rm -rf" } }] }), "$.findings[0].action.kind");
  t.same(parseReportFindings({ findings: [{ category: "duplicate-address", subject: "address 10.0.0.1", action: null }] })._unsafeUnwrap()[0]?.action, null);
});
