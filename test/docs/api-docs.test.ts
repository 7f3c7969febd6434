import t from "tap";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dirname, "..", "..");

/** Module names from the `@module` tags of lib's index files and constants.ts (not the package root). */
function libModules(): string[] {
  const files = [
    ...readdirSync(join(root, "lib"), { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(join(root, "lib", d.name, "index.ts")))
      .map((d) => join(root, "lib", d.name, "index.ts")),
    join(root, "lib", "constants.ts"),
  ];
  return files.map((f) => {
    const m = /@module (\S+)/.exec(readFileSync(f, "utf8"));
    if (m?.[1] === undefined) throw new Error(`${f} has no @module tag`);
    return m[1];
  });
}

t.test("typedoc builds the API reference without a single warning", async (t) => {
  const out = mkdtempSync(join(tmpdir(), "coil-api-docs-"));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const r = spawnSync(process.execPath, ["node_modules/typedoc/bin/typedoc", "--out", out, "--treatWarningsAsErrors"], {
    cwd: root,
    encoding: "utf8",
    timeout: 240_000,
  });
  const log = `${r.stdout}${r.stderr}`;
  t.equal(r.status, 0, `typedoc exits 0\n${log}`);
  t.notMatch(log, /\[warning\]|\[error\]/, "no warnings or errors");
  t.ok(existsSync(join(out, "index.html")), "index.html generated");
});

t.test("the committed api-docs/ covers every lib module", async (t) => {
  const index = join(root, "api-docs", "index.html");
  t.ok(existsSync(index), "api-docs/index.html is committed (run npm run docs)");
  const html = readFileSync(index, "utf8");
  const modules = libModules();
  t.ok(modules.length >= 7, `found the lib modules: ${modules.join(", ")}`);
  for (const m of modules) {
    t.ok(existsSync(join(root, "api-docs", "modules", `${m}.html`)), `api-docs/modules/${m}.html exists`);
    t.match(html, `href="modules/${m}.html"`, `index.html links module ${m}`);
  }
});
