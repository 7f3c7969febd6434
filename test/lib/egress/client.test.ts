// lib/egress client side: Coil's getHook (runners/coild_server.go), the EgressWatcher's pod filter
// (controllers/egress_watcher.go) and the client tunnel (pkg/fou AddPeer; VXLAN is ours).
import t from "tap";
import { clientTunnel, egressRefs, gatewaysOf, podsToUpdate, podUsesEgress, type Egress, type NatGateway, type WatchedPod } from "../../../lib/egress/index.js";
import type { Cidr, Ip } from "../../../lib/net/index.js";

const eg = (destinations: string[], fouSourcePortAuto?: boolean): Egress => ({
  metadata: { name: "egress", namespace: "internet" },
  spec: { destinations, ...(fouSourcePortAuto === undefined ? {} : { fouSourcePortAuto }) },
});
const ref = { namespace: "internet", name: "egress" };

t.test("egressRefs: every annotation egress.coil.cybozu.com/<ns>, comma lists, in order, duplicates and empty entries dropped", async (t) => {
  t.same(egressRefs({ "egress.coil.cybozu.com/internet": "egress,other", "egress.coil.cybozu.com/other-net": "egress", foo: "bar" }), [
    { namespace: "internet", name: "egress" },
    { namespace: "internet", name: "other" },
    { namespace: "other-net", name: "egress" },
  ]);
  t.same(egressRefs({ "egress.coil.cybozu.com/internet": "a,,a," }), [{ namespace: "internet", name: "a" }]);
  t.same(egressRefs({ "egress.coil.cybozu.com/": "a" }), [], "no namespace: nothing");
  t.same(egressRefs({}), []);
});

t.test("podUsesEgress: the annotation of the Egress's namespace names it", async (t) => {
  t.ok(podUsesEgress({ "egress.coil.cybozu.com/internet": "x,egress" }, ref));
  t.notOk(podUsesEgress({ "egress.coil.cybozu.com/internet": "egress2" }, ref));
  t.notOk(podUsesEgress({ "egress.coil.cybozu.com/other": "egress" }, ref));
});

t.test("gatewaysOf: one gateway per ClusterIP with the destinations of its family (Coil getHook)", async (t) => {
  const gws = gatewaysOf(ref, eg(["0.0.0.0/0", "10.1.2.0/24", "::/0"], true), ["10.96.0.10", "fd00::10"])._unsafeUnwrap();
  t.same(gws, [
    { egress: ref, gateway: "10.96.0.10", destinations: ["0.0.0.0/0", "10.1.2.0/24"], sportAuto: true },
    { egress: ref, gateway: "fd00::10", destinations: ["::/0"], sportAuto: true },
  ]);
  t.same(gatewaysOf(ref, eg(["0.0.0.0/0"]), ["fd00::10"])._unsafeUnwrap(), [], "a ClusterIP without destinations of its family is skipped");
  t.equal(gatewaysOf(ref, eg(["0.0.0.0/0"]), ["10.96.0.10"])._unsafeUnwrap()[0]?.sportAuto, false, "fouSourcePortAuto unset = false");
  t.match(gatewaysOf(ref, eg(["0.0.0.0/0"]), ["bogus"])._unsafeUnwrapErr(), { kind: "invalid-cluster-ip", message: 'invalid ClusterIP in Service internet/egress: "bogus"' });
  t.match(gatewaysOf(ref, eg(["10.0.0.0/33"]), ["10.96.0.10"])._unsafeUnwrapErr(), { kind: "invalid-destination", message: /invalid network in Egress internet\/egress/ });
});

t.test("clientTunnel: FoU to the ClusterIP with the pod's addresses; VXLAN with the VNI of the pod's own address", async (t) => {
  const gw: NatGateway = { egress: ref, gateway: "10.96.0.10" as Ip, destinations: ["0.0.0.0/0" as Cidr], sportAuto: true };
  const pod = { ipv4: "10.100.0.5" as Ip, ipv6: "fd10::5" as Ip };
  t.same(clientTunnel({ tunnel: "fou", port: 5555 }, pod, gw), { kind: "fou", port: 5555, sportAuto: true, peer: "10.96.0.10", localIPv4: "10.100.0.5", localIPv6: "fd10::5" });
  const vx = clientTunnel({ tunnel: "vxlan", port: 4789 }, pod, gw);
  t.match(vx, { kind: "vxlan", port: 4789, peer: "10.96.0.10", local: "10.100.0.5" });
  const vx6 = clientTunnel({ tunnel: "vxlan", port: 4789 }, pod, { ...gw, gateway: "fd00::10" as Ip });
  t.match(vx6, { local: "fd10::5" });
  t.not(vx.kind === "vxlan" && vx6.kind === "vxlan" ? vx.vni : 0, vx6.kind === "vxlan" ? vx6.vni : 0, "one VNI per client address");
  const v6only = clientTunnel({ tunnel: "vxlan", port: 4789 }, { ipv6: "fd10::5" as Ip }, gw);
  t.match(v6only, { local: "fd10::5" }, "no address of the gateway's family: a local of the other family (the planner reports family-mismatch, the gateway is skipped)");
});

t.test("podsToUpdate: running, not host-network, annotated for the Egress; a shared address fails the reconcile", async (t) => {
  const p = (key: string, o: Partial<WatchedPod> = {}): WatchedPod => ({ key, annotations: { "egress.coil.cybozu.com/internet": "egress" }, hostNetwork: false, phase: "Running", ips: [`10.0.0.${key.length}`], ...o });
  const pods = [p("a"), p("bb", { phase: "Pending" }), p("ccc", { hostNetwork: true }), p("dddd", { annotations: {} }), p("eeeee", { phase: "Succeeded", ips: ["10.0.0.1"] })];
  t.same(podsToUpdate(pods, ref)._unsafeUnwrap().map((x) => x.key), ["a"]);
  const dup = podsToUpdate([p("x", { ips: ["10.0.0.9"] }), p("y", { ips: ["10.0.0.9"], annotations: {} })], ref);
  t.match(dup._unsafeUnwrapErr(), { kind: "duplicate-pod-ip", ip: "10.0.0.9", pods: ["x", "y"] });
});
