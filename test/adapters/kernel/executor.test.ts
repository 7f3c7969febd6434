// The shared executor conformance suite against the real kernel, in namespaces created per test
// (privileged: skipped with a reason when not root, a failure under CI=true).
import t from "tap";
import { randomBytes } from "node:crypto";
import { HOST_NETNS } from "../../../lib/changeset/index.js";
import { realKernel } from "../../../adapters/kernel/real-kernel.js";
import { runInNetns } from "../../../adapters/kernel/run.js";
import { parseCidr } from "../../../lib/net/index.js";
import { podSetup, runExecutorConformance } from "../../helpers/executor-conformance.js";
import { requireRoot, withNetns } from "../../helpers/netns.js";

t.test("real kernel", async (t) => {
  if (!requireRoot(t)) return;
  runExecutorConformance(t, () => ({ kernel: realKernel({ timeoutMs: 10_000 }), newNetns: (tt) => withNetns(tt).ref }));
});

t.test("pod setup carries traffic: ping from the pod namespace to the host side and back", async (t) => {
  if (!requireRoot(t)) return;
  const k = realKernel({ timeoutMs: 10_000 });
  const h = withNetns(t);
  const p = withNetns(t);
  const setup = podSetup(h.ref, p.ref);
  const hostAddr = { kind: "addr.add", dev: "veth-ct1", cidr: parseCidr("169.254.1.1/32")._unsafeUnwrap() } as const;
  const r = await k.apply({ steps: [...setup.steps, { netns: h.ref, netlink: [hostAddr], nft: [] }] });
  t.ok(r.isOk(), "applied", { error: r.isErr() ? r.error : undefined });
  const ping = await runInNetns(p.ref, ["ping", "-c", "1", "-W", "2", "169.254.1.1"]);
  t.ok(ping.isOk(), "pod reaches the host side; the reply is routed by rule 2000 → table 116", { error: ping.isErr() ? ping.error : undefined });
});

t.test("veth created inside a pod namespace with its peer sent to the executor's namespace", async (t) => {
  if (!requireRoot(t)) return;
  const k = realKernel({ timeoutMs: 10_000 });
  const p = withNetns(t);
  const hostName = `coilh${randomBytes(4).toString("hex")}`;
  p.trackHostLink(hostName); // deleted in teardown if the test stops half-way
  const add = await k.apply({ steps: [{ netns: p.ref, netlink: [{ kind: "link.add-veth", name: "eth0", peer: { name: hostName, netns: HOST_NETNS } }], nft: [] }] });
  t.ok(add.isOk(), "applied", { error: add.isErr() ? add.error : undefined });
  const host = (await k.observe(HOST_NETNS))._unsafeUnwrap();
  t.match(host.links.find((l) => l.name === hostName), { kind: "veth" }, "peer landed in the host namespace (via /proc/<pid>/ns/net)");
  const del = await k.apply({ steps: [{ netns: p.ref, netlink: [{ kind: "link.del", name: "eth0" }], nft: [] }] });
  t.ok(del.isOk(), "deleted from the pod side");
  t.notOk((await k.observe(HOST_NETNS))._unsafeUnwrap().links.some((l) => l.name === hostName), "host peer gone with it");
});
