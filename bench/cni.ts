/**
 * `npm run bench:cni` — Coil's installed `coil` executable + a real `coild` (local store) against
 * Debian's reference `ptp` + `host-local`, on the same workload, in ONE run, in two load phases:
 * "quiet" (the machine as it is) and "hog" (`stress-ng --cpu 2` started by this script), with
 *
 * - serial ADD then DEL latency (p50/p90, n per case) for IPv4 and dual stack;
 * - a burst of 100 concurrent IPv4 ADDs (wall time), for both plugins;
 * - coild's RSS (`/proc/<pid>/status` VmRSS) with 110 pods attached.
 *
 * Interleaving: within a slice the cases alternate call by call (round robin), so the cases compared
 * see the same load. The phases are cut into `--rounds` slices (default 2: halves) that alternate,
 * quiet → hog → quiet → hog, each slice doing its share of the n serial calls and one burst per
 * plugin (the burst order alternates too); a phase's figures merge its slices. So a drift of the
 * machine's own load during the run (other jobs) hits both phases alike instead of one. The hog is
 * started for its slice only (`stress-ng --cpu 2 --timeout <s>`, argv, its PID recorded; the slice
 * starts once its 2 workers run), stopped by that PID when the slice ends (its workers by their
 * recorded PIDs if they outlive it), and a hog that ended before its slice fails the run. Load
 * average is recorded at the start and end of each slice.
 *
 * Output: stdout, and (unless `--no-write`) `RESULTS-cni.md` with per-phase tables (ratios ours /
 * reference, the issue's targets met/missed) plus `cni-latency.svg` (ECDFs of ADD and DEL per phase,
 * bench/plot-svg.ts) in `--out-dir` (default bench/); notes below the marker in an existing
 * RESULTS-cni.md are kept.
 *
 * Everything runs inside a dedicated test "host" netns (coild is started there through
 * `nsenter --net=`, both plugins are invoked there through `nsenter`), so the machine's own routes,
 * rules and sysctls are never touched (ptp enables forwarding in the netns it runs in). Plugins are
 * invoked as a runtime does: argv array, `CNI_*` environment, netconf on stdin. Results go to stdout
 * and `RESULTS-cni.md` (see Output). Everything created is removed at the end (also on failure).
 *
 * Usage: `npm run bench:cni [-- --phases=quiet,hog --rounds=2 --n=30 --burst=100 --pods=110
 * --hog-timeout=SECONDS --out-dir=DIR --no-write --only=daemon|rss|exec]`
 * (`--only=daemon` measures only coild's daemon-side latency over the fast path, no executables;
 * `--coild-root=DIR` bundles coild from another source tree, e.g. an older commit for before/after).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { addNodeAddresses, startCoildInNetns, terminateProcess, TEST_NODE_V4, TEST_NODE_V6 } from "../test/helpers/test-host.js";
import { CASES, latencyPanels, PHASES, pct, phaseMarkdown, targetSummary, type Phase, type PhaseResult, type Row, type SliceLoad } from "./cni-report.js";
import { ecdfSvg } from "./plot-svg.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const REF_DIR = "/usr/lib/cni";
const HOST_V4 = TEST_NODE_V4;
const HOST_V6 = TEST_NODE_V6;

const { values: opt } = parseArgs({
  options: {
    n: { type: "string", default: "30" },
    burst: { type: "string", default: "100" },
    pods: { type: "string", default: "110" },
    only: { type: "string" },
    phases: { type: "string", default: PHASES.join(",") },
    rounds: { type: "string", default: "2" },
    "hog-timeout": { type: "string" },
    "out-dir": { type: "string", default: fileURLToPath(new URL(".", import.meta.url)) },
    "coild-root": { type: "string" },
    "coild-node-flags": { type: "string", default: "" },
    "no-write": { type: "boolean", default: false },
  },
});
const N = Number(opt.n);
const BURST = Number(opt.burst);
const PODS = Number(opt.pods);
const ROUNDS = Number(opt.rounds);
const PHASE_LIST = (opt.phases ?? "").split(",").filter((x) => x !== "");
const COILD_NODE_FLAGS = (opt["coild-node-flags"] ?? "").split(" ").filter((x) => x !== "");
const OUT_DIR = resolve(opt["out-dir"] ?? ".");

/** What is wrong with the flags, or undefined; checked before anything is created. */
function badFlags(): string | undefined {
  const count = (name: string, v: number, min: number): string | undefined => (Number.isInteger(v) && v >= min ? undefined : `--${name} must be an integer ≥ ${min}`);
  const unknown = PHASE_LIST.filter((p) => !(PHASES as readonly string[]).includes(p));
  if (PHASE_LIST.length === 0 || unknown.length > 0 || new Set(PHASE_LIST).size !== PHASE_LIST.length) {
    return `--phases must list distinct phases of ${PHASES.join(", ")} separated by commas (got "${opt.phases ?? ""}")`;
  }
  const hogTimeout = opt["hog-timeout"];
  return (
    count("n", N, 1) ??
    count("burst", BURST, 1) ??
    count("pods", PODS, 0) ??
    count("rounds", ROUNDS, 1) ??
    (ROUNDS > N ? `--rounds (${ROUNDS}) must not exceed --n (${N}): every slice needs at least one call per case` : undefined) ??
    (hogTimeout === undefined ? undefined : count("hog-timeout", Number(hogTimeout), 10)) ??
    (opt.only === undefined || ["daemon", "rss", "exec"].includes(opt.only) ? undefined : `--only must be daemon, rss or exec (got "${opt.only}")`)
  );
}

type Plugin = "coil" | "ref";
type Stack = "v4" | "dual";

/** A `stress-ng --cpu 2` started by this script: its PID and its workers' PIDs. */
interface Hog {
  readonly child: ChildProcess;
  readonly workers: readonly number[];
}

interface Ctx {
  readonly tmp: string;
  readonly bin: string;
  readonly host: string;
  readonly hostPath: string;
  readonly sock: string;
  readonly netns: Set<string>;
  coild?: ChildProcess;
  hog?: Hog | undefined;
}

const sh = (argv: readonly string[]): string => execFileSync(argv[0] ?? "", argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] }).toString();
const hex = (): string => randomBytes(4).toString("hex");
const until = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function addNetns(c: Ctx, prefix: string): string {
  const name = `${prefix}-${hex()}`;
  sh(["ip", "netns", "add", name]);
  c.netns.add(name);
  sh(["ip", "-n", name, "link", "set", "lo", "up"]);
  return name;
}

function delNetns(c: Ctx, name: string): void {
  if (!c.netns.delete(name)) return;
  try {
    sh(["ip", "netns", "del", name]);
  } catch {
    /* already gone */
  }
}

const poolsYaml = (): string =>
  [
    { name: "default", spec: { blockSizeBits: 5, subnets: [{ ipv4: "10.100.0.0/16", ipv6: "fd02::/112" }] } },
    { name: "v4", spec: { blockSizeBits: 5, subnets: [{ ipv4: "10.101.0.0/16" }] } },
  ]
    .map((p) => JSON.stringify({ apiVersion: "coil.cybozu.com/v2", kind: "AddressPool", metadata: { name: p.name }, spec: p.spec }))
    .join("\n---\n");

function startCoild(c: Ctx): Promise<ChildProcess> {
  writeFileSync(join(c.tmp, "pools.yaml"), poolsYaml());
  writeFileSync(join(c.tmp, "ns-pools.yaml"), "bench-v4: v4\n");
  const flags = [`--socket=${c.sock}`, `--state-dir=${join(c.tmp, "state")}`, `--pools=${join(c.tmp, "pools.yaml")}`, `--namespace-pools=${join(c.tmp, "ns-pools.yaml")}`,
    "--metrics-addr=0", "--health-addr=0", `--node-ipv4=${HOST_V4}`, `--node-ipv6=${HOST_V6}`, "--enable-egress=false"];
  const command = [...COILD_NODE_FLAGS, join(c.tmp, "coild", "main.mjs")];
  return startCoildInNetns({ netnsPath: c.hostPath, flags, nodeName: "bench", command, keepLogChars: 20_000 }).then((p) => p.child);
}

function netconf(c: Ctx, p: Plugin, stack: Stack): string {
  if (p === "coil") return JSON.stringify({ cniVersion: "1.0.0", name: "k8s-pod-network", type: "coil", socket: c.sock });
  const ranges = [[{ subnet: "10.200.0.0/16" }], ...(stack === "dual" ? [[{ subnet: "fd20::/64" }]] : [])];
  return JSON.stringify({ cniVersion: "1.0.0", name: `ref-${stack}`, type: "ptp", ipMasq: false, ipam: { type: "host-local", ranges, dataDir: join(c.tmp, "host-local") } });
}

interface Call {
  readonly code: number;
  readonly ms: number;
  readonly out: string;
}

/** Run a plugin as a runtime does: argv, CNI_* env, netconf on stdin, inside the test host netns. */
function invoke(c: Ctx, p: Plugin, stack: Stack, cmd: "ADD" | "DEL", id: string, ns: string): Promise<Call> {
  const exe = join(c.bin, p === "coil" ? "coil" : "ptp");
  const env = {
    PATH: process.env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin",
    CNI_COMMAND: cmd,
    CNI_CONTAINERID: id,
    CNI_NETNS: `/var/run/netns/${ns}`,
    CNI_IFNAME: "eth0",
    CNI_PATH: c.bin,
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${stack === "v4" ? "bench-v4" : "bench-dual"};K8S_POD_NAME=${id}`,
  };
  const t0 = performance.now();
  const child = spawn("nsenter", [`--net=${c.hostPath}`, "--", exe], { env, stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (out += b.toString()));
  child.stdin.on("error", () => undefined);
  child.stdin.end(netconf(c, p, stack));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code: code ?? -1, ms: performance.now() - t0, out })));
}

function must(r: Call, what: string): number {
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}): ${r.out}`);
  return r.ms;
}

/** One JSON-line call to coild's fast path (daemon-side latency, no executable start-up). */
function fastCall(c: Ctx, method: "Add" | "Del", id: string, ns: string, stack: Stack): Promise<number> {
  const pod = stack === "v4" ? "bench-v4" : "bench-dual";
  const args = { containerId: id, netns: `/var/run/netns/${ns}`, ifname: "eth0", args: { K8S_POD_NAMESPACE: pod, K8S_POD_NAME: id }, path: "", stdinData: "", ips: [], interfaces: {} };
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const s = connect(c.sock);
    let out = "";
    s.on("data", (b: Buffer) => (out += b.toString()));
    s.on("error", reject);
    s.on("close", () => ((JSON.parse(out || "{}") as { ok?: boolean }).ok === true ? resolve(performance.now() - t0) : reject(new Error(`${method} ${id}: ${out}`))));
    s.write(`${JSON.stringify({ v: 1, method, args })}\n`);
  });
}

type Case = readonly [Plugin, Stack];

const caseLabel = ([p, s]: Case): string => (p === "coil" ? (s === "v4" ? CASES.coilV4 : CASES.coilDual) : s === "v4" ? CASES.refV4 : CASES.refDual);

/**
 * `n` serial ADDs then `n` serial DELs of several cases, interleaved call by call (round robin), so
 * that the cases compared with each other see the same machine load and the same cache warmth.
 */
async function serial(c: Ctx, cases: readonly Case[], n: number): Promise<Row[]> {
  const key = ([p, s]: Case): string => `${p}-${s}`;
  const pods = Array.from({ length: n }, (_, i) => cases.map((k) => ({ k, id: `${key(k)}-${i}-${hex()}`, ns: addNetns(c, `cb-${k[0]}`) })));
  const add = new Map<string, number[]>(cases.map((k) => [key(k), []]));
  const del = new Map<string, number[]>(cases.map((k) => [key(k), []]));
  for (const round of pods) for (const x of round) add.get(key(x.k))?.push(must(await invoke(c, x.k[0], x.k[1], "ADD", x.id, x.ns), `${key(x.k)} ADD`));
  for (const round of pods) for (const x of round) del.get(key(x.k))?.push(must(await invoke(c, x.k[0], x.k[1], "DEL", x.id, x.ns), `${key(x.k)} DEL`));
  for (const round of pods) for (const x of round) delNetns(c, x.ns);
  return cases.map((k) => ({ label: caseLabel(k), add: add.get(key(k)) ?? [], del: del.get(key(k)) ?? [] }));
}

const daemonLabel = (stack: Stack): string => `coild daemon-side ${stack === "v4" ? "IPv4" : "dual stack"} (fast path, no executable)`;

async function daemonSide(c: Ctx, stack: Stack, n: number): Promise<Row> {
  const pods = Array.from({ length: n }, (_, i) => ({ id: `d-${stack}-${i}-${hex()}`, ns: addNetns(c, "cb-d") }));
  const add: number[] = [];
  const del: number[] = [];
  for (const x of pods) add.push(await fastCall(c, "Add", x.id, x.ns, stack));
  for (const x of pods) del.push(await fastCall(c, "Del", x.id, x.ns, stack));
  for (const x of pods) delNetns(c, x.ns);
  return { label: daemonLabel(stack), add, del };
}

/** `count` concurrent IPv4 ADDs; wall time. The pods stay (for the RSS reading) until `release`. */
async function burst(c: Ctx, p: Plugin, count: number): Promise<{ ms: number; release: () => Promise<void> }> {
  const pods = Array.from({ length: count }, (_, i) => ({ id: `${p}-burst-${i}-${hex()}`, ns: addNetns(c, `cb-${p}b`) }));
  const t0 = performance.now();
  const rs = await Promise.all(pods.map((x) => invoke(c, p, "v4", "ADD", x.id, x.ns)));
  const ms = performance.now() - t0;
  rs.forEach((r, i) => must(r, `${p} burst ADD ${i}`));
  const release = async (): Promise<void> => {
    for (const x of pods) must(await invoke(c, p, "v4", "DEL", x.id, x.ns), `${p} burst DEL`);
    for (const x of pods) delNetns(c, x.ns);
  };
  return { ms, release };
}

/** Where the executables' time goes: `n` DELs with no kernel work, and a burst of VERSION calls (no daemon). */
async function diagnostics(c: Ctx, n: number): Promise<{ noop: Record<Plugin, number[]>; version: Record<Plugin, number> }> {
  const ns = addNetns(c, "cb-x");
  const noop: Record<Plugin, number[]> = { coil: [], ref: [] };
  for (let i = 0; i < n; i++) for (const p of ["coil", "ref"] as const) noop[p].push(must(await invoke(c, p, "v4", "DEL", `unknown-${i}`, ns), `${p} DEL`));
  delNetns(c, ns);
  const version = async (p: Plugin): Promise<number> => {
    const exe = join(c.bin, p === "coil" ? "coil" : "ptp");
    const one = (): Promise<void> =>
      new Promise((resolve) => {
        const ch = spawn(exe, [], { env: { CNI_COMMAND: "VERSION", PATH: process.env["PATH"] ?? "" }, stdio: ["pipe", "ignore", "ignore"] });
        ch.stdin.on("error", () => undefined);
        ch.stdin.end('{"cniVersion":"1.0.0","name":"x","type":"x"}');
        ch.on("close", () => resolve());
      });
    const t0 = performance.now();
    await Promise.all(Array.from({ length: BURST }, one));
    return performance.now() - t0;
  };
  return { noop, version: { coil: await version("coil"), ref: await version("ref") } };
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? NaN) / 1024;
}

/** `stress-ng --version` runs, or a message saying how to get it. */
function stressNgMissing(): string | undefined {
  const r = spawnSync("stress-ng", ["--version"], { encoding: "utf8" });
  if (r.error === undefined && r.status === 0) return undefined;
  const why = r.error !== undefined ? r.error.message : `exit ${r.status ?? r.signal ?? "?"}`;
  return `bench:cni: the "hog" phase runs \`stress-ng --cpu 2\`, which is not runnable here (${why}). Install it (Debian: apt-get install stress-ng) or run only the quiet phase: npm run bench:cni -- --phases=quiet`;
}

/** Parent PID and command name of a process, from /proc/<pid>/stat (undefined once it is gone). */
function procStat(pid: number): { ppid: number; comm: string } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    const close = s.lastIndexOf(")");
    return { comm: s.slice(s.indexOf("(") + 1, close), ppid: Number(s.slice(close + 2).split(" ")[1]) };
  } catch {
    return undefined;
  }
}

const childrenOf = (pid: number): number[] =>
  readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((p) => procStat(p)?.ppid === pid);

/**
 * Start `stress-ng --cpu 2 --timeout <s>` (the timeout is a safety net should this script die) and
 * wait until its two CPU workers run; their PIDs are recorded so that {@link stopHog} can make sure
 * they are gone.
 */
async function startHog(timeoutS: number): Promise<Hog> {
  const child = spawn("stress-ng", ["--cpu", "2", "--timeout", `${timeoutS}s`, "--quiet"], { stdio: "ignore" });
  const pid = child.pid;
  if (pid === undefined) throw new Error("stress-ng did not start");
  const t0 = performance.now();
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`stress-ng exited at once (${child.exitCode ?? child.signalCode})`);
    const workers = childrenOf(pid);
    if (workers.length >= 2) return { child, workers };
    if (performance.now() - t0 > 15_000) {
      await terminateProcess(child);
      throw new Error(`stress-ng (PID ${pid}) did not start its 2 CPU workers within 15 s`);
    }
    await until(50);
  }
}

/** Stop the hog by its PID, then wait for its recorded workers to be gone (SIGKILL to those PIDs after 10 s). */
async function stopHog(h: Hog): Promise<void> {
  await terminateProcess(h.child);
  const alive = (): number[] => h.workers.filter((w) => procStat(w)?.comm.startsWith("stress-ng") === true);
  const t0 = performance.now();
  while (alive().length > 0) {
    if (performance.now() - t0 > 10_000) {
      for (const w of alive()) {
        try {
          process.kill(w, "SIGKILL");
        } catch {
          /* gone meanwhile */
        }
      }
    }
    await until(50);
  }
}

/** What one slice measured (merged into its phase's {@link PhaseResult}). */
interface Slice {
  readonly rows: Row[];
  readonly burst: Record<Plugin, number>;
  readonly rss: number;
  readonly diag: Awaited<ReturnType<typeof diagnostics>>;
  readonly load: SliceLoad;
}

/** One slice of a phase: `n` serial calls per case, one burst per plugin (`refFirst` swaps their order), diagnostics. */
async function slice(c: Ctx, n: number, refFirst: boolean): Promise<Omit<Slice, "load">> {
  const rows: Row[] = [];
  process.stderr.write(`  serial: coil IPv4, reference IPv4, coil dual stack, interleaved (n=${n})…\n`);
  rows.push(...(await serial(c, [["coil", "v4"], ["ref", "v4"], ["coil", "dual"]], n)));
  process.stderr.write(`  serial: reference dual stack (n=${n}; it waits ~2 s per ADD for IPv6 DAD)…\n`);
  rows.push(...(await serial(c, [["ref", "dual"]], n)));
  rows.push(await daemonSide(c, "v4", n), await daemonSide(c, "dual", n));
  process.stderr.write(`  bursts of ${BURST} (${refFirst ? "reference first" : "coil first"})…\n`);
  const refBurst = async (): Promise<number> => {
    const rb = await burst(c, "ref", BURST);
    await rb.release();
    return rb.ms;
  };
  const ref0 = refFirst ? await refBurst() : NaN;
  const cb = await burst(c, "coil", BURST);
  const extraPods = await burst(c, "coil", Math.max(0, PODS - BURST));
  const rss = rssMb(c.coild?.pid ?? -1);
  await extraPods.release();
  await cb.release();
  const ref = refFirst ? ref0 : await refBurst();
  const diag = await diagnostics(c, n);
  return { rows, burst: { coil: cb.ms, ref }, rss, diag };
}

function merge(phase: Phase, slices: readonly Slice[]): PhaseResult {
  const labels = [CASES.coilV4, CASES.refV4, CASES.coilDual, CASES.refDual, daemonLabel("v4"), daemonLabel("dual")];
  const pick = (label: string, verb: "add" | "del"): number[] => slices.flatMap((s) => s.rows.find((r) => r.label === label)?.[verb] ?? []);
  return {
    phase,
    rows: labels.map((label) => ({ label, add: pick(label, "add"), del: pick(label, "del") })),
    bursts: { coil: slices.map((s) => s.burst.coil), ref: slices.map((s) => s.burst.ref) },
    rss: slices.map((s) => s.rss),
    noopDel: { coil: slices.flatMap((s) => s.diag.noop.coil), ref: slices.flatMap((s) => s.diag.noop.ref) },
    version: { coil: slices.map((s) => s.diag.version.coil), ref: slices.map((s) => s.diag.version.ref) },
    loads: slices.map((s) => s.load),
  };
}

/** n split into `parts` near-equal shares (the first ones take the remainder). */
const shares = (n: number, parts: number): number[] => Array.from({ length: parts }, (_, i) => Math.floor(n / parts) + (i < n % parts ? 1 : 0));

function setup(): Ctx {
  const tmp = mkdtempSync(join(tmpdir(), "coil-bench-"));
  const bin = join(tmp, "bin");
  sh(["mkdir", "-p", bin]);
  const coilBin = join(ROOT, "dist/bin/coil");
  if (!existsSync(coilBin)) {
    process.stderr.write("building dist/bin/coil (scripts/build-cni.sh --bun-only)…\n");
    execFileSync("sh", [join(ROOT, "scripts/build-cni.sh"), "--bun-only"], { stdio: "inherit" });
  }
  copyFileSync(coilBin, join(bin, "coil"));
  sh(["chmod", "0755", join(bin, "coil")]);
  for (const ref of ["ptp", "host-local"]) {
    if (!existsSync(join(REF_DIR, ref))) throw new Error(`${REF_DIR}/${ref} missing: apt-get install containernetworking-plugins`);
    copyFileSync(join(REF_DIR, ref), join(bin, ref));
    sh(["chmod", "0755", join(bin, ref)]);
  }
  // coild bundled by esbuild (no tsx loader in the process) and run by plain node; code splitting keeps
  // lazily imported modules (the Kubernetes store) in chunks that a --store=local coild never loads.
  execFileSync(join(ROOT, "node_modules/.bin/esbuild"), [join(opt["coild-root"] ?? ROOT, "adapters/daemon/main.ts"), "--bundle", "--splitting", "--platform=node",
    "--target=node20", "--format=esm", `--outdir=${join(tmp, "coild")}`, "--out-extension:.js=.mjs", "--log-level=error",
    "--banner:js=import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);"]);
  const c: Ctx = { tmp, bin, host: "", hostPath: "", sock: join(tmp, "coild.sock"), netns: new Set() };
  const host = addNetns(c, "cb-host");
  addNodeAddresses(host, { v4: HOST_V4, v6: HOST_V6 });
  return { ...c, host, hostPath: `/var/run/netns/${host}` };
}

async function cleanup(c: Ctx): Promise<void> {
  if (c.hog !== undefined) await stopHog(c.hog);
  c.hog = undefined;
  await terminateProcess(c.coild);
  for (const ns of [...c.netns]) delNetns(c, ns);
  rmSync(c.tmp, { recursive: true, force: true });
}

const NOTES_MARKER = "<!-- notes: kept by bench/cni.ts -->";
const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : "—");

function rowsTable(rows: readonly Row[]): string {
  const lines = ["| case | n | ADD p50 ms | ADD p90 ms | DEL p50 ms | DEL p90 ms |", "|---|---|---|---|---|---|"];
  for (const r of rows) lines.push(`| ${r.label} | ${r.add.length} | ${f1(pct(r.add, 50))} | ${f1(pct(r.add, 90))} | ${f1(pct(r.del, 50))} | ${f1(pct(r.del, 90))} |`);
  return lines.join("\n");
}

async function main(): Promise<number> {
  const bad = badFlags();
  if (bad !== undefined) {
    process.stderr.write(`bench:cni: ${bad}\n`);
    return 2;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write("bench:cni needs root (network namespaces, veths).\n");
    return 2;
  }
  const phases = PHASES.filter((p) => PHASE_LIST.includes(p));
  if (opt.only === undefined && phases.includes("hog")) {
    const missing = stressNgMissing();
    if (missing !== undefined) {
      process.stderr.write(`${missing}\n`);
      return 2;
    }
  }
  const started = new Date().toISOString();
  const c = setup();
  const stopSignal = (): void => void cleanup(c).then(() => process.exit(130));
  process.once("SIGINT", stopSignal);
  process.once("SIGTERM", stopSignal);
  try {
    c.coild = await startCoild(c);
    const rssIdle = rssMb(c.coild.pid ?? -1);
    if (opt.only === "rss") {
      const pods = Array.from({ length: PODS }, (_, i) => ({ id: `r-${i}-${hex()}`, ns: addNetns(c, "cb-r") }));
      const rss0 = rssMb(c.coild.pid ?? -1);
      const t0 = performance.now();
      await Promise.all(pods.map((x) => fastCall(c, "Add", x.id, x.ns, "v4")));
      const wall = performance.now() - t0;
      const rss = rssMb(c.coild.pid ?? -1);
      for (const x of pods) await fastCall(c, "Del", x.id, x.ns, "v4");
      process.stdout.write(`coild VmRSS idle ${f1(rss0)} MB, with ${PODS} pods ${f1(rss)} MB; ${PODS} concurrent daemon-side ADDs ${f1(wall)} ms\n`);
      return 0;
    }
    if (opt.only === "exec") {
      const ns = addNetns(c, "cb-x");
      const xs: number[] = [];
      for (let i = 0; i < N; i++) xs.push(must(await invoke(c, "coil", "v4", "DEL", `nothing-${i}`, ns), "coil DEL"));
      const ys: number[] = [];
      for (let i = 0; i < N; i++) ys.push(must(await invoke(c, "ref", "v4", "DEL", `nothing-${i}`, ns), "ref DEL"));
      process.stdout.write(`DEL of an unknown container (no kernel work): coil p50 ${f1(pct(xs, 50))} ms, ptp p50 ${f1(pct(ys, 50))} ms\n`);
      return 0;
    }
    if (opt.only === "daemon") {
      process.stdout.write(`${rowsTable([await daemonSide(c, "v4", N), await daemonSide(c, "dual", N)])}\n`);
      return 0;
    }
    const ns = shares(N, ROUNDS);
    const slices = new Map<Phase, Slice[]>(phases.map((p) => [p, []]));
    for (let r = 0; r < ROUNDS; r++) {
      const n = ns[r] ?? 0;
      for (const phase of phases) {
        process.stderr.write(`round ${r + 1}/${ROUNDS}, phase ${phase} (n=${n})…\n`);
        if (phase === "hog") {
          // A safety net only (the hog is stopped by its PID when the slice ends), so generous: a slice with n = 1
          // and 110 pods took over 190 s under the hog at load average ~19 on 2 cores.
          const timeoutS = opt["hog-timeout"] !== undefined ? Number(opt["hog-timeout"]) : 900 + 10 * n;
          c.hog = await startHog(timeoutS);
        }
        const start = loadavg();
        const s = await slice(c, n, r % 2 === 1);
        const end = loadavg();
        if (c.hog !== undefined) {
          const h = c.hog;
          const early = h.child.exitCode !== null || h.child.signalCode !== null;
          await stopHog(h);
          c.hog = undefined;
          if (early) throw new Error(`stress-ng (PID ${h.child.pid}) ended before its slice did: its figures were not all under the hog; raise --hog-timeout`);
        }
        slices.get(phase)?.push({ ...s, load: { start, end } });
      }
    }
    const results = phases.map((p) => merge(p, slices.get(p) ?? []));
    const shape = { burst: BURST, pods: PODS };
    const body = [`## Targets\n\n${targetSummary(results, shape)}`, ...results.map((r) => phaseMarkdown(r, shape, rssIdle))].join("\n\n");
    process.stdout.write(`${body}\n`);
    if (opt["no-write"] !== true) writeResults(body, results, started, phases);
    return 0;
  } finally {
    await cleanup(c);
  }
}

const SVG_NAME = "cni-latency.svg";

function writeResults(body: string, results: readonly PhaseResult[], started: string, phases: readonly Phase[]): void {
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  const kernel = sh(["uname", "-r"]).trim();
  const order = Array.from({ length: ROUNDS }, () => phases.join(" → ")).join(" → ");
  const text = `# CNI benchmark: coil + coild vs ptp + host-local, quiet and under a CPU hog

- Date: ${started}
- Machine: ${cpus().length} × ${cpu}, Linux ${kernel}, Node ${process.version}
- Command: \`npm run bench:cni\` (\`node --import tsx bench/cni.ts --phases=${phases.join(",")} --rounds=${ROUNDS} --n=${N} --burst=${BURST}\`), n = ${N} per serial case and phase
- Phases: ${phases.map((p) => (p === "quiet" ? "quiet (no hog of our own; other jobs on the machine are not stopped)" : "hog (`stress-ng --cpu 2` for the whole slice, started and stopped by the bench)")).join("; ")}
- Order: ${ROUNDS} round(s), ${order}; each slice does its share of the n serial calls and one burst per plugin
- Plot: [${SVG_NAME}](${SVG_NAME}) (ECDF of ADD and DEL latency, ours vs reference, per phase)

Both plugins run as a container runtime runs them (argv, \`CNI_*\` environment, netconf on stdin), through
\`nsenter --net=<test host netns>\` so that nothing touches the machine's own network. \`coil\` is the
self-contained Bun-compiled executable (\`dist/bin/coil\`, copied into a temp CNI bin dir) talking to a real
\`coild\` (esbuild bundle with code splitting, plain node, \`--store=local\`) that runs in the same test host netns. The reference is
Debian's \`containernetworking-plugins\` \`ptp\` + \`host-local\` (data dir in a temp dir). Within a slice the serial cases coil
IPv4, reference IPv4 and coil dual stack alternate call by call, so the cases compared with each other see the same
machine load; the reference dual stack runs on its own right after (each of its ADDs sleeps ~2 s in DAD). The phases
alternate slice by slice, so a drift in the machine's own load hits both. Bursts: the order of the two plugins alternates
from round to round; a phase's burst figure is the median of its slices. Latencies are wall times measured around the
process, from spawn to exit, including one \`nsenter\` exec for both plugins; percentiles are nearest-rank.

![ADD and DEL latency distributions, ours vs reference, per phase](${SVG_NAME})

${body}
`;
  mkdirSync(OUT_DIR, { recursive: true });
  // Hand-written notes below the marker survive a re-run.
  const path = join(OUT_DIR, "RESULTS-cni.md");
  const old = existsSync(path) ? readFileSync(path, "utf8") : "";
  const at = old.indexOf(NOTES_MARKER);
  writeFileSync(path, at >= 0 ? `${text}\n${old.slice(at)}` : text);
  const loads = results.map((r) => `${r.phase}: load ${r.loads.map((l) => `${l.start[0]?.toFixed(1) ?? "?"}→${l.end[0]?.toFixed(1) ?? "?"}`).join(", ")}`).join("; ");
  const svg = ecdfSvg(latencyPanels(results), {
    title: "CNI ADD/DEL latency: coil + coild vs ptp + host-local (ECDF)",
    subtitle: `${started}, n = ${N} per case and phase; ${loads}`,
  });
  writeFileSync(join(OUT_DIR, SVG_NAME), svg);
  process.stderr.write(`wrote ${path} and ${join(OUT_DIR, SVG_NAME)}\n`);
}

process.exitCode = await main();
