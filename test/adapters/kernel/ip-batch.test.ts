// Grouping of rendered ops into ip -batch processes (pure; no root).
import t from "tap";
import { batchFamily, failedBatchLine, groupOps, ipBatchArgv } from "../../../adapters/kernel/ip-batch.js";
import { netnsPath, type NetlinkOp } from "../../../lib/changeset/index.js";
import { parseCidr, parseIp, type Cidr, type Ip } from "../../../lib/net/index.js";
import { podSetup } from "../../helpers/executor-conformance.js";

const c = (s: string): Cidr => parseCidr(s)._unsafeUnwrap();
const ip = (s: string): Ip => parseIp(s)._unsafeUnwrap();
const ctx = { netns: netnsPath("/var/run/netns/h"), hostNetnsPath: "/proc/1/ns/net" };

const families: { name: string; op: NetlinkOp; want: 6 | null }[] = [
  { name: "v6 address infers", op: { kind: "addr.add", dev: "eth0", cidr: c("fd00::5/128") }, want: null },
  { name: "v6 prefix route infers", op: { kind: "route.replace", route: { family: 6, dst: c("fd00::/64"), dev: "eth0" } }, want: null },
  { name: "v6 default via infers", op: { kind: "route.replace", route: { family: 6, dst: c("::/0"), via: ip("fd00::1") } }, want: null },
  { name: "v6 default without via needs -6", op: { kind: "route.replace", route: { family: 6, dst: c("::/0"), dev: "eth0" } }, want: 6 },
  { name: "v6 rule needs -6", op: { kind: "rule.add", rule: { family: 6, priority: 2000, table: 116, from: c("fd00::/64") } }, want: 6 },
  { name: "v4 rule", op: { kind: "rule.add", rule: { family: 4, priority: 2000, table: 116 } }, want: null },
  { name: "link", op: { kind: "link.set", name: "eth0", up: true }, want: null },
];
for (const f of families) {
  t.test(f.name, async (t) => {
    const g = groupOps([f.op], ctx)._unsafeUnwrap();
    t.equal(g.length, 1);
    t.match(g[0], { kind: "ip-batch", family: f.want });
    t.equal(batchFamily(f.op, f.op.kind.startsWith("link") ? null : "route" in f.op ? f.op.route.family : "rule" in f.op ? f.op.rule.family : 6), f.want);
  });
}

t.test("pod setup: order kept, families grouped, sysctls alone", async (t) => {
  const cs = podSetup(netnsPath("/var/run/netns/h"), netnsPath("/var/run/netns/p"));
  const shape = cs.steps.map((s) =>
    groupOps(s.netlink, { ...ctx, netns: s.netns })._unsafeUnwrap().map((g) => (g.kind === "sysctl" ? "sysctl" : `${g.family ?? "any"}:${g.ops.map((o) => o.index).join(",")}`)),
  );
  t.same(shape, [["any:0,1,2", "sysctl"], ["any:0,1,2,3,4,5,6"], ["any:0,1,2", "6:3"]]);
});

t.test("hostile names are reported with their op index", async (t) => {
  const r = groupOps([{ kind: "link.set", name: "ok", up: true }, { kind: "link.del", name: "bad name" }], ctx);
  t.match(r._unsafeUnwrapErr(), { index: 1, cause: { kind: "invalid-name", what: "ifname" } });
});

t.test("failed line from ip -batch stderr", async (t) => {
  t.equal(failedBatchLine('Cannot find device "nope"\nCommand failed -:2\n'), 2);
  t.equal(failedBatchLine("RTNETLINK answers: File exists\n"), undefined);
  t.same(ipBatchArgv(6, { force: true }), ["ip", "-6", "-force", "-batch", "-"]);
  t.same(ipBatchArgv(null), ["ip", "-batch", "-"]);
});
