/**
 * The architecture check: `lib/` stays pure and adapters reach the core only through its public
 * module entry points. Parses sources with the TypeScript compiler, so comments and strings do
 * not confuse it.
 */
import ts from "typescript";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";

/** One broken rule, with where it was found. */
export interface Violation {
  readonly file: string;
  readonly line: number;
  readonly rule: string;
  readonly detail: string;
}

const LIB_ALLOWED_PACKAGES = new Set(["neverthrow"]);
/** Globals that would give lib I/O, a clock, randomness, timers or the environment. */
const LIB_FORBIDDEN_GLOBALS = new Set([
  "process", "require", "console", "setTimeout", "setInterval", "setImmediate", "queueMicrotask",
  "fetch", "performance", "crypto", "globalThis", "window", "global", "Buffer", "__dirname", "__filename",
]);
/** `Date.now`, `new Date()`, `Math.random`. */
const LIB_FORBIDDEN_MEMBERS = new Set(["Date.now", "Math.random", "Date.parse"]);

function moduleSpecifiers(sf: ts.SourceFile): { spec: string; pos: number }[] {
  const out: { spec: string; pos: number }[] = [];
  const visit = (n: ts.Node): void => {
    if ((ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) {
      out.push({ spec: n.moduleSpecifier.text, pos: n.getStart(sf) });
    } else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const a = n.arguments[0];
      out.push({ spec: a && ts.isStringLiteral(a) ? a.text : "<dynamic>", pos: n.getStart(sf) });
    } else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteral(n.argument.literal)) {
      out.push({ spec: n.argument.literal.text, pos: n.getStart(sf) });
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

function isDeclarationName(id: ts.Identifier): boolean {
  const p = id.parent;
  return (
    (ts.isPropertyAccessExpression(p) && p.name === id) ||
    (ts.isPropertyAssignment(p) && p.name === id) ||
    (ts.isPropertySignature(p) && p.name === id) ||
    (ts.isPropertyDeclaration(p) && p.name === id) ||
    (ts.isMethodDeclaration(p) && p.name === id) ||
    (ts.isMethodSignature(p) && p.name === id) ||
    (ts.isBindingElement(p) && p.propertyName === id) ||
    ts.isQualifiedName(p) ||
    ts.isImportSpecifier(p) ||
    ts.isExportSpecifier(p)
  );
}

/** Check one lib source text. `file` is relative to the repository root (used for rules and messages). */
export function checkLibSource(file: string, text: string): Violation[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const v: Violation[] = [];
  const at = (pos: number): number => sf.getLineAndCharacterOfPosition(pos).line + 1;
  for (const { spec, pos } of moduleSpecifiers(sf)) {
    if (spec.startsWith(".")) {
      const target = join(dirname(file), spec).split(sep).join("/");
      if (!target.startsWith("lib/")) v.push({ file, line: at(pos), rule: "lib-escapes", detail: `imports ${spec} outside lib/` });
      const fromMod = file.split("/")[1];
      const toParts = target.split("/");
      const toMod = toParts[1];
      const crossesModule = toParts.length > 2 && toMod !== fromMod;
      if (crossesModule && !/\/index\.js$/.test(target)) {
        v.push({ file, line: at(pos), rule: "lib-internal-import", detail: `imports ${spec}: another lib module must be imported through its index.js` });
      }
    } else if (!LIB_ALLOWED_PACKAGES.has(spec)) {
      v.push({ file, line: at(pos), rule: "lib-impure-import", detail: `imports "${spec}"` });
    }
  }
  const visit = (n: ts.Node): void => {
    if (ts.isIdentifier(n) && LIB_FORBIDDEN_GLOBALS.has(n.text) && !isDeclarationName(n)) {
      v.push({ file, line: at(n.getStart(sf)), rule: "lib-forbidden-global", detail: `uses ${n.text}` });
    }
    if (ts.isPropertyAccessExpression(n) && ts.isIdentifier(n.expression)) {
      const name = `${n.expression.text}.${n.name.text}`;
      if (LIB_FORBIDDEN_MEMBERS.has(name)) v.push({ file, line: at(n.getStart(sf)), rule: "lib-forbidden-global", detail: `uses ${name}` });
    }
    if (ts.isNewExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === "Date" && (n.arguments?.length ?? 0) === 0) {
      v.push({ file, line: at(n.getStart(sf)), rule: "lib-forbidden-global", detail: "uses new Date() (the clock)" });
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return v;
}

/** Adapter folders that are libraries shared by the programs, not programs themselves. */
const SHARED_ADAPTER_DIRS = new Set(["kernel", "k8s", "common", "proto"]);

/** Check one adapter source: lib only through module entry points; apps never import each other. */
export function checkAdapterSource(file: string, text: string): Violation[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const v: Violation[] = [];
  const at = (pos: number): number => sf.getLineAndCharacterOfPosition(pos).line + 1;
  const app = file.split("/")[1];
  for (const { spec, pos } of moduleSpecifiers(sf)) {
    if (!spec.startsWith(".")) continue;
    const target = join(dirname(file), spec).split(sep).join("/");
    if (target.startsWith("lib/")) {
      if (!/^lib\/([a-z0-9-]+\/)?index\.js$/.test(target) && target !== "lib/constants.js") {
        v.push({ file, line: at(pos), rule: "adapter-lib-internal", detail: `imports ${spec}: use a lib module's index.js` });
      }
    } else if (target.startsWith("adapters/")) {
      const otherApp = target.split("/")[1];
      // Shared adapter libraries: the kernel executor, the Kubernetes client helpers, common
      // helpers and wire types, and the coil ⇄ coild protocol (generated code + status codec).
      const shared = SHARED_ADAPTER_DIRS.has(otherApp ?? "");
      if (otherApp !== app && !shared) {
        v.push({ file, line: at(pos), rule: "adapter-cross-import", detail: `adapters/${app} imports adapters/${otherApp}` });
      }
    }
  }
  return v;
}

function tsFiles(dir: string): string[] {
  let out: string[] = [];
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(tsFiles(p));
    else if (p.endsWith(".ts") && !p.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

/** Check the whole tree under `root`. */
export function checkTree(root: string): { files: number; violations: Violation[] } {
  const abs = resolve(root);
  const rel = (p: string): string => relative(abs, p).split(sep).join("/");
  const lib = tsFiles(join(abs, "lib"));
  const adapters = tsFiles(join(abs, "adapters")).filter((f) => !rel(f).includes("/gen/"));
  const violations = [
    ...lib.flatMap((f) => checkLibSource(rel(f), readFileSync(f, "utf8"))),
    ...adapters.flatMap((f) => checkAdapterSource(rel(f), readFileSync(f, "utf8"))),
  ];
  return { files: lib.length + adapters.length, violations };
}
