import t from "tap";
import { EMPTY_NETNS_STATE, applyChangeset, isEmptyChangeset, type Changeset, type NetnsState } from "../../../lib/changeset/index.js";
import {
  planEgressClientInit,
  planEgressClientSync,
  planEgressGateway,
  planHostInit,
  planPodSetup,
  planRouteExport,
  planRouterRoutes,
} from "../../../lib/plan/index.js";
import { addedNftRules, cidr, ip } from "./fixtures.js";

// Idempotence through lib/changeset's kernel model: a full plan applies cleanly to empty namespaces
// (so its op order satisfies the model's checks), and re-planning against the result is empty.
const POD = "/var/run/netns/pod1";
const LO: NetnsState = { ...EMPTY_NETNS_STATE, links: [{ name: "lo", kind: "loopback", up: true, mtu: 65536 }] };
const fresh = (): Record<string, NetnsState> => ({ host: LO, [POD]: LO });

function applied(t: Tap, cs: Changeset, states = fresh()): Record<string, NetnsState> {
  const r = applyChangeset(states, cs);
  if (r.isErr()) t.fail(`apply failed: ${JSON.stringify(r.error.cause)} at step ${r.error.step} op ${String(r.error.op)}`);
  return { ...(r.isOk() ? r.value : states) };
}
interface Tap { fail(message: string): unknown }

const fam = { v4: [4], v6: [6], dual: [4, 6] } as const;
for (const [name, f] of Object.entries(fam)) {
  t.test(`model round trip, ${name}`, async (t) => {
    const v4 = f.some((x) => x === 4);
    const v6 = f.some((x) => x === 6);
    const podOpts = {
      netnsPath: POD, ifname: "eth0", hostVeth: "veth3a9f01c2", pool: "default", containerId: "c0ffee",
      ...(v4 ? { ipv4: ip("10.2.0.5"), hostIPv4: ip("10.20.30.41") } : {}),
      ...(v6 ? { ipv6: ip("fd02::5"), hostIPv6: ip("fd10::41") } : {}),
    };
    let s = applied(t, planHostInit({ families: f })._unsafeUnwrap());
    t.ok(isEmptyChangeset(planHostInit({ families: f, observed: s.host ?? EMPTY_NETNS_STATE })._unsafeUnwrap()), "host init");
    s = applied(t, planPodSetup(podOpts)._unsafeUnwrap(), s);
    const observed = { host: s.host ?? EMPTY_NETNS_STATE, pod: s[POD] ?? EMPTY_NETNS_STATE };
    t.ok(isEmptyChangeset(planPodSetup({ ...podOpts, observed })._unsafeUnwrap()), "pod setup");
    const blocks = [...(v4 ? [cidr("10.224.0.0/30")] : []), ...(v6 ? [cidr("fd02::/126")] : [])];
    s = applied(t, planRouteExport({ blocks, observed: [] })._unsafeUnwrap(), s);
    t.ok(isEmptyChangeset(planRouteExport({ blocks, observed: s.host?.routes ?? [] })._unsafeUnwrap()), "route export");
    const init = planEgressClientInit({ netnsPath: POD, families: f })._unsafeUnwrap();
    s = applied(t, init, s);
    t.ok(isEmptyChangeset(planEgressClientInit({ netnsPath: POD, families: f, observed: s[POD] ?? EMPTY_NETNS_STATE })._unsafeUnwrap()), "client init");
    const syncOpts = {
      netnsPath: POD,
      tunnel: { kind: "vxlan" as const, vni: 7, port: 4789, peer: v4 ? ip("10.96.0.10") : ip("fd96::10"), local: v4 ? ip("10.2.0.5") : ip("fd02::5") },
      destinations: [cidr("0.0.0.0/0"), cidr("10.1.2.0/24"), cidr("::/0"), cidr("fd02::/64")],
    };
    s = applied(t, planEgressClientSync(syncOpts)._unsafeUnwrap(), s);
    const again = planEgressClientSync({ ...syncOpts, observed: s[POD] ?? EMPTY_NETNS_STATE })._unsafeUnwrap();
    t.ok(isEmptyChangeset(again), `client sync (vxlan): ${JSON.stringify(again)}`);
  });
}

t.test("model round trip: gateway (vxlan) and router", async (t) => {
  const gwOpts = { netnsPath: POD, podIPv4: ip("10.2.0.9"), podIPv6: ip("fd02::9"), tunnel: { kind: "vxlan" as const, port: 4789 }, clients: [ip("10.2.0.5"), ip("fd02::5")] };
  const gw = planEgressGateway(gwOpts)._unsafeUnwrap();
  const s = applied(t, gw);
  const again = planEgressGateway({ ...gwOpts, observed: s[POD] ?? EMPTY_NETNS_STATE, observedNft: addedNftRules(gw) })._unsafeUnwrap();
  t.ok(isEmptyChangeset(again), `gateway: ${JSON.stringify(again)}`);
  const hostWithUplink: NetnsState = {
    ...LO,
    links: [...LO.links, { name: "eth0", kind: "device", up: true, mtu: 1500 }],
    addrs: [{ dev: "eth0", cidr: cidr("10.20.30.41/24") }],
    routes: [{ family: 4, dst: cidr("10.20.30.0/24"), dev: "eth0", protocol: 2, scope: "link" }],
  };
  const ropts = { self: "n1", nodes: [{ name: "n2", internalIPs: [ip("10.20.30.42")] }], blocks: [{ node: "n2", ipv4: cidr("10.224.0.32/27") }] };
  const r = planRouterRoutes({ ...ropts, observed: [] })._unsafeUnwrap();
  const after = applied(t, r.changeset, { host: hostWithUplink });
  t.ok(isEmptyChangeset(planRouterRoutes({ ...ropts, observed: after.host?.routes ?? [] })._unsafeUnwrap().changeset), "router");
});
