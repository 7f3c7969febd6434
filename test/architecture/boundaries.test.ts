import t from "tap";
import { fileURLToPath } from "node:url";
import { checkAdapterSource, checkLibSource, checkTree } from "../helpers/boundaries.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

t.test("the checker flags what it must", async (t) => {
  const bad = [
    { src: `import { spawn } from "node:child_process";`, rule: "lib-impure-import" },
    { src: `import fs from "fs";`, rule: "lib-impure-import" },
    { src: `import * as k from "@kubernetes/client-node";`, rule: "lib-impure-import" },
    { src: `export async function f() { return import("@grpc/grpc-js"); }`, rule: "lib-impure-import" },
    { src: `import ipaddr from "ipaddr.js";`, rule: "lib-impure-import" },
    { src: `export const now = () => Date.now();`, rule: "lib-forbidden-global" },
    { src: `export const d = () => new Date();`, rule: "lib-forbidden-global" },
    { src: `export const r = () => Math.random();`, rule: "lib-forbidden-global" },
    { src: `export const e = () => process.env.HOME;`, rule: "lib-forbidden-global" },
    { src: `export const l = (x: unknown) => console.log(x);`, rule: "lib-forbidden-global" },
    { src: `export const s = (f: () => void) => setTimeout(f, 1);`, rule: "lib-forbidden-global" },
    { src: `export { allocate } from "../ipam/allocator.js";`, rule: "lib-internal-import" },
    { src: `import { x } from "../../adapters/kernel/run.js";`, rule: "lib-escapes" },
  ];
  for (const c of bad) {
    const v = checkLibSource("lib/plan/x.ts", c.src);
    t.ok(v.some((x) => x.rule === c.rule), `${c.rule}: ${c.src}`);
  }
  const good = [
    `import { ok } from "neverthrow";`,
    `import type { Cidr } from "../net/index.js";`,
    `import { step } from "./changeset.js";`,
    `export interface P { process: string; console?: number }`,
    `export const o = { setTimeout: 1 }; export const q = o.setTimeout;`,
    `// process.env is mentioned in a comment only\nexport const s = "Date.now()";`,
  ];
  for (const src of good) t.same(checkLibSource("lib/plan/x.ts", src), [], src);
  t.equal(checkLibSource("lib/net/ip.ts", `import ipaddr from "ipaddr.js";`)[0]?.rule, "lib-impure-import", "not even lib/net imports ipaddr.js");
  t.ok(checkAdapterSource("adapters/cni/run.ts", `import { a } from "../../lib/ipam/allocator.js";`).length === 1);
  t.ok(checkAdapterSource("adapters/cni/run.ts", `import { a } from "../daemon/server.js";`).length === 1);
  t.same(checkAdapterSource("adapters/cni/run.ts", `import { a } from "../../lib/ipam/index.js";`), []);
  t.same(checkAdapterSource("adapters/daemon/run.ts", `import { a } from "../kernel/executor.js";`), []);
  t.same(checkAdapterSource("adapters/cni/grpc-client.ts", `import { a } from "../proto/gen/messages/cni.js";`), [], "the shared protocol code");
  t.same(checkAdapterSource("adapters/daemon/endpoint/server.ts", `import { a } from "../../proto/cni-error-status.js";`), []);
  t.ok(checkAdapterSource("adapters/cni/run.ts", `import { a } from "../daemon/endpoint/server.js";`).length === 1, "no app imports another app's folder");
  t.ok(checkAdapterSource("adapters/proto/cni-error-status.ts", `import { a } from "../daemon/endpoint/call-failure.js";`).length === 1, "the shared protocol does not import coild");
});

t.test("lib/ is pure and adapters use the public modules", async (t) => {
  const { files, violations } = checkTree(root);
  t.ok(files > 0, `checked ${files} files`);
  t.same(violations, [], "no boundary violations");
});
