// coild with --store=kubernetes against a REAL kube-apiserver + etcd and the real (in-process)
// coil-ipam-controller; two coild instances (nodes n1, n2) run in-process over FakeKernels.
// Covers: block races (no block twice), exhaustion → Failed BlockRequest + CNI 11 naming the pool,
// pool by Namespace annotation, empty block returned after DEL, restart with running pods,
// Node InternalIPs (last wins), and the API server going away (owned block: ADD ok; new block: 11 fast).
import t from "tap";
import { mkdtempSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HOST_NETNS, netnsPath, type NetnsState } from "../../../../lib/changeset/index.js";
import { FakeKernel } from "../../../../adapters/kernel/fake-kernel.js";
import { parseCoildFlags, type CoildFlags } from "../../../../adapters/daemon/flags.js";
import { NULL_LOGGER } from "../../../../adapters/daemon/log.js";
import { formatCoildStartError, runCoild, type CoildDeps, type RunningCoild } from "../../../../adapters/daemon/run.js";
import type { AddressBlockObject } from "../../../../adapters/k8s/index.js";
import { eventually, startCoilControlPlaneOrSkip } from "../../../helpers/coil-envtest.js";
import { api, createPool, startController } from "../../ipam-controller/harness.js";

interface CniReply {
  readonly ok: boolean;
  readonly result?: string;
  readonly error?: { readonly code: number; readonly msg: string; readonly details: string };
}

/** One call over coild's fast JSON-line protocol. */
function cni(socket: string, method: "Add" | "Del", containerId: string, netns: string, ns: string): Promise<CniReply> {
  return new Promise((resolve, reject) => {
    const s = connect(socket);
    let buf = "";
    s.setEncoding("utf8");
    s.on("data", (d: string) => (buf += d));
    s.on("error", reject);
    s.on("end", () => resolve(JSON.parse(buf.trim()) as CniReply));
    const args = { containerId, netns, ifname: "eth0", args: { K8S_POD_NAMESPACE: ns, K8S_POD_NAME: `pod-${containerId}` }, path: "", stdinData: "", ips: [], interfaces: {} };
    s.write(`${JSON.stringify({ v: 1, method, args })}\n`);
  });
}

const ipsOf = (r: CniReply): string[] =>
  (JSON.parse(Buffer.from(r.result ?? "", "base64").toString()) as { ips: { address: string }[] }).ips.map((i) => i.address);

const started = await startCoilControlPlaneOrSkip(t);
if (started !== undefined) {
  const { cp, kc } = started;
  const a = api(kc);
  // Node objects carry status on create (no kubelet). n1 has two InternalIPv4s: the last wins.
  const node = (name: string, addrs: string[]) =>
    a.core.createNode({ body: { metadata: { name }, status: { addresses: addrs.map((address) => ({ type: "InternalIP", address })) } } });
  await node("n1", ["10.20.30.40", "10.20.30.41", "fd10::41"]);
  await node("n2", ["10.20.30.42"]);
  await createPool(a, "default", 2, [{ ipv4: "10.8.0.0/24" }]);
  await createPool(a, "small", 1, [{ ipv4: "10.9.0.0/29" }]);
  await createPool(a, "other", 1, [{ ipv4: "10.10.0.0/28" }]);
  await createPool(a, "ds", 1, [{ ipv4: "10.11.0.0/28", ipv6: "fd11::/124" }]);
  for (const [name, pool] of [["team-small", "small"], ["team-other", "other"], ["team-ds", "ds"], ["plain", undefined]] as const) {
    await a.core.createNamespace({ body: { metadata: { name, ...(pool === undefined ? {} : { annotations: { "coil.cybozu.com/pool": pool } }) } } });
  }
  let ctrl: Awaited<ReturnType<typeof startController>> | undefined = await startController(kc, "ctrl");
  await eventually("leader", () => (ctrl?.isLeader() === true ? true : undefined));

  const dir = mkdtempSync(join(tmpdir(), "coild-k8s-"));
  const kernels = new Map<string, FakeKernel>();
  const running = new Map<string, RunningCoild>();
  const sock = (n: string): string => join(dir, `${n}.sock`);
  let seq = 0;
  const start = async (n: string, extra: readonly string[] = []): Promise<RunningCoild> => {
    const flags = parseCoildFlags([`--store=kubernetes`, `--kubeconfig=${cp.kubeconfigPath}`, `--socket=${sock(n)}`, "--metrics-addr=0", "--health-addr=0", ...extra], {})._unsafeUnwrap() as CoildFlags;
    let kernel = kernels.get(n);
    if (kernel === undefined) {
      kernel = new FakeKernel();
      kernel.addNetns(HOST_NETNS);
      kernels.set(n, kernel);
    }
    const deps: CoildDeps = {
      env: { COIL_NODE_NAME: n },
      hostname: () => "ignored",
      kernel,
      log: NULL_LOGGER,
      randomHex: () => (++seq).toString(16).padStart(8, "0"),
      detectNodeIps: async () => ({}),
      detectMtu: async () => 1400,
      netnsLockName: `coil-test${dir}/${n}`,
    };
    const r = await runCoild(flags, deps);
    if (r.isErr()) throw new Error(formatCoildStartError(r.error));
    running.set(n, r.value);
    return r.value;
  };
  // The Pod exists before the runtime calls ADD, as under a kubelet: coild reads it at ADD (egress
  // annotations, static addresses) and, as Coil's coild, refuses the ADD of a pod it cannot find.
  const pods = new Set<string>();
  const ensurePod = async (n: string, id: string, ns: string): Promise<void> => {
    const key = `${ns}/pod-${id}`;
    if (pods.has(key)) return;
    await a.core.createNamespacedPod({ namespace: ns, body: { metadata: { name: `pod-${id}`, namespace: ns }, spec: { nodeName: n, containers: [{ name: "c", image: "pause" }] } } });
    pods.add(key);
  };
  const add = async (n: string, id: string, ns: string): Promise<CniReply> => {
    await ensurePod(n, id, ns);
    kernels.get(n)?.addNetns(netnsPath(`/run/netns/${id}`));
    return cni(sock(n), "Add", id, `/run/netns/${id}`, ns);
  };
  const del = (n: string, id: string, ns: string): Promise<CniReply> => cni(sock(n), "Del", id, `/run/netns/${id}`, ns);
  const apiBlocks = async (selector?: string): Promise<AddressBlockObject[]> =>
    (await a.coil.blocks.list(selector === undefined ? {} : { labelSelector: selector }))._unsafeUnwrap().items;
  const names = (bs: AddressBlockObject[]): string[] => bs.map((b) => b.metadata.name).sort();

  t.teardown(async () => {
    for (const r of running.values()) await r.close();
    await ctrl?.close();
    a.clients.destroy();
    await cp.stop();
  });

  await start("n1");
  await start("n2");

  await t.test("node addresses come from the Node's InternalIPs (last IPv4 and last IPv6 win)", async (t) => {
    const t0 = Date.now();
    const r = await add("n1", "ip-probe", "plain");
    const blockMs = Date.now() - t0;
    t.ok(r.ok, JSON.stringify(r));
    const t1 = Date.now();
    t.ok((await add("n1", "ip-probe2", "plain")).ok);
    t.comment(`ADD needing a new block (BlockRequest round trip through the controller): ${blockMs} ms; ADD into the owned block: ${Date.now() - t1} ms`);
    t.ok((await del("n1", "ip-probe2", "plain")).ok);
    t.same(ipsOf(r), ["10.8.0.0/32"], "namespace without annotation → pool default");
    const pod = kernels.get("n1")?.dump()["/run/netns/ip-probe"] as NetnsState;
    t.ok(pod.routes.some((x) => x.via === "10.20.30.41"), "default route via the last InternalIPv4");
    t.ok((await del("n1", "ip-probe", "plain")).ok);
    await running.get("n1")?.node.settled(); // an emptied block is returned after the DEL answered
    t.same(names(await apiBlocks("coil.cybozu.com/node=n1")), [], "the emptied default block was returned");
  });

  await t.test("two nodes race for a 4-block pool: no block twice, exhaustion is a clear CNI 11", async (t) => {
    const t0 = Date.now();
    const calls = ["n1", "n2"].flatMap((n) => Array.from({ length: 5 }, (_, i) => add(n, `${n}-s${i}`, "team-small").then((r) => ({ n, r }))));
    const results = await Promise.all(calls);
    const elapsed = Date.now() - t0;
    const okd = results.filter((x) => x.r.ok);
    const failed = results.filter((x) => !x.r.ok);
    t.ok(okd.length >= 6 && okd.length <= 8, `${okd.length} ADDs served (4 blocks x 2 addresses; a node's spare address cannot serve the other node)`);
    t.ok(failed.length >= 2);
    for (const n of new Set(failed.map((f) => f.n))) {
      t.ok(running.get(n)?.node.ipam.blocks("small").every((b) => b.used === b.size), `${n} failed only with every block full`);
    }
    for (const f of failed) {
      t.equal(f.r.error?.code, 11, "TRY_AGAIN_LATER");
      t.match(f.r.error?.details, /pool small has no free address block .*out of blocks/);
    }
    const ips = okd.flatMap((x) => ipsOf(x.r));
    t.equal(new Set(ips).size, okd.length, "every address handed out once");
    t.ok(ips.every((ip) => ip.startsWith("10.9.0.")));
    const blocks = await apiBlocks("coil.cybozu.com/pool=small");
    t.equal(blocks.length, 4);
    const held = ["n1", "n2"].map((n) => running.get(n)?.node.ipam.blocks("small").map((b) => b.name) ?? []);
    t.same([...(held[0] ?? []), ...(held[1] ?? [])].sort(), names(blocks), "the nodes' blocks partition the pool's blocks");
    for (const b of blocks) {
      const owner = b.metadata.labels?.["coil.cybozu.com/node"] ?? "";
      t.ok(running.get(owner)?.node.ipam.blocks("small").some((x) => x.name === b.metadata.name), `${b.metadata.name} is used by its labelled node ${owner}`);
    }
    const reqs = (await a.coil.requests.list())._unsafeUnwrap().items;
    const failedReq = reqs.filter((r) => r.status?.conditions?.some((c) => c.type === "Failed" && c.status === "True" && c.reason === "out of blocks"));
    t.ok(failedReq.length >= 1, "a Failed BlockRequest records the exhaustion");
    t.ok(failedReq.every((r) => r.spec.poolName === "small" && r.metadata.ownerReferences?.[0]?.kind === "Node"));
    t.comment(`10 concurrent ADDs over 2 nodes (4 BlockRequests + failures): ${elapsed} ms`);
  });

  await t.test("DEL of a block's last pod returns the block (AddressBlock deleted)", async (t) => {
    const mine = (running.get("n1")?.node.ipam.allocations() ?? []).filter((x) => x.pool === "small");
    t.ok(mine.length > 0);
    for (const x of mine) t.ok((await del("n1", x.containerId, "team-small")).ok);
    await running.get("n1")?.node.settled(); // emptied blocks are returned after the DELs answered
    t.same(names(await apiBlocks("coil.cybozu.com/node=n1,coil.cybozu.com/pool=small")), [], "no small block left for n1");
    t.same(running.get("n1")?.node.ipam.blocks("small"), []);
    // The freed blocks serve the other node now.
    const r = await add("n2", "n2-s9", "team-small");
    t.ok(r.ok, JSON.stringify(r));
  });

  await t.test("restart with pods running keeps their addresses and returns only unknown/empty blocks", async (t) => {
    const before = running.get("n2")?.node.ipam.allocations().map((x) => `${x.containerId} ${x.ipv4}`).sort() ?? [];
    const blocksBefore = names(await apiBlocks("coil.cybozu.com/node=n2"));
    t.ok(before.length >= 2);
    await running.get("n2")?.close();
    // A block the API assigns to n2 that coild never used (e.g. a request whose ADD timed out).
    const stray = (await a.coil.requests.create({ metadata: { name: "req-other-n2" }, spec: { nodeName: "n2", poolName: "other" } }))._unsafeUnwrap();
    const strayBlock = await eventually("stray block", async () => (await apiBlocks(`coil.cybozu.com/request=${stray.metadata.uid ?? ""}`))[0]);
    const reqsBefore = (await a.coil.requests.list())._unsafeUnwrap().items.map((r) => `${r.metadata.name}/${r.metadata.uid}`).sort();
    const again = await start("n2");
    t.same(again.node.ipam.allocations().map((x) => `${x.containerId} ${x.ipv4}`).sort(), before, "addresses recovered");
    const after = names(await apiBlocks("coil.cybozu.com/node=n2"));
    t.same(after, blocksBefore, "in-use blocks kept, the stray block returned");
    t.notOk(after.includes(strayBlock.metadata.name));
    t.same((await a.coil.requests.list())._unsafeUnwrap().items.map((r) => `${r.metadata.name}/${r.metadata.uid}`).sort(), reqsBefore, "no BlockRequest on restart");
  });

  await t.test("pool annotation of a namespace created after start; unknown pool times out after 10 s", async (t) => {
    // coild takes the pool from its Namespace watch; until the watch delivers a namespace, an ADD
    // there is served from pool default. "ghost" is created first: once the watch has delivered
    // "late", it has delivered "ghost" too (one watch, events in resourceVersion order).
    await a.core.createNamespace({ body: { metadata: { name: "ghost", annotations: { "coil.cybozu.com/pool": "missing" } } } });
    await a.core.createNamespace({ body: { metadata: { name: "late", annotations: { "coil.cybozu.com/pool": "other" } } } });
    let probes = 0;
    let lastReply: CniReply | undefined;
    const late = await eventually(
      "coild's Namespace watch to deliver namespace late (an ADD there served from pool other)",
      async () => {
        const id = `n1-late${probes++}`;
        const r = (lastReply = await add("n1", id, "late"));
        if (r.ok && ipsOf(r)[0]?.startsWith("10.10.0.")) return { id, r };
        if (r.ok) t.ok((await del("n1", id, "late")).ok, `DEL of ${id}, served before the watch delivered the namespace`);
        return undefined;
      },
      { describe: () => lastReply },
    );
    t.ok(late.r.ok, JSON.stringify(late.r));
    t.match(ipsOf(late.r)[0], /^10\.10\.0\./, "pool other from the annotation");
    t.ok((await del("n1", late.id, "late")).ok);
    const t0 = Date.now();
    const ghost = await add("n1", "n1-ghost", "ghost");
    const ms = Date.now() - t0;
    t.notOk(ghost.ok);
    t.equal(ghost.error?.code, 999, "a pool that does not exist is not retryable");
    t.match(ghost.error?.details, /pool missing is not defined/);
    t.ok(ms >= 9_900 && ms < 30_000, `answered after ${ms} ms (Coil's DefaultAllocTimeout 10 s)`);
  });

  await t.test("a dual-stack pool on an IPv4-only node: ADD refused before any BlockRequest", async (t) => {
    // n2's Node has no IPv6 InternalIP. Coil would request a block, fail the pod setup (999), and
    // return the block: every ADD churns one.
    const r = await add("n2", "n2-ds", "team-ds");
    t.notOk(r.ok, JSON.stringify(r));
    t.equal(r.error?.code, 999, "a configuration problem: not retryable");
    t.equal(r.error?.msg, "failed to allocate address");
    t.match(r.error?.details, /pool ds needs IPv6 addresses but node n2 has no IPv6 node address/);
    const req = await a.coil.requests.get("req-ds-n2");
    t.ok(req.isErr() && req.error.kind === "not-found", "no BlockRequest req-ds-n2 was created");
    t.same(names(await apiBlocks("coil.cybozu.com/pool=ds")), [], "no AddressBlock of pool ds");
    t.same((kernels.get("n2")?.dump()["/run/netns/n2-ds"] as NetnsState).links.map((l) => l.name), ["lo"], "the pod netns is untouched");
  });

  await t.test("API server gone: ADD into an owned block works, a new block fails fast with 11", async (t) => {
    // coild reads the Pod at ADD (egress annotations, static addresses) and, as Coil's coild, fails
    // the ADD when it cannot; with both features off it needs the API only for a new block. n1 is
    // restarted that way, n2 keeps the defaults.
    await running.get("n1")?.close();
    await start("n1", ["--enable-egress=false", "--enable-static-ip=false"]);
    const r0 = await add("n1", "n1-d0", "plain");
    t.ok(r0.ok, "n1 owns a default block (4 addresses) with room");
    await ensurePod("n1", "n1-d1", "plain");
    await ensurePod("n1", "n1-o1", "team-other");
    await ensurePod("n2", "n2-d9", "plain");
    await ctrl?.close();
    ctrl = undefined;
    await cp.stop();
    const t0 = Date.now();
    const r9 = await add("n2", "n2-d9", "plain");
    const podFailMs = Date.now() - t0;
    t.notOk(r9.ok, "a coild with egress or static addresses on cannot read the Pod: the ADD fails");
    t.match(r9.error?.msg ?? "", /pod/i, JSON.stringify(r9.error));
    t.ok(podFailMs < 9_000, `failed in ${podFailMs} ms`);
    const t1 = Date.now();
    const r1 = await add("n1", "n1-d1", "plain");
    const okMs = Date.now() - t1;
    t.ok(r1.ok, JSON.stringify(r1));
    t.not(ipsOf(r1)[0], ipsOf(r0)[0]);
    t.match(ipsOf(r1)[0], /^10\.8\.0\.\d+\/32$/);
    const t2 = Date.now();
    const r2 = await add("n1", "n1-o1", "team-other");
    const failMs = Date.now() - t2;
    t.notOk(r2.ok);
    t.equal(r2.error?.code, 11);
    t.match(r2.error?.details, /cannot request a new block of pool other .*Kubernetes API server unreachable/);
    t.ok(failMs < 9_000, `failed in ${failMs} ms, before the 10 s allocation timeout`);
    t.comment(`API down: ADD in owned block ${okMs} ms; ADD needing a block failed in ${failMs} ms`);
  });
}
