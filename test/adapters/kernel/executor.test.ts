// The shared executor conformance suite against the real kernel, in namespaces created per test
// (privileged: skipped with a reason when not root, a failure under CI=true).
import t from "tap";
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
