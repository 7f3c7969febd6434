/**
 * The pure part of `npm run bench:cni` (bench/cni.ts): per-phase results in, Markdown tables with
 * the ratios ours / reference and the issue's targets out, and the panels of the latency plot
 * (bench/plot-svg.ts). "Ours" is coil-qjs (the executable the image installs); the Bun build of the
 * same TypeScript is a diagnostic column beside it, never the one the targets are checked on. No I/O,
 * so test/bench/cni-report.test.ts checks the arithmetic.
 */
import type { Panel } from "./plot-svg.js";

/** A load phase: the machine as it is, or under `stress-ng --cpu 2` started by the bench. */
export type Phase = "quiet" | "hog";

/** All phases, in the order they alternate within a round. */
export const PHASES: readonly Phase[] = ["quiet", "hog"];

/**
 * The executables measured: `qjs` is ours (dist/bin/coil-qjs, QuickJS bytecode in a static Go host,
 * what the image installs as /opt/cni/bin/coil), `bun` the Bun `--compile` build of the same
 * TypeScript (dist/bin/coil, a diagnostic case), `ref` Debian's `ptp` (with `host-local`).
 */
export type Exe = "qjs" | "bun" | "ref";

/** All executables, in the order of the report's columns. */
export const EXES: readonly Exe[] = ["qjs", "bun", "ref"];

/** Short names of the executables (column headings of the diagnostics). */
export const EXE_NAMES: Readonly<Record<Exe, string>> = { qjs: "coil-qjs", bun: "coil (Bun)", ref: "ptp" };

/** Row labels of the compared cases (the executables, as a runtime calls them). */
export const CASES = {
  qjsV4: "coil-qjs + coild IPv4",
  refV4: "ptp + host-local IPv4",
  qjsDual: "coil-qjs + coild dual stack",
  refDual: "ptp + host-local dual stack",
  bunV4: "coil (Bun) + coild IPv4",
} as const;

/** Latency samples of one case, in ms, in call order. */
export interface Row {
  /** Case label ({@link CASES} or a daemon-side row). */
  readonly label: string;
  /** ADD wall times. */
  readonly add: readonly number[];
  /** DEL wall times. */
  readonly del: readonly number[];
}

/** Load average (1/5/15 min) at the start and the end of one slice of a phase. */
export interface SliceLoad {
  /** `os.loadavg()` when the slice started (for the hog: after its workers were running). */
  readonly start: readonly number[];
  /** `os.loadavg()` when the slice's last call returned. */
  readonly end: readonly number[];
}

/** CPU (user + sys) of a run of serial calls of one executable: the total and how many calls it covers. */
export interface CpuTotal {
  /** Children's user + sys CPU of all the calls, ms. */
  readonly ms: number;
  /** Number of calls. */
  readonly calls: number;
}

/** One figure (or one list of samples) per executable. */
export type PerExe<T> = Readonly<Record<Exe, T>>;

/** Everything measured in one phase, its slices merged. */
export interface PhaseResult {
  /** Which load. */
  readonly phase: Phase;
  /** Latency rows, samples of all slices concatenated (slice order). */
  readonly rows: readonly Row[];
  /** Wall ms of each slice's burst of concurrent IPv4 ADDs, per executable (empty: not run). */
  readonly bursts: PerExe<readonly number[]>;
  /** coild VmRSS in MB with the coil-qjs burst's pods (and extra pods up to the pod count) attached, per slice. */
  readonly rss: readonly number[];
  /** Executable round trips without kernel work (DEL of an unknown container), ms. */
  readonly noopDel: PerExe<readonly number[]>;
  /** Wall ms of each slice's burst of concurrent `VERSION` calls (executable start-up only). */
  readonly version: PerExe<readonly number[]>;
  /** CPU of each slice's serial `VERSION` calls (executable start-up only), per executable. */
  readonly versionCpu: PerExe<readonly CpuTotal[]>;
  /** Load average around each slice. */
  readonly loads: readonly SliceLoad[];
}

/** Counts that the tables name. */
export interface ReportShape {
  /** Size of each burst of concurrent ADDs. */
  readonly burst: number;
  /** Pods attached when coild's RSS is read. */
  readonly pods: number;
}

/** Nearest-rank percentile: sorted[floor(p/100 · n)] (the bench's definition since its first run). */
export function pct(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

/** Median (mean of the middle two for an even count); NaN when empty. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length / 2;
  return Number.isInteger(mid) ? ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2 : (s[Math.floor(mid)] ?? NaN);
}

const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : "—");
const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : "—");
/** A ratio as `1.23 ×`, or `—` when it could not be computed. */
const fx = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(2)} ×` : "—");
const ratio = (a: number, b: number): number => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : NaN);
const row = (r: PhaseResult, label: string): Row | undefined => r.rows.find((x) => x.label === label);

/** Mean CPU per call over all slices (total CPU / total calls); NaN when nothing was measured. */
export function cpuPerCall(xs: readonly CpuTotal[]): number {
  const calls = xs.reduce((a, x) => a + x.calls, 0);
  return calls > 0 ? xs.reduce((a, x) => a + x.ms, 0) / calls : NaN;
}

/** One measure compared, ours against the reference (and the Bun build where it was measured). */
export interface Comparison {
  /** What is measured, e.g. `IPv4 ADD p50, ms`. */
  readonly measure: string;
  /** coil-qjs + coild. */
  readonly ours: number;
  /** ptp + host-local. */
  readonly ref: number;
  /** ours / ref (NaN when either side is missing). */
  readonly ratio: number;
  /** coil (Bun) + coild (NaN where the Bun build is not measured, e.g. dual stack). */
  readonly bun: number;
  /** bun / ref (NaN when either side is missing). */
  readonly bunRatio: number;
}

/** ADD and DEL p50/p90 for IPv4 and dual stack, and the burst wall time (median over slices). */
export function comparisons(r: PhaseResult, shape: ReportShape): Comparison[] {
  const out: Comparison[] = [];
  const add = (measure: string, ours: number, ref: number, bun: number): void => void out.push({ measure, ours, ref, ratio: ratio(ours, ref), bun, bunRatio: ratio(bun, ref) });
  for (const [stack, o, f, b] of [["IPv4", CASES.qjsV4, CASES.refV4, CASES.bunV4], ["dual stack", CASES.qjsDual, CASES.refDual, undefined]] as const) {
    const co = row(r, o);
    const rf = row(r, f);
    const bn = b === undefined ? undefined : row(r, b);
    for (const verb of ["add", "del"] as const) {
      for (const p of [50, 90]) add(`${stack} ${verb.toUpperCase()} p${p}, ms`, pct(co?.[verb] ?? [], p), pct(rf?.[verb] ?? [], p), pct(bn?.[verb] ?? [], p));
    }
  }
  add(`burst of ${shape.burst} concurrent IPv4 ADDs, wall ms (median of ${r.bursts.qjs.length})`, median(r.bursts.qjs), median(r.bursts.ref), median(r.bursts.bun));
  return out;
}

/** One target of the issue (or an earlier one kept), checked against a phase's figures. */
export interface Target {
  /** The target as the issue words it. */
  readonly name: string;
  /** Measured value with its ratio. */
  readonly measured: string;
  /** The limit in the measured unit. */
  readonly limit: string;
  /** Whether the figure is within the limit (false when it could not be measured). */
  readonly met: boolean;
}

/** The issue's targets: ours / reference at most this factor, per phase. */
export const ISSUE_TARGETS: Readonly<Record<Phase, { readonly add: number; readonly del?: number; readonly burst: number }>> = {
  quiet: { add: 1.5, del: 1.0, burst: 1.0 },
  hog: { add: 2.0, burst: 1.5 },
};

/**
 * The issue's targets for the phase, checked on coil-qjs (ours), then the earlier ones kept (dual-stack
 * ADD vs IPv4, coild RSS).
 */
export function targets(r: PhaseResult, shape: ReportShape): Target[] {
  const t = ISSUE_TARGETS[r.phase];
  const out: Target[] = [];
  const vs = (name: string, ours: number, ref: number, k: number, unit = "ms"): void => {
    const ok = Number.isFinite(ours) && Number.isFinite(ref) && ours <= k * ref;
    out.push({ name, measured: `${f1(ours)} ${unit} = ${f2(ratio(ours, ref))} ×`, limit: `≤ ${f1(k * ref)} ${unit}`, met: ok });
  };
  const cv4 = row(r, CASES.qjsV4);
  const rv4 = row(r, CASES.refV4);
  vs(`IPv4 ADD p50 ≤ ${t.add} × reference`, pct(cv4?.add ?? [], 50), pct(rv4?.add ?? [], 50), t.add);
  if (t.del !== undefined) vs(`IPv4 DEL p50 ≤ ${t.del} × reference`, pct(cv4?.del ?? [], 50), pct(rv4?.del ?? [], 50), t.del);
  vs(`burst of ${shape.burst} ADDs ≤ ${t.burst} × reference`, median(r.bursts.qjs), median(r.bursts.ref), t.burst);
  const cd = row(r, CASES.qjsDual);
  if (cd !== undefined) vs("dual-stack ADD p50 ≤ 1.2 × our IPv4 ADD (earlier target)", pct(cd.add, 50), pct(cv4?.add ?? [], 50), 1.2);
  const rss = Math.max(...r.rss);
  if (Number.isFinite(rss)) out.push({ name: `coild RSS with ${shape.pods} pods ≤ 80 MB (earlier target; max over slices)`, measured: `${f1(rss)} MB`, limit: "≤ 80 MB", met: rss <= 80 });
  return out;
}

const load3 = (l: readonly number[]): string => l.map((x) => x.toFixed(2)).join(" ");

/** Heading text of a phase. */
export function phaseTitle(p: Phase): string {
  return p === "quiet" ? "Quiet (no hog of our own)" : "Under a CPU hog (`stress-ng --cpu 2`, started and stopped by the bench)";
}

/** A diagnostic row: the figure per executable, then coil-qjs / ptp and Bun / ptp. */
function diagRow(what: string, v: PerExe<number>): string {
  return `| ${what} | ${f1(v.qjs)} | ${f1(v.bun)} | ${f1(v.ref)} | ${fx(ratio(v.qjs, v.ref))} | ${fx(ratio(v.bun, v.ref))} |`;
}

const perExe = <T>(f: (e: Exe) => T): PerExe<T> => ({ qjs: f("qjs"), bun: f("bun"), ref: f("ref") });

/** The Markdown section of one phase: latencies, ratios, targets, diagnostics, load averages. */
export function phaseMarkdown(r: PhaseResult, shape: ReportShape, rssIdle: number): string {
  const lines = [`## ${phaseTitle(r.phase)}`, ""];
  lines.push(`Load average (1/5/15 min) per slice, start → end: ${r.loads.map((l, i) => `${i + 1}: ${load3(l.start)} → ${load3(l.end)}`).join("; ")}.`, "");
  lines.push("| case | n | ADD p50 ms | ADD p90 ms | DEL p50 ms | DEL p90 ms |", "|---|---|---|---|---|---|");
  for (const x of r.rows) lines.push(`| ${x.label} | ${x.add.length} | ${f1(pct(x.add, 50))} | ${f1(pct(x.add, 90))} | ${f1(pct(x.del, 50))} | ${f1(pct(x.del, 90))} |`);
  lines.push("", "| measure | coil-qjs + coild (ours) | ptp + host-local | ours / reference | coil (Bun) + coild | Bun / reference |", "|---|---|---|---|---|---|");
  for (const c of comparisons(r, shape)) lines.push(`| ${c.measure} | ${f1(c.ours)} | ${f1(c.ref)} | ${fx(c.ratio)} | ${f1(c.bun)} | ${fx(c.bunRatio)} |`);
  lines.push(`| burst walls per slice, ms | ${r.bursts.qjs.map(f1).join(", ")} | ${r.bursts.ref.map(f1).join(", ")} | | ${r.bursts.bun.map(f1).join(", ")} | |`);
  lines.push(`| coild VmRSS with ${shape.pods} pods per slice, MB (idle at start: ${f1(rssIdle)}) | ${r.rss.map(f1).join(", ")} | — | | | |`);
  lines.push("", "| target (on coil-qjs) | measured | limit | met |", "|---|---|---|---|");
  for (const t of targets(r, shape)) lines.push(`| ${t.name} | ${t.measured} | ${t.limit} | ${t.met ? "✔ met" : "✘ missed"} |`);
  lines.push("", `| diagnostic | ${EXE_NAMES.qjs} | ${EXE_NAMES.bun} | ${EXE_NAMES.ref} | coil-qjs / ptp | Bun / ptp |`, "|---|---|---|---|---|---|");
  lines.push(diagRow("DEL of an unknown container (executable round trip, no kernel work), p50 ms", perExe((e) => pct(r.noopDel[e], 50))));
  lines.push(diagRow(`${shape.burst} concurrent \`VERSION\` calls (executable start-up only, no daemon), wall ms, median of ${r.version.qjs.length}`, perExe((e) => median(r.version[e]))));
  const calls = r.versionCpu.qjs.reduce((a, x) => a + x.calls, 0);
  lines.push(diagRow(`\`VERSION\` CPU (user + sys) per call, ms, mean of ${calls} serial calls`, perExe((e) => cpuPerCall(r.versionCpu[e]))));
  lines.push(`| — per slice, ms | ${r.versionCpu.qjs.map((x) => f1(x.ms / x.calls)).join(", ")} | ${r.versionCpu.bun.map((x) => f1(x.ms / x.calls)).join(", ")} | ${r.versionCpu.ref.map((x) => f1(x.ms / x.calls)).join(", ")} | | |`);
  return lines.join("\n");
}

/** Targets of every phase in one table (the summary at the top of the results). */
export function targetSummary(results: readonly PhaseResult[], shape: ReportShape): string {
  const lines = ["| phase | target (on coil-qjs) | measured | met |", "|---|---|---|---|"];
  for (const r of results) for (const t of targets(r, shape)) if (!t.name.includes("earlier target")) lines.push(`| ${r.phase} | ${t.name} | ${t.measured} | ${t.met ? "✔ met" : "✘ missed"} |`);
  return lines.join("\n");
}

const OURS = "#1f77b4";
const REF = "#ff7f0e";
const BUN = "#2ca02c";

/** Plot panels: one per phase and verb (rows = phases, columns = ADD, DEL), the five executable cases each. */
export function latencyPanels(results: readonly PhaseResult[]): Panel[] {
  const panels: Panel[] = [];
  for (const r of results) {
    for (const verb of ["add", "del"] as const) {
      panels.push({
        title: `${verb.toUpperCase()} — ${r.phase === "quiet" ? "quiet" : "under stress-ng --cpu 2"}`,
        series: [
          { label: CASES.qjsV4, color: OURS, values: row(r, CASES.qjsV4)?.[verb] ?? [] },
          { label: CASES.refV4, color: REF, values: row(r, CASES.refV4)?.[verb] ?? [] },
          { label: CASES.qjsDual, color: OURS, dashed: true, values: row(r, CASES.qjsDual)?.[verb] ?? [] },
          { label: CASES.refDual, color: REF, dashed: true, values: row(r, CASES.refDual)?.[verb] ?? [] },
          { label: CASES.bunV4, color: BUN, values: row(r, CASES.bunV4)?.[verb] ?? [] },
        ],
      });
    }
  }
  return panels;
}
