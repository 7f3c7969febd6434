import t from "tap";
import { comparisons, cpuPerCall, median, pct, phaseMarkdown, targets, targetSummary, type PhaseResult } from "../../bench/cni-report.js";

const shape = { burst: 100, pods: 110 };

/**
 * A phase whose IPv4 p50s are ours (coil-qjs) `add`/`del` ms against the reference's 20/50 ms, bursts `b`
 * vs 1000 ms; the Bun build takes twice ours (three times for the bursts).
 */
function phase(p: "quiet" | "hog", add: number, del: number, b: number[]): PhaseResult {
  const three = (x: number): number[] => [x - 1, x, x + 1];
  return {
    phase: p,
    rows: [
      { label: "coil-qjs + coild IPv4", add: three(add), del: three(del) },
      { label: "ptp + host-local IPv4", add: three(20), del: three(50) },
      { label: "coil-qjs + coild dual stack", add: three(add), del: three(del) },
      { label: "coil (Bun) + coild IPv4", add: three(2 * add), del: three(2 * del) },
      { label: "ptp + host-local dual stack", add: three(2000), del: three(50) },
    ],
    bursts: { qjs: b, bun: b.map((x) => 3 * x), ref: b.map(() => 1000) },
    rss: [70, 75],
    noopDel: { qjs: [20], bun: [30], ref: [12] },
    version: { qjs: [1000, 1100], bun: [2000, 2200], ref: [400, 420] },
    versionCpu: {
      qjs: [{ ms: 840, calls: 40 }, { ms: 920, calls: 40 }],
      bun: [{ ms: 1800, calls: 40 }, { ms: 2000, calls: 40 }],
      ref: [{ ms: 600, calls: 40 }, { ms: 680, calls: 40 }],
    },
    loads: [
      { start: [1, 1, 1], end: [1.5, 1, 1] },
      { start: [3, 2, 1], end: [3.5, 2, 1] },
    ],
  };
}

t.test("percentiles and medians", async (t) => {
  t.equal(pct([5, 1, 4, 2, 3], 50), 3);
  t.equal(pct([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90), 10, "nearest rank: sorted[floor(0.9 · 10)]");
  t.ok(Number.isNaN(pct([], 50)));
  t.equal(median([3, 1, 2]), 2);
  t.equal(median([1000, 2000]), 1500, "mean of the middle two");
  t.ok(Number.isNaN(median([])));
});

t.test("quiet targets: ADD ≤ 1.5×, DEL ≤ 1.0×, burst ≤ 1.0× the reference, met and missed at the limits", async (t) => {
  const met = targets(phase("quiet", 30, 50, [900, 1100]), shape);
  t.same(met.slice(0, 3).map((x) => [x.name, x.met]), [
    ["IPv4 ADD p50 ≤ 1.5 × reference", true],
    ["IPv4 DEL p50 ≤ 1 × reference", true],
    ["burst of 100 ADDs ≤ 1 × reference", true],
  ]);
  t.equal(met[0]?.measured, "30.0 ms = 1.50 ×");
  const missed = targets(phase("quiet", 31, 51, [1000, 1002]), shape);
  t.same(missed.slice(0, 3).map((x) => x.met), [false, false, false]);
});

t.test("hog targets: ADD ≤ 2×, burst ≤ 1.5×, no DEL target", async (t) => {
  const r = targets(phase("hog", 40, 500, [1400, 1600]), shape);
  t.same(r.slice(0, 2).map((x) => [x.name, x.met]), [
    ["IPv4 ADD p50 ≤ 2 × reference", true],
    ["burst of 100 ADDs ≤ 1.5 × reference", true],
  ]);
  t.notOk(r.some((x) => x.name.includes("DEL")));
  t.equal(targets(phase("hog", 41, 50, [1501]), shape).filter((x) => !x.met).length, 2);
});

t.test("a phase without samples misses its targets rather than meeting them", async (t) => {
  const empty: PhaseResult = { ...phase("quiet", 30, 50, []), rows: [], rss: [] };
  t.ok(targets(empty, shape).every((x) => !x.met));
});

t.test("ratios ours / reference for ADD and DEL p50/p90, IPv4 and dual stack, and the burst", async (t) => {
  const c = comparisons(phase("quiet", 30, 100, [2000]), shape);
  t.same(
    c.map((x) => x.measure),
    [
      "IPv4 ADD p50, ms", "IPv4 ADD p90, ms", "IPv4 DEL p50, ms", "IPv4 DEL p90, ms",
      "dual stack ADD p50, ms", "dual stack ADD p90, ms", "dual stack DEL p50, ms", "dual stack DEL p90, ms",
      "burst of 100 concurrent IPv4 ADDs, wall ms (median of 1)",
    ],
  );
  t.equal(c[0]?.ratio, 30 / 20);
  t.equal(c[2]?.ratio, 100 / 50);
  t.equal(c[4]?.ratio, 30 / 2000);
  t.equal(c[8]?.ratio, 2);
  t.equal(c[0]?.bun, 60, "the Bun build's IPv4 row beside ours");
  t.equal(c[0]?.bunRatio, 60 / 20);
  t.ok(Number.isNaN(c[4]?.bun ?? 0), "no Bun dual-stack case");
  t.equal(c[8]?.bunRatio, 6);
});

t.test("the targets are checked on coil-qjs, not on the Bun build", async (t) => {
  const r = phase("quiet", 30, 50, [1000]);
  t.ok(targets(r, shape).slice(0, 3).every((x) => x.met), "coil-qjs meets them although the Bun build would not");
});

t.test("VERSION CPU per call: total CPU over total calls, pooled over slices", async (t) => {
  t.equal(cpuPerCall([{ ms: 840, calls: 40 }, { ms: 920, calls: 40 }]), 22);
  t.equal(cpuPerCall([{ ms: 100, calls: 10 }, { ms: 300, calls: 10 }]), 20);
  t.ok(Number.isNaN(cpuPerCall([])));
  const md = phaseMarkdown(phase("quiet", 30, 50, [900]), shape, 55);
  t.match(md, /\| diagnostic \| coil-qjs \| coil \(Bun\) \| ptp \| coil-qjs \/ ptp \| Bun \/ ptp \|/);
  t.match(md, /\| `VERSION` CPU \(user \+ sys\) per call, ms, mean of 80 serial calls \| 22\.0 \| 47\.5 \| 16\.0 \| 1\.38 × \| 2\.97 × \|/);
  t.match(md, /\| — per slice, ms \| 21\.0, 23\.0 \| 45\.0, 50\.0 \| 15\.0, 17\.0 \| \| \|/);
  t.match(md, /\| DEL of an unknown container .* \| 20\.0 \| 30\.0 \| 12\.0 \| 1\.67 × \| 2\.50 × \|/);
});

t.test("markdown: a section per phase with its loads, ratios and targets; the summary lists the issue's targets only", async (t) => {
  const md = phaseMarkdown(phase("hog", 40, 60, [1400]), shape, 55);
  t.match(md, /^## Under a CPU hog/);
  t.match(md, /1: 1\.00 1\.00 1\.00 → 1\.50 1\.00 1\.00; 2: 3\.00 2\.00 1\.00 → 3\.50 2\.00 1\.00/);
  t.match(md, /\| IPv4 ADD p50, ms \| 40\.0 \| 20\.0 \| 2\.00 × \| 80\.0 \| 4\.00 × \|/);
  t.match(md, /\| IPv4 ADD p50 ≤ 2 × reference \| 40\.0 ms = 2\.00 × \| ≤ 40\.0 ms \| ✔ met \|/);
  const sum = targetSummary([phase("quiet", 31, 50, [900]), phase("hog", 40, 60, [1400])], shape);
  t.equal(sum.split("\n").length, 2 + 3 + 2);
  t.match(sum, /\| quiet \| IPv4 ADD p50 ≤ 1\.5 × reference \| 31\.0 ms = 1\.55 × \| ✘ missed \|/);
  t.notMatch(sum, /earlier target/);
});
