/**
 * A small SVG chart of latency distributions: empirical CDFs (ECDF), one panel per verb and load
 * phase, one step line per case, on a log-scaled millisecond axis. Used by bench/cni.ts to write
 * bench/cni-latency.svg.
 *
 * Hand-written on purpose: the one kept npm library that renders charts to SVG headless in node
 * without a browser, `vega` + `vega-lite`, installs 79 packages (25 MB) for a chart that needs lines,
 * ticks and labels only; this module is pure (samples in, SVG text out), has no dependencies, and
 * test/bench/plot-svg.test.ts checks that its output parses as XML with one series per case.
 */

/** One line of a panel: a case's latency samples, in milliseconds. */
export interface Series {
  /** Legend text, e.g. `coil + coild IPv4`. */
  readonly label: string;
  /** Samples in ms; non-finite and non-positive values are left out of the plot. */
  readonly values: readonly number[];
  /** Stroke colour (any SVG colour). */
  readonly color: string;
  /** Dashed line (e.g. for the dual-stack cases). */
  readonly dashed?: boolean;
}

/** One chart of the grid: a title and its series. */
export interface Panel {
  /** Shown above the panel, e.g. `ADD — quiet`. */
  readonly title: string;
  /** The cases, drawn in this order; each becomes one `<g class="series">`. */
  readonly series: readonly Series[];
}

/** Layout of {@link ecdfSvg}. */
export interface EcdfOptions {
  /** Title line at the top of the picture. */
  readonly title: string;
  /** Panels per row (default 2). */
  readonly columns?: number;
  /** One panel's width in px (default 440). */
  readonly panelWidth?: number;
  /** One panel's height in px (default 260). */
  readonly panelHeight?: number;
  /** Free text under the title (e.g. run date and load). */
  readonly subtitle?: string;
}

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const n1 = (x: number): string => (Math.round(x * 10) / 10).toString();

/** Ticks at 1, 2, 5 × 10^k that fall inside [lo, hi]. */
function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const t = m * 10 ** e;
      if (t >= lo && t <= hi) out.push(t);
    }
  }
  return out;
}

const tickLabel = (t: number): string => (t >= 1 ? t.toFixed(0) : t.toPrecision(1));

/** The plotted samples of a series: finite, positive, ascending. */
function clean(values: readonly number[]): number[] {
  return values.filter((v) => Number.isFinite(v) && v > 0).sort((a, b) => a - b);
}

/**
 * Render panels of ECDFs as one SVG document. The x axis (ms, log scale) is shared by all panels,
 * so their spreads compare at a glance; y is the fraction of calls at or below x. Each series is a
 * `<g class="series" data-label="…">` holding a `<title>` (label, n, p50, p90) and a step `<path>`;
 * a series without samples still gets its group (and a legend entry) but no path.
 */
export function ecdfSvg(panels: readonly Panel[], opts: EcdfOptions): string {
  const cols = Math.max(1, opts.columns ?? 2);
  const pw = opts.panelWidth ?? 440;
  const ph = opts.panelHeight ?? 260;
  const m = { l: 52, r: 14, t: 28, b: 40 };
  const rows = Math.max(1, Math.ceil(panels.length / cols));
  const legendItems = new Map<string, Series>();
  for (const p of panels) for (const s of p.series) if (!legendItems.has(s.label)) legendItems.set(s.label, s);
  const perRow = 4; // legend entries per line
  const head = 46 + (opts.subtitle === undefined ? 0 : 16) + 20 * Math.ceil(legendItems.size / perRow);
  const width = cols * pw;
  const height = head + rows * ph;

  const all = panels.flatMap((p) => p.series.flatMap((s) => clean(s.values)));
  const lo0 = all.length > 0 ? Math.min(...all) : 1;
  const hi0 = all.length > 0 ? Math.max(...all) : 10;
  // Axis ends rounded outwards to quarter decades, at least one decade wide.
  const xlo = 10 ** (Math.floor(Math.log10(lo0) * 4) / 4);
  const xhi = Math.max(xlo * 10, 10 ** (Math.ceil(Math.log10(hi0) * 4) / 4));
  const ticks = logTicks(xlo, xhi);

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(opts.title)}</text>`,
  ];
  if (opts.subtitle !== undefined) out.push(`<text x="${width / 2}" y="38" text-anchor="middle" fill="#444">${esc(opts.subtitle)}</text>`);
  const legendY = opts.subtitle === undefined ? 40 : 56;
  [...legendItems.values()].forEach((s, i) => {
    const x = 20 + (i % perRow) * ((width - 20) / perRow);
    const y = legendY + 20 * Math.floor(i / perRow);
    out.push(
      `<g class="legend"><line x1="${x}" y1="${y}" x2="${x + 28}" y2="${y}" stroke="${esc(s.color)}" stroke-width="2"${s.dashed === true ? ' stroke-dasharray="6 3"' : ""}/>` +
        `<text x="${x + 34}" y="${y + 4}">${esc(s.label)}</text></g>`,
    );
  });

  panels.forEach((p, i) => {
    const ox = (i % cols) * pw + m.l;
    const oy = head + Math.floor(i / cols) * ph + m.t;
    const w = pw - m.l - m.r;
    const h = ph - m.t - m.b;
    const sx = (v: number): number => ox + ((Math.log10(v) - Math.log10(xlo)) / (Math.log10(xhi) - Math.log10(xlo))) * w;
    const sy = (f: number): number => oy + h - f * h;
    out.push(`<g class="panel" data-title="${esc(p.title)}">`);
    out.push(`<text x="${ox + w / 2}" y="${oy - 10}" text-anchor="middle" font-size="12" font-weight="bold">${esc(p.title)}</text>`);
    out.push(`<rect x="${ox}" y="${oy}" width="${w}" height="${h}" fill="none" stroke="#999"/>`);
    for (const t of ticks) {
      const x = n1(sx(t));
      out.push(`<line x1="${x}" y1="${oy}" x2="${x}" y2="${oy + h}" stroke="#e4e4e4"/><text x="${x}" y="${oy + h + 14}" text-anchor="middle">${tickLabel(t)}</text>`);
    }
    for (const f of [0, 0.25, 0.5, 0.75, 1]) {
      const y = n1(sy(f));
      out.push(`<line x1="${ox}" y1="${y}" x2="${ox + w}" y2="${y}" stroke="#e4e4e4"/><text x="${ox - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${f}</text>`);
    }
    out.push(`<text x="${ox + w / 2}" y="${oy + h + 30}" text-anchor="middle" fill="#444">ms (log scale)</text>`);
    out.push(`<text x="${ox - 38}" y="${oy + h / 2}" text-anchor="middle" fill="#444" transform="rotate(-90 ${ox - 38} ${oy + h / 2})">fraction ≤ x</text>`);
    for (const s of p.series) {
      const v = clean(s.values);
      const q = (f: number): string => (v.length > 0 ? n1(v[Math.min(v.length - 1, Math.floor(f * v.length))] ?? NaN) : "—");
      out.push(`<g class="series" data-label="${esc(s.label)}"><title>${esc(`${s.label}: n=${v.length}, p50 ${q(0.5)} ms, p90 ${q(0.9)} ms`)}</title>`);
      if (v.length > 0) {
        let d = `M${n1(sx(v[0] ?? xlo))},${n1(sy(0))}`;
        v.forEach((x, k) => {
          d += ` H${n1(sx(x))} V${n1(sy((k + 1) / v.length))}`;
        });
        out.push(`<path d="${d}" fill="none" stroke="${esc(s.color)}" stroke-width="1.6"${s.dashed === true ? ' stroke-dasharray="6 3"' : ""}/>`);
      }
      out.push("</g>");
    }
    out.push("</g>");
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
