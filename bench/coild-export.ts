/**
 * `npm run bench:coild-export -- [--pods=1000] [--rounds=3] [--concurrency=8] [--ours=dist/bin/coild.mjs]
 * [--before=<coild bundle>] [--controller=dist/bin/coil-ipam-controller.mjs] [--go=<Go coild>] [--no-go]
 * [--load-note=<text>] [--log-dir=DIR] [--node-flags="<node options>"] [--no-write]` — issue 9's P7 "coild
 * exporting 1,000 of its own blocks to table 119", with the whole coild as deployed (the bundled dist
 * coild, `--store=kubernetes`).
 *
 * One real kube-apiserver + etcd (test/helpers/coil-envtest.ts), the real coil-ipam-controller (the
 * dist bundle, its own process, as bench/ipam-controller.ts starts it), one Node `bench-node`
 * (InternalIP 10.20.30.41) and one AddressPool `default` with `blockSizeBits: 0` (10.100.0.0/16: every
 * address its own block). Per round, a fresh test host network namespace (the API server relayed
 * into it, test/helpers/api-relay.ts) where coild runs through `nsenter --net=` (so the pid measured
 * is coild itself), and `ip -4 -ts monitor route` in it, whose kernel-event timestamps clock table 119:
 *
 * (a) `pods` pod namespaces (one `ip -batch` of `netns add` lines; time and MemAvailable recorded),
 *     then one ADD each through coild's fast path (the JSON line the `coil` executable sends; no
 *     executable), `concurrency` at a time. Every ADD takes a new block (a BlockRequest served by
 *     the controller). Per block: the time from coild's log line "obtained a new block" (its `ts`,
 *     `--zap-time-encoding=millis`) to the kernel event adding its route to table 119.
 * (b) coild stopped (SIGTERM; the Node exists, so table 119 stays, Coil's default) and started again,
 *     ours and Coil v2.15.0's Go coild in turn (scripts/coil-v2/build.sh coild): spawn → first export
 *     sync done (ours: "recovered node state", logged after the start-up GC and its sync; Go: "starting
 *     manager", logged right after its start-up GC and sync) and → serving CNI (ours: "serving CNI";
 *     Go: "start periodic nodeIPAM GC", logged as its gRPC server starts). Every table-119 event from
 *     spawn until then is counted (none expected), and table 119 is compared before and after.
 * (c) the same daemon started with `--clear-routes-on-shutdown`, its Node object deleted (the
 *     controller is stopped meanwhile: its orphan GC would delete the node's blocks), SIGTERM: table
 *     119 emptied by the daemon. Node recreated, controller restarted, the daemon started again (same
 *     flag): spawn → table 119 holds all `pods` `proto 30` routes (the last add event) and → serving
 *     CNI; CPU (utime+stime, plus children: our `ip` co-processes) and RSS of the daemon then.
 * (b) and (c) alternate between the implementations round by round (ours first in odd rounds).
 * `--before` adds another coild bundle (e.g. of the commit before a change), for a before/after in
 * the same run: each round then does (a) once with each of our two bundles (fresh namespaces, pods
 * and blocks each time; the order alternates), and (b) and (c) with all three daemons on the pods
 * of the second; use an even `--rounds` then, as the first (a) after the API server and the
 * controller started is slower whichever bundle runs it. `--log-dir` keeps every daemon's log there;
 * `--node-flags` passes Node options to our coild(s) (e.g. `--cpu-prof --cpu-prof-dir=DIR`).
 *
 * Everything created is removed at the end, also on failure or SIGINT/SIGTERM: the daemons and the
 * controller (by their PIDs), the pod and host namespaces (their veths go with them). Results: stdout
 * and bench/RESULTS-router-scale.md's section between the `bench/coild-export.ts` markers (unless
 * `--no-write`; notes written by hand at the end of the section, after `<!-- notes: kept by a new
 * run -->`, are kept). Needs root, iproute2, the envtest binaries (~/.cache/coil-envtest), the dist bundles
 * (`npm run build`) and, unless `--no-go`, Go coild (built by scripts/coil-v2/build.sh when missing).
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, type WriteStream } from "node:fs";
import { connect, createServer, type AddressInfo } from "node:net";
import { cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { CoordinationV1Api, CoreV1Api } from "@kubernetes/client-node";
import { coilClient, makeClients, type CoilClient } from "../adapters/k8s/index.js";
import { netnsPath } from "../lib/changeset/index.js";
import { relayApiIntoNetns, type ApiRelay } from "../test/helpers/api-relay.js";
import { startCoilControlPlane } from "../test/helpers/coil-envtest.js";
import type { TestNetns } from "../test/helpers/netns.js";
import { eventually, waitFor } from "../test/helpers/wait.js";
import { load1, median, otherLoad, procStats, uptime, type ProcStats } from "./proc-stats.js";
import { COILD_EXPORT_MARKERS, withSection } from "./results-section.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const { values } = parseArgs({
  options: {
    pods: { type: "string", default: "1000" },
    rounds: { type: "string", default: "3" },
    concurrency: { type: "string", default: "8" },
    ours: { type: "string", default: join(ROOT, "dist/bin/coild.mjs") },
    before: { type: "string" },
    controller: { type: "string", default: join(ROOT, "dist/bin/coil-ipam-controller.mjs") },
    go: { type: "string" },
    "no-go": { type: "boolean", default: false },
    "no-write": { type: "boolean", default: false },
    "load-note": { type: "string", default: "" },
    "log-dir": { type: "string" },
    "node-flags": { type: "string", default: "" },
  },
});
const PODS = Number(values.pods);
const ROUNDS = Number(values.rounds);
const CONCURRENCY = Number(values.concurrency);
const LOAD_NOTE = values["load-note"] ?? "";
/** `--node-flags`: Node options for our coild(s) (`--cpu-prof --cpu-prof-dir=DIR`, …), before the bundle. */
const NODE_FLAGS = (values["node-flags"] ?? "").split(" ").filter((f) => f !== "");

const NODE = "bench-node";
const NODE_V4 = "10.20.30.41";
const POOL_SUBNET = "10.100.0.0/16";
const EXPORT_TABLE = 119;
const PROTO = "30";
/** A table nothing else uses: the monitor barrier's route goes there. */
const BARRIER_TABLE = 120;
/** PATH with this Node first: a bundle's `#!/usr/bin/env node` line finds it. */
const NODE_PATH = `${dirname(process.execPath)}:${process.env["PATH"] ?? ""}`;

const wallNow = (): number => performance.timeOrigin + performance.now();
const hex = (): string => randomBytes(3).toString("hex");
const run = (cmd: string, args: readonly string[]): string => execFileSync(cmd, args, { encoding: "utf8", maxBuffer: 256 << 20, stdio: ["ignore", "pipe", "pipe"] });
const memAvailableMiB = (): number => Number(/^MemAvailable:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"))?.[1] ?? NaN) / 1024;
const slabMiB = (): number => Number(/^Slab:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"))?.[1] ?? NaN) / 1024;

/** What is wrong with the flags, or undefined. */
function badFlags(): string | undefined {
  const int = (name: string, v: number, min: number, max: number): string | undefined => (Number.isInteger(v) && v >= min && v <= max ? undefined : `--${name} must be an integer from ${min} to ${max}`);
  return int("pods", PODS, 1, 60_000) ?? int("rounds", ROUNDS, 1, 100) ?? int("concurrency", CONCURRENCY, 1, 256) ??
    [values.ours, values.controller, values.before].filter((p): p is string => p !== undefined).map((p) => (existsSync(p) ? undefined : `${p} missing (npm run build)`)).find((x) => x !== undefined);
}

// ---------------------------------------------------------------------------------------------
// Things this script starts, so that they are all removed at the end (also on failure).

const started = { netns: new Set<string>(), procs: new Set<ChildProcess>() };

/** Run `ip [-force] -batch -` with `lines` (asynchronously: the event loop keeps serving the relay and the logs). */
function ipBatch(lines: readonly string[], force = false): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn("ip", [...(force ? ["-force"] : []), "-batch", "-"], { stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    c.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    c.on("error", reject);
    c.on("close", (code) => (code === 0 || force ? resolve() : reject(new Error(`ip -batch exited ${String(code)}: ${stderr.slice(0, 2000)}`))));
    c.stdin.end(`${lines.join("\n")}\n`);
  });
}

/** Create namespaces `names` (one `ip -batch`), tracked for the clean-up. */
async function addNetns(names: readonly string[]): Promise<void> {
  for (const n of names) started.netns.add(n);
  await ipBatch(names.map((n) => `netns add ${n}`));
}

/** Delete namespaces `names` (one `ip -force -batch`: one already gone does not stop the rest). */
async function delNetns(names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  await ipBatch(names.map((n) => `netns del ${n}`), true);
  for (const n of names) started.netns.delete(n);
}

/** Send SIGTERM, wait up to `graceMs` for the exit, then SIGKILL and wait. The exit code (or signal). */
async function stopChild(c: ChildProcess, graceMs: number): Promise<string> {
  if (c.exitCode === null && c.signalCode === null) {
    const done = new Promise((r) => c.once("exit", r));
    c.kill("SIGTERM");
    const timer = new Promise((r) => setTimeout(r, graceMs, "timeout"));
    if ((await Promise.race([done, timer])) === "timeout") {
      c.kill("SIGKILL");
      await done;
    }
  }
  started.procs.delete(c);
  return String(c.exitCode ?? c.signalCode);
}

async function cleanup(): Promise<void> {
  for (const c of [...started.procs]) await stopChild(c, 5000);
  await delNetns([...started.netns]).catch((e: unknown) => process.stderr.write(`clean-up: ${String(e)}\n`));
}

// ---------------------------------------------------------------------------------------------
// The kernel's view of the host namespace's routes: `ip -4 -ts monitor route`.

/** One route event. `t`: the monitor's timestamp (ms since the epoch, µs resolution). */
interface RouteEvent {
  readonly t: number;
  readonly deleted: boolean;
  readonly dst: string;
  readonly table: number;
  readonly proto: string | undefined;
}

/** `[2026-12-05T16:12:01.123456] [Deleted ]<dst> … [table N] … [proto P]` (TZ=UTC). */
const EVENT_RE = /^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d+)\] (Deleted )?(\S+)(.*)$/;

class RouteMonitor {
  readonly events: RouteEvent[] = [];
  #child: ChildProcess;
  #partial = "";
  #stderr = "";
  #barriers = 0;
  readonly #ns: string;

  constructor(ns: string) {
    this.#ns = ns;
    // `ip monitor` stamps an event when it reads it: real-time priority (SCHED_FIFO) makes it read at
    // once, whatever the load, so the stamp is the event's time (its work per event is microseconds).
    // A big receive buffer: 1,000 routes added in one burst must not overflow the socket.
    this.#child = spawn("chrt", ["-f", "50", "ip", "-n", ns, "-4", "-ts", "-rcvbuf", String(8 << 20), "monitor", "route"], { env: { ...process.env, TZ: "UTC" }, stdio: ["ignore", "pipe", "pipe"] });
    started.procs.add(this.#child);
    this.#child.stdout?.setEncoding("utf8");
    this.#child.stdout?.on("data", (s: string) => this.#onData(s));
    this.#child.stderr?.on("data", (b: Buffer) => (this.#stderr += b.toString()));
  }

  #onData(s: string): void {
    const lines = (this.#partial + s).split("\n");
    this.#partial = lines.pop() ?? "";
    for (const l of lines) {
      const m = EVENT_RE.exec(l);
      if (m === null) continue;
      const frac = (m[2] ?? "0").padEnd(6, "0").slice(0, 6);
      const rest = m[5] ?? "";
      this.events.push({
        t: Date.parse(`${m[1] ?? ""}Z`) + Number(frac) / 1000,
        deleted: m[3] !== undefined,
        dst: (m[4] ?? "").replace(/\/32$/, ""),
        table: Number(/ table (\d+)/.exec(rest)?.[1] ?? 254),
        proto: / proto (\S+)/.exec(rest)?.[1],
      });
    }
  }

  /** Whether the monitor reported lost events (a receive buffer overflow) or died. */
  get trouble(): string | undefined {
    if (/No buffer space|receive error/i.test(this.#stderr)) return `ip monitor: ${this.#stderr.trim()}`;
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return `ip monitor exited (${String(this.#child.exitCode ?? this.#child.signalCode)}): ${this.#stderr}`;
    return undefined;
  }

  /**
   * Wait until every event the kernel sent before this call has been read: add a route to a table
   * nobody else uses and wait for its event (netlink delivers in order), then delete it.
   */
  async barrier(): Promise<void> {
    this.#barriers += 1;
    const dst = `192.0.2.${(this.#barriers % 250) + 1}`;
    run("ip", ["-n", this.#ns, "route", "add", `${dst}/32`, "dev", "lo", "table", String(BARRIER_TABLE)]);
    const from = this.events.length;
    await waitFor(`ip monitor: barrier route ${dst}`, () => this.events.slice(from).some((e) => e.table === BARRIER_TABLE && e.dst === dst && !e.deleted), { timeoutMs: 60_000, intervalMs: 5, abortIf: () => this.trouble });
    run("ip", ["-n", this.#ns, "route", "del", `${dst}/32`, "dev", "lo", "table", String(BARRIER_TABLE)]);
  }

  /** Table-119 events from index `from` on. */
  exportEvents(from: number): RouteEvent[] {
    return this.events.slice(from).filter((e) => e.table === EXPORT_TABLE);
  }

  async close(): Promise<void> {
    await stopChild(this.#child, 2000);
  }
}

/** Table 119's routes in `ns` as text lines, sorted (for before/after comparisons). */
const exportTable = (ns: string): string[] => run("ip", ["-n", ns, "-4", "route", "show", "table", String(EXPORT_TABLE)]).split("\n").filter((l) => l !== "").sort();
const exportedCount = (ns: string): number => run("ip", ["-n", ns, "-4", "route", "show", "table", String(EXPORT_TABLE), "proto", PROTO]).split("\n").filter((l) => l !== "").length;

// ---------------------------------------------------------------------------------------------
// The daemons.

type ImplId = "ours" | "before" | "go";

/** One coild implementation. */
interface Impl {
  readonly id: ImplId;
  readonly argv: readonly string[];
  readonly version: string;
  /** Logged once the first export sync is done (after the start-up GC). */
  readonly synced: (msg: string) => boolean;
  /** Logged once CNI is served. */
  readonly ready: (msg: string) => boolean;
}

/** One log line: when it arrived here, its own `ts` (ms since the epoch), its message and fields. */
interface LogLine {
  readonly arrival: number;
  readonly ts: number | undefined;
  readonly msg: string;
  readonly fields: Record<string, unknown>;
}

/** A running coild (ours or Go's) in the test host namespace. */
class Daemon {
  readonly lines: LogLine[] = [];
  readonly child: ChildProcess;
  readonly spawnedAt: number;
  readonly impl: Impl;
  #partial = "";
  #tail = "";
  readonly #log: WriteStream;

  constructor(impl: Impl, host: TestNetns, dir: string, kubeconfig: string, sock: string, tag: string, clearRoutes: boolean) {
    this.impl = impl;
    const flags = [`--socket=${sock}`, "--enable-egress=false", "--metrics-addr=127.0.0.1:9384", "--health-addr=127.0.0.1:9385", "--zap-time-encoding=millis",
      ...(impl.id === "go" ? [] : ["--store=kubernetes"]), ...(clearRoutes ? ["--clear-routes-on-shutdown"] : [])];
    this.#log = createWriteStream(join(dir, `${tag}.log`));
    this.spawnedAt = wallNow();
    this.child = spawn("nsenter", [`--net=${host.path}`, "--", ...impl.argv, ...flags], {
      env: { ...process.env, PATH: NODE_PATH, COIL_NODE_NAME: NODE, KUBECONFIG: kubeconfig },
      stdio: ["ignore", "pipe", "pipe"],
    });
    started.procs.add(this.child);
    const onData = (b: Buffer): void => {
      const at = wallNow();
      const text = b.toString();
      this.#log.write(text);
      this.#tail = (this.#tail + text).slice(-4000);
      const ls = (this.#partial + text).split("\n");
      this.#partial = ls.pop() ?? "";
      for (const l of ls) this.#onLine(l, at);
    };
    this.child.stdout?.on("data", onData);
    this.child.stderr?.on("data", onData);
  }

  #onLine(l: string, arrival: number): void {
    if (!l.startsWith("{")) return;
    try {
      const o = JSON.parse(l) as Record<string, unknown>;
      this.lines.push({ arrival, ts: typeof o["ts"] === "number" ? o["ts"] : undefined, msg: typeof o["msg"] === "string" ? o["msg"] : "", fields: o });
    } catch {
      // not a log object
    }
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Why waiting is pointless: the daemon exited. */
  exited = (): string | undefined =>
    this.child.exitCode === null && this.child.signalCode === null ? undefined : `${this.impl.id} coild exited (${String(this.child.exitCode ?? this.child.signalCode)}): ${this.#tail}`;

  /** The first line whose message satisfies `p`, waiting for it. */
  async line(what: string, p: (msg: string) => boolean, timeoutMs = 300_000): Promise<LogLine> {
    return eventually(`${this.impl.id} coild: ${what}`, () => this.lines.find((l) => p(l.msg)), { timeoutMs, intervalMs: 5, abortIf: this.exited });
  }

  /** Milliseconds from spawn to a line (by its own `ts`, else its arrival). */
  since(l: LogLine): number {
    return (l.ts ?? l.arrival) - this.spawnedAt;
  }

  async stop(): Promise<string> {
    const code = await stopChild(this.child, 60_000);
    await new Promise((r) => this.#log.end(r));
    return code;
  }

  tail(): string {
    return this.#tail;
  }
}

/** Our coil-ipam-controller bundle in its own process (the machine's namespace). */
class Controller {
  #child: ChildProcess | undefined;
  #logs = "";
  readonly #certDir: string;
  readonly #bundle: string;
  readonly #kubeconfig: string;
  readonly #coord: CoordinationV1Api;

  constructor(bundle: string, kubeconfig: string, coord: CoordinationV1Api, dir: string) {
    this.#bundle = bundle;
    this.#kubeconfig = kubeconfig;
    this.#coord = coord;
    this.#certDir = join(dir, "controller-certs");
  }

  /** Start it (executing the bundle, so its `#!` line's Node options apply) and wait until it leads. */
  async start(): Promise<void> {
    const port = await freePort();
    mkdirSync(this.#certDir, { recursive: true }); // empty: the webhook is served lazily, no certificate is needed to start
    this.#logs = "";
    const c = spawn(this.#bundle, ["--metrics-addr=127.0.0.1:0", "--health-addr=127.0.0.1:0", `--webhook-addr=127.0.0.1:${port}`, `--cert-dir=${this.#certDir}`], {
      env: { ...process.env, KUBECONFIG: this.#kubeconfig, PATH: NODE_PATH },
      stdio: ["ignore", "pipe", "pipe"],
    });
    started.procs.add(c);
    this.#child = c;
    const onLog = (b: Buffer): void => void (this.#logs = (this.#logs + b.toString()).slice(-100_000));
    c.stdout?.on("data", onLog);
    c.stderr?.on("data", onLog);
    const abortIf = (): string | undefined => (c.exitCode === null && c.signalCode === null ? undefined : `coil-ipam-controller exited: ${this.#logs.slice(-3000)}`);
    await waitFor("coil-ipam-controller leading", () => this.#logs.includes('"starting controllers"'), { timeoutMs: 180_000, intervalMs: 20, abortIf });
  }

  /** Stop it and delete its Lease, so that the next start leads at once. */
  async stop(): Promise<void> {
    if (this.#child !== undefined) await stopChild(this.#child, 25_000);
    this.#child = undefined;
    await this.#coord.deleteNamespacedLease({ name: "coil-ipam-leader", namespace: "kube-system" }).catch(() => undefined);
  }
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** One ADD through coild's fast path (what the `coil` executable sends); its wall time in ms. */
function fastAdd(sock: string, id: string, netns: string): Promise<number> {
  const args = { containerId: id, netns, ifname: "eth0", args: { K8S_POD_NAMESPACE: "default", K8S_POD_NAME: id }, path: "", stdinData: "", ips: [], interfaces: {} };
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const s = connect(sock);
    let out = "";
    s.on("data", (b: Buffer) => (out += b.toString()));
    s.on("error", reject);
    s.on("close", () => ((JSON.parse(out || "{}") as { ok?: boolean }).ok === true ? resolve(performance.now() - t0) : reject(new Error(`ADD ${id}: ${out}`))));
    s.write(`${JSON.stringify({ v: 1, method: "Add", args })}\n`);
  });
}

async function pool<T>(items: readonly T[], width: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, async () => {
    while (next < items.length) await fn(items[next++] as T);
  }));
}

/** Nearest-rank percentile. */
function pct(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : (s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number);
}

// ---------------------------------------------------------------------------------------------
// The measurements.

/** Everything one round shares. */
interface Round {
  readonly n: number;
  readonly host: TestNetns;
  readonly dir: string;
  readonly sock: string;
  readonly kubeconfig: string;
  readonly monitor: RouteMonitor;
  readonly relay: ApiRelay;
  readonly pods: string[];
  daemon: Daemon | undefined;
}

/** (a): the pods created, each ADD taking a block. */
interface CreateRun {
  readonly impl: ImplId;
  readonly round: number;
  /** ADDs that failed (each retried). */
  readonly failures: readonly string[];
  readonly load: number;
  readonly netnsMs: number;
  readonly netnsMemMiB: number;
  readonly netnsSlabMiB: number;
  readonly addWallS: number;
  readonly addP50: number;
  readonly addP90: number;
  /** Per block: "obtained a new block" (coild's ts) → its route added to table 119 (kernel event). */
  readonly exportMs: readonly number[];
  readonly deletes: number;
  readonly stats: ProcStats;
}

/** (b) and (c): one restart. */
interface RestartRun {
  readonly kind: "keep" | "cleared";
  readonly impl: ImplId;
  readonly round: number;
  readonly load: number;
  readonly syncedMs: number;
  readonly readyMs: number;
  /** (c): spawn → the last of the `pods` route adds to table 119 (kernel event); (b): undefined. */
  readonly fullMs: number | undefined;
  readonly adds: number;
  readonly deletes: number;
  readonly unchanged: boolean;
  readonly registered: number | undefined;
  /** Start-up lines that would mean a pod was not registered or a block was freed (none expected). */
  readonly trouble: number;
  readonly stats: ProcStats;
  /** (c): whether the stop with `--clear-routes-on-shutdown` emptied table 119 itself (else flushed here). */
  readonly clearedBySelf?: boolean;
  /** (c): whether the stopping daemon logged "node is deleted, clearing export routes". */
  readonly clearLogged?: boolean;
  readonly clearMs?: number;
}

/**
 * Pods the daemon registered at start-up: ours says it in "recovered node state"; Go logs one line per
 * pod, but zap's production sampler keeps only the first 100 lines of a message per second (then
 * every 100th), so for Go this is undefined: that every block stayed (no route deleted, no "freeing
 * an unused block") and no "failed to register IP" line tell instead.
 */
function registeredPods(d: Daemon): number | undefined {
  if (d.impl.id === "go") return undefined;
  const r = d.lines.find((l) => l.msg === "recovered node state")?.fields["registered"];
  return typeof r === "number" ? r : -1;
}

/** "failed to register IP" (ours) / "warn: failed to register IP" (Go) lines, and blocks the start-up GC freed. */
function startupTrouble(d: Daemon): number {
  return d.lines.filter((l) => /failed to register IP|freeing an unused block|returned an empty block/.test(l.msg)).length;
}

async function startDaemon(r: Round, impl: Impl, tag: string, clearRoutes: boolean): Promise<Daemon> {
  const d = new Daemon(impl, r.host, r.dir, r.kubeconfig, r.sock, `r${r.n}-${tag}`, clearRoutes);
  r.daemon = d;
  await d.line("serving CNI", impl.ready);
  return d;
}

async function stopDaemon(r: Round): Promise<void> {
  const d = r.daemon;
  r.daemon = undefined;
  if (d === undefined) return;
  const code = await d.stop();
  if (code !== "0") process.stdout.write(`  warning: ${d.impl.id} coild exited ${code} at its stop; log tail:\n${d.tail().slice(-1500)}\n`);
}

async function createPods(r: Round, impl: Impl): Promise<CreateRun> {
  const load = load1();
  const mem0 = memAvailableMiB();
  const slab0 = slabMiB();
  const t0 = performance.now();
  await addNetns(r.pods);
  const netnsMs = performance.now() - t0;
  const mem1 = memAvailableMiB();
  const slab1 = slabMiB();
  const d = await startDaemon(r, impl, `a-${impl.id}`, false);
  const mark = r.monitor.events.length;
  const logMark = d.lines.length;
  const adds: number[] = [];
  const t1 = performance.now();
  let done = 0;
  const failures: string[] = [];
  await pool(r.pods, CONCURRENCY, async (ns) => {
    // A failed ADD is retried (as the kubelet retries a sandbox), at most twice; each failure is reported.
    for (let attempt = 1; ; attempt++) {
      try {
        adds.push(await fastAdd(r.sock, ns, `/var/run/netns/${ns}`));
        break;
      } catch (e) {
        failures.push(e instanceof Error ? e.message : String(e));
        process.stdout.write(`  round ${r.n}: ${impl.id} ADD failed (attempt ${attempt}): ${e instanceof Error ? e.message : String(e)}\n`);
        if (attempt >= 3) throw e;
      }
    }
    if (++done % 100 === 0) process.stdout.write(`  round ${r.n}: ${done} pods\n`);
  });
  const addWallS = (performance.now() - t1) / 1000;
  await r.monitor.barrier();
  const trouble = r.monitor.trouble;
  if (trouble !== undefined) throw new Error(trouble);
  const stats = procStats(d.pid);
  const added = new Map<string, number>();
  let deletes = 0;
  for (const e of r.monitor.exportEvents(mark)) {
    if (e.deleted) deletes += 1;
    else if (!added.has(e.dst)) added.set(e.dst, e.t);
  }
  const obtained = d.lines.slice(logMark).filter((l) => l.msg === "obtained a new block");
  if (obtained.length < r.pods.length) throw new Error(`round ${r.n}: coild logged ${obtained.length} new blocks for ${r.pods.length} pods`);
  const exportMs = obtained.map((l) => {
    const v4 = l.fields["ipv4"];
    const dst = (typeof v4 === "string" ? v4 : "").replace(/\/32$/, "");
    const at = added.get(dst);
    if (at === undefined || l.ts === undefined) throw new Error(`round ${r.n}: no table-119 route event for block ${dst}`);
    return at - l.ts;
  });
  const n = exportedCount(r.host.name);
  if (n !== r.pods.length) throw new Error(`round ${r.n}: table 119 holds ${n} proto ${PROTO} routes, expected ${r.pods.length}`);
  return {
    impl: impl.id, round: r.n, load, failures, netnsMs, netnsMemMiB: mem0 - mem1, netnsSlabMiB: slab1 - slab0, addWallS,
    addP50: pct(adds, 50), addP90: pct(adds, 90), exportMs, deletes, stats,
  };
}

/** (b): restart with table 119 left as it is. */
async function restartKeep(r: Round, impl: Impl): Promise<RestartRun> {
  await stopDaemon(r);
  const before = exportTable(r.host.name);
  const load = load1();
  await r.monitor.barrier();
  const mark = r.monitor.events.length;
  const d = await startDaemon(r, impl, `b-${impl.id}`, false);
  const ready = await d.line("serving CNI", impl.ready);
  const stats = procStats(d.pid);
  const synced = await d.line("first export sync", impl.synced);
  await r.monitor.barrier();
  const ev = r.monitor.exportEvents(mark);
  const after = exportTable(r.host.name);
  return {
    kind: "keep", impl: impl.id, round: r.n, load, syncedMs: d.since(synced), readyMs: d.since(ready), fullMs: undefined,
    adds: ev.filter((e) => !e.deleted).length, deletes: ev.filter((e) => e.deleted).length,
    unchanged: before.length === after.length && before.every((l, i) => l === after[i]), registered: registeredPods(d), trouble: startupTrouble(d), stats,
  };
}

/** (c): stopped with `--clear-routes-on-shutdown` while the Node object is gone, then started again. */
async function restartCleared(r: Round, impl: Impl, ctl: Controller, core: CoreV1Api): Promise<RestartRun> {
  await stopDaemon(r);
  const before = exportTable(r.host.name);
  const c0 = await startDaemon(r, impl, `c0-${impl.id}`, true);
  // The controller's orphan-block GC runs on a Node delete event: it would take the node's blocks away.
  await ctl.stop();
  await core.deleteNode({ name: NODE });
  const m0 = r.monitor.events.length;
  const tc = performance.now();
  await stopDaemon(r);
  const clearMs = performance.now() - tc;
  await r.monitor.barrier();
  const left = exportedCount(r.host.name);
  const clearedBySelf = left === 0;
  if (!clearedBySelf) run("ip", ["-n", r.host.name, "route", "flush", "table", String(EXPORT_TABLE), "proto", PROTO]);
  const deletedByStop = r.monitor.exportEvents(m0).filter((e) => e.deleted).length;
  const clearLogged = c0.lines.some((l) => l.msg === "node is deleted, clearing export routes");
  process.stdout.write(`  ${impl.id}: stop with --clear-routes-on-shutdown, Node gone: ${deletedByStop} routes deleted by the daemon, ${left} left${clearedBySelf ? "" : " (flushed by the bench)"}, "clearing" logged: ${String(clearLogged)}\n`);
  await createNode(core);
  await ctl.start();
  const load = load1();
  await r.monitor.barrier();
  const mark = r.monitor.events.length;
  const d = await startDaemon(r, impl, `c-${impl.id}`, true);
  const ready = await d.line("serving CNI", impl.ready);
  const stats = procStats(d.pid);
  const synced = await d.line("first export sync", impl.synced);
  await r.monitor.barrier();
  const trouble = r.monitor.trouble;
  if (trouble !== undefined) throw new Error(trouble);
  const ev = r.monitor.exportEvents(mark);
  const added = ev.filter((e) => !e.deleted);
  const after = exportTable(r.host.name);
  const last = added[r.pods.length - 1];
  return {
    kind: "cleared", impl: impl.id, round: r.n, load, syncedMs: d.since(synced), readyMs: d.since(ready),
    fullMs: added.length === r.pods.length && last !== undefined ? last.t - d.spawnedAt : undefined,
    adds: added.length, deletes: ev.length - added.length,
    unchanged: before.length === after.length && before.every((l, i) => l === after[i]), registered: registeredPods(d), trouble: startupTrouble(d), stats, clearedBySelf, clearLogged, clearMs,
  };
}

function createNode(core: CoreV1Api): Promise<unknown> {
  return core.createNode({ body: { metadata: { name: NODE }, status: { addresses: [{ type: "InternalIP", address: NODE_V4 }] } } });
}

/** Remove every AddressBlock and BlockRequest (finalizers first), and wait until none is left. */
async function clearBlocks(coil: CoilClient): Promise<void> {
  const blocks = (await coil.blocks.list())._unsafeUnwrap().items;
  await pool(blocks, 16, async (b) => {
    const p = await coil.blocks.mergePatch(b.metadata.name, { metadata: { finalizers: null } });
    if (p.isErr() && p.error.kind !== "not-found") throw new Error(`unfinalize block ${b.metadata.name}: ${JSON.stringify(p.error)}`);
    const del = await coil.blocks.delete(b.metadata.name);
    if (del.isErr() && del.error.kind !== "not-found") throw new Error(`delete block ${b.metadata.name}: ${JSON.stringify(del.error)}`);
  });
  for (const q of (await coil.requests.list())._unsafeUnwrap().items) {
    const p = await coil.requests.mergePatch(q.metadata.name, { metadata: { finalizers: null } });
    const del = p.isOk() ? await coil.requests.delete(q.metadata.name) : p.map(() => undefined);
    if (del.isErr() && del.error.kind !== "not-found") throw new Error(`delete BlockRequest ${q.metadata.name}: ${JSON.stringify(del.error)}`);
  }
  await waitFor("no AddressBlocks left", async () => (await coil.blocks.list())._unsafeUnwrap().items.length === 0, { timeoutMs: 120_000, intervalMs: 200 });
}

function goCoildPath(): string {
  if (values.go !== undefined) return values.go;
  const out = execFileSync("bash", [join(ROOT, "scripts/coil-v2/build.sh"), "coild"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  const path = /^COIL_V2_COILD=(.+)$/m.exec(out)?.[1];
  if (path === undefined) throw new Error(`scripts/coil-v2/build.sh coild printed no path: ${out}`);
  return path;
}

function versionOf(argv: readonly string[]): string {
  try {
    return execFileSync(argv[0] as string, [...argv.slice(1), "--version"], { encoding: "utf8", env: { ...process.env, PATH: NODE_PATH }, stdio: ["ignore", "pipe", "pipe"] }).trim().split("\n")[0] ?? "?";
  } catch {
    return "?";
  }
}

async function main(): Promise<number> {
  const bad = badFlags();
  if (bad !== undefined) {
    process.stderr.write(`bench:coild-export: ${bad}\n`);
    return 2;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write("bench:coild-export needs root (network namespaces).\n");
    return 2;
  }
  const oursReady = (m: string): boolean => m === "serving CNI";
  const oursSynced = (m: string): boolean => m === "recovered node state";
  const impls: Impl[] = [{ id: "ours", argv: [process.execPath, ...NODE_FLAGS, values.ours], version: versionOf([process.execPath, values.ours]), ready: oursReady, synced: oursSynced }];
  if (values.before !== undefined) impls.push({ id: "before", argv: [process.execPath, ...NODE_FLAGS, values.before], version: versionOf([process.execPath, values.before]), ready: oursReady, synced: oursSynced });
  if (values["no-go"] !== true) {
    const go = goCoildPath();
    impls.push({ id: "go", argv: [go], version: versionOf([go]), ready: (m) => m === "start periodic nodeIPAM GC", synced: (m) => m.startsWith("starting manager") });
  }
  const loadBefore = uptime();
  const otherBefore = otherLoad();
  const startedAt = new Date().toISOString();
  process.stdout.write(`load before: ${loadBefore}\n`);

  const cpStarted = await startCoilControlPlane();
  if (typeof cpStarted === "string") throw new Error(cpStarted);
  const { cp, kc } = cpStarted;
  const clients = makeClients(kc, { maxSockets: 32 });
  const coil = coilClient(clients.custom);
  const core = kc.makeApiClient(CoreV1Api);
  const dir = mkdtempSync(join(tmpdir(), "coil-bench-coild-export-"));
  const logDir = values["log-dir"] ?? dir;
  mkdirSync(logDir, { recursive: true });
  const ctl = new Controller(values.controller, cp.kubeconfigPath, kc.makeApiClient(CoordinationV1Api), dir);
  const stopSignal = (): void => void cleanup().then(() => process.exit(130));
  process.once("SIGINT", stopSignal);
  process.once("SIGTERM", stopSignal);
  const creates: CreateRun[] = [];
  const restarts: RestartRun[] = [];
  let round: Round | undefined;
  try {
    await createNode(core);
    (await coil.pools.create({ metadata: { name: "default", finalizers: ["coil.cybozu.com"] }, spec: { blockSizeBits: 0, subnets: [{ ipv4: POOL_SUBNET }] } }))._unsafeUnwrap();
    await ctl.start();
    // (a) is measured for each of our bundles (ours, and --before); Go's coild is not driven by ADDs here.
    const aImpls = impls.filter((i) => i.id !== "go");
    for (let n = 1; n <= ROUNDS; n++) {
      const aOrder = n % 2 === 1 ? aImpls : [...aImpls].reverse();
      for (const [k, aImpl] of aOrder.entries()) {
        const name = `cxe-host-${hex()}`;
        await addNetns([name]);
        run("ip", ["-n", name, "link", "set", "lo", "up"]);
        run("ip", ["-n", name, "addr", "add", `${NODE_V4}/32`, "dev", "lo"]);
        const host: TestNetns = { name, path: `/var/run/netns/${name}`, ref: netnsPath(`/var/run/netns/${name}`), trackHostLink: () => undefined };
        const relayDir = join(dir, `relay-${n}-${k}`);
        mkdirSync(relayDir);
        const relay = await relayApiIntoNetns(host, cp.server, relayDir);
        const monitor = new RouteMonitor(name);
        await monitor.barrier();
        const tag = hex();
        round = { n, host, dir: logDir, sock: join(dir, "coild.sock"), kubeconfig: cp.kubeconfigPath, monitor, relay, pods: Array.from({ length: PODS }, (_, i) => `cxe-pod-${tag}-${i}`), daemon: undefined };
        const c = await createPods(round, aImpl);
        creates.push(c);
        process.stdout.write(`round ${n} (a) ${aImpl.id}: ${PODS} netns in ${(c.netnsMs / 1000).toFixed(1)} s (MemAvailable −${c.netnsMemMiB.toFixed(0)} MiB), ${PODS} ADDs in ${c.addWallS.toFixed(1)} s; block → route p50 ${pct(c.exportMs, 50).toFixed(1)} ms, p90 ${pct(c.exportMs, 90).toFixed(1)} ms, max ${Math.max(...c.exportMs).toFixed(1)} ms; coild CPU ${c.stats.cpuS.toFixed(1)} + ${c.stats.childCpuS.toFixed(1)} s; load ${c.load}\n`);
        // (b) and (c) on the pods of the round's last (a).
        if (k === aOrder.length - 1) {
          const order = n % 2 === 1 ? impls : [...impls].reverse();
          for (const impl of order) {
            const b = await restartKeep(round, impl);
            restarts.push(b);
            process.stdout.write(`round ${n} (b) ${impl.id}: synced ${b.syncedMs.toFixed(0)} ms, ready ${b.readyMs.toFixed(0)} ms, table-119 events ${b.adds} adds / ${b.deletes} deletes, unchanged ${String(b.unchanged)}, registered ${b.registered ?? "?"}, trouble lines ${b.trouble}; CPU ${b.stats.cpuS.toFixed(2)} + ${b.stats.childCpuS.toFixed(2)} s, RSS ${b.stats.rssMiB.toFixed(0)} MiB; load ${b.load}\n`);
            const cl = await restartCleared(round, impl, ctl, core);
            restarts.push(cl);
            process.stdout.write(`round ${n} (c) ${impl.id}: table full ${cl.fullMs?.toFixed(0) ?? "?"} ms, synced ${cl.syncedMs.toFixed(0)} ms, ready ${cl.readyMs.toFixed(0)} ms, ${cl.adds} adds / ${cl.deletes} deletes; CPU ${cl.stats.cpuS.toFixed(2)} + ${cl.stats.childCpuS.toFixed(2)} s, RSS ${cl.stats.rssMiB.toFixed(0)} MiB; load ${cl.load}\n`);
          }
        }
        await stopDaemon(round);
        const td = performance.now();
        await delNetns(round.pods);
        process.stdout.write(`round ${n}: ${PODS} pod netns deleted in ${((performance.now() - td) / 1000).toFixed(1)} s\n`);
        await monitor.close();
        await relay.close();
        await delNetns([name]);
        round = undefined;
        await clearBlocks(coil);
      }
    }
    const loadAfter = uptime();
    const otherAfter = otherLoad();
    process.stdout.write(`load after: ${loadAfter}\n`);
    const md = report({ startedAt, impls, creates, restarts, loadBefore, loadAfter, otherBefore, otherAfter });
    process.stdout.write(`${md}\n`);
    if (values["no-write"] !== true) {
      const path = join(ROOT, "bench/RESULTS-router-scale.md");
      writeFileSync(path, withSection(existsSync(path) ? readFileSync(path, "utf8") : "", COILD_EXPORT_MARKERS, md));
      process.stderr.write(`wrote ${path}\n`);
    }
    return 0;
  } catch (e) {
    if (round?.daemon !== undefined) process.stderr.write(`${round.daemon.impl.id} coild log tail:\n${round.daemon.tail()}\n`);
    throw e;
  } finally {
    if (round !== undefined) {
      await round.relay.close().catch(() => undefined);
    }
    await cleanup();
    await ctl.stop().catch(() => undefined);
    clients.destroy();
    await cp.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface ReportInput {
  readonly startedAt: string;
  readonly impls: readonly Impl[];
  readonly creates: readonly CreateRun[];
  readonly restarts: readonly RestartRun[];
  readonly loadBefore: string;
  readonly loadAfter: string;
  readonly otherBefore: ReturnType<typeof otherLoad>;
  readonly otherAfter: ReturnType<typeof otherLoad>;
}

const f0 = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? "—" : x.toFixed(0));
const f1 = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? "—" : x.toFixed(1));
const f2 = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? "—" : x.toFixed(2));

function report(r: ReportInput): string {
  const label = (id: ImplId): string => (id === "go" ? "Go (Coil v2.15.0)" : id === "before" ? "ours, before" : "ours");
  const ids = r.impls.map((i) => i.id);
  const stress = (o: ReturnType<typeof otherLoad>): string => (o.stress.length === 0 ? "none" : o.stress.map((l) => `\`${l}\``).join(", "));
  const cmd = `npm run bench:coild-export -- --pods=${PODS} --rounds=${ROUNDS} --concurrency=${CONCURRENCY}${values.before === undefined ? "" : " --before=…"}${values["no-go"] === true ? " --no-go" : ""}`;
  const allExport = (id: ImplId): number[] => r.creates.filter((c) => c.impl === id).flatMap((c) => c.exportMs);
  const aIds = ids.filter((id) => id !== "go");
  const med = (kind: RestartRun["kind"], id: ImplId, f: (x: RestartRun) => number | undefined): number =>
    median(r.restarts.filter((x) => x.kind === kind && x.impl === id).map(f).filter((v): v is number => v !== undefined));
  const medRow = (title: string, kind: RestartRun["kind"], f: (x: RestartRun) => number | undefined, fmt: (x: number) => string): string => {
    const vs = ids.map((id) => med(kind, id, f));
    const ratio = ids.includes("go") ? (vs[0] as number) / med(kind, "go", f) : NaN;
    return `| ${title} | ${vs.map(fmt).join(" | ")} |${ids.includes("go") ? ` ${Number.isFinite(ratio) ? ratio.toFixed(2) : "—"} |` : ""}`;
  };
  const head = `| | ${ids.map(label).join(" | ")} |${ids.includes("go") ? " ours / Go |" : ""}`;
  const sep = `|---|${ids.map(() => "---|").join("")}${ids.includes("go") ? "---|" : ""}`;
  const cpu = (x: RestartRun): number => x.stats.cpuS + x.stats.childCpuS;
  return [
    "## coild as deployed: 1,000 of its own blocks, each holding a pod",
    "",
    `${r.startedAt} · command: \`${cmd}\` (as root; bench/coild-export.ts) · ${cpus().length} × ${cpus()[0]?.model ?? "?"}, Node ${process.version}`,
    "",
    `- \`uptime\` before: \`${r.loadBefore}\`; runnable/total tasks ${r.otherBefore.runnable}; stress-ng: ${stress(r.otherBefore)}`,
    `- \`uptime\` after: \`${r.loadAfter}\`; runnable/total tasks ${r.otherAfter.runnable}; stress-ng: ${stress(r.otherAfter)}`,
    ...(LOAD_NOTE === "" ? [] : [`- ${LOAD_NOTE}`]),
    "- The 1-minute load average at the start of every measurement is in the tables (column load).",
    ...r.impls.map((i) => `- ${label(i.id)}: \`${i.argv.map((a) => a.replace(ROOT, "").replace(process.env["HOME"] ?? "~", "~")).join(" ")}\`, \`${i.version}\``),
    "",
    "Setup: one kube-apiserver + etcd with Coil's CRDs, the real coil-ipam-controller (dist bundle, own process), Node",
    `\`${NODE}\` (InternalIP ${NODE_V4}), AddressPool \`default\` with \`blockSizeBits: 0\` (${POOL_SUBNET}: every address is its own`,
    "block, so every pod takes a block of its own). Each round: a fresh test host namespace, the API server relayed into it, coild",
    "started there through `nsenter` with `--store=kubernetes` (ours), `--enable-egress=false`, `--zap-time-encoding=millis`,",
    "other flags at their defaults (table 119, protocol 30), KUBECONFIG and COIL_NODE_NAME in the environment. Table 119 is",
    "watched with `ip -4 -ts monitor route` under `chrt -f 50` (it stamps an event when it reads it: at real-time priority",
    "it reads at once whatever the load; µs timestamps; a route in a spare table serves as a barrier before anything is",
    "counted). Pods: one network namespace each (one `ip -batch` of `netns add`), ADD through coild's",
    `fast path (the JSON line the \`coil\` executable sends), ${CONCURRENCY} at a time; no Pod objects (coild's Pod read for static`,
    "addresses gets a 404, as cheap as a hit).",
    "",
    `### (a) ${PODS} pods created: each block's route in table 119`,
    "",
    "From coild's log line \"obtained a new block\" (its `ts`: the block is coild's, the BlockRequest done) to the kernel's",
    "event adding the block's route to table 119. Coil takes a block, syncs the table, then sets the pod up; so does ours",
    `(the ADD answers after the sync). ${PODS} samples per run; all runs of each bundle together:`,
    "",
    `| | ${aIds.map(label).join(" | ")} |`,
    `|---|${aIds.map(() => "---|").join("")}`,
    `| block → route p50 (ms) | ${aIds.map((id) => f1(pct(allExport(id), 50))).join(" | ")} |`,
    `| block → route p90 (ms) | ${aIds.map((id) => f1(pct(allExport(id), 90))).join(" | ")} |`,
    `| block → route max (ms) | ${aIds.map((id) => f1(Math.max(...allExport(id)))).join(" | ")} |`,
    `| ${PODS} ADDs, wall (s), median of runs | ${aIds.map((id) => f1(median(r.creates.filter((c) => c.impl === id).map((c) => c.addWallS)))).join(" | ")} |`,
    `| coild CPU for them, process + children (s), median | ${aIds.map((id) => f1(median(r.creates.filter((c) => c.impl === id).map((c) => c.stats.cpuS + c.stats.childCpuS)))).join(" | ")} |`,
    "",
    "| round | impl | load | block → route p50 ms | p90 ms | max ms | route deletes | failed ADDs (retried) | ADDs (wall s) | ADD p50 / p90 ms | netns: create s, Slab +MiB (MemAvailable −MiB) | coild CPU s (+children), RSS MiB |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...r.creates.map((c) =>
      `| ${c.round} | ${c.impl} | ${f1(c.load)} | ${f1(pct(c.exportMs, 50))} | ${f1(pct(c.exportMs, 90))} | ${f1(Math.max(...c.exportMs))} | ${c.deletes} | ${c.failures.length} | ${f1(c.addWallS)} | ${f0(c.addP50)} / ${f0(c.addP90)} | ${f1(c.netnsMs / 1000)}, ${f0(c.netnsSlabMiB)} (${f0(c.netnsMemMiB)}) | ${f2(c.stats.cpuS)} (+${f2(c.stats.childCpuS)}), ${f0(c.stats.rssMiB)} |`),
    ...r.creates.flatMap((c) => (c.failures.length === 0 ? [] : ["", `Failed ADDs, round ${c.round}, ${c.impl} (each retried): ${[...new Set(c.failures)].map((f) => `\`${f.slice(0, 300)}\``).join("; ")}`])),
    "",
    `### (b) restart with the ${PODS} pods alive, table 119 left as it is (Coil's default): medians`,
    "",
    "Clock from the spawn. \"First export sync done\": ours logs \"recovered node state\" after its start-up GC, which ends with",
    "the sync; Go logs \"starting manager\" right after its start-up GC (`nodeIPAM.GC`, which ends with `RouteExporter.Sync`).",
    "\"Serving CNI\": ours \"serving CNI\"; Go \"start periodic nodeIPAM GC\" (logged as its gRPC server starts). Both by the",
    "line's own `ts`. Table-119 events from the spawn until after the first sync (barrier) are counted: a delete would be a",
    "withdrawn route (flapping).",
    "",
    head,
    sep,
    medRow("spawn → first export sync done (ms)", "keep", (x) => x.syncedMs, f0),
    medRow("spawn → serving CNI (ms)", "keep", (x) => x.readyMs, f0),
    medRow("CPU at serving CNI, process + children (s)", "keep", cpu, f2),
    medRow("RSS at serving CNI (MiB)", "keep", (x) => x.stats.rssMiB, f0),
    "",
    `### (c) stopped with \`--clear-routes-on-shutdown\` (Node gone: table 119 emptied), started again: medians`,
    "",
    "The daemon started with the flag, the controller stopped (its orphan GC would delete the node's blocks once the Node is",
    "gone), the Node deleted, SIGTERM: the daemon empties table 119. Then the Node recreated, the controller restarted and",
    `leading, the daemon spawned again with the flag. "Table full": the kernel event of the last of the ${PODS} route adds.`,
    "",
    head,
    sep,
    medRow(`spawn → table 119 holds all ${PODS} routes (ms)`, "cleared", (x) => x.fullMs, f0),
    medRow("spawn → first export sync done (ms)", "cleared", (x) => x.syncedMs, f0),
    medRow("spawn → serving CNI (ms)", "cleared", (x) => x.readyMs, f0),
    medRow("CPU at serving CNI, process + children (s)", "cleared", cpu, f2),
    medRow("of which children (s)", "cleared", (x) => x.stats.childCpuS, f2),
    medRow("RSS at serving CNI (MiB)", "cleared", (x) => x.stats.rssMiB, f0),
    medRow("peak RSS, VmHWM (MiB)", "cleared", (x) => x.stats.hwmMiB, f0),
    "",
    "### (b) and (c): every run",
    "",
    "| round | case | impl | load | spawn → table full ms | → first sync ms | → serving CNI ms | table-119 adds / deletes | table as before | pods registered (trouble lines) | CPU s (+children) | RSS MiB (peak) | stop emptied table 119 (ms) |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...r.restarts.map((x) =>
      `| ${x.round} | ${x.kind === "keep" ? "(b) kept" : "(c) cleared"} | ${x.impl} | ${f1(x.load)} | ${f0(x.fullMs)} | ${f0(x.syncedMs)} | ${f0(x.readyMs)} | ${x.adds} / ${x.deletes} | ${x.kind === "keep" ? (x.unchanged ? "yes" : "**no**") : "—"} | ${x.registered ?? "—"} (${x.trouble}) | ${f2(x.stats.cpuS)} (+${f2(x.stats.childCpuS)}) | ${f0(x.stats.rssMiB)} (${f0(x.stats.hwmMiB)}) | ${x.clearedBySelf === undefined ? "—" : x.clearedBySelf ? `yes (${f0(x.clearMs)})` : `**no**${x.clearLogged === true ? "" : ", no \"clearing\" log line"} (flushed by the bench)`} |`),
    "",
  ].join("\n");
}

let code = 1;
try {
  code = await main();
} catch (e) {
  process.stderr.write(`bench:coild-export: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
}
process.exit(code);
