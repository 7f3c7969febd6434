// coild's host facts read links through the kernel adapter's `ip -j link` parser.
import t from "tap";
import { readFileSync } from "node:fs";
import { mtuLinksOf } from "../../../../adapters/daemon/node/host-facts.js";

const text = readFileSync(new URL("../../../fixtures/ip/host-link-details.json", import.meta.url), "utf8");

t.test("ip -j -d link show → lib/mtu links (kind, oper state)", async (t) => {
  t.same(mtuLinksOf(text), [
    { index: 1, name: "lo", mtu: 65536, kind: "loopback", operUp: false },
    { index: 2, name: "veth0", mtu: 1450, kind: "veth", operUp: true },
    { index: 3, name: "vx0", mtu: 1500, kind: "vxlan", operUp: false },
  ]);
  const nic = JSON.stringify([
    { ifname: "eth0", ifindex: 2, mtu: 9000, flags: ["UP"], operstate: "UP" },
    { ifname: "wg0", ifindex: 5, mtu: 1420, flags: ["UP"], operstate: "UNKNOWN", linkinfo: { info_kind: "wireguard" } },
  ]);
  t.same(mtuLinksOf(nic), [
    { index: 2, name: "eth0", mtu: 9000, kind: "device", operUp: true },
    { index: 5, name: "wg0", mtu: 1420, kind: "wireguard", operUp: false },
  ], "no info_kind: device; other kinds as printed");
});

t.test("unparseable output gives no links", async (t) => {
  t.same(mtuLinksOf("not json"), []);
  t.same(mtuLinksOf(JSON.stringify([{ ifname: 3 }])), []);
});
