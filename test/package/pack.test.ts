/**
 * `npm pack` gives a tarball that a separate project installs and imports (ESM and CommonJS) with types, and the
 * library pulls in neither @kubernetes/client-node nor @grpc/grpc-js. The adapters ship only as the
 * bundled `bin`s (test/package/bins.test.ts checks them in detail).
 */
import t from "tap";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  exports: Record<string, unknown>;
  dependencies?: Record<string, string>;
};

t.test("packed tarball installs and imports with types", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "coil-pack-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = execFileSync("npm", ["pack", "--silent", "--pack-destination", dir], { cwd: root, encoding: "utf8" });
  const tarball = join(dir, out.trim().split("\n").pop() ?? "");
  t.ok(existsSync(tarball), `tarball ${tarball}`);

  const consumer = join(dir, "consumer");
  execFileSync("mkdir", ["-p", consumer]);
  writeFileSync(join(consumer, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  execFileSync("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--silent", tarball], { cwd: consumer });

  const nm = join(consumer, "node_modules");
  t.ok(existsSync(join(nm, "@coil/core/dist/lib/index.js")), "library installed");
  t.notOk(existsSync(join(nm, "@kubernetes/client-node")), "client-node is not installed with the library");
  t.notOk(existsSync(join(nm, "@grpc/grpc-js")), "grpc-js is not installed with the library");
  t.notOk(existsSync(join(nm, "@coil/core/dist/adapters")), "adapters are not published in the library");
  t.notOk(existsSync(join(nm, "@coil/core/dist/bin/coil")), "the Bun-compiled coil executable is not published (too large)");
  t.notOk(existsSync(join(nm, "@coil/core/dist/bin/meta")), "build metafiles are not published");
  t.ok(existsSync(join(nm, "@coil/core/LICENSE")), "LICENSE is published");
  const installed = JSON.parse(readFileSync(join(nm, "@coil/core/package.json"), "utf8")) as { license?: string; repository?: { url?: string }; homepage?: string };
  t.equal(installed.license, "Apache-2.0");
  t.match(readFileSync(join(nm, "@coil/core/LICENSE"), "utf8"), /Apache License\s+Version 2\.0, January 2004/, "LICENSE is the Apache-2.0 text");
  t.ok(installed.repository?.url !== undefined && installed.homepage !== undefined, "repository and homepage are set");
  t.comment(`tarball ${Math.round(statSync(tarball).size / 1024)} KiB`);

  // The adapters ship only as bundled bins: runnable, linked into .bin, not importable as subpaths.
  for (const name of ["coil", "coild", "coil-ipam-controller", "coil-installer"]) {
    t.ok(existsSync(join(nm, ".bin", name)), `bin ${name} linked`);
  }
  const help = spawnSync(join(nm, ".bin", "coil-ipam-controller"), ["--help"], { cwd: consumer, encoding: "utf8" });
  t.equal(help.status, 0, "installed coil-ipam-controller --help exits 0");
  t.match(help.stdout, /\nUsage:\n {2}coil-ipam-controller \[flags\]\n/, "help on stdout (cobra's layout)");
  writeFileSync(join(consumer, "deep.mjs"), `await import("@coil/core/dist/bin/coild.mjs").then(() => console.log("imported"), (e) => console.log(e.code));\n`);
  t.equal(execFileSync(process.execPath, ["deep.mjs"], { cwd: consumer, encoding: "utf8" }).trim(), "ERR_PACKAGE_PATH_NOT_EXPORTED", "bins are not library subpaths");

  const subpaths = Object.keys(pkg.exports).filter((k) => k !== "./package.json");
  const specs = subpaths.map((k) => (k === "." ? "@coil/core" : `@coil/core/${k.slice(2)}`));
  const js = specs.map((s, i) => `import * as m${i} from "${s}";\nif (Object.keys(m${i}).length === 0) throw new Error("empty ${s}");`).join("\n");
  writeFileSync(join(consumer, "use.mjs"), `${js}\nconsole.log("imported ${specs.length}");\n`);
  t.match(execFileSync(process.execPath, ["use.mjs"], { cwd: consumer, encoding: "utf8" }), `imported ${specs.length}`);

  // CommonJS consumers: `require()` gets the CommonJS build (dist/cjs) on every supported Node
  // (Node 20 before 20.19 cannot require() an ES module), `await import()` from CommonJS the ES build.
  const cjs = [
    `const specs = ${JSON.stringify(specs)};`,
    `for (const s of specs) {`,
    `  const m = require(s);`,
    `  if (Object.keys(m).length === 0) throw new Error("empty " + s);`,
    `  if (!require.resolve(s).includes("/dist/cjs/lib/")) throw new Error(s + " resolved to " + require.resolve(s));`,
    `}`,
    `const { validatePoolCreate, withPoolDefaults, blockAt } = require("@coil/core/ipam");`,
    `const spec = { blockSizeBits: 5, subnets: [{ ipv4: "10.100.0.0/16", ipv6: "fd02::/112" }] };`,
    `if (!validatePoolCreate(spec).isOk()) throw new Error("valid pool refused");`,
    `const block = blockAt(withPoolDefaults(spec), 3);`,
    `import("@coil/core/ipam").then((esm) => {`,
    `  const same = JSON.stringify(esm.blockAt(esm.withPoolDefaults(spec), 3)) === JSON.stringify(block);`,
    `  console.log(JSON.stringify({ block: block.isOk() ? block.value : block.error, same }));`,
    `});`,
  ].join("\n");
  writeFileSync(join(consumer, "use.cjs"), `${cjs}\n`);
  t.same(
    JSON.parse(execFileSync(process.execPath, ["use.cjs"], { cwd: consumer, encoding: "utf8" })),
    { block: { index: 3, ipv4: "10.100.0.96/27", ipv6: "fd02::60/123" }, same: true },
    "require() of every subpath, a block carved through require(\"@coil/core/ipam\"), the same through import()",
  );
  // Every subpath also has a `default` condition (resolvers that match neither import nor require).
  for (const [k, v] of Object.entries(pkg.exports)) {
    if (k === "./package.json") continue;
    const target = (v as { default?: string }).default;
    t.ok(target !== undefined && existsSync(join(nm, "@coil/core", target)), `${k}: default condition -> ${target}`);
  }

  // Types: a TypeScript consumer type-checks against the published declarations.
  writeFileSync(
    join(consumer, "use.ts"),
    [
      `import { parseCidr, cidrSubnet, type Cidr } from "@coil/core/net";`,
      `const c = parseCidr("10.2.0.0/24");`,
      `const sub: string = c.isOk() ? cidrSubnet(c.value, 30, 3).unwrapOr("x" as Cidr) : "";`,
      `// @ts-expect-error a plain string is not a Cidr`,
      `const bad: Cidr = "10.0.0.0/8";`,
      `export { sub, bad };`,
    ].join("\n"),
  );
  writeFileSync(
    join(consumer, "tsconfig.json"),
    JSON.stringify({ compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true, types: [], skipLibCheck: false }, files: ["use.ts"] }),
  );
  const tsc = join(root, "node_modules/typescript/bin/tsc");
  let tscOut = "";
  try {
    tscOut = execFileSync(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: consumer, encoding: "utf8" });
  } catch (e) {
    tscOut = String((e as { stdout?: string }).stdout ?? e);
  }
  t.equal(tscOut.trim(), "", "consumer type-checks against the published .d.ts");

  // Types for a CommonJS consumer (`moduleResolution: node16`, a .cts file): the `require` branch's
  // declarations, which TypeScript reads as CommonJS (dist/cjs has {"type":"commonjs"}).
  writeFileSync(
    join(consumer, "use-cjs.cts"),
    [
      `import { validatePoolCreate, type AddressPoolSpec } from "@coil/core/ipam";`,
      `import { parseCidr, type Cidr } from "@coil/core/net";`,
      `const spec: AddressPoolSpec = { blockSizeBits: 5, subnets: [{ ipv4: "10.100.0.0/16" }] };`,
      `const valid: boolean = validatePoolCreate(spec).isOk();`,
      `const c = parseCidr("10.2.0.0/24");`,
      `// @ts-expect-error a plain string is not a Cidr`,
      `const bad: Cidr = "10.0.0.0/8";`,
      `export = { valid, c, bad };`,
    ].join("\n"),
  );
  writeFileSync(
    join(consumer, "tsconfig.cjs.json"),
    JSON.stringify({ compilerOptions: { module: "Node16", moduleResolution: "Node16", strict: true, noEmit: true, types: [], skipLibCheck: false }, files: ["use-cjs.cts"] }),
  );
  let cjsOut = "";
  try {
    cjsOut = execFileSync(process.execPath, [tsc, "-p", "tsconfig.cjs.json", "--listFiles"], { cwd: consumer, encoding: "utf8" });
  } catch (e) {
    cjsOut = `FAILED ${String((e as { stdout?: string }).stdout ?? e)}`;
  }
  t.notMatch(cjsOut, /FAILED|error TS/, "CommonJS consumer type-checks under node16");
  t.match(cjsOut, /@coil\/core\/dist\/cjs\/lib\/ipam\/index\.d\.ts/, "its types come from the CommonJS declarations");
});

t.test("runtime dependencies are only the pure ones", async (t) => {
  t.same(Object.keys(pkg.dependencies ?? {}).sort(), ["neverthrow"]);
});
