/**
 * `npm run bench:router -- [--nodes=1000] [--blocks-per-node=10] [--rounds=3] [--export-blocks=1000]
 * [--ours=dist/bin/coil-router.mjs] [--go=<path>] [--load-note=<text>] [--no-write]` — issue 9's P7, coil-router at scale.
 *
 * One real kube-apiserver + etcd (test/helpers/coil-envtest.ts) holds `nodes` Nodes (InternalIP
 * 10.100.x.y, IPv4 only) and `nodes × blocks-per-node` AddressBlocks (/27s of 10.128.0.0/10, labelled
 * with their node), created 32 at a time (the creation time is reported). Then, interleaved for
 * `rounds` rounds, our coil-router (the bundled dist bin, as deployed) and Coil v2.15.0's Go
 * coil-router (scripts/coil-v2/build.sh coil-router) each run once in a fresh network namespace as
 * node-0000, whose `eth0` (10.100.0.1/16; a veth whose peer is in the same namespace) makes every other node's InternalIP on-link; the API
 * server is relayed into the namespace (test/helpers/api-relay.ts), so both reach it at the
 * kubeconfig's address. Per run:
 *   - start: spawn → the namespace's main table holds every expected `proto 31` route (count polled
 *     every 20 ms with `ip -4 route show proto 31`; the full dst→gateway set is then compared);
 *   - add: one new AddressBlock for node-0500 created → its route in the kernel;
 *   - delete: that block deleted → its route gone;
 *   - RSS (VmRSS, VmHWM) and CPU (utime+stime) of the process from /proc/<pid> at each convergence,
 *     and of its children (cutime+cstime, plus the live descendants: our `ip -batch` co-processes).
 * Then coild's table-119 export: `export-blocks` block routes put into table 119 by the module coild
 * uses (adapters/daemon/node/route-export.ts, `RouteExport` with the real kernel executor), run in a
 * child process inside a fresh namespace (RouteExport works on its own process's namespace), next to
 * Coil v2's `RouteExporter` (bench/go/route_export_test.go, `go test -c`): the code path alone (the
 * whole coild with 1,000 pods is bench/coild-export.ts, whose section of the results file a run of
 * this script keeps). Results: stdout and
 * bench/RESULTS-router-scale.md (unless `--no-write`). Needs root, iproute2, the envtest binaries
 * (~/.cache/coil-envtest), the dist bundle (`npm run build`) and Go (for the Coil v2 build).
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { CoreV1Api } from "@kubernetes/client-node";
import { coilClient, makeClients, type CoilClient } from "../adapters/k8s/index.js";
import { relayApiIntoNetns, type ApiRelay } from "../test/helpers/api-relay.js";
import { startCoilControlPlane } from "../test/helpers/coil-envtest.js";
import type { TestNetns } from "../test/helpers/netns.js";
import { terminateProcess } from "../test/helpers/test-host.js";
import { waitFor } from "../test/helpers/wait.js";
import { netnsPath } from "../lib/changeset/index.js";
import { median, otherLoad, procStats, uptime, type ProcStats } from "./proc-stats.js";
import { COILD_EXPORT_MARKERS, markedSection } from "./results-section.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const { values } = parseArgs({
  options: {
    nodes: { type: "string", default: "1000" },
    "blocks-per-node": { type: "string", default: "10" },
    rounds: { type: "string", default: "3" },
    "export-blocks": { type: "string", default: "1000" },
    ours: { type: "string", default: join(ROOT, "dist/bin/coil-router.mjs") },
    go: { type: "string" },
    "no-write": { type: "boolean", default: false },
    "load-note": { type: "string", default: "" },
    "export-child": { type: "string" },
  },
});

const run = (cmd: string, args: readonly string[], input?: string): string =>
  execFileSync(cmd, args, { encoding: "utf8", maxBuffer: 256 << 20, stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"], ...(input === undefined ? {} : { input }) });
const ms = (t0: number): number => performance.now() - t0;

// ---------------------------------------------------------------------------------------------
// Child mode: coild's table-119 export inside the namespace this process was started in.

/** What the export child prints (one JSON line). */
interface ExportResult {
  readonly blocks: number;
  /** First sync: empty table → `blocks` routes. */
  readonly fullMs: number;
  /** One more block: `blocks` routes observed, one added. */
  readonly addOneMs: number;
  /** A sync with nothing to change (observe + plan only). */
  readonly noopMs: number;
  /** CPU of the three syncs (process; its `ip` co-processes). */
  readonly cpuS: number;
  readonly childCpuS: number;
  /** RSS of the whole child at the end (tsx-loaded Node, so larger than the module's share). */
  readonly rssMiB: number;
}

async function exportChild(n: number): Promise<void> {
  const { RouteExport } = await import("../adapters/daemon/node/route-export.js");
  const { realKernel } = await import("../adapters/kernel/index.js");
  const { SILENT_LOGGER } = await import("../adapters/common/log.js");
  const { parseCidr } = await import("../lib/net/index.js");
  const cidr = (k: number): string => {
    const a = (10 << 24) + (192 << 16) + 32 * k;
    return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}/27`;
  };
  const blocks = Array.from({ length: n }, (_, k) => parseCidr(cidr(k))._unsafeUnwrap());
  const exp = new RouteExport({ kernel: realKernel(), log: SILENT_LOGGER, table: 119, protocol: 30, blocks: () => blocks });
  const timed = async (): Promise<number> => {
    exp.blocksChanged();
    const t0 = performance.now();
    const r = await exp.sync();
    if (r.isErr()) throw new Error(`export failed: ${JSON.stringify(r.error)}`);
    return ms(t0);
  };
  const before = procStats(process.pid);
  const fullMs = await timed();
  blocks.push(parseCidr(cidr(n))._unsafeUnwrap());
  const addOneMs = await timed();
  const noopMs = await timed();
  const s = procStats(process.pid);
  const out: ExportResult = { blocks: n, fullMs, addOneMs, noopMs, cpuS: s.cpuS - before.cpuS, childCpuS: s.childCpuS - before.childCpuS, rssMiB: s.rssMiB };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

if (values["export-child"] !== undefined) {
  await exportChild(Number(values["export-child"]));
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// Parent mode.

/** Title of bench/coild-export.ts's section of the results file (referred to from this script's). */
const COILD_SECTION_TITLE = "coild as deployed: 1,000 of its own blocks, each holding a pod";

const NODES = Number(values.nodes);
const PER_NODE = Number(values["blocks-per-node"]);
const ROUNDS = Number(values.rounds);
const EXPORT_BLOCKS = Number(values["export-blocks"]);
/** `--load-note`: what else the operator knows was running (written under the load figures). */
const LOAD_NOTE = values["load-note"] ?? "";
const SELF_NODE = "node-0000";
const MOVED_TO = `node-${String(Math.min(500, NODES - 1)).padStart(4, "0")}`;
/** Convergence from start: a dump of every route per probe, so one probe per 100 ms; give up after 10 min. */
const POLL_START = { timeoutMs: 600_000, intervalMs: 100 };
/** One block's route: a single lookup per probe, every 20 ms (as bench/bird-tor.ts). */
const POLL = { timeoutMs: 600_000, intervalMs: 20 };

const nodeName = (i: number): string => `node-${String(i).padStart(4, "0")}`;
/** Node i's InternalIP: 10.100.0.1 + i (on-link through the namespace's 10.100.0.1/16). */
const nodeIp = (i: number): string => `10.100.${(i + 1) >> 8}.${(i + 1) & 255}`;
/** Block k: the k-th /27 of 10.128.0.0/10. */
const blockCidr = (k: number): string => {
  const a = (10 << 24) + (128 << 16) + 32 * k;
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}/27`;
};

async function pool<T>(items: readonly T[], width: number, fn: (x: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await fn(items[next++] as T);
  }));
}

function goRouterPath(): string {
  if (values.go !== undefined) return values.go;
  const out = execFileSync("bash", [join(ROOT, "scripts/coil-v2/build.sh"), "coil-router"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  const path = /^COIL_V2_COIL_ROUTER=(.+)$/m.exec(out)?.[1];
  if (path === undefined) throw new Error(`scripts/coil-v2/build.sh coil-router printed no path: ${out}`);
  return path;
}

function makeNetns(prefix: string): TestNetns {
  const name = `${prefix}-${randomBytes(3).toString("hex")}`;
  run("ip", ["netns", "add", name]);
  run("ip", ["-n", name, "link", "set", "lo", "up"]);
  const path = `/var/run/netns/${name}`;
  return { name, path, ref: netnsPath(path), trackHostLink: () => undefined };
}

/** `proto 31` main-table IPv4 routes of `ns`: count only (cheap, for polling). */
const routeCount = (ns: string): number => run("ip", ["-n", ns, "-4", "route", "show", "table", "main", "proto", "31"]).split("\n").filter((l) => l !== "").length;
/** `proto 31` main-table IPv4 routes of `ns` as `dst via gw` strings. */
function routeSet(ns: string): Set<string> {
  const rs = JSON.parse(run("ip", ["-n", ns, "-j", "-4", "route", "show", "table", "main", "proto", "31"]) || "[]") as { dst: string; gateway?: string }[];
  return new Set(rs.map((r) => `${r.dst} via ${r.gateway ?? "-"}`));
}
/**
 * Whether the main table routes `cidr` by a `proto 31` route of exactly that prefix: `ip route get
 * fibmatch` (one netlink lookup, not a dump of every route; the namespace has no default route, so
 * no route is "Network is unreachable").
 */
function hasRoute(ns: string, cidr: string): boolean {
  try {
    const out = run("ip", ["-n", ns, "-4", "route", "get", "fibmatch", cidr.split("/")[0] as string]);
    return out.startsWith(`${cidr} `) && / proto 31\b/.test(out);
  } catch {
    return false;
  }
}

/** One implementation's figures for one round. */
interface RouterRun {
  readonly impl: "ours" | "go";
  readonly round: number;
  readonly routes: number;
  readonly startMs: number;
  readonly atStart: ProcStats;
  readonly addMs: number;
  readonly delMs: number;
  readonly atEnd: ProcStats;
  readonly comm: string;
}

interface Impl {
  readonly impl: "ours" | "go";
  readonly argv: readonly string[];
}

async function runRouter(impl: Impl, round: number, server: string, kubeconfig: string, coil: CoilClient, expected: Set<string>, dir: string): Promise<RouterRun> {
  const ns = makeNetns(`coilbench-rt-${impl.impl}`);
  let relay: ApiRelay | undefined;
  let child: ChildProcess | undefined;
  let logFd: number | undefined;
  const logPath = join(dir, `${impl.impl}-${round}.log`);
  try {
    // A veth pair with both ends in the namespace (the kernel here has no dummy links): eth0 carries
    // the node's address and the /16 that makes every gateway on-link.
    run("ip", ["-n", ns.name, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0-peer"]);
    run("ip", ["-n", ns.name, "addr", "add", `${nodeIp(0)}/16`, "dev", "eth0"]);
    run("ip", ["-n", ns.name, "link", "set", "eth0-peer", "up"]);
    run("ip", ["-n", ns.name, "link", "set", "eth0", "up"]);
    relay = await relayApiIntoNetns(ns, server, dir);
    logFd = openSync(logPath, "w");
    const t0 = performance.now();
    child = spawn("nsenter", [`--net=${ns.path}`, "--", ...impl.argv, "--metrics-addr=127.0.0.1:9388", "--health-addr=127.0.0.1:9389"], {
      env: { ...process.env, COIL_NODE_NAME: SELF_NODE, KUBECONFIG: kubeconfig },
      stdio: ["ignore", logFd, logFd],
      cwd: ROOT,
    });
    const c = child;
    const pid = c.pid ?? 0;
    const abortIf = (): string | undefined => (c.exitCode === null && c.signalCode === null ? undefined : `${impl.impl} coil-router exited (${String(c.exitCode ?? c.signalCode)}); log ${logPath}`);
    await waitFor(`${impl.impl}: ${expected.size} routes`, () => routeCount(ns.name) >= expected.size, { ...POLL_START, abortIf, describe: () => routeCount(ns.name) });
    const startMs = ms(t0);
    const atStart = procStats(pid);
    const comm = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
    const got = routeSet(ns.name);
    const missing = [...expected].filter((r) => !got.has(r));
    if (got.size !== expected.size || missing.length > 0) throw new Error(`${impl.impl}: ${got.size} routes, ${missing.length} expected ones missing (e.g. ${missing.slice(0, 3).join(", ")})`);

    // One block more (a node took a new block) and then that block gone.
    const extraIndex = NODES * PER_NODE;
    const extra = blockCidr(extraIndex);
    const name = `default-${extraIndex}`;
    const t1 = performance.now();
    (await coil.blocks.create({ metadata: { name, labels: { "coil.cybozu.com/node": MOVED_TO, "coil.cybozu.com/pool": "default" } }, index: extraIndex, ipv4: extra }))._unsafeUnwrap();
    await waitFor(`${impl.impl}: route to the new block ${extra}`, () => hasRoute(ns.name, extra), { ...POLL, abortIf });
    const addMs = ms(t1);
    const t2 = performance.now();
    (await coil.blocks.delete(name))._unsafeUnwrap();
    await waitFor(`${impl.impl}: route to ${extra} gone`, () => !hasRoute(ns.name, extra), { ...POLL, abortIf });
    const delMs = ms(t2);
    const atEnd = procStats(pid);
    if (routeCount(ns.name) !== expected.size) throw new Error(`${impl.impl}: route count ${routeCount(ns.name)} after the change, expected ${expected.size}`);
    return { impl: impl.impl, round, routes: expected.size, startMs, atStart, addMs, delMs, atEnd, comm };
  } finally {
    await terminateProcess(child, 10_000);
    if (logFd !== undefined) closeSync(logFd);
    await relay?.close();
    run("ip", ["netns", "del", ns.name]);
  }
}

/**
 * Coil v2's exporter: bench/go's TestRouteExportTiming (pkg/nodenet.RouteExporter, linked from the
 * module cache) compiled with `go test -c` into `dir`.
 */
function buildGoExport(dir: string): string {
  const bin = join(dir, "coilbench.test");
  execFileSync("go", ["test", "-c", "-o", bin, "."], {
    cwd: join(ROOT, "bench/go"),
    env: { ...process.env, GOFLAGS: "-mod=mod", PATH: `/usr/local/go/bin:${process.env["PATH"] ?? ""}` },
    stdio: ["ignore", "inherit", "inherit"],
  });
  return bin;
}

async function runExport(impl: "ours" | "go", round: number, goBin: string): Promise<ExportResult> {
  const ns = makeNetns("coilbench-exp");
  try {
    const argv = impl === "ours"
      ? [process.execPath, "--import", "tsx", SELF, `--export-child=${EXPORT_BLOCKS}`]
      : [goBin, "-test.run", "^TestRouteExportTiming$"];
    const out = await new Promise<string>((resolve, reject) => {
      const c = spawn("nsenter", [`--net=${ns.path}`, "--", ...argv], { stdio: ["ignore", "pipe", "inherit"], cwd: ROOT, env: { ...process.env, COILBENCH_EXPORT_BLOCKS: String(EXPORT_BLOCKS) } });
      let s = "";
      c.stdout.on("data", (b: Buffer) => (s += b.toString()));
      c.once("close", (code) => (code === 0 ? resolve(s) : reject(new Error(`${impl} export (round ${round}) exited ${String(code)}: ${s}`))));
    });
    const line = out.split("\n").find((l) => l.startsWith("{"));
    if (line === undefined) throw new Error(`${impl} export (round ${round}) printed no result: ${out}`);
    const r = JSON.parse(line) as ExportResult;
    const n = run("ip", ["-n", ns.name, "-4", "route", "show", "table", "119", "proto", "30"]).split("\n").filter((l) => l !== "").length;
    if (n !== EXPORT_BLOCKS + 1) throw new Error(`table 119 holds ${n} routes, expected ${EXPORT_BLOCKS + 1}`);
    return r;
  } finally {
    run("ip", ["netns", "del", ns.name]);
  }
}

async function main(): Promise<void> {
  const loadBefore = uptime();
  const otherBefore = otherLoad();
  process.stdout.write(`load before: ${loadBefore}\n`);
  if (!existsSync(values.ours)) throw new Error(`${values.ours} missing (npm run build)`);
  const goPath = goRouterPath();
  const oursVersion = run(process.execPath, [values.ours, "--version"]).trim();
  const goVersion = run(goPath, ["--version"]).trim();
  const impls: Impl[] = [
    { impl: "ours", argv: [process.execPath, values.ours] },
    { impl: "go", argv: [goPath] },
  ];
  const started = await startCoilControlPlane();
  if (typeof started === "string") throw new Error(started);
  const { cp, kc } = started;
  const clients = makeClients(kc, { maxSockets: 32 });
  const coil = coilClient(clients.custom);
  const core = kc.makeApiClient(CoreV1Api);
  const dir = mkdtempSync(join(tmpdir(), "coil-bench-router-"));
  try {
    const tc = performance.now();
    await pool(Array.from({ length: NODES }, (_, i) => i), 32, (i) =>
      core.createNode({ body: { metadata: { name: nodeName(i) }, status: { addresses: [{ type: "InternalIP", address: nodeIp(i) }] } } }),
    );
    const nodesMs = ms(tc);
    const tb = performance.now();
    const total = NODES * PER_NODE;
    await pool(Array.from({ length: total }, (_, k) => k), 32, async (k) =>
      (await coil.blocks.create({
        metadata: { name: `default-${k}`, labels: { "coil.cybozu.com/node": nodeName(Math.floor(k / PER_NODE)), "coil.cybozu.com/pool": "default" } },
        index: k,
        ipv4: blockCidr(k),
      }))._unsafeUnwrap(),
    );
    const blocksMs = ms(tb);
    process.stdout.write(`created ${NODES} Nodes in ${(nodesMs / 1000).toFixed(1)} s, ${total} AddressBlocks in ${(blocksMs / 1000).toFixed(1)} s\n`);
    const expected = new Set<string>();
    for (let k = 0; k < total; k++) {
      const owner = Math.floor(k / PER_NODE);
      if (nodeName(owner) !== SELF_NODE) expected.add(`${blockCidr(k)} via ${nodeIp(owner)}`);
    }

    const runs: RouterRun[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      // Alternate which goes first, so neither always runs on the warmer (or colder) API server.
      for (const impl of round % 2 === 1 ? impls : [...impls].reverse()) {
        const r = await runRouter(impl, round, cp.server, cp.kubeconfigPath, coil, expected, dir);
        runs.push(r);
        process.stdout.write(`round ${round} ${r.impl}: start ${r.startMs.toFixed(0)} ms (CPU ${r.atStart.cpuS.toFixed(2)} s + children ${r.atStart.childCpuS.toFixed(2)} s, RSS ${r.atStart.rssMiB.toFixed(0)} MiB), add ${r.addMs.toFixed(0)} ms, delete ${r.delMs.toFixed(0)} ms, end RSS ${r.atEnd.rssMiB.toFixed(0)} MiB peak ${r.atEnd.hwmMiB.toFixed(0)} MiB, CPU ${r.atEnd.cpuS.toFixed(2)} s + ${r.atEnd.childCpuS.toFixed(2)} s\n`);
      }
    }
    const goExport = buildGoExport(dir);
    const exports: (ExportResult & { readonly impl: "ours" | "go"; readonly round: number })[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const impl of round % 2 === 1 ? (["ours", "go"] as const) : (["go", "ours"] as const)) {
        const e = { ...(await runExport(impl, round, goExport)), impl, round };
        exports.push(e);
        process.stdout.write(`export round ${round} ${impl}: ${e.blocks} routes into table 119 in ${e.fullMs.toFixed(0)} ms, one more in ${e.addOneMs.toFixed(0)} ms, no-op sync ${e.noopMs.toFixed(0)} ms, CPU ${e.cpuS.toFixed(2)} s + ${e.childCpuS.toFixed(2)} s\n`);
      }
    }
    const loadAfter = uptime();
    const otherAfter = otherLoad();
    process.stdout.write(`load after: ${loadAfter}\n`);
    const md = report({ nodesMs, blocksMs, runs, exports, loadBefore, loadAfter, otherBefore, otherAfter, oursVersion, goVersion, goPath });
    process.stdout.write(md);
    if (values["no-write"] !== true) {
      // The whole-coild section (bench/coild-export.ts) is that script's: kept as it is.
      const path = join(ROOT, "bench/RESULTS-router-scale.md");
      const kept = existsSync(path) ? markedSection(readFileSync(path, "utf8"), COILD_EXPORT_MARKERS) : undefined;
      writeFileSync(path, kept === undefined ? md : `${md}\n${kept}\n`);
    }
  } finally {
    clients.destroy();
    await cp.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface ReportInput {
  readonly nodesMs: number;
  readonly blocksMs: number;
  readonly runs: readonly RouterRun[];
  readonly exports: readonly (ExportResult & { readonly impl: "ours" | "go"; readonly round: number })[];
  readonly loadBefore: string;
  readonly loadAfter: string;
  readonly otherBefore: ReturnType<typeof otherLoad>;
  readonly otherAfter: ReturnType<typeof otherLoad>;
  readonly oursVersion: string;
  readonly goVersion: string;
  readonly goPath: string;
}

function report(r: ReportInput): string {
  const by = (impl: "ours" | "go"): RouterRun[] => r.runs.filter((x) => x.impl === impl);
  const med = (impl: "ours" | "go", f: (x: RouterRun) => number): number => median(by(impl).map(f));
  const metrics: [string, (x: RouterRun) => number, number][] = [
    ["start → all routes in the kernel (ms)", (x) => x.startMs, 0],
    ["one block added → its route in the kernel (ms)", (x) => x.addMs, 0],
    ["that block deleted → its route gone (ms)", (x) => x.delMs, 0],
    ["CPU of the process until converged (s)", (x) => x.atStart.cpuS, 2],
    ["CPU of its child processes until converged (s)", (x) => x.atStart.childCpuS, 2],
    ["RSS at convergence (MiB)", (x) => x.atStart.rssMiB, 0],
    ["RSS of its child processes at convergence (MiB)", (x) => x.atStart.childRssMiB, 0],
    ["peak RSS, VmHWM, after the change (MiB)", (x) => x.atEnd.hwmMiB, 0],
    ["RSS after the change (MiB)", (x) => x.atEnd.rssMiB, 0],
    ["CPU total after the change, process + children (s)", (x) => x.atEnd.cpuS + x.atEnd.childCpuS, 2],
  ];
  const routes = r.runs[0]?.routes ?? 0;
  const loaded = Number(/load average: ([\d.]+)/.exec(r.loadAfter)?.[1] ?? 0) > cpus().length;
  const cmd = `npm run bench:router -- --nodes=${NODES} --blocks-per-node=${PER_NODE} --rounds=${ROUNDS} --export-blocks=${EXPORT_BLOCKS}`;
  return [
    "# coil-router at scale (issue 9, P7)",
    "",
    `${new Date().toISOString()} · command: \`${cmd}\` (as root; bench/router-scale.ts)`,
    "",
    `${loaded ? "**Loaded machine**: the load average was above the core count" : "Machine"} (${cpus().length} × ${cpus()[0]?.model ?? "?"}); other processes`,
    "shared it (below). Compare the two implementations with each other (interleaved rounds, same API server and objects),",
    "not these absolute figures with an idle machine.",
    "",
    `- \`uptime\` before: \`${r.loadBefore}\`; runnable/total tasks ${r.otherBefore.runnable}; stress-ng: ${r.otherBefore.stress.length === 0 ? "none" : r.otherBefore.stress.map((l) => `\`${l}\``).join(", ")}`,
    `- \`uptime\` after: \`${r.loadAfter}\`; runnable/total tasks ${r.otherAfter.runnable}; stress-ng: ${r.otherAfter.stress.length === 0 ? "none" : r.otherAfter.stress.map((l) => `\`${l}\``).join(", ")}`,
    ...(LOAD_NOTE === "" ? [] : [`- ${LOAD_NOTE}`]),
    "",
    "## Setup",
    "",
    `- One kube-apiserver + etcd (scripts/envtest, ~/.cache/coil-envtest) with Coil's CRDs; ${NODES} Nodes (one IPv4 InternalIP each,`,
    `  10.100.0.1 + i) and ${NODES * PER_NODE} AddressBlocks (${PER_NODE} per node, /27s of 10.128.0.0/10, labelled`,
    "  `coil.cybozu.com/node`). Created 32 requests at a time: Nodes " +
      `${(r.nodesMs / 1000).toFixed(1)} s (status in the CREATE, as the kubelet does), AddressBlocks **${(r.blocksMs / 1000).toFixed(1)} s** ` +
      `(${((NODES * PER_NODE) / (r.blocksMs / 1000)).toFixed(0)}/s).`,
    `- Each run: a fresh network namespace as \`${SELF_NODE}\` (an \`eth0\` with 10.100.0.1/16, a veth whose peer stays in the namespace, so every node's InternalIP is`,
    "  on-link), the API server relayed into it at the kubeconfig's address (test/helpers/api-relay.ts: one relay process",
    "  per run, not counted), `COIL_NODE_NAME` and `KUBECONFIG` in the environment, `--metrics-addr=127.0.0.1:9388",
    "  --health-addr=127.0.0.1:9389`, other flags at their defaults (`--protocol-id 31`, `--update-interval 10m`). Logs go to a file.",
    `- ours: \`node ${values.ours.replace(ROOT, "")}\` (the bundled dist bin), \`${r.oursVersion}\`, Node ${process.version}.`,
    `- Go: Coil v2's \`coil-router\` built from the v2.15.0 module by \`scripts/coil-v2/build.sh coil-router\` (${r.goPath.replace(process.env["HOME"] ?? "~", "~")}), \`${r.goVersion}\`.`,
    `- Expected: ${routes} routes (every block except ${SELF_NODE}'s own ${PER_NODE}) in the main table, \`proto 31\`, \`via\` the owner's`,
    "  InternalIP. Convergence = `ip -4 route show table main proto 31` in the namespace lists that many (probed every 100 ms",
    "  by spawning `ip`, which dumps every route: the resolution is ~100 ms plus one dump), then the full dst→gateway set is",
    "  compared (not timed).",
    `- Change: one new AddressBlock for ${MOVED_TO} created (clock from the CREATE call) until \`ip route get fibmatch <addr>\``,
    "  returns the block's `proto 31` route (one lookup, probed every 20 ms); then deleted until the lookup fails. RSS/CPU from /proc/<pid>/status (VmRSS, VmHWM) and /proc/<pid>/stat (utime+stime;",
    "  children = cutime+cstime of waited-for children plus utime+stime and VmRSS of live descendants: ours keeps `ip -batch`",
    "  co-processes for observe/apply, Go uses netlink in-process). `nsenter` execs",
    `  the program, so the pid is the router itself (comm: ${[...new Set(r.runs.map((x) => x.comm))].join(", ")}).`,
    `- Rounds interleaved (${ROUNDS} each; round 1 ours first, round 2 Go first, …). Medians below; every run listed after.`,
    "- What one sync does. Ours: Nodes and AddressBlocks from informer caches (list+watch; converted once per cached object),",
    "  `ip route show table main proto 31` of each family (IPv4 through the `ip -j -batch` co-process that also applies, IPv6",
    "  through an `ip -6` one: no process spawned per sync), plan, all changes written at once to the co-process. Go: LIST",
    "  Nodes uncached (one request), AddressBlocks from controller-runtime's cache, one netlink dump filtered by protocol 31,",
    "  one netlink RouteAdd/RouteDel per change, one log line per added route.",
    "",
    "## coil-router: medians",
    "",
    "| | ours | Go (Coil v2.15.0) | ours / Go |",
    "|---|---|---|---|",
    ...metrics.map(([label, f, d]) => {
      const a = med("ours", f);
      const b = med("go", f);
      return `| ${label} | ${a.toFixed(d)} | ${b.toFixed(d)} | ${b === 0 ? "—" : (a / b).toFixed(2)} |`;
    }),
    "",
    "## coil-router: every run",
    "",
    "| round | impl | start ms | add ms | delete ms | CPU s at start (+children) | RSS MiB at start | peak RSS MiB | CPU s at end (+children) |",
    "|---|---|---|---|---|---|---|---|---|",
    ...r.runs.map((x) =>
      `| ${x.round} | ${x.impl} | ${x.startMs.toFixed(0)} | ${x.addMs.toFixed(0)} | ${x.delMs.toFixed(0)} | ${x.atStart.cpuS.toFixed(2)} (+${x.atStart.childCpuS.toFixed(2)}) | ${x.atStart.rssMiB.toFixed(0)} | ${x.atEnd.hwmMiB.toFixed(0)} | ${x.atEnd.cpuS.toFixed(2)} (+${x.atEnd.childCpuS.toFixed(2)}) |`,
    ),
    "",
    `## coild: ${EXPORT_BLOCKS} of its own blocks into table 119`,
    "",
    "The code path coild uses, side by side with Go's, on its own; the whole coild (1,000 pods, each its own block, restarts",
    `with and without table 119) is in "${COILD_SECTION_TITLE}" below (bench/coild-export.ts). Ours: \`RouteExport\``,
    "(adapters/daemon/node/route-export.ts) with the real kernel executor (`realKernel()`: `ip -j` observe, `ip -batch`",
    "co-processes), table 119, protocol 30, in a child process (`node --import tsx bench/router-scale.ts --export-child=N`).",
    "Go: Coil v2.15.0's `pkg/nodenet.RouteExporter` (netlink), what Coil's coild calls, in bench/go's `TestRouteExportTiming`",
    "(`go test -c`, linked from the module cache). Each run in a fresh namespace, interleaved. Clock: around one sync call",
    "(observe the table, plan, apply): empty table",
    "→ N routes, then N+1 blocks (one added), then a sync with nothing to do; the parent then checks that table 119 holds N+1",
    "`proto 30` routes. CPU: the three syncs only (not the process start); ours + its `ip` co-processes. RSS: the whole",
    "child at the end, not comparable with coild's (ours is a tsx-loaded Node; Go's is the max RSS of a test binary that links",
    "Coil's packages), so it is listed per run but not compared. Per sync ours reads table 119 only (`ip route show table 119`",
    "per family through two `ip -batch` co-processes, started at the first sync: that sync includes their two spawns) and",
    "writes all changes at once to one of them; Go dumps table 119 over netlink and adds/deletes route by route.",
    "",
    "| | ours | Go (Coil v2.15.0) | ours / Go |",
    "|---|---|---|---|",
    ...([
      ["empty → N routes (ms)", (e: ExportResult) => e.fullMs, 0],
      ["N → N+1 routes (ms)", (e: ExportResult) => e.addOneMs, 0],
      ["sync with nothing to change (ms)", (e: ExportResult) => e.noopMs, 0],
      ["CPU of the three syncs, process + children (s)", (e: ExportResult) => e.cpuS + e.childCpuS, 2],
    ] as const).map(([label, f, d]) => {
      const a = median(r.exports.filter((e) => e.impl === "ours").map(f));
      const b = median(r.exports.filter((e) => e.impl === "go").map(f));
      return `| ${label} (median) | ${a.toFixed(d)} | ${b.toFixed(d)} | ${b === 0 ? "—" : (a / b).toFixed(2)} |`;
    }),
    "",
    "| round | impl | empty → N (ms) | N → N+1 (ms) | no-op (ms) | CPU s (+children) | RSS MiB |",
    "|---|---|---|---|---|---|---|",
    ...r.exports.map((e) => `| ${e.round} | ${e.impl} | ${e.fullMs.toFixed(0)} | ${e.addOneMs.toFixed(0)} | ${e.noopMs.toFixed(0)} | ${e.cpuS.toFixed(2)} (+${e.childCpuS.toFixed(2)}) | ${e.rssMiB.toFixed(0)} |`),
    "",
    "BIRD's share (table 119 → ToR for 1,000 blocks) is in bench/RESULTS-routing.md (bench/bird-tor.ts).",
    "",
  ].join("\n");
}

await main();
