// The shared executor conformance suite against FakeKernel (the lib state model), plus the
// fake's own features: dump() and fault injection.
import t from "tap";
import { randomBytes } from "node:crypto";
import { FakeKernel } from "../../../adapters/kernel/fake-kernel.js";
import { netnsPath, type NetnsRef } from "../../../lib/changeset/index.js";
import { podSetup, runExecutorConformance } from "../../helpers/executor-conformance.js";

function fakeNetns(k: FakeKernel, t: { teardown(f: () => void): void }): NetnsRef {
  const ref = netnsPath(`/var/run/netns/fake-${randomBytes(4).toString("hex")}`);
  k.addNetns(ref);
  t.teardown(() => k.removeNetns(ref));
  return ref;
}

t.test("fake kernel", async (t) => {
  const kernel = new FakeKernel();
  runExecutorConformance(t, () => ({ kernel, newNetns: (tt) => fakeNetns(kernel, tt) }));
});

t.test("fault injection: the N-th op fails and everything before it is reverted", async (t) => {
  const k = new FakeKernel();
  const h = fakeNetns(k, t);
  const p = fakeNetns(k, t);
  const before = k.dump();
  const cs = podSetup(h, p);
  for (const n of [1, 2, 5, 9, 15]) {
    k.injectFault({ op: n, stderr: `boom ${n}` });
    const r = await k.apply(cs);
    t.match(r.isErr() ? r.error : r.value, { kind: "apply-failed", stderr: `boom ${n}`, rolledBack: true, rollbackProblems: [] }, `fail op ${n}`);
    if (r.isErr() && r.error.kind === "apply-failed") t.equal(r.error.applied.length, n - 1, `${n - 1} ops applied before op ${n}`);
    t.same(k.dump(), before, `state restored after a fault at op ${n}`);
  }
  t.ok((await k.apply(cs)).isOk(), "fault is consumed: the next apply succeeds");
  t.not(JSON.stringify(k.dump()), JSON.stringify(before));
});

t.test("an injected fault is classified as the real adapter would: by errno, else by its text", async (t) => {
  const k = new FakeKernel();
  const h = fakeNetns(k, t);
  const p = fakeNetns(k, t);
  const cs = podSetup(h, p);
  const failure = async (f: Parameters<FakeKernel["injectFault"]>[0]): Promise<unknown> => {
    k.injectFault(f);
    const r = await k.apply(cs);
    return r.isErr() && r.error.kind === "apply-failed" ? { reason: r.error.reason, retryable: r.error.retryable } : r;
  };
  t.same(await failure({ op: 3, stderr: "RTNETLINK answers: No buffer space available" }), { reason: "busy", retryable: true });
  t.same(await failure({ op: 3, stderr: "RTNETLINK answers: File exists" }), { reason: "exists", retryable: false });
  t.same(await failure({ op: 3, errno: "EPERM" }), { reason: "permission", retryable: false });
  t.same(await failure({ op: 3 }), { reason: "unknown", retryable: false });
});

t.test("dump is a copy", async (t) => {
  const k = new FakeKernel();
  const h = fakeNetns(k, t);
  const d = k.dump() as unknown as Record<string, { links: unknown[] }>;
  d[h.kind === "path" ? h.path : "host"]?.links.push({ name: "x" });
  t.not(JSON.stringify(k.dump()), JSON.stringify(d));
});
