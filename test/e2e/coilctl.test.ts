/**
 * coilctl end to end against a REAL kube-apiserver + etcd: the real coil-ipam-controller
 * (in-process) answers coild's BlockRequests, a whole in-process coild (runCoild, Kubernetes store,
 * FakeKernel) serves node-a, and coilctl runs as a process (the built bundle) reading the API and
 * coild's `/allocations` through the API server's node proxy — so node-a's InternalIP is an address
 * of this machine the API server may proxy to (a global unicast one: the node proxy refuses
 * loopback), and coild's health port listens there.
 *
 * Seeded: one leak of every category (and a node whose coild cannot be read); each is found, a
 * clean cluster shows none, and `ipam release --from-report` frees exactly the releasable items,
 * skipping an address (and its block) that became live between the report and the release.
 * `--progress` into a pipe puts progress lines on stderr and leaves stdout as it is without;
 * `--api-only` reads no coild view; `addresses` names the pod coild set each address up for.
 */
import t from "tap";
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:net";
import { HOST_NETNS, netnsPath } from "../../lib/changeset/index.js";
import type { LeakReport } from "../../lib/report/index.js";
import { encodeLine } from "../../adapters/common/fast-protocol.js";
import { FakeKernel } from "../../adapters/kernel/fake-kernel.js";
import { NULL_LOGGER } from "../../adapters/daemon/log.js";
import { parseCoildFlags, type CoildFlags } from "../../adapters/daemon/flags.js";
import { runCoild, type RunningCoild } from "../../adapters/daemon/run.js";
import { eventually, startCoilControlPlaneOrSkip } from "../helpers/coil-envtest.js";
import { programArgs } from "../helpers/bundles.js";
import { sourceChildEnv } from "../helpers/child-env.js";
import { missingPrerequisite } from "../helpers/prerequisites.js";
import { api, createPool, NO_ELECTION, startController, type Api } from "../adapters/ipam-controller/harness.js";


/** A global unicast address of this machine (the node proxy refuses loopback and link-local ones). */
function machineAddress(family: "IPv4" | "IPv6"): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.internal || a.family !== family) continue;
      if (family === "IPv4" && !a.address.startsWith("169.254.")) return a.address;
      if (family === "IPv6" && !/^fe[89ab]/i.test(a.address)) return a.address;
    }
  }
  return undefined;
}

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function coilctl(args: readonly string[]): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...programArgs("coilctl"), ...args], { env: sourceChildEnv(), timeout: 120_000 }, (e, stdout, stderr) => {
      const code = e === null ? 0 : typeof (e as { code?: unknown }).code === "number" ? (e as { code: number }).code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

function cni(sock: string, method: "Add" | "Del", id: string, pod: string): Promise<{ ok: boolean; result?: string }> {
  const args = { containerId: id, netns: `/run/netns/${id}`, ifname: "eth0", args: { K8S_POD_NAMESPACE: "default", K8S_POD_NAME: pod }, path: "", stdinData: "", ips: [], interfaces: {} };
  return new Promise((resolve, reject) => {
    const s = connect(sock);
    let out = "";
    s.on("data", (b: Buffer) => (out += b.toString()));
    s.on("end", () => resolve(JSON.parse(out) as { ok: boolean; result?: string }));
    s.on("error", reject);
    s.write(encodeLine({ v: 1, method, args }));
  });
}

/** The addresses of an ADD result, without prefix length. */
const ipsOf = (r: { result?: string }): string[] =>
  (JSON.parse(Buffer.from(r.result ?? "", "base64").toString()) as { ips: { address: string }[] }).ips.map((i) => i.address.replace(/\/\d+$/, ""));

async function createPod(a: Api, name: string, node: string, ips: readonly string[]): Promise<void> {
  await a.core.createNamespacedPod({ namespace: "default", body: { metadata: { name }, spec: { nodeName: node, containers: [{ name: "c", image: "example.invalid/none" }] } } });
  const p = await a.core.readNamespacedPod({ name, namespace: "default" });
  await a.core.replaceNamespacedPodStatus({
    name,
    namespace: "default",
    body: { ...p, status: { phase: "Running", ...(ips.length === 0 ? {} : { podIP: ips[0], podIPs: ips.map((ip) => ({ ip })) }) } },
  });
}

const brief = (r: LeakReport): string[] => r.findings.map((f) => `${f.category} ${f.subject}`);

t.test("coilctl against a real API server and a real coild: every leak category found and released", async (t) => {
  const hostIp = machineAddress("IPv4");
  if (hostIp === undefined) return missingPrerequisite(t, "this machine has no global IPv4 address for the API server's node proxy to reach coild on", "give the machine a non-loopback IPv4 address");
  const started = await startCoilControlPlaneOrSkip(t);
  if (started === undefined) return;
  const { cp, kc } = started;
  const a = api(kc);
  let ctrl: Awaited<ReturnType<typeof startController>> | undefined = await startController(kc, "coilctl-e2e", NO_ELECTION);
  const dir = mkdtempSync(join(tmpdir(), "coilctl-e2e-"));
  const sock = join(dir, "coild.sock");
  const held: { coild?: RunningCoild } = {};
  t.teardown(async () => {
    await held.coild?.close();
    await ctrl?.close();
    a.clients.destroy();
    await cp.stop();
  });

  await a.core.createNode({ body: { metadata: { name: "node-a" }, status: { addresses: [{ type: "InternalIP", address: hostIp }, { type: "InternalIP", address: "fd10::41" }] } } });
  await createPool(a, "default", 0, [{ ipv4: "10.100.0.0/28", ipv6: "fd02::/124" }]);
  await eventually("namespace default", async () => ((await a.core.readNamespace({ name: "default" }).catch(() => undefined)) === undefined ? undefined : true));
  await eventually("leader", () => (ctrl?.isLeader() === true ? true : undefined));

  const argv = ["--store=kubernetes", `--kubeconfig=${cp.kubeconfigPath}`, `--socket=${sock}`, `--health-addr=${hostIp}:0`, "--metrics-addr=0", "--enable-egress=false", "--addressblock-gc-interval=1h"];
  const flags = parseCoildFlags(argv, {})._unsafeUnwrap() as CoildFlags;
  const kernel = new FakeKernel();
  kernel.addNetns(HOST_NETNS);
  let n = 0;
  const deps = {
    env: { COIL_NODE_NAME: "node-a" },
    hostname: () => "ignored",
    kernel,
    log: NULL_LOGGER,
    randomHex: () => (++n).toString(16).padStart(8, "0"),
    detectNodeIps: async () => ({}),
    detectMtu: async () => 1400,
    netnsLockName: `coil-test${dir}`,
  };
  const coild = (held.coild = (await runCoild(flags, deps))._unsafeUnwrap());
  const port = coild.healthPort ?? 0;
  const common = [`--kubeconfig=${cp.kubeconfigPath}`, `--coild-port=${port}`, "--grace-period=0s", "--node-timeout=5s"];
  const add = async (id: string, pod: string): Promise<string[]> => {
    kernel.addNetns(netnsPath(`/run/netns/${id}`));
    const r = await cni(sock, "Add", id, pod);
    t.ok(r.ok, `ADD ${id}`);
    return ipsOf(r);
  };

  // A clean cluster: one pod, its address in node-a's block, coild agreeing.
  const liveIps = await add("c-live", "live");
  await createPod(a, "live", "node-a", liveIps);
  const clean = await coilctl(["ipam", "check", "-o", "json", ...common]);
  t.equal(clean.code, 0, `clean: exit 0 (${clean.stderr})`);
  t.same(brief(JSON.parse(clean.stdout) as LeakReport), [], "clean: no finding");
  const addresses = await coilctl(["addresses", ...common]);
  t.equal(addresses.code, 0, addresses.stderr);
  t.match(addresses.stdout, new RegExp(`^NODE +POOL +BLOCK +IPV4 +IPV6 +CONTAINER +IFNAME +HOST VETH +POD +COILD POD\\nnode-a +default +default-0 +${liveIps[0] ?? ""} +${liveIps[1] ?? ""} +c-live +eth0 +veth00000001 +default/live +default/live\\n$`), "addresses: the pod that has each, and the pod coild set it up for");
  const addressesJson = await coilctl(["addresses", "-o", "json", ...common]);
  t.match(JSON.parse(addressesJson.stdout), [{ containerId: "c-live", pod: "default/live", coildPod: "default/live" }]);

  // --progress into a pipe: progress lines on stderr, stdout as without progress.
  const quiet = await coilctl(["ipam", "check", "-o", "json", "--no-progress", ...common]);
  const loud = await coilctl(["ipam", "check", "-o", "json", "--progress", ...common]);
  t.equal(loud.code, 0, loud.stderr);
  const stable = (out: string): unknown => ({ ...(JSON.parse(out) as Record<string, unknown>), checkedAt: "-", checkedAtMs: 0 });
  t.same(stable(loud.stdout), stable(quiet.stdout), "stdout is the same report with or without --progress (but for the time of the check)");
  t.equal(quiet.stderr, "", "no progress without --progress when stderr is a pipe");
  t.match(loud.stderr, /^coilctl: listing Nodes: 1\/1\n/, "the Node list first");
  for (const line of ["coilctl: nodes queried: 1/1", "coilctl: listing AddressPools: 1/1", "coilctl: listing AddressBlocks: 1/1", "coilctl: listing BlockRequests: 1/1", "coilctl: listing Pods: 1/1"]) {
    t.ok(loud.stderr.split("\n").includes(line), `stderr: ${line}`);
  }
  t.notMatch(loud.stdout, /coilctl: /, "no progress on stdout");

  // --api-only: no coild view read; every node listed as unchecked, one note, exit 3.
  const apiOnly = await coilctl(["ipam", "check", "-o", "json", "--api-only", ...common]);
  t.equal(apiOnly.code, 3, "nothing leaks, but coild's addresses were not checked");
  t.match(JSON.parse(apiOnly.stdout), { findings: [], uncheckedNodes: [{ node: "node-a", error: "coild's view not read (--api-only)" }] });
  t.equal(apiOnly.stderr, "coilctl: note: --api-only: no node's coild view was read, so coild's addresses were not checked on any of 1 node(s) (uncheckedNodes)\n");

  // Seed one leak of each category (blockSizeBits 0: every ADD takes its own block).
  const ghostIps = await add("c-ghost", "ghost");
  const lateIps = await add("c-late", "late");
  await ctrl.close(); // from here on nothing answers BlockRequests nor collects orphan blocks
  ctrl = undefined;
  await a.core.createNode({ body: { metadata: { name: "node-b" }, status: { addresses: [{ type: "InternalIP", address: machineAddress("IPv6") ?? hostIp }] } } });
  const block = async (name: string, node: string, index: number): Promise<void> => {
    const labels = { "coil.cybozu.com/pool": "default", "coil.cybozu.com/node": node };
    (await a.coil.blocks.create({ metadata: { name, labels, finalizers: ["coil.cybozu.com"] }, index, ipv4: `10.100.0.${index}/32`, ipv6: `fd02::${index.toString(16)}/128` }))._unsafeUnwrap();
  };
  await block("default-9", "gone-node", 9);
  await block("default-10", "node-b", 10);
  await block("default-11", "node-a", 11);
  (await a.coil.requests.create({ metadata: { name: "br-stale" }, spec: { nodeName: "gone-node", poolName: "default" } }))._unsafeUnwrap();
  await createPod(a, "stray", "node-a", ["10.200.0.1"]);
  await createPod(a, "twin", "node-a", [liveIps[0] ?? ""]);

  const checked = await coilctl(["ipam", "check", "-o", "json", ...common]);
  t.equal(checked.code, 1, `leaks: exit 1 (${checked.stderr})`);
  const report = JSON.parse(checked.stdout) as LeakReport & { checkedAt: string };
  t.same(brief(report), [
    "block-of-missing-node AddressBlock default-9",
    "block-without-pods AddressBlock default-1",
    "block-without-pods AddressBlock default-10",
    "block-without-pods AddressBlock default-11",
    "block-without-pods AddressBlock default-2",
    "address-of-missing-pod container c-ghost:eth0",
    "address-of-missing-pod container c-late:eth0",
    "pod-outside-blocks Pod default/stray",
    `duplicate-address address ${liveIps[0] ?? ""}`,
    "stale-block-request BlockRequest br-stale",
  ], "one of each category found, nothing invented");
  t.same(report.findings.find((f) => f.subject === "container c-ghost:eth0")?.addresses, ghostIps, "dual-stack: both addresses of the attachment");
  t.match(report.findings.find((f) => f.subject === "container c-ghost:eth0")?.evidence, /; coild set it up for pod default\/ghost$/, "the evidence names the pod coild set the address up for");
  t.same(report.uncheckedNodes.map((u) => u.node), ["node-b"], "node-b's coild cannot be read");
  t.match(checked.stderr, /warning: node node-b not checked for leaked addresses/);
  t.match(report.checkedAt, /^\d{4}-\d\d-\d\dT/);
  const table = await coilctl(["ipam", "check", ...common]);
  t.equal(table.code, 1);
  t.match(table.stdout, /^CATEGORY +SUBJECT +NODE +ADDRESSES +RELEASE +EVIDENCE\nblock-of-missing-node +AddressBlock default-9 +gone-node +10\.100\.0\.9\/32,fd02::9\/128 +delete-block +its node label names gone-node/);
  t.match(table.stdout, /\n10 finding\(s\): block-of-missing-node 1, block-without-pods 4, address-of-missing-pod 2, pod-outside-blocks 1, duplicate-address 1, stale-block-request 1\n$/);

  // Between the report and the release, pod "late" gets its status: its address and block are live now.
  await createPod(a, "late", "node-a", lateIps);
  const reportFile = join(dir, "report.json");
  writeFileSync(reportFile, checked.stdout);
  const released = await coilctl(["ipam", "release", "--from-report", reportFile, "--node", "node-a", `--socket=${sock}`, "-o", "json", "--progress", ...common]);
  t.equal(released.code, 1, `some items skipped: exit 1 (${released.stderr})`);
  for (const line of ["coilctl: releasing addresses: 2/2", "coilctl: releasing BlockRequests: 1/1", "coilctl: releasing AddressBlocks: 5/5"]) {
    t.ok(released.stderr.split("\n").includes(line), `release progress: ${line}`);
  }
  const items = (JSON.parse(released.stdout) as { items: { category: string; subject: string; outcome: string; reason?: string }[] }).items;
  t.same(items.map((i) => `${i.outcome} ${i.subject}`).sort(), [
    "gone AddressBlock default-1",
    "released AddressBlock default-11",
    "released AddressBlock default-9",
    "released BlockRequest br-stale",
    "released container c-ghost:eth0",
    "report-only Pod default/stray",
    `report-only address ${liveIps[0] ?? ""}`,
    "skipped AddressBlock default-10",
    "skipped AddressBlock default-2",
    "skipped container c-late:eth0",
  ]);
  t.match(items.find((i) => i.subject === "container c-late:eth0")?.reason, /a live pod on node-a now has/, "became live: skipped");
  t.match(items.find((i) => i.subject === "AddressBlock default-10")?.reason, /coild's view of node-b cannot be read/, "a block whose node's coild cannot be read is not deleted");
  t.match(items.find((i) => i.subject === "AddressBlock default-1")?.reason, /no longer exists/, "coild returned the ghost's block itself once its address was freed");

  const blocks = (await a.coil.blocks.list())._unsafeUnwrap().items.map((b) => b.metadata.name).sort();
  t.same(blocks, ["default-0", "default-10", "default-2"], "exactly the released blocks are gone");
  t.same((await a.coil.requests.list())._unsafeUnwrap().items.map((r) => r.metadata.name), ["req-default-node-a"], "the stale BlockRequest is gone (coild's last, answered one stays, as in Coil)");
  t.same(coild.node.ipam.allocations().map((x) => x.containerId).sort(), ["c-late", "c-live"], "coild freed the ghost's address only");

  const after = await coilctl(["ipam", "check", "-o", "json", ...common]);
  t.equal(after.code, 1);
  t.same(brief(JSON.parse(after.stdout) as LeakReport), ["block-without-pods AddressBlock default-10", "pod-outside-blocks Pod default/stray", `duplicate-address address ${liveIps[0] ?? ""}`], "what is left: the report-only findings and the block release refused");

  const pools = await coilctl(["pools", "-o", "json", ...common]);
  t.equal(pools.code, 0, pools.stderr);
  t.same((JSON.parse(pools.stdout) as { pools: unknown[] }).pools, [
    { pool: "default", blockSize: 1, blocksTotal: 16, blocksUsed: 3, blocksFree: 13, addressesUsed: null, addressesFreeInBlocks: null, addressesUnassigned: 13 },
  ], "pools: node-b's view missing, so the pool's address count is unknown");
  t.match(pools.stderr, /warning: node node-b:/);
  const blocksA = await coilctl(["blocks", "--node", "node-a", "-o", "json", ...common]);
  t.same((JSON.parse(blocksA.stdout) as { name: string; used: number | null }[]).map((b) => `${b.name} ${String(b.used)}`), ["default-0 1", "default-2 1"]);
});
