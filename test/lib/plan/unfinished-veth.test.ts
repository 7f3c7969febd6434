// A pod set-up interrupted between creating the veth pair and aliasing its host end: the host end
// is recognised by the pair's indices, and planning over it recreates the pair.
import t from "tap";
import type { LinkState, NetnsState } from "../../../lib/changeset/index.js";
import { isHostVethName, planPodSetup, unfinishedHostVeth } from "../../../lib/plan/index.js";
import { ip, opKinds } from "./fixtures.js";

const EMPTY: NetnsState = { links: [], addrs: [], routes: [], rules: [], sysctls: {} };
const lo: LinkState = { name: "lo", kind: "loopback", up: true, mtu: 65536, index: 1 };
/** What `ip link add name veth0a1b2c3d type veth peer name eth0 netns <pod>` leaves: both ends down, no alias, each naming the other's index. */
const hostEnd: LinkState = { name: "veth0a1b2c3d", kind: "veth", up: false, mtu: 1500, index: 7, peerIndex: 2 };
const podEnd: LinkState = { name: "eth0", kind: "veth", up: false, mtu: 1500, index: 2, peerIndex: 7 };
const host = (...links: LinkState[]): NetnsState => ({ ...EMPTY, links: [lo, ...links] });
const pod = (...links: LinkState[]): NetnsState => ({ ...EMPTY, links: [lo, ...links] });

t.test("the host veth names Coil gives", async (t) => {
  for (const n of ["veth0a1b2c3d", "vethdeadbeef", "veth0123456789a"]) t.ok(isHostVethName(n), n);
  for (const n of ["veth0A1B2C3D", "veth0a1b2c3", "veth0a1b2c3d4", "cali0a1b2c3d", "eth0", "veth0a1b2c3d4e5f"]) t.notOk(isHostVethName(n), n);
});

t.test("recognised only when it is exactly what the interrupted set-up left", async (t) => {
  t.same(unfinishedHostVeth("eth0", { host: host(hostEnd), pod: pod(podEnd) }), hostEnd, "paired by index, no alias, down, Coil-named");
  const not: [string, NetnsState, NetnsState][] = [
    ["no pod interface", host(hostEnd), pod()],
    ["another ifname", host(hostEnd), pod({ ...podEnd, name: "net1" })],
    ["the host end has an alias (another container's attachment)", host({ ...hostEnd, alias: "COIL:default:other:eth0" }), pod(podEnd)],
    ["the host end is up (someone finished it)", host({ ...hostEnd, up: true }), pod(podEnd)],
    ["a foreign name", host({ ...hostEnd, name: "cali12345678" }), pod(podEnd)],
    ["indices that do not pair", host({ ...hostEnd, peerIndex: 3 }), pod(podEnd)],
    ["the pod interface is peered inside the pod", host(hostEnd), pod({ name: "eth0", kind: "veth", up: true, mtu: 1500, index: 2, peer: "peer0" }, { name: "peer0", kind: "veth", up: true, mtu: 1500, index: 3, peer: "eth0" })],
    ["the pod interface is not a veth", host(hostEnd), pod({ name: "eth0", kind: "dummy", up: false, mtu: 1500, index: 2 })],
    ["not observed with indices (the model)", host({ name: hostEnd.name, kind: "veth", up: false, mtu: 1500 }), pod({ name: "eth0", kind: "veth", up: false, mtu: 1500 })],
  ];
  for (const [why, h, p] of not) t.equal(unfinishedHostVeth("eth0", { host: h, pod: p }), undefined, why);
});

t.test("planning over it deletes the pair and creates it again (same name); without it the interface blocks the ADD", async (t) => {
  const opts = { netnsPath: "/var/run/netns/pod1", ifname: "eth0", pool: "default", containerId: "c1", ipv4: ip("10.2.0.5"), hostIPv4: ip("10.20.30.41") };
  const observed = { host: host(hostEnd), pod: pod(podEnd) };
  const redo = planPodSetup({ ...opts, hostVeth: hostEnd.name, observed })._unsafeUnwrap();
  t.same(opKinds(redo).slice(0, 2), ["link.del", "link.add-veth"]);
  t.match(redo.steps[0]?.netlink[0], { kind: "link.del", name: "veth0a1b2c3d" });
  const blocked = planPodSetup({ ...opts, hostVeth: "vethffffffff", observed });
  t.equal(blocked.isErr() && blocked.error.kind, "interface-exists", "a new name for it: the pod interface is foreign to the plan");
});
