/** The local rule coil/must-use-result (eslint-rules/must-use-result.js), with type information. */
import t from "tap";
import { RuleTester, type Rule } from "eslint";
import tseslint from "typescript-eslint";
import { fileURLToPath, pathToFileURL } from "node:url";
import { join } from "node:path";

const root = fileURLToPath(new URL("../..", import.meta.url));
const fixtures = join(root, "test/fixtures/lint");
// A JavaScript module without declarations: imported by URL so TypeScript does not resolve it.
const { default: plugin } = (await import(pathToFileURL(join(root, "eslint-rules/index.js")).href)) as {
  default: { rules: Record<string, Rule.RuleModule> };
};
const rule = plugin.rules["must-use-result"];
if (rule === undefined) throw new Error("eslint-rules/index.js has no must-use-result rule");

// Each RuleTester case becomes a tap assertion (RuleTester throws on a failing case).
RuleTester.describe = (_name: string, fn: () => void) => fn();
RuleTester.it = (name: string, fn: () => void) => t.doesNotThrow(fn, name);
RuleTester.itOnly = RuleTester.it;

const tester = new RuleTester({
  languageOptions: {
    parser: tseslint.parser,
    // typescript-estree switches to "single run" mode when CI=true; its program then makes the
    // TypeScript checker crash (normalizeSlashes of undefined) on RuleTester's in-memory file.
    // RuleTester lints many sources under one file name, which single-run mode does not expect.
    parserOptions: { project: join(fixtures, "tsconfig.json"), tsconfigRootDir: fixtures, disallowAutomaticSingleRunInference: true },
  },
});

const header = `
import { ok, err, okAsync, Result, ResultAsync } from "neverthrow";
declare function validate(x: number): Result<number, { kind: "bad" }>;
declare function release(k: string): ResultAsync<void, { kind: "gone" }>;
declare function later(): Promise<Result<void, { kind: "late" }>>;
declare function plain(): number;
class Ok { isOk(): boolean { return true; } }
declare const mine: Ok;
`;
const filename = join(fixtures, "file.ts");
const valid = (code: string): RuleTester.ValidTestCase => ({ code: header + code, filename });
const invalid = (code: string, what = "Result"): RuleTester.InvalidTestCase => ({
  code: header + code,
  filename,
  errors: [{ messageId: "mustUse", data: { what } }],
});

tester.run("must-use-result", rule, {
  valid: [
    valid(`export function f(): Result<number, { kind: "bad" }> { return validate(1); }`),
    valid(`export function f() { const r = validate(1); if (r.isErr()) return 0; return r.value; }`),
    valid(`export function f() { if (validate(1).isErr()) throw new Error("x"); }`),
    valid(`export async function f() { if ((await release("k")).isErr()) return 1; return 0; }`),
    valid(`export function f() { return Result.combine([validate(1), validate(2)]); }`),
    valid(`export function f() { validate(1).match(() => 0, () => 1); }`),
    valid(`export function f() { validate(1).unwrapOr(0); }`),
    valid(`export function f() { void validate(1); }`),
    valid(`export async function f() { void (await release("k")); }`),
    valid(`export function f() { let r; r = validate(1); return r; }`),
    valid(`export function f() { plain(); mine.isOk(); }`),
    valid(`export function f(cb: (r: Result<number, string>) => void) { cb(ok(1)); cb(err("x")); }`),
  ],
  invalid: [
    invalid(`export function f() { validate(1); }`),
    invalid(`export function f() { validate(1).map((x) => x + 1); }`),
    invalid(`export function f() { ok(1); }`),
    invalid(`export async function f() { await release("k"); }`, "awaited Result"),
    invalid(`export async function f() { await later(); }`, "awaited Result"),
    invalid(`export async function f() { await okAsync(1).andThen(() => release("k")); }`, "awaited Result"),
    invalid(`export function f(c: boolean) { c && validate(1); }`),
    invalid(`export function f(c: boolean) { c ? validate(1) : plain(); }`),
    invalid(`export function f() { plain(), validate(2); }`),
    invalid(`export function f(o?: { v(): Result<number, string> }) { o?.v(); }`),
  ],
});
