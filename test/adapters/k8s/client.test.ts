// adapters/k8s against a real kube-apiserver: typed CR access (merge patch, resourceVersion
// preconditions, status subresource, finalizers), the list+watch informer (events, 410 Gone
// re-list), the work queue, and Lease leader election.
import t from "tap";
import { ok } from "neverthrow";
import { CoreV1Api } from "@kubernetes/client-node";
import {
  Informer,
  LeaderElector,
  WorkQueue,
  coilClient,
  listNodeNames,
  makeClients,
  type AddressBlockObject,
  type KubeClients,
} from "../../../adapters/k8s/index.js";
import { eventually, startCoilControlPlaneOrSkip, waitFor } from "../../helpers/coil-envtest.js";

const started = await startCoilControlPlaneOrSkip(t);
if (started !== undefined) {
  const { cp, kc } = started;
  const clients: KubeClients = makeClients(kc);
  t.teardown(async () => {
    clients.destroy();
    await cp.stop();
  });
  const coil = coilClient(clients.custom);
  const block = (name: string, index: number, labels: Record<string, string> = {}): Omit<AddressBlockObject, "apiVersion" | "kind"> => ({
    metadata: { name, labels: { "coil.cybozu.com/pool": "p", ...labels }, finalizers: ["coil.cybozu.com"] },
    index,
    ipv4: `10.0.0.${index}/32`,
  });

  await t.test("create, get, list by label, errors classified", async (t) => {
    const created = await coil.blocks.create(block("p-0", 0, { "coil.cybozu.com/node": "n1" }));
    t.ok(created.isOk(), "created");
    t.equal(created._unsafeUnwrap().metadata.uid?.length, 36, "uid assigned");
    const again = await coil.blocks.create(block("p-0", 0));
    t.same(again.isErr() && again.error.kind, "already-exists");
    const missing = await coil.blocks.get("nope");
    t.same(missing.isErr() && [missing.error.kind, missing.error.status], ["not-found", 404]);
    (await coil.blocks.create(block("p-1", 1, { "coil.cybozu.com/node": "n2" })))._unsafeUnwrap();
    const l = await coil.blocks.list({ labelSelector: "coil.cybozu.com/node=n2" });
    t.same(l.map((x) => x.items.map((b) => b.metadata.name)), ok(["p-1"]));
    t.match(l._unsafeUnwrap().resourceVersion, /^\d+$/);
  });

  await t.test("merge patch with a resourceVersion precondition; finalizer removal", async (t) => {
    const b = (await coil.blocks.get("p-0"))._unsafeUnwrap();
    const p = await coil.blocks.mergePatch("p-0", { metadata: { labels: { extra: "x" }, resourceVersion: b.metadata.resourceVersion } });
    t.equal(p._unsafeUnwrap().metadata.labels?.["extra"], "x", "merge patch adds a label, keeps the others");
    t.equal(p._unsafeUnwrap().metadata.labels?.["coil.cybozu.com/pool"], "p");
    const stale = await coil.blocks.mergePatch("p-0", { metadata: { labels: { extra: "y" }, resourceVersion: b.metadata.resourceVersion } });
    t.same(stale.isErr() && stale.error.kind, "conflict", "stale resourceVersion → conflict");
    const staleFin = await coil.blocks.removeFinalizer(b, "coil.cybozu.com");
    t.same(staleFin?.isErr() && staleFin.error.kind, "conflict", "finalizer removal is conditional too");
    const fresh = (await coil.blocks.get("p-0"))._unsafeUnwrap();
    const removed = await coil.blocks.removeFinalizer(fresh, "coil.cybozu.com");
    t.same(removed?.map((x) => x.metadata.finalizers), ok(undefined), "finalizer list emptied");
    t.equal(coil.blocks.removeFinalizer(removed!._unsafeUnwrap(), "coil.cybozu.com"), undefined, "absent → no call");
    t.ok((await coil.blocks.delete("p-0")).isOk());
    const again = await coil.blocks.delete("p-0");
    t.same(again.isErr() && again.error.kind, "not-found", "second delete → not-found");
  });

  await t.test("BlockRequest status subresource", async (t) => {
    const r = (await coil.requests.create({ metadata: { name: "r1" }, spec: { nodeName: "n1", poolName: "p" } }))._unsafeUnwrap();
    const status = { addressBlockName: "p-1", conditions: [{ type: "Complete" as const, status: "True" as const, reason: "allocated" }] };
    const w = await coil.requests.replaceStatus({ ...r, status });
    t.same(w.map((x) => x.status), ok(status));
    const stale = await coil.requests.replaceStatus({ ...r, status: { conditions: [] } });
    t.same(stale.isErr() && stale.error.kind, "conflict", "replaceStatus is conditioned on resourceVersion");
    const mp = await coil.requests.mergePatchStatus("r1", { status: { addressBlockName: "p-9" } });
    t.same(mp.map((x) => x.status?.addressBlockName), ok("p-9"));
  });

  await t.test("informer: initial list, watch events, re-list after 410 Gone", async (t) => {
    let fakeOld = true;
    const events: string[] = [];
    const inf = new Informer<AddressBlockObject>({
      name: "blocks",
      kc,
      path: coil.blocks.path,
      // First list claims resourceVersion 1, which the API server no longer serves: the watch
      // answers 410 Gone and the informer must list again.
      list: () =>
        coil.blocks.list().map((l) => {
          if (!fakeOld) return l;
          fakeOld = false;
          return { ...l, resourceVersion: "1" };
        }),
      backoff: { initialMs: 10, maxMs: 100 },
    });
    inf.on((e) => events.push(`${e.type}:${e.object.metadata.name}`));
    inf.start();
    await inf.waitSynced();
    t.same(events, ["add:p-1"], "initial list emits adds");
    await eventually("re-list after 410", () => (inf.lists >= 2 ? true : undefined));
    (await coil.blocks.create(block("p-5", 5)))._unsafeUnwrap();
    await eventually("add event", () => (events.includes("add:p-5") ? true : undefined));
    (await coil.blocks.mergePatch("p-5", { metadata: { labels: { a: "b" } } }))._unsafeUnwrap();
    await eventually("update event", () => (events.includes("update:p-5") ? true : undefined));
    (await coil.blocks.mergePatch("p-5", { metadata: { finalizers: null } }))._unsafeUnwrap();
    (await coil.blocks.delete("p-5"))._unsafeUnwrap();
    await eventually("delete event", () => (events.includes("delete:p-5") ? true : undefined));
    t.equal(inf.get("p-5"), undefined, "cache follows deletes");
    t.equal(inf.items().length, 1);
    t.equal(inf.lists, 2, "exactly one re-list");
    await inf.stop();
  });

  await t.test("work queue: dedupe, no concurrent runs of one key, retries", async (t) => {
    // Every run blocks until the test opens it, so "a is in flight" is a fact, not a timing guess.
    const runs: string[] = [];
    const gates: Array<{ key: string; open: () => void }> = [];
    const running = new Map<string, number>();
    let maxRunning = 0;
    let maxSameKey = 0;
    let failOnce = true;
    const q = new WorkQueue({
      name: "test",
      concurrency: 4,
      backoff: { initialMs: 5, maxMs: 20 },
      reconcile: async (key) => {
        running.set(key, (running.get(key) ?? 0) + 1);
        maxRunning = Math.max(maxRunning, [...running.values()].reduce((x, y) => x + y, 0));
        maxSameKey = Math.max(maxSameKey, running.get(key) ?? 0);
        runs.push(key);
        await new Promise<void>((open) => gates.push({ key, open }));
        running.set(key, (running.get(key) ?? 1) - 1);
        if (key === "b" && failOnce) {
          failOnce = false;
          return { kind: "retry", error: new Error("transient") };
        }
        return { kind: "done" };
      },
    });
    const open = (key: string): void => {
      const i = gates.findIndex((g) => g.key === key);
      if (i < 0) throw new Error(`no run of ${key} is waiting`);
      gates.splice(i, 1)[0]?.open();
    };
    const waitRuns = (n: number): Promise<void> =>
      waitFor(`${n} runs started`, () => runs.length >= n, { intervalMs: 5, describe: () => ({ runs, waiting: gates.map((g) => g.key) }) });
    q.add("a");
    q.add("a");
    q.add("b");
    await waitRuns(2);
    t.same(runs, ["a", "b"], "a queued twice runs once; a and b in parallel");
    q.add("a"); // a is in flight → runs once more afterwards, not now
    open("b"); // b fails once → retried after its backoff
    await waitRuns(3);
    t.same(runs, ["a", "b", "b"], "b's retry started; the second a waits for the first to finish");
    open("a");
    await waitRuns(4);
    t.same(runs, ["a", "b", "b", "a"], "a runs again once its first run finished");
    open("a");
    open("b");
    await waitFor("queue drained", () => q.length === 0 && gates.length === 0, { intervalMs: 5, describe: () => ({ length: q.length, runs }) });
    await q.idle();
    t.same(runs.filter((k) => k === "a").length, 2, "a: once + once for the add while in flight");
    t.same(runs.filter((k) => k === "b").length, 2, "b: failed once, retried once");
    t.equal(maxRunning, 2, "a and b ran in parallel");
    t.equal(maxSameKey, 1, "never a key twice at once");
    await q.stop();
  });

  await t.test("leader election on a Lease", async (t) => {
    // A lease far longer than a retry period, so "taken over on release" and "taken over on expiry"
    // stay apart on a loaded machine.
    const lease = { namespace: "kube-system", name: "test-leader", leaseDurationMs: 10_000, renewDeadlineMs: 3000, retryPeriodMs: 200 };
    // `now` is read once per acquire/renew attempt: it counts a candidate's attempts.
    const attempts = new Map<string, number>();
    const mk = (identity: string, releaseOnStop = true) =>
      new LeaderElector({
        coordination: clients.coordination,
        identity,
        releaseOnStop,
        now: () => (attempts.set(identity, (attempts.get(identity) ?? 0) + 1), new Date()),
        ...lease,
      });
    const a = mk("a");
    const b = mk("b");
    t.teardown(async () => {
      await Promise.allSettled([a.stop(), b.stop()]);
    });
    const led: string[] = [];
    const aEnd = a.run(() => led.push("a"));
    await eventually("a leads", () => (a.isLeader ? true : undefined));
    const bEnd = b.run(() => led.push("b"));
    // Instead of a pause: b's third attempt starts only after its first two finished, and a win
    // would have been recorded (led) before b's next attempt.
    await waitFor("b's third attempt", () => (attempts.get("b") ?? 0) >= 3, { describe: () => Object.fromEntries(attempts) });
    t.same(led, ["a"], "b waits while a renews (2 attempts lost)");
    const l1 = await clients.coordination.readNamespacedLease({ name: "test-leader", namespace: "kube-system" });
    t.equal(l1.spec?.holderIdentity, "a");
    t.equal(l1.spec?.leaseDurationSeconds, 10);
    t.match(String(l1.spec?.renewTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/, "MicroTime with 6 digits");
    const t0 = Date.now();
    await a.stop();
    t.equal(await aEnd, "stopped");
    await eventually("b leads after a released", () => (b.isLeader ? true : undefined));
    t.ok(Date.now() - t0 < 5000, `takeover after release, not after the 10 s lease expired (${Date.now() - t0} ms)`);
    const l2 = await clients.coordination.readNamespacedLease({ name: "test-leader", namespace: "kube-system" });
    t.same([l2.spec?.holderIdentity, l2.spec?.leaseTransitions], ["b", 1]);

    // A candidate that does not release (crash): the next one waits for the lease duration.
    const c = mk("c");
    t.teardown(async () => {
      await c.stop().catch(() => undefined);
    });
    const cEnd = c.run(() => led.push("c"));
    // Steal the lease under b's feet: b's next renewal sees a foreign holder and loses (the intruder's
    // 5 s lease outlives b's 3 s renew deadline, so b cannot simply take the expired lease back).
    // b renews every retry period, so a read-then-replace can meet a 409: re-read and try again.
    let tSteal = Date.now();
    for (let attempt = 0; ; attempt++) {
      const cur = await clients.coordination.readNamespacedLease({ name: "test-leader", namespace: "kube-system" });
      tSteal = Date.now();
      try {
        await clients.coordination.replaceNamespacedLease({
          name: "test-leader",
          namespace: "kube-system",
          body: { ...cur, spec: { ...cur.spec, holderIdentity: "intruder", leaseDurationSeconds: 5 } },
        });
        break;
      } catch (e) {
        if ((e as { code?: number }).code !== 409 || attempt >= 20) throw e;
      }
    }
    t.equal(await bEnd, "lost", "b gives up once it cannot renew within the deadline");
    t.notOk(b.isLeader);
    await eventually("c leads after the intruder's lease expired", () => (c.isLeader ? true : undefined), { timeoutMs: 30_000 });
    t.ok(Date.now() - tSteal >= 5000, `c waited for the intruder's 5 s lease to expire (${Date.now() - tSteal} ms)`);
    await c.stop();
    t.equal(await cEnd, "stopped");
    t.same(led, ["a", "b", "c"]);
  });

  await t.test("node names", async (t) => {
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNode({ body: { metadata: { name: "node-x" } } });
    t.same(await listNodeNames(clients.core), ok(new Set(["node-x"])));
  });
}
