/**
 * `npm run bench:ipam-controller -- [--requests=1000] [--rounds=3] [--ours=dist/bin/coil-ipam-controller.mjs]
 * [--go=<path>] [--baseline=<bundle>] [--floor] [--concurrency=N] [--only=ours|go] [--node-flags="<flags>"] [--label=<text>] [--load-note=<text>] [--out=<file>] [--no-write]`
 *
 * Issue 12 (parts 5 and 6): our bundled coil-ipam-controller against Coil v2.15.0's Go
 * coil-ipam-controller (scripts/coil-v2/build.sh coil-ipam-controller) on ONE real kube-apiserver +
 * etcd (test/helpers/coil-envtest.ts) holding the same objects: `requests` Nodes and one AddressPool
 * `default` (10.64.0.0/16, blockSizeBits 5). Rounds are interleaved (ours, go; then go, ours; ...).
 * Each run:
 *   - the controller is started as its image starts it: ours by executing the bundle itself (its
 *     `#!/usr/bin/env node` line, with this Node first in PATH), Go's binary directly; both with
 *     `KUBECONFIG`, `--metrics-addr`/`--health-addr` on 127.0.0.1:0, `--webhook-addr` on a free 127.0.0.1 port
 *     (Go's webhook server reads port 0 as its default 9443) and an empty
 *     `--cert-dir` (both serve the webhook lazily; no certificates are needed to start), other flags
 *     at their defaults (Go: one BlockRequest worker, controller-runtime's default; ours: 16,
 *     its default; `--concurrency=N` runs ours with `--max-concurrent-reconciles=N`);
 *     `--baseline=<bundle>` runs another build of ours in Go's place (before/after comparisons of
 *     our own changes; the rows stay labelled "go"; `--concurrency` and `--node-flags` then apply to
 *     both, so an A/B of a `#!` line's Node options needs two bundles with different `#!` lines);
 *     `--node-flags` runs ours as `node <flags> <bundle>` instead (heap-flag experiments, --cpu-prof);
 *     `--floor` runs bench/floor-controller.ts (bundled here, with ours' `#!` line) in ours' place: the
 *     least a Node.js program does per request, i.e. what the runtime itself costs (not a product);
 *   - ready = its log says the BlockRequest workers started (Go: controller-runtime's
 *     `Starting workers` for `blockrequest`; ours: `starting controllers`); after 2 s more, the
 *     idle RSS is read;
 *   - `requests` BlockRequests `req-default-<node>` (one per Node) are created 16 at a time; time from
 *     the first create until every request has its Complete condition (seen through a watch);
 *     latency per request = create call start → Complete seen;
 *   - checked: no Failed condition, exactly `requests` AddressBlocks, all names distinct;
 *   - RSS (VmRSS idle and at the end, VmHWM = peak) and CPU (utime+stime) from /proc/<pid>;
 *   - the burst's CPU (first create → the last Complete seen; utime+stime from /proc/<pid>/stat,
 *     clock ticks → ms) of the controller, kube-apiserver and etcd (the children of this process
 *     running the control plane's binaries), and of this process, the driver that creates the
 *     requests and watches them (`process.cpuUsage()`); from them the floor
 *     `(apiserver + etcd + driver CPU) / cores`: the shortest wall time the burst could take if the
 *     controller cost nothing and the cores were perfectly used, compared with 0.5 × the wall time
 *     of Go's run in the same round (issue 12's target); also the API server's and etcd's CPU rate
 *     while the controller idles (the 2 s before the idle RSS), i.e. their background;
 *   - then the controller gets SIGTERM, its Lease is deleted, and the BlockRequests and
 *     AddressBlocks are removed (finalizers patched off) so that the next run starts from the
 *     same objects.
 * Load is recorded (uptime, runnable tasks, stress-ng) before and after. Results: stdout and
 * bench/RESULTS-ipam-controller.md between its `latest run` markers, the rest of the file kept (or `--out`;
 * nothing with `--no-write`). Needs the envtest
 * binaries (~/.cache/coil-envtest), the dist bundle (`npm run build`) and Go (for the Coil v2 build).
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { CoordinationV1Api, CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { Informer, coilClient, makeClients, type BlockRequestObject, type CoilClient } from "../adapters/k8s/index.js";
import { startCoilControlPlane } from "../test/helpers/coil-envtest.js";
import type { ControlPlaneBinaries } from "../test/helpers/envtest.js";
import { terminateProcess } from "../test/helpers/test-host.js";
import { waitFor } from "../test/helpers/wait.js";
import { descendants } from "./proc-stats.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "1000" },
    rounds: { type: "string", default: "3" },
    ours: { type: "string", default: join(ROOT, "dist/bin/coil-ipam-controller.mjs") },
    go: { type: "string" },
    baseline: { type: "string" },
    floor: { type: "boolean", default: false },
    concurrency: { type: "string" },
    only: { type: "string" },
    "node-flags": { type: "string", default: "" },
    label: { type: "string", default: "" },
    "load-note": { type: "string", default: "" },
    out: { type: "string", default: join(ROOT, "bench/RESULTS-ipam-controller.md") },
    "no-write": { type: "boolean", default: false },
  },
});
const N = Number(values.requests);
const ROUNDS = Number(values.rounds);
/** `--concurrency`: ours' `--max-concurrent-reconciles` (undefined: its default). */
const CONCURRENCY = values.concurrency === undefined ? undefined : Number(values.concurrency);
/** `--node-flags`: run ours as `node <flags> <bundle>` instead of through its `#!` line (experiments, profiles). */
const NODE_FLAGS = (values["node-flags"] ?? "").split(" ").filter((f) => f !== "");
type Impl = "ours" | "go";

/** bench/floor-controller.ts bundled as the product is (its `#!` line, esbuild), into a temporary directory. */
function bundleFloor(): string {
  const out = join(mkdtempSync(join(tmpdir(), "coil-bench-floor-")), "floor-controller.mjs");
  const banner = [readFileSync(join(ROOT, "dist/bin/coil-ipam-controller.mjs"), "utf8").split("\n", 1)[0] ?? "", 'import { createRequire as __floorCreateRequire } from "node:module";', "const require = __floorCreateRequire(import.meta.url);"].join("\n");
  execFileSync(join(ROOT, "node_modules/.bin/esbuild"), [join(ROOT, "bench/floor-controller.ts"), "--bundle", "--minify", "--platform=node", "--target=node20", "--format=esm", `--banner:js=${banner}`, `--outfile=${out}`, "--log-level=warning"], { stdio: "inherit" });
  chmodSync(out, 0o755);
  return out;
}
/** What runs in ours' slot: the bundle, or with `--floor` the floor controller. */
const OURS = values.floor ? bundleFloor() : values.ours;
const IMPLS: Impl[] = values.only === "ours" ? ["ours"] : values.only === "go" ? ["go"] : ["ours", "go"];

/** PATH with this Node first: the bundle's `#!/usr/bin/env node` finds it (the image's Node is on PATH too). */
const NODE_PATH = `${dirname(process.execPath)}:${process.env["PATH"] ?? ""}`;
const run = (cmd: string, args: readonly string[]): string => execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
const uptime = (): string => run("uptime", []).trim();
/** Other load on the machine: `stress-ng` processes and /proc/loadavg's runnable/total tasks. */
function otherLoad(): { readonly stress: number; readonly runnable: string } {
  let stress = 0;
  try {
    stress = run("pgrep", ["-x", "stress-ng"]).trim().split("\n").filter((l) => l !== "").length;
  } catch {
    // none (pgrep exits 1)
  }
  return { stress, runnable: readFileSync("/proc/loadavg", "utf8").split(" ")[3] ?? "?" };
}

/** Memory (MiB) and CPU (s) of one process from /proc. */
interface ProcStats {
  readonly rssMiB: number;
  readonly hwmMiB: number;
  readonly cpuS: number;
}
function procStats(pid: number): ProcStats {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = s.slice(s.lastIndexOf(") ") + 2).split(" ");
  return { rssMiB: kb("VmRSS") / 1024, hwmMiB: kb("VmHWM") / 1024, cpuS: (Number(f[11]) + Number(f[12])) / 100 };
}

/** Clock ticks per second of /proc/<pid>/stat's utime/stime (`getconf CLK_TCK`). */
const CLK_TCK = Number(run("getconf", ["CLK_TCK"]).trim()) || 100;
/** utime + stime of `pid` (ms). */
function cpuMs(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = s.slice(s.lastIndexOf(") ") + 2).split(" ");
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}
/** user + system CPU of this process, all its threads (ms). */
const selfCpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
/** The control plane's processes: children of this process running its etcd and kube-apiserver binaries. */
interface ControlPlanePids {
  readonly apiserver: number;
  readonly etcd: number;
}
function controlPlanePids(binaries: ControlPlaneBinaries): ControlPlanePids {
  const exe = (pid: number): string => {
    try {
      return realpathSync(`/proc/${pid}/exe`);
    } catch {
      return "";
    }
  };
  const mine = descendants(process.pid);
  const find = (bin: string): number => {
    const want = realpathSync(bin);
    const pids = mine.filter((p) => exe(p) === want);
    if (pids.length !== 1) throw new Error(`expected one child process running ${want}, found ${pids.length}`);
    return pids[0] as number;
  };
  return { apiserver: find(binaries.kubeApiserver), etcd: find(binaries.etcd) };
}
/** CPU (ms) of each process at one moment. */
interface CpuSample {
  readonly ctl: number;
  readonly apiserver: number;
  readonly etcd: number;
  readonly driver: number;
}
const cpuSample = (ctl: number, cp: ControlPlanePids): CpuSample => ({ ctl: cpuMs(ctl), apiserver: cpuMs(cp.apiserver), etcd: cpuMs(cp.etcd), driver: selfCpuMs() });
const cpuDelta = (a: CpuSample, b: CpuSample): CpuSample => ({ ctl: b.ctl - a.ctl, apiserver: b.apiserver - a.apiserver, etcd: b.etcd - a.etcd, driver: b.driver - a.driver });

/** A TCP port on 127.0.0.1 that was free a moment ago. */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

async function pool<T>(items: readonly T[], width: number, fn: (x: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await fn(items[next++] as T);
  }));
}

function goControllerPath(): string {
  if (values.go !== undefined) return values.go;
  const out = execFileSync("bash", [join(ROOT, "scripts/coil-v2/build.sh"), "coil-ipam-controller"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  const path = /^COIL_V2_COIL_IPAM_CONTROLLER=(.+)$/m.exec(out)?.[1];
  if (path === undefined) throw new Error(`scripts/coil-v2/build.sh coil-ipam-controller printed no path: ${out}`);
  return path;
}

/** One controller run. */
interface Run {
  readonly impl: Impl;
  readonly round: number;
  /** Spawn → BlockRequest workers started (ms). */
  readonly readyMs: number;
  /** First create → all Complete (s). */
  readonly seconds: number;
  readonly p50: number;
  readonly p99: number;
  /** 2 s after ready. */
  readonly idle: ProcStats;
  /** When the last request was seen Complete. */
  readonly end: ProcStats;
  /** CPU (ms) of each process from the first create until the last request was seen Complete (`seconds`). */
  readonly burst: CpuSample;
  /** kube-apiserver + etcd CPU per second of wall while the controller idled (the 2 s before `idle`), ms/s. */
  readonly cpBackgroundMsPerS: number;
  /** BlockRequest events the driver's informer emitted from the first create to the last Complete (add/update/delete), and its LISTs (1 = no re-list). */
  readonly events: string;
}

/** ms per request, 2 decimals. */
const perReq = (ms: number): string => (ms / N).toFixed(2);
/** `(apiserver + etcd + driver CPU) / cores` of a run (s): its wall time if the controller cost nothing and the cores were perfectly used. */
const floorS = (r: Run): number => (r.burst.apiserver + r.burst.etcd + r.burst.driver) / 1000 / cpus().length;
/** Share of the cores × wall that the four processes used during the burst. */
const busyShare = (r: Run): number => (r.burst.ctl + r.burst.apiserver + r.burst.etcd + r.burst.driver) / 1000 / (cpus().length * r.seconds);

/** `--baseline=<bundle>`: the "go" slot runs another build of ours (before/after comparisons of our own changes). */
const BASELINE = values.baseline;
const READY: Record<Impl, RegExp> = { ours: /"starting controllers"/, go: BASELINE === undefined ? /Starting workers.*"controller":\s*"blockrequest"/ : /"starting controllers"/ };

async function clearRequestsAndBlocks(coil: CoilClient): Promise<void> {
  const reqs = (await coil.requests.list())._unsafeUnwrap().items;
  await pool(reqs, 16, async (r) => {
    const d = await coil.requests.delete(r.metadata.name);
    if (d.isErr() && d.error.kind !== "not-found") throw new Error(`delete request ${r.metadata.name}: ${JSON.stringify(d.error)}`);
  });
  const blocks = (await coil.blocks.list())._unsafeUnwrap().items;
  await pool(blocks, 16, async (b) => {
    const p = await coil.blocks.mergePatch(b.metadata.name, { metadata: { finalizers: null } });
    if (p.isErr() && p.error.kind !== "not-found") throw new Error(`unfinalize block ${b.metadata.name}: ${JSON.stringify(p.error)}`);
    const d = await coil.blocks.delete(b.metadata.name);
    if (d.isErr() && d.error.kind !== "not-found") throw new Error(`delete block ${b.metadata.name}: ${JSON.stringify(d.error)}`);
  });
  await waitFor("no BlockRequests and no AddressBlocks left", async () =>
    (await coil.requests.list())._unsafeUnwrap().items.length === 0 && (await coil.blocks.list())._unsafeUnwrap().items.length === 0,
  { timeoutMs: 120_000, intervalMs: 200 });
}

async function runController(impl: Impl, argv: readonly string[], round: number, ctx: { kubeconfig: string; coil: CoilClient; coord: CoordinationV1Api; nodes: readonly string[]; kc: KubeConfig; cpPids: ControlPlanePids }): Promise<Run> {
  const certDir = mkdtempSync(join(tmpdir(), "coil-bench-ctl-certs-"));
  let child: ChildProcess | undefined;
  let logs = "";
  try {
    const t0 = performance.now();
    // Go's webhook server takes port 0 as "the default, 9443": give both a free port instead.
    const webhookPort = await freePort();
    child = spawn(argv[0] as string, [...argv.slice(1), "--metrics-addr=127.0.0.1:0", "--health-addr=127.0.0.1:0", `--webhook-addr=127.0.0.1:${webhookPort}`, `--cert-dir=${certDir}`], {
      env: { ...process.env, KUBECONFIG: ctx.kubeconfig, PATH: NODE_PATH },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const c = child;
    const onLog = (d: Buffer): void => void (logs = (logs + d.toString()).slice(-200_000));
    c.stdout?.on("data", onLog);
    c.stderr?.on("data", onLog);
    const abortIf = (): string | undefined => (c.exitCode === null && c.signalCode === null ? undefined : `${impl} exited (${String(c.exitCode ?? c.signalCode)}): ${logs.slice(-3000)}`);
    await waitFor(`${impl}: BlockRequest workers started`, () => READY[impl].test(logs), { timeoutMs: 120_000, intervalMs: 20, abortIf });
    const readyMs = performance.now() - t0;
    const pid = c.pid ?? 0;
    const bg0 = cpuSample(pid, ctx.cpPids);
    const bgT0 = performance.now();
    await new Promise((r) => setTimeout(r, 2000)); // idle settle (what "idle" means here), not a wait for a condition
    const bg = cpuDelta(bg0, cpuSample(pid, ctx.cpPids));
    const cpBackgroundMsPerS = ((bg.apiserver + bg.etcd) * 1000) / (performance.now() - bgT0);
    const idle = procStats(pid);

    const createdAt = new Map<string, number>();
    const latencies: number[] = [];
    let complete = 0;
    let lastStats: ProcStats | undefined;
    let cpuEnd: CpuSample | undefined;
    let tEnd = 0;
    let resolveAll: () => void = () => undefined;
    const all = new Promise<void>((r) => (resolveAll = r));
    const inf = new Informer<BlockRequestObject>({ name: "bench", kc: ctx.kc, path: ctx.coil.requests.path, list: () => ctx.coil.requests.list() });
    const events = { add: 0, update: 0, delete: 0 };
    let counting = false;
    inf.on((e) => {
      if (counting) events[e.type]++;
      if (e.type === "delete" || (e.object.status?.conditions ?? []).length === 0) return;
      if (e.type === "update" && (e.old.status?.conditions ?? []).length > 0) return;
      complete++;
      latencies.push(performance.now() - (createdAt.get(e.object.metadata.name) ?? 0));
      if (complete === N) {
        tEnd = performance.now();
        counting = false;
        cpuEnd = cpuSample(pid, ctx.cpPids);
        lastStats = procStats(pid);
        resolveAll();
      }
    });
    inf.start();
    await inf.waitSynced();
    const cpuStart = cpuSample(pid, ctx.cpPids);
    const t1 = performance.now();
    counting = true;
    await pool(ctx.nodes, 16, async (node) => {
      const name = `req-default-${node}`;
      createdAt.set(name, performance.now());
      (await ctx.coil.requests.create({ metadata: { name }, spec: { nodeName: node, poolName: "default" } }))._unsafeUnwrap();
    });
    await Promise.race([all, waitFor(`${impl}: controller alive`, () => false, { timeoutMs: 600_000, intervalMs: 200, abortIf })]);
    const seconds = ((tEnd === 0 ? performance.now() : tEnd) - t1) / 1000;
    const end = lastStats ?? procStats(pid);
    const burst = cpuDelta(cpuStart, cpuEnd ?? cpuSample(pid, ctx.cpPids));
    await inf.stop();
    const failed = inf.items().filter((r) => r.status?.conditions?.some((x) => x.type === "Failed")).length;
    const blocks = (await ctx.coil.blocks.list())._unsafeUnwrap().items;
    const names = new Set(inf.items().map((r) => r.status?.addressBlockName));
    if (failed !== 0 || blocks.length !== N || names.size !== N) throw new Error(`${impl}: ${failed} failed, ${blocks.length} blocks, ${names.size} distinct block names (expected ${N})`);
    latencies.sort((x, y) => x - y);
    const q = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
    return { impl, round, readyMs, seconds, p50: q(0.5), p99: q(0.99), idle, end, burst, cpBackgroundMsPerS, events: `${events.add}/${events.update}/${events.delete}, ${inf.lists} LIST(s)` };
  } finally {
    await terminateProcess(child, 25_000);
    rmSync(certDir, { recursive: true, force: true });
    await ctx.coord.deleteNamespacedLease({ name: "coil-ipam-leader", namespace: "kube-system" }).catch(() => undefined);
    await clearRequestsAndBlocks(ctx.coil);
  }
}

const BEGIN = "<!-- bench/ipam-controller.ts: latest run -->";
const END = "<!-- /bench/ipam-controller.ts -->";
/** Put `md` between the markers in `path` (appended with them when absent); the rest of the file is kept. */
function writeSection(path: string, md: string): void {
  let text = "";
  try {
    text = readFileSync(path, "utf8");
  } catch {
    text = "# coil-ipam-controller: ours vs Coil v2's Go controller\n\n";
  }
  const block = `${BEGIN}\n${md}${END}`;
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  writeFileSync(path, a >= 0 && b > a ? text.slice(0, a) + block + text.slice(b + END.length) : `${text.trimEnd()}\n\n${block}\n`);
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

async function main(): Promise<void> {
  const loadBefore = uptime();
  const otherBefore = otherLoad();
  process.stdout.write(`load before: ${loadBefore}\n`);
  const goPath = IMPLS.includes("go") && BASELINE === undefined ? goControllerPath() : "";
  const oursArgv = (bundle: string): string[] => [...(NODE_FLAGS.length === 0 ? [] : [process.execPath, ...NODE_FLAGS]), bundle, ...(CONCURRENCY === undefined ? [] : [`--max-concurrent-reconciles=${CONCURRENCY}`])];
  const argvOf: Record<Impl, string[]> = { ours: oursArgv(OURS), go: BASELINE === undefined ? [goPath] : oursArgv(BASELINE) };
  const oursVersion = execFileSync(OURS, ["--version"], { encoding: "utf8", env: { ...process.env, PATH: NODE_PATH } }).trim();
  const oursBytes = readFileSync(OURS).length;
  const shebang = readFileSync(OURS, "utf8").split("\n", 1)[0] ?? "";
  const started = await startCoilControlPlane();
  if (typeof started === "string") throw new Error(started);
  const { cp, kc } = started;
  const cpPids = controlPlanePids(cp.binaries);
  const clients = makeClients(kc, { maxSockets: 32 });
  const coil = coilClient(clients.custom);
  const core = kc.makeApiClient(CoreV1Api);
  const coord = kc.makeApiClient(CoordinationV1Api);
  try {
    const nodes = Array.from({ length: N }, (_, i) => `node-${String(i).padStart(4, "0")}`);
    await pool(nodes, 16, (name) => core.createNode({ body: { metadata: { name } } }));
    (await coil.pools.create({ metadata: { name: "default", finalizers: ["coil.cybozu.com"] }, spec: { blockSizeBits: 5, subnets: [{ ipv4: "10.64.0.0/16" }] } }))._unsafeUnwrap();
    const runs: Run[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const impl of round % 2 === 1 ? IMPLS : [...IMPLS].reverse()) {
        const r = await runController(impl, argvOf[impl], round, { kubeconfig: cp.kubeconfigPath, coil, coord, nodes, kc, cpPids });
        runs.push(r);
        process.stdout.write(
          `round ${round} ${impl}: ready ${r.readyMs.toFixed(0)} ms; ${N} Complete in ${r.seconds.toFixed(2)} s, p50 ${r.p50.toFixed(0)} ms, p99 ${r.p99.toFixed(0)} ms; ` +
            `RSS idle ${r.idle.rssMiB.toFixed(1)} end ${r.end.rssMiB.toFixed(1)} peak ${r.end.hwmMiB.toFixed(1)} MiB; CPU start ${r.idle.cpuS.toFixed(2)} s, run ${(r.end.cpuS - r.idle.cpuS).toFixed(2)} s; ` +
            `burst CPU ms/request: controller ${perReq(r.burst.ctl)}, apiserver ${perReq(r.burst.apiserver)}, etcd ${perReq(r.burst.etcd)}, driver ${perReq(r.burst.driver)}; ` +
            `floor ${floorS(r).toFixed(2)} s; apiserver+etcd idle ${r.cpBackgroundMsPerS.toFixed(0)} ms/s; watch events add/update/delete ${r.events}\n`,
        );
      }
    }
    const loadAfter = uptime();
    const otherAfter = otherLoad();
    process.stdout.write(`load after: ${loadAfter}\n`);
    const md = report({ runs, loadBefore, loadAfter, otherBefore, otherAfter, oursVersion, oursBytes, shebang, goPath });
    process.stdout.write(md);
    if (values["no-write"] !== true) writeSection(values.out, md);
  } finally {
    clients.destroy();
    await cp.stop();
  }
}

interface ReportInput {
  readonly runs: readonly Run[];
  readonly loadBefore: string;
  readonly loadAfter: string;
  readonly otherBefore: ReturnType<typeof otherLoad>;
  readonly otherAfter: ReturnType<typeof otherLoad>;
  readonly oursVersion: string;
  readonly oursBytes: number;
  readonly shebang: string;
  readonly goPath: string;
}

/** The figures table (medians, ratio ours/Go) and the per-run rows. */
function report(r: ReportInput): string {
  const by = (impl: Impl): Run[] => r.runs.filter((x) => x.impl === impl);
  const metrics: [string, (x: Run) => number, number][] = [
    [`${N} BlockRequests: first create → all Complete (s)`, (x) => x.seconds, 2],
    ["latency p50, create → Complete seen (ms)", (x) => x.p50, 0],
    ["latency p99 (ms)", (x) => x.p99, 0],
    ["CPU during the run, utime+stime (s)", (x) => x.end.cpuS - x.idle.cpuS, 2],
    ["CPU from spawn to idle (s)", (x) => x.idle.cpuS, 2],
    ["spawn → BlockRequest workers started (ms)", (x) => x.readyMs, 0],
    ["RSS idle, 2 s after ready (MiB)", (x) => x.idle.rssMiB, 1],
    [`RSS when the ${N}th request is Complete (MiB)`, (x) => x.end.rssMiB, 1],
    ["peak RSS, VmHWM (MiB)", (x) => x.end.hwmMiB, 1],
    ["burst CPU per request, controller (ms)", (x) => x.burst.ctl / N, 2],
    ["burst CPU per request, kube-apiserver (ms)", (x) => x.burst.apiserver / N, 2],
    ["burst CPU per request, etcd (ms)", (x) => x.burst.etcd / N, 2],
    ["burst CPU per request, driver = this bench (ms)", (x) => x.burst.driver / N, 2],
    ["burst CPU, apiserver + etcd + driver (s)", (x) => (x.burst.apiserver + x.burst.etcd + x.burst.driver) / 1000, 2],
    [`floor = (apiserver + etcd + driver CPU) / ${cpus().length} cores (s)`, floorS, 2],
    [`CPU of the 4 processes / (${cpus().length} cores × wall) (%)`, (x) => 100 * busyShare(x), 0],
    ["kube-apiserver + etcd CPU while the controller idles (ms/s)", (x) => x.cpBackgroundMsPerS, 0],
  ];
  const both = IMPLS.length === 2;
  const loaded = Number(/load average: ([\d.]+)/.exec(r.loadAfter)?.[1] ?? 0) > cpus().length;
  const cmd = `npm run bench:ipam-controller -- --requests=${N} --rounds=${ROUNDS}${CONCURRENCY === undefined ? "" : ` --concurrency=${CONCURRENCY}`}${values.baseline === undefined ? "" : ` --baseline=${values.baseline}`}${values.only === undefined ? "" : ` --only=${values.only}`}`;
  const table = [
    `| figure (median of ${ROUNDS}) | ${IMPLS.join(" | ")}${both ? " | ours/Go" : ""} |`,
    `|---|${IMPLS.map(() => "---|").join("")}${both ? "---|" : ""}`,
    ...metrics.map(([name, f, d]) => {
      const meds = IMPLS.map((i) => median(by(i).map(f)));
      const ratio = both ? ` ${((meds[0] as number) / (meds[1] as number)).toFixed(2)}× |` : "";
      return `| ${name} | ${meds.map((m) => m.toFixed(d)).join(" | ")} |${ratio}`;
    }),
  ];
  const rows = [
    "| round | impl | ready ms | total s | p50 ms | p99 ms | RSS idle | RSS end | peak | CPU run s | burst CPU ms/req: ctl | apiserver | etcd | driver | floor s | 4-proc CPU % |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...r.runs.map((x) =>
      `| ${x.round} | ${x.impl} | ${x.readyMs.toFixed(0)} | ${x.seconds.toFixed(2)} | ${x.p50.toFixed(0)} | ${x.p99.toFixed(0)} | ${x.idle.rssMiB.toFixed(1)} | ${x.end.rssMiB.toFixed(1)} | ${x.end.hwmMiB.toFixed(1)} | ${(x.end.cpuS - x.idle.cpuS).toFixed(2)} | ` +
      `${perReq(x.burst.ctl)} | ${perReq(x.burst.apiserver)} | ${perReq(x.burst.etcd)} | ${perReq(x.burst.driver)} | ${floorS(x).toFixed(2)} | ${(100 * busyShare(x)).toFixed(0)} |`),
  ];
  // Issue 12's target, ours ≤ 0.5 × Go's wall, against the floor of each run (same round's Go wall).
  const pairs = Array.from({ length: ROUNDS }, (_, i) => i + 1).flatMap((round) => {
    const g = r.runs.find((x) => x.round === round && x.impl === "go");
    const o = r.runs.find((x) => x.round === round && x.impl === "ours");
    return g === undefined || o === undefined ? [] : [{ round, g, o }];
  });
  const floorRows = both
    ? [
        "| round | Go wall s | 0.5 × Go wall s | ours' wall s | ours / Go | floor in ours' run s | floor / (0.5 × Go) | with ours' own CPU, / (0.5 × Go) | floor in Go's run s | floor / (0.5 × Go) |",
        "|---|---|---|---|---|---|---|---|---|---|",
        ...pairs.flatMap(({ round, g, o }) => {
          const half = g.seconds / 2;
          const withOwn = floorS(o) + o.burst.ctl / 1000 / cpus().length;
          return [`| ${round} | ${g.seconds.toFixed(2)} | ${half.toFixed(2)} | ${o.seconds.toFixed(2)} | ${(o.seconds / g.seconds).toFixed(2)}× | ${floorS(o).toFixed(2)} | ${(floorS(o) / half).toFixed(2)} | ${(withOwn / half).toFixed(2)} | ${floorS(g).toFixed(2)} | ${(floorS(g) / half).toFixed(2)} |`];
        }),
        "",
        (() => {
          const above = pairs.filter(({ g, o }) => floorS(o) > g.seconds / 2).length;
          return `Floor (from ours' run) above 0.5 × Go's wall in ${above} of ${ROUNDS} rounds (in such a round, ours' wall time could not reach 0.5 × Go's on these ${cpus().length} cores even with a controller costing no CPU).`;
        })(),
        "",
        (() => {
          const ratios = pairs.map(({ g, o }) => o.seconds / g.seconds);
          // The table's headline is a ratio of medians; when the machine drifts during a run (the API
          // server's CPU per request moving between rounds) the median of the per-round ratios is the steadier figure.
          return `ours / Go per round: ${ratios.map((x) => `${x.toFixed(2)}×`).join(", ")}; median of the per-round ratios **${median(ratios).toFixed(2)}×** (the table's ratio of medians can differ when the machine drifts during the run).`;
        })(),
        "",
      ]
    : [];
  return [
    `## ${r.oursVersion}${values.label === "" ? "" : ` — ${values.label}`}`,
    "",
    `${new Date().toISOString()} · \`${cmd}\` (bench/ipam-controller.ts)`,
    "",
    `${loaded ? "**Loaded machine**" : "Machine"}: ${cpus().length} × ${cpus()[0]?.model ?? "?"}, shared with other jobs. Compare the two columns (same run, interleaved rounds), not the absolute figures with an idle machine.`,
    `- \`uptime\` before: \`${r.loadBefore}\`; runnable/total ${r.otherBefore.runnable}; stress-ng processes: ${r.otherBefore.stress}`,
    `- \`uptime\` after: \`${r.loadAfter}\`; runnable/total ${r.otherAfter.runnable}; stress-ng processes: ${r.otherAfter.stress}`,
    ...(values["load-note"] === "" ? [] : [`- ${values["load-note"]}`]),
    ...(values.floor ? ["- **the \"ours\" rows are NOT coil-ipam-controller**: bench/floor-controller.ts (--floor), the least a Node.js program does per request"] : []),
    `- ours: \`${OURS.replace(ROOT, "")}\` (${(r.oursBytes / 1e6).toFixed(2)} MB) ${NODE_FLAGS.length === 0 ? `executed as the image does (\`${r.shebang}\`` : `run as \`node ${NODE_FLAGS.join(" ")}\` (NOT as the image does`}, Node ${process.version})${CONCURRENCY === undefined ? "" : `, --max-concurrent-reconciles=${CONCURRENCY}`}`,
    ...(!IMPLS.includes("go") ? [] : BASELINE !== undefined ? [`- **the "go" rows are NOT Go**: another build of ours, \`${BASELINE}\` (--baseline)`] : [`- Go: Coil v2.15.0 \`coil-ipam-controller\` (${r.goPath.replace(process.env["HOME"] ?? "~", "~")}, scripts/coil-v2/build.sh)`]),
    "",
    ...table,
    "",
    ...floorRows,
    ...rows,
    "",
  ].join("\n");
}

await main();
