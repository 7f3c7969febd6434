// A leader whose API connection hangs must not outlive its Lease (client-go bounds every renewal
// by the renew deadline): two coil-ipam-controllers against a real kube-apiserver, the leader's
// traffic through a TCP proxy the test owns. Frozen, the leader's renewals get no answer; it steps
// down (leader-lost, the process would exit) within the renew deadline, the other replica takes the
// Lease once it expired, and at no moment do both lead — checked from their logs' timestamps and by
// sampling both replicas' leadership throughout.
import t from "tap";
import { loadApiConnection } from "../../../adapters/k8s/kubeconfig.js";
import type { Logger } from "../../../adapters/k8s/index.js";
import { parseIpamControllerFlags } from "../../../adapters/ipam-controller/flags.js";
import { runIpamController } from "../../../adapters/ipam-controller/run.js";
import { eventually, startCoilControlPlaneOrSkip } from "../../helpers/coil-envtest.js";
import { startTcpProxy } from "../../helpers/tcp-proxy.js";
import { scaledTimeout } from "../../helpers/wait.js";
import { api } from "./harness.js";

const LEASE_MS = 6_000;
const RENEW_MS = 4_000;
const RETRY_MS = 500;

const started = await startCoilControlPlaneOrSkip(t);
if (started !== undefined) {
  const { cp, kc } = started;
  const a = api(kc);
  const proxy = await startTcpProxy("127.0.0.1", Number(new URL(cp.server).port));
  t.teardown(async () => {
    a.clients.destroy();
    await proxy.close();
    await cp.stop();
  });

  await t.test("a leader whose API connection hangs steps down within the renew deadline; never two leaders", async (t) => {
    const flags = parseIpamControllerFlags([
      "--metrics-addr=127.0.0.1:0",
      "--health-addr=127.0.0.1:0",
      `--leader-elect-lease-duration=${LEASE_MS}ms`,
      `--leader-elect-renew-deadline=${RENEW_MS}ms`,
      `--leader-elect-retry-period=${RETRY_MS}ms`,
    ])._unsafeUnwrap();
    if (typeof flags === "string") throw new Error(`unexpected ${flags}`);
    const logs: Array<{ at: number; who: string; msg: string; fields?: unknown }> = [];
    const logger = (who: string): Logger => {
      const push = (msg: string, fields?: unknown): void => void logs.push({ at: Date.now(), who, msg, fields });
      return { debug: () => undefined, info: push, warn: push, error: push };
    };
    const conn = loadApiConnection({ kubeconfig: cp.kubeconfigPath, env: {} })._unsafeUnwrap();
    const first = (await runIpamController(flags, { kc: { ...conn, server: `https://127.0.0.1:${proxy.port}` }, log: logger("proxied"), identity: "proxied", processMetrics: false }))._unsafeUnwrap();
    t.teardown(() => first.close({ release: false }));
    await eventually("the proxied replica leads", () => (first.isLeader() ? true : undefined));
    const second = (await runIpamController(flags, { kc: conn, log: logger("direct"), identity: "direct", processMetrics: false }))._unsafeUnwrap();
    t.teardown(() => second.close());
    const both: number[] = [];
    const sampler = setInterval(() => {
      if (first.isLeader() && second.isLeader()) both.push(Date.now());
    }, 10);
    t.teardown(() => clearInterval(sampler));
    // The direct replica campaigns (and loses) while the proxied one renews.
    await eventually("the direct replica campaigning", () => (logs.some((l) => l.who === "direct" && l.msg === "caches synced") ? true : undefined));

    const frozenAt = Date.now();
    proxy.freeze();
    const became = await eventually(
      "the direct replica to lead",
      () => logs.find((l) => l.who === "direct" && l.msg === "became leader"),
      { timeoutMs: 4 * LEASE_MS, describe: () => logs.filter((l) => l.at >= frozenAt) },
    );
    await eventually("the direct replica acting", () => (second.isLeader() ? true : undefined));
    const lost = logs.find((l) => l.who === "proxied" && l.msg === "leader election lost");
    t.ok(lost !== undefined, "the proxied replica logged that it lost the election");
    const lostAfter = (lost?.at ?? Number.POSITIVE_INFINITY) - frozenAt;
    t.ok(lostAfter <= RENEW_MS + RETRY_MS + scaledTimeout(300), `it stepped down ${lostAfter} ms after its connection froze (renew deadline ${RENEW_MS} ms + retry ${RETRY_MS} ms)`);
    t.ok((lost?.at ?? Number.POSITIVE_INFINITY) < became.at, `it stepped down (${lostAfter} ms) before the other took over (${became.at - frozenAt} ms after the freeze)`);
    t.ok(became.at - frozenAt >= LEASE_MS - RETRY_MS - RENEW_MS / 2, `the other took the Lease once it had expired (${became.at - frozenAt} ms after the freeze; lease ${LEASE_MS} ms)`);
    t.same(both, [], "never both acting at once (sampled every 10 ms)");
    t.equal(await first.done, "leader-lost", "the proxied replica stopped: leader-lost (coil-ipam-controller exits 1)");
    t.ok(logs.some((l) => l.who === "proxied" && l.msg === "stopped" && (l.fields as { reason?: string } | undefined)?.reason === "leader-lost"), "and logged it");
    const lease = await a.clients.coordination.readNamespacedLease({ name: "coil-ipam-leader", namespace: "kube-system" });
    t.equal(lease.spec?.holderIdentity, "direct", "the Lease names the direct replica");
    const status = async (r: typeof first): Promise<string | undefined> => /^leader_election_master_status\{name="coil-ipam-leader"\} (\d)$/m.exec(await r.metrics.registry.metrics())?.[1];
    t.same([await status(first), await status(second)], ["0", "1"], "leader_election_master_status: 0 on the replica that stepped down, 1 on the new leader");
  });
}
