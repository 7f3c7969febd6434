#!/usr/bin/env node
// The CommonJS build of the library, for `require("@coil/core/...")` on every Node the package
// supports (Node 20 before 20.19 cannot require() an ES module):
//
//   dist/cjs/package.json          {"type":"commonjs"}: .js and .d.ts below are CommonJS
//   dist/cjs/lib/**/*.js           lib/**/*.ts transformed file by file by esbuild (no bundling, so
//                                  relative `./x.js` imports map one to one; neverthrow is
//                                  required from node_modules as usual)
//   dist/cjs/lib/**/*.d.ts         copies of tsc's dist/lib/**/*.d.ts (the same declarations; inside
//                                  the commonjs scope TypeScript reads them as CommonJS, which
//                                  `moduleResolution: node16/nodenext` needs for a `require` consumer)
//
// Runs after `tsc -p tsconfig.json` (which writes dist/lib); `npm run build` calls it.
// Per-file transformation is safe because the sources compile under isolatedModules and
// verbatimModuleSyntax (no const enums, no type-only re-exports without `type`).
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const src = join(root, "lib");
const types = join(root, "dist/lib");
const out = join(root, "dist/cjs");

/** Every file below `dir` whose name passes `keep`. */
function walk(dir, keep) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? walk(p, keep) : keep(e.name) ? [p] : [];
  });
}

rmSync(out, { recursive: true, force: true });
const entryPoints = walk(src, (n) => n.endsWith(".ts") && !n.endsWith(".d.ts"));
await build({
  entryPoints,
  outdir: join(out, "lib"),
  outbase: src,
  format: "cjs",
  platform: "node",
  target: "node20",
  bundle: false,
  sourcemap: false,
  logLevel: "warning",
});
writeFileSync(join(out, "package.json"), `${JSON.stringify({ type: "commonjs" })}\n`);

const declarations = walk(types, (n) => n.endsWith(".d.ts"));
if (declarations.length === 0) throw new Error(`no declarations in ${types}: run tsc -p tsconfig.json first`);
for (const d of declarations) {
  const to = join(out, "lib", relative(types, d));
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(d, to);
}
console.log(`build-cjs: ${entryPoints.length} modules and ${declarations.length} declarations -> ${relative(root, out)}`);
