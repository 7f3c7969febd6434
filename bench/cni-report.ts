/**
 * The pure part of `npm run bench:cni` (bench/cni.ts): per-phase results in, Markdown tables with
 * the ratios ours / reference and the issue's targets out, and the panels of the latency plot
 * (bench/plot-svg.ts). No I/O, so test/bench/cni-report.test.ts checks the arithmetic.
 */
import type { Panel } from "./plot-svg.js";

/** A load phase: the machine as it is, or under `stress-ng --cpu 2` started by the bench. */
export type Phase = "quiet" | "hog";

/** All phases, in the order they alternate within a round. */
export const PHASES: readonly Phase[] = ["quiet", "hog"];

/** Row labels of the compared cases (the executables, as a runtime calls them). */
export const CASES = {
  coilV4: "coil + coild IPv4",
  refV4: "ptp + host-local IPv4",
  coilDual: "coil + coild dual stack",
  refDual: "ptp + host-local dual stack",
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

/** Everything measured in one phase, its slices merged. */
export interface PhaseResult {
  /** Which load. */
  readonly phase: Phase;
  /** Latency rows, samples of all slices concatenated (slice order). */
  readonly rows: readonly Row[];
  /** Wall ms of each slice's burst of concurrent IPv4 ADDs, per plugin. */
  readonly bursts: { readonly coil: readonly number[]; readonly ref: readonly number[] };
  /** coild VmRSS in MB with the burst's pods (and extra pods up to the pod count) attached, per slice. */
  readonly rss: readonly number[];
  /** Executable round trips without kernel work (DEL of an unknown container), ms. */
  readonly noopDel: { readonly coil: readonly number[]; readonly ref: readonly number[] };
  /** Wall ms of each slice's burst of concurrent `VERSION` calls (executable start-up only). */
  readonly version: { readonly coil: readonly number[]; readonly ref: readonly number[] };
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
const ratio = (a: number, b: number): number => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : NaN);
const row = (r: PhaseResult, label: string): Row | undefined => r.rows.find((x) => x.label === label);

/** One measure compared, ours against the reference. */
export interface Comparison {
  /** What is measured, e.g. `IPv4 ADD p50, ms`. */
  readonly measure: string;
  /** coil + coild. */
  readonly ours: number;
  /** ptp + host-local. */
  readonly ref: number;
  /** ours / ref (NaN when either side is missing). */
  readonly ratio: number;
}

/** ADD and DEL p50/p90 for IPv4 and dual stack, and the burst wall time (median over slices). */
export function comparisons(r: PhaseResult, shape: ReportShape): Comparison[] {
  const out: Comparison[] = [];
  const add = (measure: string, ours: number, ref: number): void => void out.push({ measure, ours, ref, ratio: ratio(ours, ref) });
  for (const [stack, o, f] of [["IPv4", CASES.coilV4, CASES.refV4], ["dual stack", CASES.coilDual, CASES.refDual]] as const) {
    const co = row(r, o);
    const rf = row(r, f);
    for (const verb of ["add", "del"] as const) {
      for (const p of [50, 90]) add(`${stack} ${verb.toUpperCase()} p${p}, ms`, pct(co?.[verb] ?? [], p), pct(rf?.[verb] ?? [], p));
    }
  }
  add(`burst of ${shape.burst} concurrent IPv4 ADDs, wall ms (median of ${r.bursts.coil.length})`, median(r.bursts.coil), median(r.bursts.ref));
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

/** The issue's targets for the phase, then the earlier ones kept (dual-stack ADD vs IPv4, coild RSS). */
export function targets(r: PhaseResult, shape: ReportShape): Target[] {
  const t = ISSUE_TARGETS[r.phase];
  const out: Target[] = [];
  const vs = (name: string, ours: number, ref: number, k: number, unit = "ms"): void => {
    const ok = Number.isFinite(ours) && Number.isFinite(ref) && ours <= k * ref;
    out.push({ name, measured: `${f1(ours)} ${unit} = ${f2(ratio(ours, ref))} ×`, limit: `≤ ${f1(k * ref)} ${unit}`, met: ok });
  };
  const cv4 = row(r, CASES.coilV4);
  const rv4 = row(r, CASES.refV4);
  vs(`IPv4 ADD p50 ≤ ${t.add} × reference`, pct(cv4?.add ?? [], 50), pct(rv4?.add ?? [], 50), t.add);
  if (t.del !== undefined) vs(`IPv4 DEL p50 ≤ ${t.del} × reference`, pct(cv4?.del ?? [], 50), pct(rv4?.del ?? [], 50), t.del);
  vs(`burst of ${shape.burst} ADDs ≤ ${t.burst} × reference`, median(r.bursts.coil), median(r.bursts.ref), t.burst);
  const cd = row(r, CASES.coilDual);
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

/** The Markdown section of one phase: latencies, ratios, targets, diagnostics, load averages. */
export function phaseMarkdown(r: PhaseResult, shape: ReportShape, rssIdle: number): string {
  const lines = [`## ${phaseTitle(r.phase)}`, ""];
  lines.push(`Load average (1/5/15 min) per slice, start → end: ${r.loads.map((l, i) => `${i + 1}: ${load3(l.start)} → ${load3(l.end)}`).join("; ")}.`, "");
  lines.push("| case | n | ADD p50 ms | ADD p90 ms | DEL p50 ms | DEL p90 ms |", "|---|---|---|---|---|---|");
  for (const x of r.rows) lines.push(`| ${x.label} | ${x.add.length} | ${f1(pct(x.add, 50))} | ${f1(pct(x.add, 90))} | ${f1(pct(x.del, 50))} | ${f1(pct(x.del, 90))} |`);
  lines.push("", "| measure | coil + coild | ptp + host-local | ours / reference |", "|---|---|---|---|");
  for (const c of comparisons(r, shape)) lines.push(`| ${c.measure} | ${f1(c.ours)} | ${f1(c.ref)} | ${f2(c.ratio)} × |`);
  lines.push(`| burst walls per slice, ms | ${r.bursts.coil.map(f1).join(", ")} | ${r.bursts.ref.map(f1).join(", ")} | |`);
  lines.push(`| coild VmRSS with ${shape.pods} pods per slice, MB (idle at start: ${f1(rssIdle)}) | ${r.rss.map(f1).join(", ")} | — | |`);
  lines.push("", "| target | measured | limit | met |", "|---|---|---|---|");
  for (const t of targets(r, shape)) lines.push(`| ${t.name} | ${t.measured} | ${t.limit} | ${t.met ? "✔ met" : "✘ missed"} |`);
  lines.push("", "| diagnostic | coil | ptp |", "|---|---|---|");
  lines.push(`| DEL of an unknown container (executable round trip, no kernel work), p50 ms | ${f1(pct(r.noopDel.coil, 50))} | ${f1(pct(r.noopDel.ref, 50))} |`);
  lines.push(`| ${shape.burst} concurrent \`VERSION\` calls (executable start-up only, no daemon), wall ms, median of ${r.version.coil.length} | ${f1(median(r.version.coil))} | ${f1(median(r.version.ref))} |`);
  return lines.join("\n");
}

/** Targets of every phase in one table (the summary at the top of the results). */
export function targetSummary(results: readonly PhaseResult[], shape: ReportShape): string {
  const lines = ["| phase | target | measured | met |", "|---|---|---|---|"];
  for (const r of results) for (const t of targets(r, shape)) if (!t.name.includes("earlier target")) lines.push(`| ${r.phase} | ${t.name} | ${t.measured} | ${t.met ? "✔ met" : "✘ missed"} |`);
  return lines.join("\n");
}

const OURS = "#1f77b4";
const REF = "#ff7f0e";

/** Plot panels: one per phase and verb (rows = phases, columns = ADD, DEL), the four executable cases each. */
export function latencyPanels(results: readonly PhaseResult[]): Panel[] {
  const panels: Panel[] = [];
  for (const r of results) {
    for (const verb of ["add", "del"] as const) {
      panels.push({
        title: `${verb.toUpperCase()} — ${r.phase === "quiet" ? "quiet" : "under stress-ng --cpu 2"}`,
        series: [
          { label: CASES.coilV4, color: OURS, values: row(r, CASES.coilV4)?.[verb] ?? [] },
          { label: CASES.refV4, color: REF, values: row(r, CASES.refV4)?.[verb] ?? [] },
          { label: CASES.coilDual, color: OURS, dashed: true, values: row(r, CASES.coilDual)?.[verb] ?? [] },
          { label: CASES.refDual, color: REF, dashed: true, values: row(r, CASES.refDual)?.[verb] ?? [] },
        ],
      });
    }
  }
  return panels;
}
