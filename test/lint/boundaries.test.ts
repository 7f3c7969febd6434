/**
 * The architecture boundaries as lint rules (eslint.config.mjs): the same cases as
 * test/architecture/boundaries.test.ts, run through the project's ESLint configuration.
 */
import t from "tap";
import { ESLint } from "eslint";
import tseslint from "typescript-eslint";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

const root = fileURLToPath(new URL("../..", import.meta.url));

/**
 * The project's config without type information (the snippets are not files of the TypeScript
 * program), so only the syntactic rules — which is what the boundaries are — run.
 */
const eslint = new ESLint({
  cwd: root,
  overrideConfig: [tseslint.configs.disableTypeChecked, { files: ["**/*.ts"], rules: { "coil/must-use-result": "off" } }],
});

/** The rule ids (with their messages) that fire for `src` as the file `file`. */
async function lint(file: string, src: string): Promise<{ rule: string; message: string }[]> {
  const [res] = await eslint.lintText(src, { filePath: join(root, file) });
  return (res?.messages ?? []).map((m) => ({ rule: m.ruleId ?? "<fatal>", message: m.message }));
}

const IMPORTS = "@typescript-eslint/no-restricted-imports";

t.test("lib/: impure imports, globals, clock, randomness are lint errors", async (t) => {
  const bad: { src: string; rule: string }[] = [
    { src: `import { spawn } from "node:child_process"; export const s = spawn;`, rule: IMPORTS },
    { src: `import fs from "fs"; export const f = fs;`, rule: IMPORTS },
    { src: `import * as net from "net"; export const n = net;`, rule: IMPORTS },
    { src: `import * as k from "@kubernetes/client-node"; export const x = k;`, rule: IMPORTS },
    { src: `import type { Metadata } from "@grpc/grpc-js"; export type M = Metadata;`, rule: IMPORTS },
    { src: `import { CniClient } from "../../adapters/proto/gen/cni.js"; export const c = CniClient;`, rule: IMPORTS },
    { src: `export async function f() { return import("@grpc/grpc-js"); }`, rule: "no-restricted-syntax" },
    { src: `import ipaddr from "ipaddr.js"; export const i = ipaddr;`, rule: IMPORTS },
    { src: `import { a } from "yaml"; export const y = a;`, rule: IMPORTS },
    { src: `export const now = () => Date.now();`, rule: "no-restricted-properties" },
    { src: `export const d = () => new Date();`, rule: "no-restricted-syntax" },
    { src: `export const r = () => Math.random();`, rule: "no-restricted-properties" },
    { src: `export const e = () => process.env.HOME;`, rule: "no-restricted-globals" },
    { src: `export const l = (x: unknown) => console.log(x);`, rule: "no-restricted-globals" },
    { src: `export const s = (f: () => void) => setTimeout(f, 1);`, rule: "no-restricted-globals" },
    { src: `export const c = () => crypto.randomUUID();`, rule: "no-restricted-globals" },
    { src: `export const f = () => fetch("http://x");`, rule: "no-restricted-globals" },
    { src: `export const g = () => globalThis;`, rule: "no-restricted-globals" },
    { src: `export { allocate } from "../ipam/allocator.js";`, rule: IMPORTS },
    { src: `import { ok } from "neverthrow"; export const v = ok(1)._unsafeUnwrap();`, rule: "no-restricted-properties" },
    { src: `import { x } from "../../adapters/kernel/run.js"; export const y = x;`, rule: IMPORTS },
  ];
  for (const c of bad) {
    const got = await lint("lib/plan/x.ts", c.src);
    t.ok(got.some((m) => m.rule === c.rule), `${c.rule}: ${c.src}`, { got });
  }
  const good = [
    `import { ok } from "neverthrow"; export const o = ok;`,
    `import type { Cidr } from "../net/index.js"; export type C = Cidr;`,
    `import { step } from "./changeset.js"; export const s = step;`,
    `export interface P { process: string; console?: number }`,
    `export const o = { setTimeout: 1 }; export const q = o.setTimeout;`,
    `// process.env is mentioned in a comment only\nexport const s = "Date.now()";`,
    `export const d = (ms: number) => new Date(ms).toISOString();`,
  ];
  for (const src of good) t.same(await lint("lib/plan/x.ts", src), [], src);
  t.ok((await lint("lib/net/ip.ts", `import ipaddr from "ipaddr.js"; export const i = ipaddr;`)).some((m) => m.rule === IMPORTS), "not even lib/net imports ipaddr.js");
  t.ok((await lint("lib/index.ts", `export { allocate } from "./ipam/allocator.js";`)).some((m) => m.rule === IMPORTS), "lib/index.ts re-exports through index.js only");
  t.same(await lint("lib/index.ts", `export * from "./ipam/index.js";`), [], "lib/index.ts re-exports a module's index.js");
});

t.test("adapters/: lib through module entry points; programs do not import each other", async (t) => {
  const flagged = async (file: string, src: string): Promise<boolean> => (await lint(file, src)).some((m) => m.rule === IMPORTS);
  t.ok(await flagged("adapters/cni/run.ts", `import { a } from "../../lib/ipam/allocator.js"; export const b = a;`), "lib internal file");
  t.ok(await flagged("adapters/cni/run.ts", `import { a } from "../daemon/server.js"; export const b = a;`), "another program");
  t.ok(await flagged("adapters/cni/run.ts", `import { a } from "../daemon/endpoint/server.js"; export const b = a;`), "another program's subfolder");
  t.ok(await flagged("adapters/proto/cni-error-status.ts", `import { a } from "../daemon/endpoint/call-failure.js"; export const b = a;`), "the shared protocol does not import coild");
  t.ok(await flagged("adapters/daemon/endpoint/server.ts", `import { a } from "../../cni/run.js"; export const b = a;`), "from a subfolder too");
  t.ok(await flagged("adapters/daemon/endpoint/server.ts", `import { a } from "../../../lib/plan/router.js"; export const b = a;`), "lib internal from a subfolder");
  t.ok(
    (await lint("adapters/router/run.ts", `import { err } from "neverthrow"; export const e = err(1)._unsafeUnwrapErr();`)).some((m) => m.rule === "no-restricted-properties"),
    "_unsafeUnwrapErr outside tests",
  );
  const ok = async (file: string, src: string, why: string): Promise<void> => {
    t.same((await lint(file, src)).filter((m) => m.rule === IMPORTS), [], why);
  };
  await ok("adapters/cni/run.ts", `import { a } from "../../lib/ipam/index.js"; export const b = a;`, "a lib module's index.js");
  await ok("adapters/cni/run.ts", `import { a } from "../../lib/constants.js"; export const b = a;`, "lib/constants.js");
  await ok("adapters/daemon/run.ts", `import { a } from "../kernel/executor.js"; export const b = a;`, "the shared kernel executor");
  await ok("adapters/cni/grpc-client.ts", `import { a } from "../proto/gen/messages/cni.js"; export const b = a;`, "the shared protocol code");
  await ok("adapters/daemon/endpoint/server.ts", `import { a } from "../../proto/cni-error-status.js"; export const b = a;`, "shared, from a subfolder");
  await ok("adapters/daemon/endpoint/server.ts", `import { a } from "../node/state.js"; export const b = a;`, "its own program's folder");
  await ok("adapters/router/run.ts", `import { a } from "../k8s/index.js"; import { c } from "../common/log.js"; export const b = [a, c];`, "k8s and common");
});
