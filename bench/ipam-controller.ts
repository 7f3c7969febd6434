/**
 * coil-ipam-controller throughput through a real kube-apiserver (a script, not a test):
 *   node --import tsx bench/ipam-controller.ts [--requests 1000] [--concurrency 1,4]
 * For each reconcile concurrency: a fresh control plane, N Nodes, one pool, the controller as a
 * child process (adapters/ipam-controller/main.ts through tsx), then N BlockRequests (one per node)
 * created 16 at a time; measures the time from the first create until every request is Complete
 * (seen through a watch), the controller's RSS (VmRSS / VmHWM) and CPU time.
 * Writes bench/RESULTS-ipam-controller.md.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { CoreV1Api } from "@kubernetes/client-node";
import { Informer, coilClient, makeClients, type BlockRequestObject } from "../adapters/k8s/index.js";
import { startCoilControlPlane } from "../test/helpers/coil-envtest.js";

const MAIN = fileURLToPath(new URL("../adapters/ipam-controller/main.ts", import.meta.url));
const { values } = parseArgs({ options: { requests: { type: "string", default: "1000" }, concurrency: { type: "string", default: "1,4" } } });
const N = Number(values.requests);
const variants = (values.concurrency ?? "1").split(",").map(Number);

function procStats(pid: number): { rssMiB: number; hwmMiB: number; cpuS: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  const ticks = Number(stat[11]) + Number(stat[12]);
  return { rssMiB: kb("VmRSS") / 1024, hwmMiB: kb("VmHWM") / 1024, cpuS: ticks / 100 };
}

async function pool<T>(items: readonly T[], width: number, fn: (x: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await fn(items[next++] as T);
  }));
}

interface Row { concurrency: number; seconds: number; perSec: number; idle: ReturnType<typeof procStats>; end: ReturnType<typeof procStats>; p50: number; p99: number }

async function runOnce(concurrency: number): Promise<Row> {
  const started = await startCoilControlPlane();
  if (typeof started === "string") throw new Error(started);
  const { cp, kc } = started;
  const clients = makeClients(kc, { maxSockets: 32 });
  const coil = coilClient(clients.custom);
  const core = kc.makeApiClient(CoreV1Api);
  try {
    const nodes = Array.from({ length: N }, (_, i) => `node-${String(i).padStart(4, "0")}`);
    await pool(nodes, 16, (name) => core.createNode({ body: { metadata: { name } } }));
    (await coil.pools.create({ metadata: { name: "default", finalizers: ["coil.cybozu.com"] }, spec: { blockSizeBits: 5, subnets: [{ ipv4: "10.64.0.0/16" }] } }))._unsafeUnwrap();
    const child = spawn(process.execPath, ["--import", "tsx", MAIN, `--kubeconfig=${cp.kubeconfigPath}`, "--metrics-addr=127.0.0.1:0", "--health-addr=127.0.0.1:0", `--max-concurrent-reconciles=${concurrency}`], { stdio: ["ignore", "ignore", "pipe"] });
    let logs = "";
    child.stderr?.setEncoding("utf8").on("data", (d: string) => (logs = (logs + d).slice(-20_000)));
    while (!logs.includes('"became leader"')) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 500));
    const idle = procStats(child.pid ?? 0);
    const createdAt = new Map<string, number>();
    const latencies: number[] = [];
    let complete = 0;
    let resolveAll: () => void = () => undefined;
    const all = new Promise<void>((r) => (resolveAll = r));
    const inf = new Informer<BlockRequestObject>({ name: "bench", kc, path: coil.requests.path, list: () => coil.requests.list() });
    inf.on((e) => {
      if (e.type === "delete" || (e.object.status?.conditions ?? []).length === 0) return;
      if (e.type === "update" && (e.old.status?.conditions ?? []).length > 0) return;
      complete++;
      latencies.push(performance.now() - (createdAt.get(e.object.metadata.name) ?? 0));
      if (complete === N) resolveAll();
    });
    inf.start();
    await inf.waitSynced();
    const t0 = performance.now();
    await pool(nodes, 16, async (node) => {
      const name = `req-default-${node}`;
      createdAt.set(name, performance.now());
      (await coil.requests.create({ metadata: { name }, spec: { nodeName: node, poolName: "default" } }))._unsafeUnwrap();
    });
    await all;
    const seconds = (performance.now() - t0) / 1000;
    const end = procStats(child.pid ?? 0);
    await inf.stop();
    const failed = inf.items().filter((r) => r.status?.conditions?.some((c) => c.type === "Failed")).length;
    const blocks = (await coil.blocks.list())._unsafeUnwrap().items.length;
    if (failed !== 0 || blocks !== N) throw new Error(`unexpected: ${failed} failed, ${blocks} blocks`);
    child.kill("SIGTERM");
    await once(child, "exit");
    latencies.sort((x, y) => x - y);
    const q = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
    return { concurrency, seconds, perSec: N / seconds, idle, end, p50: q(0.5), p99: q(0.99) };
  } finally {
    clients.destroy();
    await cp.stop();
  }
}

const rows: Row[] = [];
for (const c of variants) {
  const row = await runOnce(c);
  rows.push(row);
  process.stdout.write(`concurrency ${c}: ${N} requests complete in ${row.seconds.toFixed(2)} s (${row.perSec.toFixed(0)}/s), p50 ${row.p50.toFixed(0)} ms, p99 ${row.p99.toFixed(0)} ms, RSS idle ${row.idle.rssMiB.toFixed(0)} MiB, end ${row.end.rssMiB.toFixed(0)} MiB, peak ${row.end.hwmMiB.toFixed(0)} MiB, CPU ${(row.end.cpuS - row.idle.cpuS).toFixed(1)} s\n`);
}
const md = [
  "# coil-ipam-controller benchmark",
  "",
  `Command: \`node --import tsx bench/ipam-controller.ts --requests ${N} --concurrency ${variants.join(",")}\``,
  "",
  `Machine: ${cpus().length} × ${cpus()[0]?.model ?? "?"}, shared with other jobs (load average at the end ${loadavg().map((x) => x.toFixed(1)).join(" ")}). ` +
    "kube-apiserver v1.35.8 + etcd v3.6.16 (scripts/envtest) on the same machine; the controller runs as a child process through tsx.",
  "",
  `Workload: ${N} Nodes, one pool (\`10.64.0.0/16\`, blockSizeBits 5), ${N} BlockRequests \`req-default-<node>\` (one per node) created 16 at a time; ` +
    "time from the first create until every request has its Complete condition (observed through a watch). Latency = create → Complete seen.",
  "",
  "| --max-concurrent-reconciles | total s | requests/s | p50 ms | p99 ms | RSS idle MiB | RSS at end MiB | peak RSS MiB | controller CPU s |",
  "|---|---|---|---|---|---|---|---|---|",
  ...rows.map((r) => `| ${r.concurrency} | ${r.seconds.toFixed(2)} | ${r.perSec.toFixed(0)} | ${r.p50.toFixed(0)} | ${r.p99.toFixed(0)} | ${r.idle.rssMiB.toFixed(0)} | ${r.end.rssMiB.toFixed(0)} | ${r.end.hwmMiB.toFixed(0)} | ${(r.end.cpuS - r.idle.cpuS).toFixed(1)} |`),
  "",
  "Per request the controller does 2 API calls: the AddressBlock CREATE and the status PUT (idempotency is an",
  "in-memory request-UID index). Allocation within one pool is serialised (Coil's pool mutex), so more",
  "workers only overlap the LIST and the status write with other requests' allocation.",
  "",
].join("\n");
writeFileSync(fileURLToPath(new URL("./RESULTS-ipam-controller.md", import.meta.url)), md);
