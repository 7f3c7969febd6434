/**
 * The encap source port of an existing FoU link, read from `ip -d -j link show` (what lets the
 * EgressWatcher recreate a client tunnel when `fouSourcePortAuto` changes). The fixtures are the
 * output of iproute2 6.1 on Debian's 6.1 kernel (in the VM of test/e2e/egress-fou-vm.test.ts):
 * iproute2 prints the encapsulation as `info_data.encap.{type,sport,dport}`, `sport` 0 for
 * `encap-sport auto`. Regression: the reader looked for `info_data.encap_sport`, found nothing,
 * and a toggle left the link with its old source port.
 */
import t from "tap";
import { encapSportFromIpJson } from "../../../../adapters/daemon/egress/nat-client.js";

const link = (infoData: Record<string, unknown>, kind = "ipip"): string =>
  JSON.stringify([{ ifindex: 6, ifname: "fou4_0a60000a", flags: ["POINTOPOINT", "NOARP", "UP", "LOWER_UP"], linkinfo: { info_kind: kind, info_data: infoData } }]);

const AUTO = link({ proto: "any", remote: "10.96.0.10", local: "10.100.0.5", ttl: 225, pmtudisc: true, encap: { type: "fou", sport: 0, dport: 5555, csum: false, csum6: false, remcsum: false } });
const FIXED = link({ proto: "any", remote: "10.96.0.11", local: "10.100.0.5", ttl: 225, pmtudisc: true, encap: { type: "fou", sport: 5555, dport: 5555, csum: false, csum6: false, remcsum: false } });
const FIXED6 = link({ proto: "any", remote: "fd00:10:96::10", local: "fd10:100::5", hoplimit: 225, encap: { type: "fou", sport: 5555, dport: 5555, csum: false, csum6: true, remcsum: false } }, "ip6tnl");

t.test("reads iproute2's encap.sport: 0 for auto, the port otherwise", async (t) => {
  t.equal(encapSportFromIpJson(AUTO), 0);
  t.equal(encapSportFromIpJson(FIXED), 5555);
  t.equal(encapSportFromIpJson(FIXED6), 5555);
});

t.test("no encapsulation, another shape or no JSON: unknown", async (t) => {
  t.equal(encapSportFromIpJson(link({ proto: "any", remote: "10.96.0.10" })), undefined);
  t.equal(encapSportFromIpJson(link({ encap: { type: "fou", sport: "x" } })), undefined);
  t.equal(encapSportFromIpJson("[]"), undefined);
  t.equal(encapSportFromIpJson("not json"), undefined);
});
