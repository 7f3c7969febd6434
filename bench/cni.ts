/**
 * `npm run bench:cni` — Coil's `coil` CNI executable + a real `coild` (local store) against Debian's
 * reference `ptp` + `host-local`, on the same workload, in ONE run, in two load phases: "quiet" (the
 * machine as it is) and "hog" (`stress-ng --cpu 2` started by this script).
 *
 * Executables: "ours" is `dist/bin/coil-qjs` (QuickJS bytecode in a static Go host; the image installs
 * it as /opt/cni/bin/coil, and it runs here as `coil` in a temp CNI bin dir); the issue's targets are
 * checked on it. `dist/bin/coil` (Bun `--compile` of the same TypeScript) is measured in the same run
 * as a diagnostic case (`coil-bun` in the bin dir, same netconf, same coild). Either is built when
 * missing (`scripts/build-cni.sh --qjs-only` / `--bun-only`). Measured:
 *
 * - serial ADD then DEL latency (p50/p90, n per case): coil-qjs IPv4, ptp IPv4, coil-qjs dual stack
 *   and coil (Bun) IPv4 interleaved call by call; ptp dual stack on its own right after (its ADDs
 *   sleep ~2 s in IPv6 DAD); coild's daemon-side latency over the fast path (no executable);
 * - a burst of `--burst` concurrent IPv4 ADDs (wall time) per executable: coil-qjs, coil (Bun), ptp;
 * - coild's RSS (`/proc/<pid>/status` VmRSS) with `--pods` pods attached (the coil-qjs burst's pods
 *   plus more coil-qjs ADDs);
 * - diagnostics for all three executables: DEL of an unknown container (round trip, no kernel work),
 *   interleaved; a burst of concurrent `VERSION` calls (start-up only, no daemon, no nsenter); and
 *   the CPU (user + sys) per `VERSION` call: `--cpu-calls` serial calls per executable and slice,
 *   interleaved call by call (the order rotating), each executable run by its own long-lived
 *   `/bin/sh` helper that reports its children's cumulative CPU (`cutime` + `cstime` of
 *   `/proc/<sh>/stat`, read by the shell's builtin `read` so no other child is counted) after each
 *   call. The kernel accumulates those in ns and /proc shows them in clock ticks (10 ms), so the
 *   figure is (last − first reading) / calls, exact to 20 ms / calls (0.5 ms at 40 calls); 2
 *   warm-up calls per executable come before the first reading. It includes the shell child's few
 *   instructions between fork and exec, the same for all three.
 *
 * Interleaving: within a slice the cases alternate call by call (round robin), so the cases compared
 * see the same load. The phases are cut into `--rounds` slices (default 2: halves) that alternate,
 * quiet → hog → quiet → hog, each slice doing its share of the n serial calls, one burst per
 * executable (coil-qjs, Bun, ptp in even rounds, ptp, Bun, coil-qjs in odd ones: ours and the
 * reference swap ends, Bun stays in the middle) and the diagnostics (whose executable order rotates
 * too); a phase's figures merge its slices. So a drift of the machine's own load during the run
 * (other jobs) hits both phases alike instead of one. The hog is started for its slice only
 * (`stress-ng --cpu 2 --timeout <s>`, argv, its PID recorded; the slice starts once its 2 workers
 * run), stopped by that PID when the slice ends (its workers by their recorded PIDs if they outlive
 * it), and a hog that ended before its slice fails the run. Load average is recorded at the start
 * and end of each slice.
 *
 * Output: stdout, and (unless `--no-write`) `RESULTS-cni.md` with per-phase tables (ratios ours /
 * reference and Bun / reference, the issue's targets met/missed on coil-qjs, the diagnostics with
 * their ratios to ptp) plus `cni-latency.svg` (ECDFs of ADD and DEL per phase, bench/plot-svg.ts) in
 * `--out-dir` (default bench/); notes below the marker in an existing RESULTS-cni.md are kept.
 *
 * Everything runs inside a dedicated test "host" netns (coild is started there through
 * `nsenter --net=`, the plugins are invoked there through `nsenter`), so the machine's own routes,
 * rules and sysctls are never touched (ptp enables forwarding in the netns it runs in). Plugins are
 * invoked as a runtime does: argv array, `CNI_*` environment, netconf on stdin. Everything created
 * is removed at the end (also on failure).
 *
 * Usage: `npm run bench:cni [-- --phases=quiet,hog --rounds=2 --n=30 --burst=100 --pods=110
 * --cpu-calls=40 --hog-timeout=SECONDS --out-dir=DIR --no-write --only=daemon|rss|exec]`
 * (`--only=daemon` measures only coild's daemon-side latency over the fast path, no executables;
 * `--only=exec` only the unknown-container DEL of the three executables; `--coild-root=DIR` bundles
 * coild from another source tree, e.g. an older commit for before/after; coild starts its commands
 * through dist/bin/coil-spawner as in the image, built when missing, or `--spawner=node` through
 * Node's spawn).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { createInterface } from "node:readline";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { addNodeAddresses, startCoildInNetns, terminateProcess, TEST_NODE_V4, TEST_NODE_V6 } from "../test/helpers/test-host.js";
import { CASES, EXE_NAMES, EXES, latencyPanels, PHASES, pct, phaseMarkdown, targetSummary, type CpuTotal, type Exe, type PerExe, type Phase, type PhaseResult, type Row, type SliceLoad } from "./cni-report.js";
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
    "cpu-calls": { type: "string", default: "40" },
    only: { type: "string" },
    phases: { type: "string", default: PHASES.join(",") },
    rounds: { type: "string", default: "2" },
    "hog-timeout": { type: "string" },
    "out-dir": { type: "string", default: fileURLToPath(new URL(".", import.meta.url)) },
    "coild-root": { type: "string" },
    "coild-node-flags": { type: "string", default: "" },
    spawner: { type: "string", default: "coil-spawner" },
    "no-write": { type: "boolean", default: false },
  },
});
const N = Number(opt.n);
const BURST = Number(opt.burst);
const PODS = Number(opt.pods);
const ROUNDS = Number(opt.rounds);
const CPU_CALLS = Number(opt["cpu-calls"]);
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
    count("cpu-calls", CPU_CALLS, 1) ??
    count("rounds", ROUNDS, 1) ??
    (ROUNDS > N ? `--rounds (${ROUNDS}) must not exceed --n (${N}): every slice needs at least one call per case` : undefined) ??
    (hogTimeout === undefined ? undefined : count("hog-timeout", Number(hogTimeout), 10)) ??
    (opt.only === undefined || ["daemon", "rss", "exec"].includes(opt.only) ? undefined : `--only must be daemon, rss or exec (got "${opt.only}")`)
  );
}

type Plugin = Exe;

/** File name of each executable in the temp CNI bin dir (coil-qjs is `coil`, as the image installs it). */
const EXE_FILE: PerExe<string> = { qjs: "coil", bun: "coil-bun", ref: "ptp" };

/** `xs` rotated left by `k` (the order of the executables changes from call to call and round to round). */
const rotate = <T>(xs: readonly T[], k: number): T[] => [...xs.slice(k % xs.length), ...xs.slice(0, k % xs.length)];
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
    "--metrics-addr=0", "--health-addr=0", `--node-ipv4=${HOST_V4}`, `--node-ipv6=${HOST_V6}`, "--enable-egress=false",
    `--spawner=${opt.spawner === "node" ? "node" : join(ROOT, "dist/bin/coil-spawner")}`];
  const command = [...COILD_NODE_FLAGS, join(c.tmp, "coild", "main.mjs")];
  return startCoildInNetns({ netnsPath: c.hostPath, flags, nodeName: "bench", command, keepLogChars: 20_000 }).then((p) => p.child);
}

function netconf(c: Ctx, p: Plugin, stack: Stack): string {
  if (p !== "ref") return JSON.stringify({ cniVersion: "1.0.0", name: "k8s-pod-network", type: "coil", socket: c.sock });
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
  const exe = join(c.bin, EXE_FILE[p]);
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

function caseLabel([p, s]: Case): string {
  if (p === "bun" && s === "v4") return CASES.bunV4;
  if (p === "bun") return "coil (Bun) + coild dual stack";
  if (p === "qjs") return s === "v4" ? CASES.qjsV4 : CASES.qjsDual;
  return s === "v4" ? CASES.refV4 : CASES.refDual;
}

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

const VERSION_STDIN = '{"cniVersion":"1.0.0","name":"x","type":"x"}';

/**
 * The CPU helper (see the header): `sh -c HELPER coil-bench-cpu <exe> <stdin file>` runs the
 * executable once per line it reads, as `CNI_COMMAND=VERSION`, then prints the exit code and its own
 * /proc stat line, whose `cutime` + `cstime` count the CPU of all its waited-for children so far
 * (only the executable: `read` is a builtin).
 */
const CPU_HELPER = `exe=$1 in=$2
while read -r _; do
  "$exe" <"$in" >/dev/null 2>&1
  rc=$?
  read -r stat </proc/$$/stat
  echo "$rc $stat"
done`;

/** One executable's CPU helper: `call()` runs it once and answers the children's cumulative CPU in clock ticks. */
interface CpuHelper {
  call(): Promise<number>;
  close(): Promise<void>;
}

function cpuHelper(exe: string, stdinFile: string): CpuHelper {
  const ch = spawn("/bin/sh", ["-c", CPU_HELPER, "coil-bench-cpu", exe, stdinFile], {
    env: { PATH: process.env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin", CNI_COMMAND: "VERSION" },
    stdio: ["pipe", "pipe", "inherit"],
  });
  const waiting: { resolve: (line: string) => void; reject: (e: Error) => void }[] = [];
  createInterface({ input: ch.stdout }).on("line", (line) => waiting.shift()?.resolve(line));
  ch.on("close", (code) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`CPU helper for ${exe} exited (${code ?? "signal"})`));
  });
  return {
    call: () =>
      new Promise<string>((resolve, reject) => {
        waiting.push({ resolve, reject });
        ch.stdin.write("\n");
      }).then((line) => {
        const rc = Number(line.slice(0, line.indexOf(" ")));
        if (rc !== 0) throw new Error(`${exe} VERSION exited ${rc}`);
        // Fields after "(comm)": state is field 3, so cutime (16) and cstime (17) are at 13 and 14.
        const f = line.slice(line.lastIndexOf(")") + 2).split(" ");
        return Number(f[13]) + Number(f[14]);
      }),
    close: () =>
      new Promise<void>((resolve) => {
        if (ch.exitCode !== null || ch.signalCode !== null) return resolve();
        ch.on("close", () => resolve());
        ch.stdin.end();
      }),
  };
}

/** `calls` serial `VERSION` calls per executable, interleaved call by call (the order rotating, starting at `turn`); CPU per executable. */
async function versionCpu(c: Ctx, calls: number, turn: number): Promise<PerExe<CpuTotal>> {
  const stdinFile = join(c.tmp, "version.json");
  writeFileSync(stdinFile, VERSION_STDIN);
  const helpers = new Map<Exe, CpuHelper>(EXES.map((e) => [e, cpuHelper(join(c.bin, EXE_FILE[e]), stdinFile)]));
  const first = new Map<Exe, number>();
  const last = new Map<Exe, number>();
  try {
    for (let i = -2; i < calls; i++) {
      for (const e of rotate(EXES, turn + i + 2)) {
        const ticks = await (helpers.get(e) as CpuHelper).call();
        if (i === -1) first.set(e, ticks); // after the 2 warm-up calls
        last.set(e, ticks);
      }
    }
  } finally {
    await Promise.all([...helpers.values()].map((h) => h.close()));
  }
  const clkTck = Number(sh(["getconf", "CLK_TCK"]).trim()); // clock ticks per second, the unit of /proc's cutime/cstime
  if (!(clkTck > 0)) throw new Error("getconf CLK_TCK gave no tick rate");
  const total = (e: Exe): CpuTotal => ({ ms: (((last.get(e) ?? NaN) - (first.get(e) ?? NaN)) * 1000) / clkTck, calls });
  return { qjs: total("qjs"), bun: total("bun"), ref: total("ref") };
}

/** What the diagnostics measured: unknown-container DELs, a burst of VERSION calls, CPU per VERSION call. */
interface Diagnostics {
  readonly noop: PerExe<number[]>;
  readonly version: PerExe<number>;
  readonly cpu: PerExe<CpuTotal>;
}

/** Where the executables' time goes: `n` DELs with no kernel work, a burst of VERSION calls and VERSION's CPU (no daemon). */
async function diagnostics(c: Ctx, n: number, turn: number): Promise<Diagnostics> {
  const ns = addNetns(c, "cb-x");
  const noop: PerExe<number[]> = { qjs: [], bun: [], ref: [] };
  for (let i = 0; i < n; i++) for (const p of rotate(EXES, turn + i)) noop[p].push(must(await invoke(c, p, "v4", "DEL", `unknown-${i}`, ns), `${p} DEL`));
  delNetns(c, ns);
  const version = async (p: Plugin): Promise<number> => {
    const exe = join(c.bin, EXE_FILE[p]);
    const one = (): Promise<void> =>
      new Promise((resolve) => {
        const ch = spawn(exe, [], { env: { CNI_COMMAND: "VERSION", PATH: process.env["PATH"] ?? "" }, stdio: ["pipe", "ignore", "ignore"] });
        ch.stdin.on("error", () => undefined);
        ch.stdin.end(VERSION_STDIN);
        ch.on("close", () => resolve());
      });
    const t0 = performance.now();
    await Promise.all(Array.from({ length: BURST }, one));
    return performance.now() - t0;
  };
  const wall = new Map<Exe, number>();
  for (const p of rotate(EXES, turn)) wall.set(p, await version(p));
  process.stderr.write(`  VERSION CPU: ${CPU_CALLS} serial calls per executable, interleaved…\n`);
  const cpu = await versionCpu(c, CPU_CALLS, turn);
  return { noop, version: { qjs: wall.get("qjs") ?? NaN, bun: wall.get("bun") ?? NaN, ref: wall.get("ref") ?? NaN }, cpu };
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
  readonly burst: PerExe<number>;
  readonly rss: number;
  readonly diag: Diagnostics;
  readonly load: SliceLoad;
}

/**
 * One slice of a phase: `n` serial calls per case, one burst per executable (coil-qjs, Bun, ptp; in
 * odd rounds ptp, Bun, coil-qjs), the diagnostics.
 */
async function slice(c: Ctx, n: number, round: number): Promise<Omit<Slice, "load">> {
  const rows: Row[] = [];
  process.stderr.write(`  serial: coil-qjs IPv4, reference IPv4, coil-qjs dual stack, coil (Bun) IPv4, interleaved (n=${n})…\n`);
  rows.push(...(await serial(c, [["qjs", "v4"], ["ref", "v4"], ["qjs", "dual"], ["bun", "v4"]], n)));
  process.stderr.write(`  serial: reference dual stack (n=${n}; it waits ~2 s per ADD for IPv6 DAD)…\n`);
  rows.push(...(await serial(c, [["ref", "dual"]], n)));
  rows.push(await daemonSide(c, "v4", n), await daemonSide(c, "dual", n));
  const order: Exe[] = round % 2 === 0 ? ["qjs", "bun", "ref"] : ["ref", "bun", "qjs"];
  process.stderr.write(`  bursts of ${BURST}: ${order.map((e) => EXE_NAMES[e]).join(", ")}…\n`);
  const walls = new Map<Exe, number>();
  let rss = NaN;
  for (const e of order) {
    const b = await burst(c, e, BURST);
    walls.set(e, b.ms);
    if (e === "qjs") {
      // coild's RSS with the pod count attached: the burst's pods plus more coil-qjs ADDs.
      const extraPods = await burst(c, "qjs", Math.max(0, PODS - BURST));
      rss = rssMb(c.coild?.pid ?? -1);
      await extraPods.release();
    }
    await b.release();
  }
  const diag = await diagnostics(c, n, round);
  return { rows, burst: { qjs: walls.get("qjs") ?? NaN, bun: walls.get("bun") ?? NaN, ref: walls.get("ref") ?? NaN }, rss, diag };
}

function merge(phase: Phase, slices: readonly Slice[]): PhaseResult {
  const labels = [CASES.qjsV4, CASES.refV4, CASES.qjsDual, CASES.bunV4, CASES.refDual, daemonLabel("v4"), daemonLabel("dual")];
  const pick = (label: string, verb: "add" | "del"): number[] => slices.flatMap((s) => s.rows.find((r) => r.label === label)?.[verb] ?? []);
  const each = <T>(f: (s: Slice, e: Exe) => T): PerExe<T[]> => ({ qjs: slices.map((s) => f(s, "qjs")), bun: slices.map((s) => f(s, "bun")), ref: slices.map((s) => f(s, "ref")) });
  const flat = (f: (s: Slice, e: Exe) => readonly number[]): PerExe<number[]> => ({ qjs: slices.flatMap((s) => f(s, "qjs")), bun: slices.flatMap((s) => f(s, "bun")), ref: slices.flatMap((s) => f(s, "ref")) });
  return {
    phase,
    rows: labels.map((label) => ({ label, add: pick(label, "add"), del: pick(label, "del") })),
    bursts: each((s, e) => s.burst[e]),
    rss: slices.map((s) => s.rss),
    noopDel: flat((s, e) => s.diag.noop[e]),
    version: each((s, e) => s.diag.version[e]),
    versionCpu: each((s, e) => s.diag.cpu[e]),
    loads: slices.map((s) => s.load),
  };
}

/** n split into `parts` near-equal shares (the first ones take the remainder). */
const shares = (n: number, parts: number): number[] => Array.from({ length: parts }, (_, i) => Math.floor(n / parts) + (i < n % parts ? 1 : 0));

function setup(): Ctx {
  const tmp = mkdtempSync(join(tmpdir(), "coil-bench-"));
  const bin = join(tmp, "bin");
  sh(["mkdir", "-p", bin]);
  for (const [e, built, flag] of [["qjs", "coil-qjs", "--qjs-only"], ["bun", "coil", "--bun-only"]] as const) {
    const from = join(ROOT, "dist/bin", built);
    if (!existsSync(from)) {
      process.stderr.write(`building dist/bin/${built} (scripts/build-cni.sh ${flag})…\n`);
      execFileSync("sh", [join(ROOT, "scripts/build-cni.sh"), flag], { stdio: "inherit" });
    }
    copyFileSync(from, join(bin, EXE_FILE[e]));
    sh(["chmod", "0755", join(bin, EXE_FILE[e])]);
  }
  if (opt.spawner !== "node" && !existsSync(join(ROOT, "dist/bin/coil-spawner"))) {
    process.stderr.write("building dist/bin/coil-spawner (scripts/build-spawner.sh)…\n");
    execFileSync("sh", [join(ROOT, "scripts/build-spawner.sh")], { stdio: "inherit" });
  }
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
      const xs: PerExe<number[]> = { qjs: [], bun: [], ref: [] };
      for (let i = 0; i < N; i++) for (const p of rotate(EXES, i)) xs[p].push(must(await invoke(c, p, "v4", "DEL", `nothing-${i}`, ns), `${p} DEL`));
      process.stdout.write(`DEL of an unknown container (no kernel work, interleaved), p50: ${EXES.map((e) => `${EXE_NAMES[e]} ${f1(pct(xs[e], 50))} ms`).join(", ")}\n`);
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
        const s = await slice(c, n, r);
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
  const text = `# CNI benchmark: coil-qjs + coild vs ptp + host-local, quiet and under a CPU hog

- Date: ${started}
- Machine: ${cpus().length} × ${cpu}, Linux ${kernel}, Node ${process.version}
- Command: \`npm run bench:cni\` (\`node --import tsx bench/cni.ts --phases=${phases.join(",")} --rounds=${ROUNDS} --n=${N} --burst=${BURST} --cpu-calls=${CPU_CALLS}\`), n = ${N} per serial case and phase
- Ours: \`dist/bin/coil-qjs\` (QuickJS bytecode in a static Go host; what the image installs as /opt/cni/bin/coil). Diagnostic: \`dist/bin/coil\` (Bun \`--compile\` of the same TypeScript)
- Phases: ${phases.map((p) => (p === "quiet" ? "quiet (no hog of our own; other jobs on the machine are not stopped)" : "hog (`stress-ng --cpu 2` for the whole slice, started and stopped by the bench)")).join("; ")}
- Order: ${ROUNDS} round(s), ${order}; each slice does its share of the n serial calls, one burst per executable and the diagnostics (${CPU_CALLS} serial VERSION calls per executable for the CPU figure)
- Plot: [${SVG_NAME}](${SVG_NAME}) (ECDF of ADD and DEL latency, ours, the Bun build and the reference, per phase)

The plugins run as a container runtime runs them (argv, \`CNI_*\` environment, netconf on stdin), through
\`nsenter --net=<test host netns>\` so that nothing touches the machine's own network. Ours is \`coil-qjs\`, the
self-contained QuickJS build (\`dist/bin/coil-qjs\`, copied into a temp CNI bin dir as \`coil\`); the Bun build
(\`dist/bin/coil\`, copied as \`coil-bun\`) runs beside it with the same netconf. Both talk to one real
\`coild\` (esbuild bundle with code splitting, plain node, \`--store=local\`) that runs in the same test host netns. The reference is
Debian's \`containernetworking-plugins\` \`ptp\` + \`host-local\` (data dir in a temp dir). Within a slice the serial cases coil-qjs
IPv4, reference IPv4, coil-qjs dual stack and coil (Bun) IPv4 alternate call by call, so the cases compared with each other
see the same machine load; the reference dual stack runs on its own right after (each of its ADDs sleeps ~2 s in DAD). The
phases alternate slice by slice, so a drift in the machine's own load hits both. Bursts: coil-qjs, Bun, ptp in even rounds,
ptp, Bun, coil-qjs in odd ones; a phase's burst figure is the median of its slices. Latencies are wall times measured around
the process, from spawn to exit, including one \`nsenter\` exec for every plugin; percentiles are nearest-rank. The targets
are checked on coil-qjs. \`VERSION\` CPU per call is the children's user + sys CPU of serial calls, interleaved between the
three executables, read from a helper shell's /proc cutime + cstime (clock ticks, so the mean over ${CPU_CALLS} calls per
slice is exact to about ${(20 / CPU_CALLS).toFixed(1)} ms).

![ADD and DEL latency distributions, ours (coil-qjs), the Bun build and the reference, per phase](${SVG_NAME})

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
    title: "CNI ADD/DEL latency: coil-qjs (and Bun coil) + coild vs ptp + host-local (ECDF)",
    subtitle: `${started}, n = ${N} per case and phase; ${loads}`,
  });
  writeFileSync(join(OUT_DIR, SVG_NAME), svg);
  process.stderr.write(`wrote ${path} and ${join(OUT_DIR, SVG_NAME)}\n`);
}

process.exitCode = await main();
