/**
 * Pod start-up with the real kubelet: time from Pod creation to Ready in the local three-node cluster
 * (test/cluster/harness.ts), with Coil deployed from its image and manifests and, in the same harness,
 * with Debian's ptp + host-local (`--cni ptp`). Cases: 1 pod on one node, 50 pods on one node, 150 pods
 * across the three nodes (50 each, pinned through the scheduler by `kubernetes.io/hostname`).
 *
 * How: a `kubectl get pods --watch` is started before the pods are created (one `kubectl apply` of a
 * List); each pod's time is from its first watch line (its creation, as the watch delivers it) to the
 * first line showing it Ready, on this process's clock; the batch's time is from the start of the apply
 * (kubectl's own start-up included) to the last pod Ready. The pods have no readiness probe (Ready = the container started), so the
 * figure is sandbox + CNI ADD + container start + the status round trip, not a probe period. Each case
 * starts from an empty node (the previous case's pods deleted and gone; with Coil, their blocks released
 * too, so every case includes allocating the node's blocks). The load average is printed per case.
 *
 * Usage: `node --import tsx bench/cluster-startup.ts [--cni coil|ptp|both] [--cases 1,50,150]`
 * (root; the cluster binaries and, for Coil, `npm run image`). Prints a Markdown table; the cluster is
 * removed at the end (also on failure). Figures are recorded by hand in bench/RESULTS-cluster.md.
 */
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { TEST_IMAGE_NAME } from "../scripts/cluster/images.js";
import { clusterDown, clusterUp, type Cluster, type ClusterCni } from "../test/cluster/harness.js";
import { eventually } from "../test/helpers/wait.js";

const log = (m: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 23)}] ${m}\n`);
};

/** One measured case. */
interface CaseResult {
  readonly cni: ClusterCni;
  readonly name: string;
  readonly pods: number;
  /** Milliseconds from the apply to each pod's Ready, sorted. */
  readonly readyMs: readonly number[];
  /** Milliseconds from each pod's creation (its first watch event) to its Ready, sorted. */
  readonly createdToReadyMs: readonly number[];
  readonly load: readonly [number, number];
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}

function podList(names: readonly { name: string; node: string }[]): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "List",
    items: names.map(({ name, node }) => ({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace: "default", labels: { bench: "startup" } },
      spec: {
        nodeSelector: { "kubernetes.io/hostname": node },
        automountServiceAccountToken: false,
        terminationGracePeriodSeconds: 1,
        containers: [{ name: "echo", image: TEST_IMAGE_NAME, imagePullPolicy: "Never" }],
      },
    })),
  });
}

/** A pod that is never scheduled (no such node): its line in the watch says kubectl has listed. */
const SENTINEL = "bench-sentinel";
const SENTINEL_POD = JSON.stringify({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: SENTINEL, namespace: "default", labels: { bench: "startup" } },
  spec: { nodeSelector: { "kubernetes.io/hostname": "no-such-node" }, terminationGracePeriodSeconds: 0, containers: [{ name: "c", image: TEST_IMAGE_NAME, imagePullPolicy: "Never" }] },
});

async function kubectlOk(c: Cluster, args: readonly string[], input?: string): Promise<string> {
  const r = await c.kubectl(args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Delete the bench pods and wait until they are gone (and, with Coil, no block is left). */
async function cleanup(c: Cluster): Promise<void> {
  await kubectlOk(c, ["delete", "pods", "-l", "bench=startup", "--wait=true", "--timeout=600s"]);
  if (c.state.cni === "coil") {
    await eventually("every AddressBlock released", async () => ((await kubectlOk(c, ["get", "addressblocks", "-o", "name"])).trim() === "" ? true : undefined), {
      timeoutMs: 300_000,
      intervalMs: 1000,
    });
  }
}

async function measure(c: Cluster, name: string, pods: readonly { name: string; node: string }[]): Promise<CaseResult> {
  const load0 = loadavg()[0] ?? 0;
  const ready = new Map<string, number>();
  const seen = new Map<string, number>();
  const watch = spawn(
    "nsenter",
    [`--net=/run/netns/${c.state.prefix}-cp`, "--", c.bins.kubectl, `--kubeconfig=${c.kubeconfig}`, "get", "pods", "-l", "bench=startup", "--watch", "-o", 'jsonpath={.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\\n"}'],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let watching = false;
  let t0 = 0;
  let buf = "";
  watch.stdout.on("data", (b: Buffer) => {
    const now = Date.now();
    buf += b.toString();
    const lines = buf.split("\n");
    buf = lines.pop() ?? "";
    for (const line of lines) {
      const [pod, status] = line.split(" ");
      if (pod === SENTINEL) watching = true;
      if (pod === undefined || pod === "" || pod === SENTINEL || t0 === 0) continue;
      if (!seen.has(pod)) seen.set(pod, now - t0);
      if (status === "True" && !ready.has(pod)) ready.set(pod, now - t0);
    }
  });
  try {
    // Create the pods once kubectl has listed (it printed the sentinel, a pod that is never scheduled):
    // pods created after the list come as watch events, so each pod's first line is its creation.
    await kubectlOk(c, ["apply", "-f", "-"], SENTINEL_POD);
    await eventually("kubectl watch listing", () => (watching ? true : undefined), { timeoutMs: 120_000, intervalMs: 50 });
    t0 = Date.now();
    await kubectlOk(c, ["apply", "-f", "-"], podList(pods));
    const applyMs = Date.now() - t0;
    await eventually(`${pods.length} pods Ready`, () => (ready.size === pods.length ? true : undefined), { timeoutMs: 1_200_000, intervalMs: 100, describe: () => `${ready.size} Ready` });
    const readyMs = [...ready.values()].sort((a, b) => a - b);
    const createdToReadyMs = [...ready].map(([pod, r]) => r - (seen.get(pod) ?? 0)).sort((a, b) => a - b);
    const load1 = loadavg()[0] ?? 0;
    log(`${c.state.cni} ${name}: apply ${applyMs} ms; Ready p50 ${quantile(readyMs, 0.5)} ms, max ${readyMs.at(-1)} ms; created→Ready p50 ${quantile(createdToReadyMs, 0.5)} ms, max ${createdToReadyMs.at(-1)} ms; load ${load0.toFixed(1)} -> ${load1.toFixed(1)}`);
    return { cni: c.state.cni, name, pods: pods.length, readyMs, createdToReadyMs, load: [load0, load1] };
  } finally {
    watch.kill("SIGTERM");
    await cleanup(c);
  }
}

async function runCni(cni: ClusterCni, cases: readonly number[]): Promise<CaseResult[]> {
  const opts = { cni, nodes: 3, prefix: `bench${cni}`, dir: mkdtempSync(join(tmpdir(), `coil-bench-${cni}-`)), log };
  const out: CaseResult[] = [];
  try {
    const c = await clusterUp(opts);
    log(`${cni} cluster up in ${c.state.upMs} ms`);
    const [n1] = c.nodeNames;
    // A warm-up pod: the first sandbox on a node unpacks the pause image's snapshot; leave that out.
    for (const node of c.nodeNames) await measure(c, `warm-up ${node}`, [{ name: `warm-${node}`, node }]);
    for (const n of cases) {
      const pods =
        n <= 50
          ? Array.from({ length: n }, (_, i) => ({ name: `p${i}`, node: n1 ?? "" }))
          : Array.from({ length: n }, (_, i) => ({ name: `p${i}`, node: c.nodeNames[i % c.nodeNames.length] ?? "" }));
      out.push(await measure(c, n <= 50 ? `${n} on one node` : `${n} across ${c.nodeNames.length} nodes`, pods));
    }
    return out;
  } finally {
    await clusterDown(opts);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { cni: { type: "string", default: "both" }, cases: { type: "string", default: "1,50,150" } } });
  const cnis: ClusterCni[] = values.cni === "both" ? ["coil", "ptp"] : [values.cni as ClusterCni];
  if (!cnis.every((x) => x === "coil" || x === "ptp")) throw new Error(`--cni must be coil, ptp or both, got ${values.cni}`);
  const cases = values.cases.split(",").map(Number);
  if (!cases.every((n) => Number.isInteger(n) && n > 0 && n <= 300)) throw new Error(`--cases must be pod counts 1..300, got ${values.cases}`);
  const results: CaseResult[] = [];
  for (const cni of cnis) results.push(...(await runCni(cni, cases)));
  const rows = results.map(
    (r) =>
      `| ${r.cni} | ${r.name} | ${quantile(r.createdToReadyMs, 0.5)} | ${quantile(r.createdToReadyMs, 0.9)} | ${r.createdToReadyMs.at(-1)} | ${r.readyMs.at(-1)} | ${r.load[0].toFixed(1)} → ${r.load[1].toFixed(1)} |`,
  );
  process.stdout.write(
    [
      `Pod creation → Ready in ms (${new Date().toISOString()}): per pod from its first watch event (created) to Ready, and for the batch from the apply to the last pod Ready`,
      "",
      "| CNI | case | created → Ready p50 | p90 | max | apply → all Ready | load average (1 min) before → after |",
      "|---|---|---:|---:|---:|---:|---|",
      ...rows,
      "",
    ].join("\n"),
  );
}

main().catch((e: unknown) => {
  log(`error: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
