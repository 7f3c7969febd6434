/** An inclusive interval of non-negative integers `[lo, hi]`. */
export type Interval = readonly [lo: number, hi: number];

/** Sort and merge (overlapping or adjacent) intervals; empty ones (lo > hi) are dropped. */
export function mergeIntervals(xs: readonly Interval[]): Interval[] {
  const sorted = xs.filter(([lo, hi]) => lo <= hi).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const out: [number, number][] = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

/** The interval of sorted, merged `xs` holding `i`, or undefined (binary search). */
export function intervalHolding(xs: readonly Interval[], i: number): Interval | undefined {
  let lo = 0;
  let hi = xs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const iv = xs[mid]!;
    if (i < iv[0]) hi = mid - 1;
    else if (i > iv[1]) lo = mid + 1;
    else return iv;
  }
  return undefined;
}
