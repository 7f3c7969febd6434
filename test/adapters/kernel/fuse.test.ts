// Step fusion (adapters/kernel/fuse.ts): a pod step that only creates veths peered into the next
// step's namespace runs inside that step's `ip -batch`; origins and rollback are kept.
import t from "tap";
import { HOST_NETNS, netnsPath, step, type Changeset, type NetnsRef } from "../../../lib/changeset/index.js";
import { parseCidr, parseIp } from "../../../lib/net/index.js";
import { planPodSetup } from "../../../lib/plan/index.js";
import { planChangeset } from "../../../adapters/kernel/executor.js";
import { sysctlDevice } from "../../../adapters/kernel/fuse.js";
import { realKernel } from "../../../adapters/kernel/real-kernel.js";
import { runInNetns } from "../../../adapters/kernel/run.js";
import { requireRoot, withNetns } from "../../helpers/netns.js";

const cidr = (s: string) => parseCidr(s)._unsafeUnwrap();

t.test("sysctlDevice names the link of per-link keys only", async (t) => {
  const cases: [string, string | undefined][] = [
    ["net/ipv6/conf/veth1/accept_ra", "veth1"],
    ["net/ipv4/conf/eth0.5/rp_filter", "eth0.5"],
    ["net/ipv4/ip_forward", undefined],
    ["net/ipv6/conf/all", undefined],
    ["kernel/conf/x/y", undefined],
  ];
  for (const [path, want] of cases) t.equal(sysctlDevice(path), want, path);
});

t.test("a planned pod setup runs as one host batch (veth created from the host) + one pod batch", async (t) => {
  const pod = "/proc/self/ns/net"; // any existing namespace file: planning only stats it
  const cs = planPodSetup({
    netnsPath: pod, ifname: "eth0", hostVeth: "veth0a1b2c3d", pool: "default", containerId: "c1",
    ipv4: parseIp("10.1.0.5")._unsafeUnwrap(), hostIPv4: parseIp("10.20.30.41")._unsafeUnwrap(),
    ipv6: parseIp("fd02::5")._unsafeUnwrap(), hostIPv6: parseIp("fd10::41")._unsafeUnwrap(), mtu: 1450,
  })._unsafeUnwrap();
  t.same(cs.steps.map((s) => s.netns.kind), ["path", "host", "path"], "planner: create in the pod, host config, pod config");
  const planned = planChangeset(cs, "/proc/self/ns/net")._unsafeUnwrap();
  t.same(planned.map((s) => [s.index, s.netns.kind, s.groups.map((g) => g.kind)]), [
    [1, "host", ["ip-batch", "sysctl"]],
    [2, "path", ["ip-batch"]],
  ]);
  const host = planned[0]?.groups[0];
  if (host?.kind !== "ip-batch") throw new Error("no batch");
  t.equal(host.lines[0], `link add name veth0a1b2c3d mtu 1450 type veth peer name eth0 mtu 1450 netns ${pod}`, "veth created from the host side");
  t.match(host.ops[0], { index: 0, origin: { step: 0, netns: { kind: "path", path: pod } }, op: { kind: "link.add-veth", name: "eth0" } }, "the op keeps its origin");
  t.notOk(host.ops.slice(1).some((o) => o.origin !== undefined), "host ops keep their own step");
  const sysctl = planned[0]?.groups[1];
  t.match(sysctl, { kind: "sysctl", write: { path: "net/ipv6/conf/veth0a1b2c3d/accept_ra", value: "0" } }, "accept_ra of the new host end written after the lines");
});

t.test("steps that are not veth-only, or whose peers go elsewhere, are not fused", async (t) => {
  const p = netnsPath("/proc/self/ns/net");
  const q = netnsPath("/proc/self/ns/uts");
  const veth = (peer: NetnsRef) => ({ kind: "link.add-veth" as const, name: "eth0", peer: { name: "vh1", netns: peer } });
  const cases: [string, Changeset, number][] = [
    ["veth + another op", { steps: [step(p, [veth(HOST_NETNS), { kind: "link.set", name: "eth0", up: true }]), step(HOST_NETNS, [{ kind: "link.set", name: "vh1", up: true }])] }, 2],
    ["peer in a third namespace", { steps: [step(p, [veth(q)]), step(HOST_NETNS, [{ kind: "link.set", name: "vh1", up: true }])] }, 2],
    ["peer into the next step's namespace", { steps: [step(p, [veth(HOST_NETNS)]), step(HOST_NETNS, [{ kind: "link.set", name: "vh1", up: true }])] }, 1],
    ["last step", { steps: [step(p, [veth(HOST_NETNS)])] }, 1],
  ];
  for (const [name, cs, n] of cases) t.equal(planChangeset(cs, "/proc/self/ns/net")._unsafeUnwrap().length, n, name);
});

function podChangeset(h: NetnsRef, p: NetnsRef, hostVeth: string, failHostRoute: boolean): Changeset {
  return {
    steps: [
      step(p, [{ kind: "link.add-veth", name: "eth0", mtu: 1400, peer: { name: hostVeth, netns: h } }]),
      step(h, [
        { kind: "sysctl.set", key: `net.ipv6.conf.${hostVeth}.accept_ra`, value: "0", previous: "1" },
        { kind: "link.set", name: hostVeth, up: true, alias: "COIL:default:c1:eth0" },
        { kind: "addr.add", dev: hostVeth, cidr: cidr("10.20.30.41/32") },
        { kind: "route.replace", route: { family: 4, dst: cidr("10.1.0.5/32"), dev: failHostRoute ? "nodev0" : hostVeth, scope: "link" } },
      ]),
      step(p, [
        { kind: "link.set", name: "eth0", up: true },
        { kind: "addr.add", dev: "eth0", cidr: cidr("10.1.0.5/32") },
        { kind: "route.replace", route: { family: 4, dst: cidr("10.20.30.41/32"), dev: "eth0", scope: "link" } },
      ]),
    ],
  };
}

const linkNames = async (ref: NetnsRef): Promise<string[]> => (await realKernel().observe(ref))._unsafeUnwrap().links.map((l) => l.name).sort();

t.test("real kernel: fused set-up applies with 3 processes and carries traffic", async (t) => {
  if (!requireRoot(t)) return;
  const h = withNetns(t);
  const p = withNetns(t);
  const r = await realKernel({ timeoutMs: 10_000 }).apply(podChangeset(h.ref, p.ref, "vethfuse1", false));
  t.ok(r.isOk(), "applied", { error: r.isErr() ? r.error : undefined });
  t.equal(r.isOk() ? r.value.processes : -1, 3, "host batch + accept_ra write (nsenter sysctl: the host is a test netns here) + pod batch");
  t.same(await linkNames(h.ref), ["lo", "vethfuse1"]);
  t.same(await linkNames(p.ref), ["eth0", "lo"]);
  const ra = await runInNetns(h.ref, ["sysctl", "-n", "net.ipv6.conf.vethfuse1.accept_ra"]);
  t.equal(ra.isOk() ? ra.value.stdout.trim() : "", "0", "accept_ra written");
  const ping = await runInNetns(p.ref, ["ping", "-c", "1", "-W", "2", "10.20.30.41"]);
  t.ok(ping.isOk(), "pod reaches the host end");
});

t.test("real kernel: a failure inside the fused batch rolls back the veth created by it", async (t) => {
  if (!requireRoot(t)) return;
  const h = withNetns(t);
  const p = withNetns(t);
  const r = await realKernel({ timeoutMs: 10_000 }).apply(podChangeset(h.ref, p.ref, "vethfuse2", true));
  t.ok(r.isErr(), "fails");
  if (r.isOk() || r.error.kind !== "apply-failed") return;
  t.match(r.error.failedOp, { kind: "netlink", step: 1, index: 3, op: { kind: "route.replace" } }, "the failing op is named in its own step");
  t.match(r.error.applied.map((a) => [a.step, a.netns.kind, a.op.kind]), [[0, "path", "link.add-veth"], [1, "path", "link.set"], [1, "path", "addr.add"]]);
  t.equal(r.error.rolledBack, true);
  t.same(await linkNames(h.ref), ["lo"], "host end gone");
  t.same(await linkNames(p.ref), ["lo"], "pod end gone");
});

t.test("real kernel: a fused veth creation that collides fails in the pod step and leaves nothing", async (t) => {
  if (!requireRoot(t)) return;
  const h = withNetns(t);
  const p = withNetns(t);
  const k = realKernel({ timeoutMs: 10_000 });
  (await k.apply({ steps: [step(p.ref, [{ kind: "link.add-veth", name: "eth0", peer: { name: "other", netns: p.ref } }])] }))._unsafeUnwrap();
  const r = await k.apply(podChangeset(h.ref, p.ref, "vethfuse3", false));
  t.ok(r.isErr(), "fails");
  if (r.isOk() || r.error.kind !== "apply-failed") return;
  t.match(r.error.failedOp, { kind: "netlink", step: 0, index: 0, op: { kind: "link.add-veth" } });
  t.match(r.error.stderr, /File exists/);
  t.same(r.error.applied, []);
  t.same(await linkNames(h.ref), ["lo"]);
});
