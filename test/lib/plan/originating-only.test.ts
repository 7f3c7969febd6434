import t from "tap";
import { step, type NetnsState, type NftRule } from "../../../lib/changeset/index.js";
import { originatingOnlyNftRules, originatingOnlyPlan } from "../../../lib/plan/index.js";
import { addedNftRules, applyModel, cidr, ip } from "./fixtures.js";

const NS = "/var/run/netns/pod";
/** A pod with two uplinks (eth0, net1) carrying global addresses and main routes, and a link-local-only link. */
const pod: NetnsState = {
  links: [
    { name: "lo", kind: "loopback", up: true, mtu: 65536, index: 1 },
    { name: "eth0", kind: "veth", up: true, mtu: 1500, index: 2 },
    { name: "net1", kind: "veth", up: true, mtu: 1500, index: 3 },
    { name: "ll0", kind: "veth", up: true, mtu: 1500, index: 4 },
  ],
  addrs: [
    { dev: "lo", cidr: cidr("127.0.0.1/8") },
    { dev: "eth0", cidr: cidr("10.2.0.5/32") },
    { dev: "net1", cidr: cidr("192.168.7.5/24") },
    { dev: "ll0", cidr: cidr("169.254.3.3/16") },
  ],
  routes: [
    { family: 4, dst: cidr("10.20.30.41/32"), dev: "eth0", scope: "link" },
    { family: 4, dst: cidr("0.0.0.0/0"), via: ip("10.20.30.41"), dev: "eth0" },
    { family: 4, dst: cidr("192.168.7.0/24"), dev: "net1", scope: "link", protocol: 2 },
    { family: 4, dst: cidr("169.254.0.0/16"), dev: "ll0", scope: "link", protocol: 2 },
  ],
  rules: [],
  sysctls: {},
};

t.test("enabled: one fwmark rule and one table per uplink with a global address", async (t) => {
  const plan = originatingOnlyPlan({ family: 4, enabled: true, observed: pod, observedNft: [] })._unsafeUnwrap();
  const rules = plan.netlink.flatMap((o) => (o.kind === "rule.add" ? [`${o.rule.fwmark}->${o.rule.table}@${o.rule.priority}`] : []));
  t.same(rules.sort(), ["2->1002@1000", "3->1003@1000"], "ll0 (link-local only) and lo are not candidates");
  const copies = plan.netlink.flatMap((o) => (o.kind === "route.replace" ? [`${o.route.dst} ${o.route.dev} ${o.route.table}`] : []));
  t.same(copies.sort(), ["0.0.0.0/0 eth0 1002", "10.20.30.41/32 eth0 1002", "192.168.7.0/24 net1 1003"]);
  t.same(addedNftRules({ steps: [step({ kind: "path", path: NS }, [], plan.nft)] }).map((r) => r.comment), [
    "coil-input-eth0", "coil-output-eth0", "coil-input-net1", "coil-output-net1",
  ]);

  const after = applyModel({ [NS]: pod }, { steps: [step({ kind: "path", path: NS }, plan.netlink, plan.nft)] })[NS] ?? pod;
  const observedNft = addedNftRules({ steps: [step({ kind: "path", path: NS }, [], plan.nft)] });
  const again = originatingOnlyPlan({ family: 4, enabled: true, observed: after, observedNft })._unsafeUnwrap();
  t.same(again.netlink, [], "re-plan against the applied state: no netlink op");
  t.notOk(again.nft.some((c) => "add" in c && "rule" in c.add), "no rule is added twice");
  t.same(originatingOnlyPlan({ family: 6, enabled: true, observed: pod, observedNft: [] })._unsafeUnwrap().netlink, [], "no IPv6 uplink: nothing for IPv6");

  const off = originatingOnlyPlan({ family: 4, enabled: false, observed: after, observedNft })._unsafeUnwrap();
  t.same(off.netlink.filter((o) => o.kind === "rule.del").length, 2, "disabling deletes both fwmark rules");
  t.same(off.netlink.filter((o) => o.kind === "route.del").length, 3, "and every route of tables 1002 and 1003");
  t.same(off.nft, [{ delete: { table: { family: "ip", name: "mangle" } } }]);
  const cleaned = applyModel({ [NS]: after }, { steps: [step({ kind: "path", path: NS }, off.netlink, off.nft)] })[NS] ?? after;
  t.same(cleaned.routes, pod.routes, "the main routes are all that is left");
  t.same(cleaned.rules, []);
});

t.test("disabled leaves a foreign mangle table and other rules alone", async (t) => {
  const foreign: NftRule = { family: "ip", table: "mangle", chain: "input", expr: [{ accept: null }], comment: "not-ours" };
  const withOther: NetnsState = { ...pod, rules: [{ family: 4, priority: 1000, table: 77 }] };
  const off = originatingOnlyPlan({ family: 4, enabled: false, observed: withOther, observedNft: [foreign] })._unsafeUnwrap();
  t.same(off, { netlink: [], nft: [] }, "a priority-1000 rule without fwmark is not Coil's");
});

t.test("a candidate link without a known ifindex is an error", async (t) => {
  const noIndex: NetnsState = { ...pod, links: pod.links.map((l) => (l.name === "net1" ? { name: l.name, kind: l.kind, up: l.up, mtu: l.mtu } : l)) };
  t.same(originatingOnlyPlan({ family: 4, enabled: true, observed: noIndex, observedNft: [] })._unsafeUnwrapErr(), {
    kind: "missing-ifindex", link: "net1", message: "ifindex of net1 is unknown",
  });
});

t.test("the connmark rules of one link (ip6 family)", async (t) => {
  const [input, output] = originatingOnlyNftRules(6, "eth0", 2);
  t.match(input, { family: "ip6", table: "mangle", chain: "input", comment: "coil-input-eth0" });
  t.same(input?.expr.at(-1), { mangle: { key: { ct: { key: "mark" } }, value: 2 } }, "incoming connections get ct mark = ifindex");
  t.same(output?.expr[0], { match: { op: "==", left: { ct: { key: "mark" } }, right: 2 } });
  t.same(output?.expr.at(-1), { mangle: { key: { meta: { key: "mark" } }, value: { ct: { key: "mark" } } } }, "replies restore the packet mark");
});
