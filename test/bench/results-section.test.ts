// The section of a results file that one bench script owns while another rewrites the rest
// (bench/results-section.ts): found, replaced, appended when absent, kept across a rewrite; and
// bench/coild-export.ts refuses bad flags before it starts anything.
import t from "tap";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { COILD_EXPORT_MARKERS, markedSection, NOTES_MARKER, withSection } from "../../bench/results-section.js";
import { sourceChildEnv } from "../helpers/child-env.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const m = COILD_EXPORT_MARKERS;

t.test("a section is appended when absent, replaced when present, and the rest is kept", async (t) => {
  const first = withSection("# Results\n\nrouter figures\n", m, "## coild\n\nrun 1\n");
  t.equal(first, `# Results\n\nrouter figures\n\n${m.begin}\n## coild\n\nrun 1\n${m.end}\n`);
  const second = withSection(`${first}\nhand notes\n`, m, "## coild\n\nrun 2 with $& and $1\n");
  t.equal(second, `# Results\n\nrouter figures\n\n${m.begin}\n## coild\n\nrun 2 with $& and $1\n${m.end}\n\nhand notes\n`, "replaced in place, `$` patterns taken literally");
  t.equal(markedSection(second, m), `${m.begin}\n## coild\n\nrun 2 with $& and $1\n${m.end}`);
  t.equal(withSection("", m, "x"), `${m.begin}\nx\n${m.end}\n`, "an empty file gets the section alone");
});

t.test("hand-written notes at the end of a section survive a new run", async (t) => {
  const withNotes = `# R\n\n${m.begin}\n## coild\n\nrun 1\n\n${NOTES_MARKER}\nwhy it is slow\n${m.end}\n`;
  t.equal(withSection(withNotes, m, "## coild\n\nrun 2\n"), `# R\n\n${m.begin}\n## coild\n\nrun 2\n\n${NOTES_MARKER}\nwhy it is slow\n${m.end}\n`);
});

t.test("no section: markers missing or out of order", async (t) => {
  t.equal(markedSection("nothing here", m), undefined);
  t.equal(markedSection(`${m.end}\n${m.begin}\n`, m), undefined);
  t.equal(markedSection(`${m.begin}\nhalf`, m), undefined);
});

for (const [args, message] of [
  [["--pods=0"], /--pods must be an integer from 1 to 60000/],
  [["--rounds=two"], /--rounds must be an integer from 1 to 100/],
  [["--concurrency=0"], /--concurrency must be an integer from 1 to 256/],
  [["--ours=/nonexistent/coild.mjs"], /\/nonexistent\/coild\.mjs missing/],
] as const) {
  t.test(`bench/coild-export.ts refuses ${args.join(" ")}`, async (t) => {
    const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "bench/coild-export.ts"), ...args], { cwd: ROOT, env: sourceChildEnv(), encoding: "utf8" });
    t.equal(r.status, 2, r.stderr);
    t.match(r.stderr, message);
  });
}
