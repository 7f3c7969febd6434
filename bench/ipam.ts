/**
 * IPAM micro-benchmarks (a script, not a test):
 *   node --import tsx bench/ipam.ts
 * Prints a table and writes bench/RESULTS-ipam.md.
 *
 * The in-block allocator rows are compared with Coil v2.15.0's Go allocator in the same run:
 * bench/go builds a Go benchmark against the module in the Go module cache (`go test -c`, needs
 * `go` and GOPROXY for the first download), and every round runs the TypeScript loops and then
 * the Go binary, interleaved. The comparison is run twice: on the machine as it is ("quiet"), and
 * under `stress-ng --cpu 2` (skipped when stress-ng is missing).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { AddressAllocator, BlockAllocator, NodeIpam, blockName } from "../lib/ipam/index.js";

const RUNS = 5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

/** Median over RUNS of ops/s for `ops` operations done by `body`. */
function throughput(ops: number, setup: () => () => void): number {
  const rates: number[] = [];
  for (let r = 0; r < RUNS + 1; r++) {
    const body = setup();
    const t0 = performance.now();
    body();
    const ms = performance.now() - t0;
    if (r > 0) rates.push(ops / (ms / 1000)); // run 0 is warm-up
  }
  return median(rates);
}

/** Median over RUNS of milliseconds taken by `body`. */
function timeMs(setup: () => () => void): number {
  const ts: number[] = [];
  for (let r = 0; r < RUNS + 1; r++) {
    const body = setup();
    const t0 = performance.now();
    body();
    if (r > 0) ts.push(performance.now() - t0);
  }
  return median(ts);
}

function inBlock(block: { ipv4?: string; ipv6?: string }, n: number): () => void {
  const a = AddressAllocator.create(block)._unsafeUnwrap();
  for (let i = 0; i < 16; i++) a.allocate()._unsafeUnwrap(); // half full
  let victim = 0;
  return () => {
    for (let i = 0; i < n; i++) {
      const r = a.allocate();
      if (r.isErr()) throw new Error("full");
      a.free(victim);
      victim = r.value.index;
    }
  };
}

function nodeChurn(dual: boolean, n: number): () => void {
  const ipam = new NodeIpam();
  for (let b = 0; b < 4; b++) {
    ipam.addBlock({
      name: blockName("default", b),
      pool: "default",
      index: b,
      ipv4: `10.2.0.${b * 32}/27`,
      ...(dual ? { ipv6: `fd02::${(b * 32).toString(16)}/123` } : {}),
    })._unsafeUnwrap();
  }
  for (let i = 0; i < 64; i++) ipam.allocate({ pool: "default", containerId: `warm${i}`, ifname: "eth0" })._unsafeUnwrap();
  let oldest = 0;
  return () => {
    for (let i = 0; i < n; i++) {
      const r = ipam.allocate({ pool: "default", containerId: `c${i}`, ifname: "eth0" });
      if (r.isErr()) throw new Error(r.error.kind);
      if (i >= 64) ipam.free(`c${oldest++}`, "eth0");
      else ipam.free(`warm${i}`, "eth0");
    }
  };
}

function carveAll(spec: { blockSizeBits: number; subnets: { ipv4?: string; ipv6?: string }[] }): () => void {
  const a = BlockAllocator.create(spec)._unsafeUnwrap();
  return () => {
    let count = 0;
    while (a.allocateBlock().isOk()) count++;
    if (count !== 65536) throw new Error(`carved ${count}`);
  };
}

function rebuild65536(): () => void {
  const a = BlockAllocator.create({ blockSizeBits: 0, subnets: [{ ipv4: "10.0.0.0/16" }] })._unsafeUnwrap();
  const idx = Array.from({ length: 65536 }, (_, i) => i);
  return () => {
    a.rebuild(idx);
    if (a.nextIndex().isOk()) throw new Error("not full");
  };
}

const N = 200_000;

/** The Go benchmark binary (Coil's allocator), or why there is none. */
function buildGo(dir: string): { readonly bin: string } | { readonly skipped: string } {
  const bin = join(dir, "coilbench.test");
  const goDir = new URL("./go/", import.meta.url).pathname;
  const r = spawnSync("go", ["test", "-c", "-o", bin, "."], {
    cwd: goDir,
    env: { ...process.env, GOFLAGS: "-mod=mod" },
    encoding: "utf8",
  });
  if (r.error !== undefined) return { skipped: `go not runnable: ${r.error.message}` };
  if (r.status !== 0) return { skipped: `go test -c failed: ${r.stderr.trim().split("\n").slice(-3).join(" ")}` };
  return { bin };
}

/** One run of the Go benchmarks: pairs/s by benchmark name. */
function runGo(bin: string): Map<string, number> {
  const r = spawnSync(bin, ["-test.run", "^$", "-test.bench", ".", "-test.benchtime", `${N}x`, "-test.count", "1"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`go benchmark failed: ${r.stdout} ${r.stderr}`);
  const out = new Map<string, number>();
  for (const m of r.stdout.matchAll(/^Benchmark(\w+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns\/op/gm)) out.set(m[1] ?? "", 1e9 / Number(m[2]));
  return out;
}

const GO_ROWS = ["CoilInBlockV4", "CoilInBlockDual", "CoilInBlockV4Text", "CoilInBlockDualText"] as const;

/** TypeScript vs Go in-block rows, RUNS interleaved rounds after one warm-up round; medians. */
function compare(goBin: string | undefined): Map<string, number> {
  const series = new Map<string, number[]>();
  const push = (k: string, v: number): void => void (series.get(k) ?? series.set(k, []).get(k))?.push(v);
  for (let r = 0; r < RUNS + 1; r++) {
    const ts4 = throughput1(N, () => inBlock({ ipv4: "10.2.0.0/27" }, N));
    const tsd = throughput1(N, () => inBlock({ ipv4: "10.2.0.0/27", ipv6: "fd02::/123" }, N));
    const go = goBin === undefined ? undefined : runGo(goBin);
    if (r === 0) continue;
    push("ts4", ts4);
    push("tsd", tsd);
    for (const k of GO_ROWS) if (go?.has(k) === true) push(k, go.get(k) ?? NaN);
  }
  return new Map([...series].map(([k, v]) => [k, median(v)]));
}

/** ops/s of one run. */
function throughput1(ops: number, setup: () => () => void): number {
  const body = setup();
  const t0 = performance.now();
  body();
  return ops / ((performance.now() - t0) / 1000);
}

function startStress(): ChildProcess | undefined {
  const probe = spawnSync("stress-ng", ["--version"], { encoding: "utf8" });
  if (probe.error !== undefined || probe.status !== 0) return undefined;
  return spawn("stress-ng", ["--cpu", "2", "--quiet"], { stdio: "ignore" });
}

const work = mkdtempSync(join(tmpdir(), "coil-bench-ipam-"));
const go = buildGo(work);
const goBin = "bin" in go ? go.bin : undefined;
const load = (): string => loadavg().map((x) => x.toFixed(1)).join(" / ");

const quietLoad0 = load();
const quiet = compare(goBin);
const quietLoad1 = load();
const hog = startStress();
let stressed: Map<string, number> | undefined;
let stressLoad = "";
if (hog !== undefined) {
  const t0 = performance.now();
  while (performance.now() - t0 < 1000); // let the hog's workers start (busy wait keeps this script's core)
  const l0 = load();
  stressed = compare(goBin);
  stressLoad = `${l0} → ${load()}`;
  hog.kill("SIGTERM");
}
rmSync(work, { recursive: true, force: true });

const cmp = (m: Map<string, number> | undefined, ts: string, goKey: string): string => {
  if (m === undefined) return "not run (no stress-ng)";
  const a = m.get(ts);
  const b = m.get(goKey);
  if (a === undefined) return "—";
  return b === undefined ? fmt(a) : `${fmt(a)} vs ${fmt(b)} (${(a / b).toFixed(2)}×)`;
};
const compareRows: [string, string, string][] = [
  ["in-block v4 /27, pairs/s: TS (text) vs Go (net.IP)", cmp(quiet, "ts4", "CoilInBlockV4"), cmp(stressed, "ts4", "CoilInBlockV4")],
  ["in-block dual /27+/123, pairs/s: TS (text) vs Go (net.IP)", cmp(quiet, "tsd", "CoilInBlockDual"), cmp(stressed, "tsd", "CoilInBlockDual")],
  ["in-block v4 /27, pairs/s: TS (text) vs Go (+ String())", cmp(quiet, "ts4", "CoilInBlockV4Text"), cmp(stressed, "ts4", "CoilInBlockV4Text")],
  ["in-block dual /27+/123, pairs/s: TS (text) vs Go (+ String())", cmp(quiet, "tsd", "CoilInBlockDualText"), cmp(stressed, "tsd", "CoilInBlockDualText")],
];

const rows: [string, string][] = [
  ["node allocator, v4, 4 blocks: allocate+free pairs/s", fmt(throughput(N, () => nodeChurn(false, N)))],
  ["node allocator, dual, 4 blocks: allocate+free pairs/s", fmt(throughput(N, () => nodeChurn(true, N)))],
  ["pool 65,536 blocks (v4 /16, bits 0): allocate + carve all, ms", timeMs(() => carveAll({ blockSizeBits: 0, subnets: [{ ipv4: "10.0.0.0/16" }] })).toFixed(1)],
  [
    "pool 65,536 blocks (dual /16 + /112, bits 0): allocate + carve all, ms",
    timeMs(() => carveAll({ blockSizeBits: 0, subnets: [{ ipv4: "10.0.0.0/16", ipv6: "fd02::/112" }] })).toFixed(1),
  ],
  ["pool 65,536 blocks: rebuild from 65,536 observed indexes, ms", timeMs(rebuild65536).toFixed(2)],
];

function fmt(x: number): string {
  return Math.round(x).toLocaleString("en-US");
}

const width = Math.max(...rows.map(([k]) => k.length), ...compareRows.map(([k]) => k.length));
console.log(`${"measure".padEnd(width)} | quiet | under stress-ng --cpu 2`);
for (const [k, q, st] of compareRows) console.log(`${k.padEnd(width)} | ${q} | ${st}`);
console.log("");
for (const [k, v] of rows) console.log(`${k.padEnd(width)} | ${v}`);

const cpu = cpus();
const date = new Date().toISOString();
const goVersion = spawnSync("go", ["version"], { encoding: "utf8" }).stdout?.trim() ?? "no go";
const md = `# IPAM benchmark results

- Date: ${date}
- Command: \`npm run bench\` (\`node --import tsx bench/ipam.ts\`, from the repository root)
- Machine: ${cpu.length} cores (${cpu[0]?.model ?? "unknown CPU"}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, shared with other jobs
- Load average (1/5/15 min): quiet comparison ${quietLoad0} → ${quietLoad1}; under stress ${stressLoad === "" ? "not run" : stressLoad}; end of run ${load()}.
  "Quiet" means no hog of our own: other jobs were running on the machine, so treat figures as lower bounds.
- Node ${process.version}, run through tsx (no build step); ${goVersion}
- Go side: ${"skipped" in go ? go.skipped : "bench/go (Coil v2.15.0's `pkg/ipam` allocator from the module cache, reached by `go:linkname`; `go test -c`, run with `-test.benchtime " + N + "x`)"}
- Method: each figure is the median of ${RUNS} runs after one warm-up run; throughput rows do ${N.toLocaleString("en-US")} allocate+free pairs per run.
  In-block rows keep the block half full (16 of 32) and free the previously allocated offset after each allocation,
  in both languages. The comparison rounds are interleaved: each round runs the two TypeScript loops, then the Go binary
  (all four Go benchmarks), so load drift hits both alike. TypeScript hands out addresses as canonical text (RFC 5952
  for IPv6); Go's allocator hands out \`net.IP\` bytes, and coild turns them into text (\`String()\`) before answering:
  both Go figures are shown. Under stress, \`stress-ng --cpu 2\` runs for the whole comparison.
  Node rows keep 64 pods alive over 4 blocks of 32 and replace the oldest pod each step.
  Carving rows allocate every block of the pool through \`BlockAllocator.allocateBlock\` (lowest free index + CIDR computation).

## In-block allocator: TypeScript vs Coil v2.15.0 (Go), pairs/s (ratio TS / Go)

| measure | quiet | under \`stress-ng --cpu 2\` |
|---|---|---|
${compareRows.map(([k, q, st]) => `| ${k} | ${q} | ${st} |`).join("\n")}

## Other rows (quiet)

| measure | value |
|---|---|
${rows.map(([k, v]) => `| ${k} | ${v} |`).join("\n")}
`;
// The hand-written notes (from the marker to the end of the file) survive a new run.
const NOTES_MARKER = "<!-- notes: kept by bench/ipam.ts -->";
const resultsPath = new URL("./RESULTS-ipam.md", import.meta.url);
const previous = existsSync(resultsPath) ? readFileSync(resultsPath, "utf8") : "";
const notesAt = previous.indexOf(NOTES_MARKER);
writeFileSync(resultsPath, `${md.trimEnd()}\n\n${notesAt < 0 ? `${NOTES_MARKER}\n` : previous.slice(notesAt)}`);
console.log("\nwrote bench/RESULTS-ipam.md");
