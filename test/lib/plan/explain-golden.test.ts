import t from "tap";
import { explain, type Changeset } from "../../../lib/changeset/index.js";
import {
  planEgressClientInit,
  planEgressClientSync,
  planEgressGateway,
  planHostInit,
  planPodSetup,
  planPodTeardown,
  planRouteExport,
  planRouterRoutes,
} from "../../../lib/plan/index.js";
import { cidr, ip } from "./fixtures.js";

const families = { v4: [4], v6: [6], dual: [4, 6] } as const;
const has = (f: readonly number[], x: number): boolean => f.includes(x);
const pick = <T>(on: boolean, v: T): T | Record<string, never> => (on ? v : {});

for (const [name, f] of Object.entries(families)) {
  t.test(`golden explain, ${name}`, async (t) => {
    const v4 = has(f, 4);
    const v6 = has(f, 6);
    const plans: Record<string, Changeset> = {
      hostInit: planHostInit({ families: f })._unsafeUnwrap(),
      podSetup: planPodSetup({
        netnsPath: "/var/run/netns/pod1", ifname: "eth0", hostVeth: "veth3a9f01c2", pool: "default", containerId: "c0ffee",
        ...pick(v4, { ipv4: ip("10.2.0.5"), hostIPv4: ip("10.20.30.41") }),
        ...pick(v6, { ipv6: ip("fd02::5"), hostIPv6: ip("fd10::41") }),
      })._unsafeUnwrap(),
      podTeardown: planPodTeardown({ hostVeth: "veth3a9f01c2" })._unsafeUnwrap(),
      routeExport: planRouteExport({ blocks: [...(v4 ? [cidr("10.224.0.0/30")] : []), ...(v6 ? [cidr("fd02::/126")] : [])], observed: [] })._unsafeUnwrap(),
      router: planRouterRoutes({
        self: "node1",
        nodes: [{ name: "node2", internalIPs: [...(v4 ? [ip("10.20.30.42")] : []), ...(v6 ? [ip("fd10::42")] : [])] }],
        blocks: [{ node: "node2", ipv4: cidr("10.224.0.32/27"), ipv6: cidr("fd02::20/123") }],
        observed: [],
      })._unsafeUnwrap().changeset,
      clientInit: planEgressClientInit({ netnsPath: "/var/run/netns/pod1", families: f })._unsafeUnwrap(),
      clientSync: planEgressClientSync({
        netnsPath: "/var/run/netns/pod1",
        tunnel: { kind: "fou", port: 5555, sportAuto: false, peer: v4 ? ip("10.96.0.10") : ip("fd96::10"), ...pick(v4, { localIPv4: ip("10.2.0.5") }), ...pick(v6, { localIPv6: ip("fd02::5") }) },
        destinations: [cidr("0.0.0.0/0"), cidr("10.1.2.0/24"), cidr("::/0"), cidr("fd02::/64")],
      })._unsafeUnwrap(),
      gateway: planEgressGateway({
        netnsPath: "/var/run/netns/egress",
        ...pick(v4, { podIPv4: ip("10.2.0.9") }), ...pick(v6, { podIPv6: ip("fd02::9") }),
        tunnel: { kind: "fou", port: 5555, sportAuto: true },
        clients: [ip("10.2.0.5"), ip("fd02::5")],
      })._unsafeUnwrap(),
      gatewayVxlan: planEgressGateway({
        ...pick(v4, { podIPv4: ip("10.2.0.9") }), ...pick(v6, { podIPv6: ip("fd02::9") }),
        tunnel: { kind: "vxlan", port: 4789 },
        clients: [ip("10.2.0.5"), ip("fd02::5")],
      })._unsafeUnwrap(),
    };
    for (const [planner, cs] of Object.entries(plans)) {
      const text = explain(cs);
      t.notMatch(text, /# invalid/, `${planner}: every op renders`);
      t.matchSnapshot(text, planner);
    }
  });
}
