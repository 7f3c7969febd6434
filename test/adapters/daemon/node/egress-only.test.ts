// coild's egress-only operations (adapters/daemon/node/egress-only.ts) behind the endpoint's wire
// handlers, over the FakeKernel and a scripted NAT hook: the CNI codes of bad prevResults, nothing
// changed on refusal, the alias put back after a failed NAT set-up, DEL and CHECK. The real kernel,
// ptp and the API server are in test/e2e/egress-only-chained.test.ts.
import t from "tap";
import { err, ok } from "neverthrow";
import { HOST_NETNS, netnsPath, type NetnsState } from "../../../../lib/changeset/index.js";
import { parseCidr, type Ip } from "../../../../lib/net/index.js";
import type { NatGateway } from "../../../../lib/egress/index.js";
import { FakeKernel } from "../../../../adapters/kernel/fake-kernel.js";
import { CNIArgs } from "../../../../adapters/proto/gen/cni.js";
import { wireHandlers } from "../../../../adapters/daemon/endpoint/cni-calls.js";
import { NULL_LOGGER } from "../../../../adapters/daemon/log.js";
import { AttachmentLocks } from "../../../../adapters/daemon/node/cni-deps.js";
import { egressOnlyOperations } from "../../../../adapters/daemon/node/egress-only.js";
import type { EgressHook, EgressHookError } from "../../../../adapters/daemon/egress/hook.js";

const POD = "/var/run/netns/p1";
const UID = "0f1e2d3c-aaaa-bbbb-cccc-000000000001";
const cidr = (s: string) => parseCidr(s)._unsafeUnwrap();
const GW: NatGateway = { egress: { namespace: "internet", name: "egress" }, gateway: "10.96.0.10" as Ip, destinations: [cidr("0.0.0.0/0")], sportAuto: false };

/** The host and pod namespaces as ptp leaves them: veth `veth1` (index 5) ⇄ `eth0` (index 2). */
function world(): FakeKernel {
  const k = new FakeKernel();
  const host: NetnsState = {
    links: [
      { name: "lo", kind: "loopback", up: true, mtu: 65536, index: 1 },
      { name: "veth1", kind: "veth", up: true, mtu: 1500, index: 5, peerIndex: 2 },
    ],
    addrs: [{ dev: "veth1", cidr: cidr("10.100.0.1/32") }],
    routes: [{ family: 4, dst: cidr("10.100.0.2/32"), dev: "veth1", scope: "host" }],
    rules: [],
    sysctls: {},
  };
  const pod: NetnsState = {
    links: [
      { name: "lo", kind: "loopback", up: true, mtu: 65536, index: 1 },
      { name: "eth0", kind: "veth", up: true, mtu: 1500, index: 2, peerIndex: 5 },
    ],
    addrs: [{ dev: "eth0", cidr: cidr("10.100.0.2/24") }],
    routes: [],
    rules: [],
    sysctls: {},
  };
  k.addNetns(HOST_NETNS, host);
  k.addNetns(netnsPath(POD), pod);
  return k;
}

/** A NAT hook whose answers the test scripts, recording its calls. */
function scriptedHook(o: { gateways?: NatGateway[]; resolveError?: EgressHookError; setUpError?: EgressHookError; uid?: string }) {
  const calls: string[] = [];
  const hook: EgressHook = {
    gateways: () => Promise.resolve(ok(o.gateways ?? [])),
    resolve: () => {
      calls.push("resolve");
      return Promise.resolve(o.resolveError === undefined ? ok({ uid: o.uid ?? UID, gateways: o.gateways ?? [] }) : err(o.resolveError));
    },
    podUid: () => {
      calls.push("podUid");
      return Promise.resolve(ok(o.uid ?? UID));
    },
    setUp: () => {
      calls.push("setUp");
      return Promise.resolve(o.setUpError === undefined ? ok(undefined) : err(o.setUpError));
    },
    tearDown: (p) => {
      calls.push(`tearDown ${p.netns} ${p.ipv4 ?? "-"}`);
      return Promise.resolve(ok(undefined));
    },
  };
  return { hook, calls };
}

function handlers(k: FakeKernel, hook: EgressHook, netnsExists = true) {
  return wireHandlers(egressOnlyOperations({ kernel: k, log: NULL_LOGGER, egress: hook, locks: new AttachmentLocks(false), isReady: () => true, netnsExists: () => Promise.resolve(netnsExists) }));
}

const args = (over: Partial<CNIArgs> = {}): CNIArgs =>
  CNIArgs.fromPartial({
    containerId: "sandbox1",
    netns: POD,
    ifname: "eth0",
    args: { K8S_POD_NAMESPACE: "default", K8S_POD_NAME: "p1", IS_CHAINED: "true" },
    ips: ["10.100.0.2"],
    interfaces: { veth1: false, eth0: true },
    ...over,
  });

const hostAlias = (k: FakeKernel): string | undefined => (k.dump()["host"] as NetnsState).links.find((l) => l.name === "veth1")?.alias;

t.test("ADD: alias COIL::<uid>:eth0 on prevResult's host veth, NAT set-up for an annotated pod, empty result", async (t) => {
  const k = world();
  const plain = scriptedHook({});
  const r = await handlers(k, plain.hook).add(args());
  t.same(r.isOk() && JSON.parse(r.value.result.toString()), { cniVersion: "1.1.0" }, "Coil's empty result");
  t.equal(hostAlias(k), `COIL::${UID}:eth0`);
  t.same(plain.calls, ["resolve"], "no NAT set-up without gateways");
  const annotated = scriptedHook({ gateways: [GW] });
  t.ok((await handlers(k, annotated.hook).add(args({ ips: ["fd02::2", "10.100.0.2"] }))).isOk());
  t.same(annotated.calls, ["resolve", "setUp"]);
  const check = await handlers(k, plain.hook).check(args());
  t.ok(check.isOk(), "CHECK finds the aliased host link");
  const other = await handlers(k, scriptedHook({ uid: "another-uid" }).hook).check(args());
  t.match(other.isErr() && other.error, { code: 999, msg: "check failed", details: "no host link with alias COIL::another-uid:eth0" });
});

t.test("bad prevResults: precise codes, nothing read or changed", async (t) => {
  const cases: Array<[string, Partial<CNIArgs>, number, RegExp]> = [
    ["not chained", { args: { K8S_POD_NAMESPACE: "default", K8S_POD_NAME: "p1", IS_CHAINED: "false" }, ips: [], interfaces: {} }, 7, /must be chained/],
    ["no IP", { ips: [] }, 7, /invalid prevResult/],
    ["no host-side interface", { interfaces: { eth0: true } }, 7, /invalid prevResult/],
    ["host interface missing", { interfaces: { vethgone: false, eth0: true } }, 7, /invalid prevResult/],
    ["unparsable IP", { ips: ["10.100.0.300"] }, 6, /failed to parse prevResult/],
  ];
  for (const [name, over, code, msg] of cases) {
    const k = world();
    const before = JSON.stringify(k.dump());
    const h = scriptedHook({ gateways: [GW] });
    const r = await handlers(k, h.hook).add(args(over));
    t.match(r.isErr() && r.error, { code, msg }, name);
    t.equal(JSON.stringify(k.dump()), before, `${name}: nothing changed`);
    t.same(h.calls.filter((c) => c !== "resolve"), [], `${name}: no NAT work`);
  }
  const k = world();
  const missing = await handlers(k, scriptedHook({}).hook).add(args({ interfaces: { vethgone: false, eth0: true } }));
  t.match(missing.isErr() && missing.error.details, /"vethgone" does not exist in coild's network namespace/);
  const noPod = await handlers(k, scriptedHook({ resolveError: { kind: "pod-not-found", message: 'pods "p1" not found' } }).hook).add(args());
  t.match(noPod.isErr() && noPod.error, { code: 3, msg: "pod not found" }, "an unknown Pod: Coil's code 3");
  t.equal(hostAlias(k), undefined, "no alias");
  const noUid = await handlers(k, scriptedHook({ uid: "" }).hook).add(args());
  t.match(noUid.isErr() && noUid.error, { code: 999, msg: "failed to set interface alias", details: /invalid alias fields/ }, "a Pod without UID: no alias can be formed");
  k.injectFault({ op: 1, stderr: "RTNETLINK answers: Operation not permitted" });
  const denied = await handlers(k, scriptedHook({}).hook).add(args());
  t.match(denied.isErr() && denied.error, { msg: "failed to set interface alias", details: /Operation not permitted/ }, "the alias cannot be set: Coil's message");
  t.equal(hostAlias(k), undefined, "still no alias");
});

t.test("a NAT set-up that fails: the NAT client removed, the previous alias put back", async (t) => {
  const k = world();
  (await handlers(k, scriptedHook({ uid: "old-uid" }).hook).add(args()))._unsafeUnwrap();
  const h = scriptedHook({ gateways: [GW], setUpError: { kind: "nat-setup-failed", cause: { kind: "not-initialised", message: "boom" }, message: "boom" } });
  const r = await handlers(k, h.hook).add(args());
  t.match(r.isErr() && r.error, { code: 999, msg: "failed to setup pod network egress", details: "boom" });
  t.same(h.calls, ["resolve", "setUp", `tearDown ${POD} 10.100.0.2`]);
  t.equal(hostAlias(k), "COIL::old-uid:eth0", "the alias the link had before the ADD");
  const fresh = world();
  t.ok((await handlers(fresh, h.hook).add(args())).isErr());
  t.equal(hostAlias(fresh), undefined, "a link without alias before gets none");
});

t.test("DEL: NAT client removed, alias cleared through the veth peer; ptp's side untouched; idempotent", async (t) => {
  const k = world();
  const h = scriptedHook({ gateways: [GW] });
  (await handlers(k, h.hook).add(args()))._unsafeUnwrap();
  const del = await handlers(k, h.hook).del(args({ args: {}, ips: [], interfaces: {} }));
  t.ok(del.isOk());
  t.equal(hostAlias(k), undefined, "alias cleared");
  t.same(h.calls.at(-1), `tearDown ${POD} 10.100.0.2`, "the NAT client removal got the pod's address from the namespace");
  const after = k.dump();
  t.same((after["host"] as NetnsState).links.map((l) => l.name), ["lo", "veth1"], "ptp's veth stays");
  t.same((after[POD] as NetnsState).addrs, [{ dev: "eth0", cidr: "10.100.0.2/24" }], "ptp's address stays");
  t.ok((await handlers(k, h.hook).del(args())).isOk(), "DEL again");
  const gone = scriptedHook({});
  t.ok((await handlers(k, gone.hook, false).del(args())).isOk(), "namespace gone: nothing to do");
  t.same(gone.calls, [], "no NAT work when the namespace is gone");
  t.ok((await handlers(k, gone.hook).del(args({ netns: "" }))).isOk(), "no namespace: nothing to do");
});
