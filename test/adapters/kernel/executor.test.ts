// The shared executor conformance suite against the real kernel, in namespaces created per test
// (privileged: skipped with a reason when not root, a failure under CI=true).
import t from "tap";
import { realKernel } from "../../../adapters/kernel/real-kernel.js";
import { runExecutorConformance } from "../../helpers/executor-conformance.js";
import { requireRoot, withNetns } from "../../helpers/netns.js";

t.test("real kernel", async (t) => {
  if (!requireRoot(t)) return;
  runExecutorConformance(t, () => ({ kernel: realKernel({ timeoutMs: 10_000 }), newNetns: (tt) => withNetns(tt).ref }));
});
