#!/usr/bin/env node
// Prints line coverage of lib/ (from tap's json-summary report) and fails below the threshold.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";

// Children that tests start from source (`node --import tsx …`) run with tap's coverage off
// (test/helpers/child-env.ts): their records merged as one-line files and pulled the merged lib
// figure down (89.8 % in session 2; 84.8 % in the loaded full-suite run at 967e0df, where the new
// program-docs test started 15 such children without the switch) while lib/'s own tests alone
// cover 99.4 % of its lines. That test is fixed too. The merged figure of a full run beside
// `stress-ng --cpu 2` at f3171fd was 93.82 % (9,267 of 9,877 lines); the gate sits 1.8 points under it,
// so a change that leaves about 180 more lib lines untested fails here.
const threshold = Number(process.env.COIL_LIB_COVERAGE ?? 92);
const summary = JSON.parse(readFileSync(resolve(".tap/report/coverage-summary.json"), "utf8"));
let covered = 0;
let total = 0;
const rows = [];
for (const [file, s] of Object.entries(summary)) {
  if (file === "total") continue;
  const rel = relative(process.cwd(), file);
  if (!rel.startsWith("lib/")) continue;
  covered += s.lines.covered;
  total += s.lines.total;
  rows.push([rel, s.lines.pct]);
}
// lib files that no test loaded count as uncovered when they hold runtime code (type-only files
// are erased at run time and carry no lines to cover).
const seen = new Set(rows.map(([f]) => f));
const walk = (d) => readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [join(d, n)]));
for (const f of walk("lib").filter((f) => f.endsWith(".ts"))) {
  if (seen.has(f)) continue;
  const text = readFileSync(f, "utf8");
  if (!/^export (async )?(function|const|let|class)\b/m.test(text)) continue;
  const lines = text.split("\n").filter((l) => l.trim() !== "" && !/^\s*(\/\/|\*|\/\*)/.test(l)).length;
  total += lines;
  rows.push([f, 0]);
  console.log(`  not loaded by any test: ${f} (${lines} lines counted as uncovered)`);
}
rows.sort((a, b) => a[1] - b[1]);
for (const [f, pct] of rows.slice(0, 5)) console.log(`  lowest: ${f} ${pct}%`);
const pct = total === 0 ? 0 : (100 * covered) / total;
console.log(`lib line coverage: ${pct.toFixed(2)}% (${covered}/${total} lines, ${rows.length} files; threshold ${threshold}%)`);
if (pct < threshold) {
  console.log(`lib line coverage below ${threshold}%`);
  process.exit(1);
}
