import t from "tap";
import { SaxesParser } from "saxes";
import { ecdfSvg, type Panel } from "../../bench/plot-svg.js";
import { latencyPanels, type PhaseResult } from "../../bench/cni-report.js";

interface Parsed {
  /** data-label of each `<g class="series">`, grouped by the data-title of its panel. */
  readonly panels: Map<string, string[]>;
  /** Number of `<path>` elements inside series groups. */
  readonly paths: number;
  /** Root element name. */
  readonly root: string;
}

/** Parse with a strict XML parser (throws on any well-formedness error) and collect the series. */
function parse(svg: string): Parsed {
  const p = new SaxesParser({ xmlns: true });
  const panels = new Map<string, string[]>();
  let panel: string | undefined;
  let inSeries = 0;
  let paths = 0;
  let root = "";
  const stack: string[] = [];
  p.on("error", (e) => {
    throw e;
  });
  p.on("opentag", (tag) => {
    if (stack.length === 0) root = tag.local;
    stack.push(tag.local);
    const attr = (n: string): string | undefined => tag.attributes[n]?.value;
    if (tag.local === "g" && attr("class") === "panel") {
      panel = attr("data-title") ?? "";
      panels.set(panel, []);
    }
    if (tag.local === "g" && attr("class") === "series") {
      panels.get(panel ?? "")?.push(attr("data-label") ?? "");
      inSeries++;
    }
    if (tag.local === "path" && inSeries > 0) paths++;
  });
  p.on("closetag", (tag) => {
    stack.pop();
    if (tag.local === "g" && tag.attributes["class"]?.value === "series") inSeries--;
  });
  p.write(svg).close();
  return { panels, paths, root };
}

const series = (label: string, values: number[], dashed = false) => ({ label, values, color: dashed ? "#1f77b4" : "#ff7f0e", dashed });

t.test("the SVG parses as XML and has one series group per case in every panel", async (t) => {
  const panels: Panel[] = [
    { title: "ADD — quiet", series: [series("ours", [30, 31, 35, 40]), series("reference", [18, 19, 21])] },
    { title: "DEL — quiet", series: [series("ours", [60, 65]), series("reference", [50, 55, 70])] },
    { title: "ADD — hog", series: [series("ours", [80, 120]), series("reference", [40, 2000])] },
  ];
  const svg = ecdfSvg(panels, { title: "latency", subtitle: "n = 4" });
  const got = parse(svg);
  t.equal(got.root, "svg");
  t.same([...got.panels.keys()], panels.map((p) => p.title));
  for (const p of panels) t.same(got.panels.get(p.title), p.series.map((s) => s.label), p.title);
  t.equal(got.paths, 6, "one step line per series with samples");
});

t.test("labels with markup characters are escaped; empty and non-finite samples leave a group without a line", async (t) => {
  const panels: Panel[] = [{ title: `A <b> & "c"`, series: [series("x < y & z", [NaN, -1, Infinity]), series("plain", [1, 2, 3], true)] }];
  const got = parse(ecdfSvg(panels, { title: "<t>" }));
  t.same(got.panels.get(`A <b> & "c"`), ["x < y & z", "plain"]);
  t.equal(got.paths, 1);
});

t.test("no samples at all still gives a well-formed picture", async (t) => {
  const got = parse(ecdfSvg([{ title: "empty", series: [series("a", [])] }], { title: "nothing" }));
  t.same(got.panels.get("empty"), ["a"]);
  t.equal(got.paths, 0);
});

t.test("the bench's panels: ADD and DEL per phase, the five executable cases each", async (t) => {
  const result = (phase: "quiet" | "hog"): PhaseResult => ({
    phase,
    rows: [
      { label: "coil-qjs + coild IPv4", add: [30, 32], del: [60, 61] },
      { label: "ptp + host-local IPv4", add: [18, 19], del: [55, 56] },
      { label: "coil-qjs + coild dual stack", add: [33, 34], del: [62, 63] },
      { label: "coil (Bun) + coild IPv4", add: [50, 52], del: [70, 71] },
      { label: "ptp + host-local dual stack", add: [1800, 2000], del: [52, 53] },
      { label: "coild daemon-side IPv4 (fast path, no executable)", add: [10], del: [20] },
    ],
    bursts: { qjs: [1900], bun: [2500], ref: [1000] },
    rss: [70],
    noopDel: { qjs: [20], bun: [30], ref: [12] },
    version: { qjs: [1000], bun: [2000], ref: [400] },
    versionCpu: { qjs: [{ ms: 880, calls: 40 }], bun: [{ ms: 1800, calls: 40 }], ref: [{ ms: 640, calls: 40 }] },
    loads: [{ start: [1, 1, 1], end: [2, 2, 2] }],
  });
  const got = parse(ecdfSvg(latencyPanels([result("quiet"), result("hog")]), { title: "t" }));
  t.same([...got.panels.keys()], ["ADD — quiet", "DEL — quiet", "ADD — under stress-ng --cpu 2", "DEL — under stress-ng --cpu 2"]);
  for (const labels of got.panels.values()) t.same(labels, ["coil-qjs + coild IPv4", "ptp + host-local IPv4", "coil-qjs + coild dual stack", "ptp + host-local dual stack", "coil (Bun) + coild IPv4"]);
  t.equal(got.paths, 20);
});
