import t from "tap";
import fc from "fast-check";
import { detectMtu, tunnelOverhead, mtuForEncapsulation } from "../../../lib/mtu/index.js";
import type { MtuLink, MtuSnapshot } from "../../../lib/mtu/index.js";

const lo: MtuLink = { index: 1, name: "lo", mtu: 65536, kind: "device", operUp: false };
const eth0: MtuLink = { index: 2, name: "eth0", mtu: 9000, kind: "device", operUp: true };
const eth1: MtuLink = { index: 3, name: "eth1", mtu: 1500, kind: "device", operUp: true };
const eth2down: MtuLink = { index: 4, name: "eth2", mtu: 1400, kind: "device", operUp: false };
const vxlan: MtuLink = { index: 5, name: "vxlan0", mtu: 1450, kind: "vxlan", operUp: true };
const zero: MtuLink = { index: 6, name: "odd", mtu: 0, kind: "device", operUp: true };
const links = [lo, eth0, eth1, eth2down, vxlan, zero];

const cases: { name: string; in: MtuSnapshot; want: { mtu: number; source: string } | null }[] = [
  { name: "v4 route link", in: { routeGetV4: [{ ifindex: 2 }], links }, want: { mtu: 9000, source: "route-v4" } },
  { name: "minimum over route links", in: { routeGetV4: [{ ifindex: 2 }, { ifindex: 5 }], links }, want: { mtu: 1450, source: "route-v4" } },
  { name: "v6 when v4 has no route", in: { routeGetV4: null, routeGetV6: [{ ifindex: 3 }], links }, want: { mtu: 1500, source: "route-v6" } },
  { name: "v6 when v4 is empty", in: { routeGetV4: [], routeGetV6: [{ ifindex: 5 }], links }, want: { mtu: 1450, source: "route-v6" } },
  { name: "v4 wins over v6", in: { routeGetV4: [{ ifindex: 2 }], routeGetV6: [{ ifindex: 5 }], links }, want: { mtu: 9000, source: "route-v4" } },
  { name: "index 0 skipped, falls back to up devices", in: { routeGetV4: [{ ifindex: 0 }], links }, want: { mtu: 1500, source: "device-links" } },
  { name: "mtu 0 skipped", in: { routeGetV4: [{ ifindex: 6 }], links }, want: { mtu: 1500, source: "device-links" } },
  { name: "unknown index skipped", in: { routeGetV4: [{ ifindex: 99 }, { ifindex: 3 }], links }, want: { mtu: 1500, source: "route-v4" } },
  { name: "no routes: up devices only (not vxlan, not down, not lo)", in: { links }, want: { mtu: 1500, source: "device-links" } },
  { name: "nothing", in: { links: [lo, eth2down, vxlan, zero] }, want: null },
  { name: "empty", in: { routeGetV4: null, routeGetV6: null, links: [] }, want: null },
];

t.test("detectMtu table", async (t) => {
  for (const c of cases) {
    const r = detectMtu(c.in);
    if (c.want === null) t.equal(r._unsafeUnwrapErr().kind, "mtu-not-detected", c.name);
    else t.same(r._unsafeUnwrap(), c.want, c.name);
  }
});

t.test("detectMtu returns the minimum over candidate links (property)", async (t) => {
  const link = fc.record({ index: fc.integer({ min: 0, max: 8 }), mtu: fc.integer({ min: 0, max: 9000 }), kind: fc.constantFrom("device", "veth"), operUp: fc.boolean() });
  fc.assert(
    fc.property(fc.array(link, { maxLength: 8 }), fc.array(fc.integer({ min: 0, max: 8 }), { maxLength: 4 }), (ls, idx) => {
      const links = ls.map((l, i) => ({ ...l, name: `l${i}` }));
      const r = detectMtu({ routeGetV4: idx.map((ifindex) => ({ ifindex })), links });
      const fromRoutes = links.filter((l) => idx.some((i) => i !== 0 && i === l.index) && l.mtu > 0).map((l) => l.mtu);
      const fromDev = links.filter((l) => l.kind === "device" && l.operUp && l.mtu > 0).map((l) => l.mtu);
      const want = fromRoutes.length > 0 ? Math.min(...fromRoutes) : fromDev.length > 0 ? Math.min(...fromDev) : null;
      return r.isOk() ? r.value.mtu === want : want === null;
    }),
    { numRuns: 300, seed: 11 },
  );
  t.pass();
});

t.test("tunnel overhead arithmetic", async (t) => {
  t.equal(tunnelOverhead("fou-ipip"), 28);
  t.equal(tunnelOverhead("fou-ip6tnl"), 48);
  t.equal(tunnelOverhead("fou-ip6tnl", { encapLimit: true }), 56);
  t.equal(tunnelOverhead("ipip"), 20);
  t.equal(tunnelOverhead("ip6tnl"), 40);
  t.equal(tunnelOverhead("vxlan4"), 50);
  t.equal(tunnelOverhead("vxlan6"), 70);
  t.equal(mtuForEncapsulation(1500, "fou-ipip")._unsafeUnwrap(), 1472);
  t.equal(mtuForEncapsulation(1500, "vxlan4")._unsafeUnwrap(), 1450);
  t.equal(mtuForEncapsulation(9000, "vxlan6")._unsafeUnwrap(), 8930);
  t.equal(mtuForEncapsulation(100, "vxlan6")._unsafeUnwrapErr().kind, "mtu-too-small");
  t.equal(mtuForEncapsulation(96, "fou-ipip")._unsafeUnwrap(), 68);
});
