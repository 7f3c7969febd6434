// ESLint flat config (ESLint 9, typescript-eslint with type information).
//
// - Promises and Results must be consumed: no-floating-promises, no-misused-promises,
//   await-thenable and the local coil/must-use-result (eslint-rules/).
// - The architecture boundaries of test/architecture/boundaries.test.ts, as lint rules: lib/ is
//   pure (no I/O, clock, randomness, timers, environment; only neverthrow), lib modules reach each other through their index.js, adapters reach lib only
//   through a module's index.js (or lib/constants.js) and no program imports another program's
//   folder (adapters/common, k8s, kernel and proto are the shared ones).
// Run with `npm run lint`; `npm test` runs it too.
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import globals from "globals";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import coil from "./eslint-rules/index.js";

const root = import.meta.dirname;

// ---- lib/: pure ----------------------------------------------------------------------------

/** Globals that would give lib I/O, a clock, randomness, timers or the environment. */
const LIB_FORBIDDEN_GLOBALS = [
  "process", "require", "console", "setTimeout", "setInterval", "setImmediate", "queueMicrotask",
  "clearTimeout", "clearInterval", "clearImmediate", "fetch", "performance", "crypto", "globalThis",
  "window", "global", "Buffer", "__dirname", "__filename",
].map((name) => ({ name, message: `lib/ is pure: no ${name} (take it as a parameter from the adapter)` }));

/** Test-only escape hatches of neverthrow (design guide §2.4): production code handles the error. */
const UNSAFE_UNWRAP = ["_unsafeUnwrap", "_unsafeUnwrapErr"].map((property) => ({
  property,
  message: "_unsafeUnwrap* is for tests: handle the error (isErr / match / map)",
}));

const LIB_FORBIDDEN_PROPERTIES = [
  ...UNSAFE_UNWRAP,
  { object: "Date", property: "now", message: "lib/ has no clock: take the time as a parameter" },
  { object: "Date", property: "parse", message: "lib/ has no clock: Date.parse depends on the host's time zone" },
  { object: "Math", property: "random", message: "lib/ is deterministic: take randomness as a parameter" },
];

const LIB_FORBIDDEN_SYNTAX = [
  { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: "lib/ has no clock: new Date() reads it" },
  { selector: "CallExpression[callee.name='Date']", message: "lib/ has no clock: Date() reads it" },
  { selector: "ImportExpression", message: "lib/ imports statically (a dynamic import is I/O)" },
  { selector: "TSImportType", message: "lib/: use `import type` from a module allowed to lib" },
];

/**
 * no-restricted-imports patterns for one lib file. `depth` is how many folders below lib/ it
 * sits (lib/index.ts: 0, lib/plan/x.ts: 1).
 */
function libImportPatterns(depth) {
  const up = "\\.\\./".repeat(depth);
  const patterns = [
    { regex: "^(?!\\.|neverthrow$)", message: "lib/ is pure: the only package it may import is neverthrow" },
    { regex: `^${up}\\.\\./`, message: "lib/ must not import anything outside lib/" },
  ];
  // Another lib module only through its index.js (lib-internal-import).
  if (depth === 0) patterns.push({ regex: "^\\./[^/]+/(?!index\\.js$)", message: "import another lib module through its index.js" });
  else patterns.push({ regex: `^${up}[^./][^/]*/(?!index\\.js$)`, message: "import another lib module through its index.js" });
  return patterns;
}

const libConfigs = [
  { files: ["lib/*.ts"], depth: 0 },
  { files: ["lib/*/**/*.ts"], depth: 1 },
].map(({ files, depth }) => ({
  files,
  rules: {
    "@typescript-eslint/no-restricted-imports": ["error", { patterns: libImportPatterns(depth) }],
    "no-restricted-globals": ["error", ...LIB_FORBIDDEN_GLOBALS],
    "no-restricted-properties": ["error", ...LIB_FORBIDDEN_PROPERTIES],
    "no-restricted-syntax": ["error", ...LIB_FORBIDDEN_SYNTAX],
  },
}));

// ---- adapters/: lib through its public modules; no program imports another's folder ---------

/** Adapter folders that are libraries shared by the programs, not programs themselves. */
const SHARED_ADAPTER_DIRS = ["common", "k8s", "kernel", "proto"];

const adapterApps = readdirSync(join(root, "adapters")).filter((d) => statSync(join(root, "adapters", d)).isDirectory());

/** Patterns for a file `depth` folders below adapters/<app>/ (adapters/cni/run.ts: 0). */
function adapterImportPatterns(app, depth) {
  const toAdapters = "\\.\\./".repeat(depth + 1);
  const allowed = [...new Set([...SHARED_ADAPTER_DIRS, app])].join("|");
  return [
    {
      regex: "^(\\.\\./)+lib/(?!([a-z0-9-]+/)?index\\.js$|constants\\.js$)",
      message: "adapters reach lib/ only through a module's index.js (or lib/constants.js)",
    },
    {
      regex: `^${toAdapters}(?!(${allowed})/)[^./][^/]*/`,
      message: `adapters/${app} must not import another program's folder (shared: ${SHARED_ADAPTER_DIRS.join(", ")})`,
    },
  ];
}

const adapterConfigs = [{ files: ["adapters/**/*.ts"], rules: { "no-restricted-properties": ["error", ...UNSAFE_UNWRAP] } }, ...adapterApps.flatMap((app) =>
  [0, 1, 2, 3].map((depth) => ({
    files: [`adapters/${app}/${"*/".repeat(depth)}*.ts`],
    rules: { "@typescript-eslint/no-restricted-imports": ["error", { patterns: adapterImportPatterns(app, depth) }] },
  })),
)];

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "coverage/**", ".tap/**", "api-docs/**", "adapters/proto/gen/**"] },
  {
    files: ["**/*.ts"],
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { project: "./tsconfig.eslint.json", tsconfigRootDir: root },
    },
    plugins: { coil },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      "coil/must-use-result": "error",
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/await-thenable": "error",
      "@typescript-eslint/switch-exhaustiveness-check": [
        "error",
        { considerDefaultExhaustiveForUnions: true, requireDefaultForNonUnion: false },
      ],
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
    },
  },
  ...libConfigs,
  ...adapterConfigs,
  {
    // Tests: tap's t.test() subtests are tracked by tap itself (their promise never rejects), so
    // not awaiting them is fine; every other floating promise in a test is still an error.
    // Test callbacks are `async` by tap convention even when they await nothing.
    files: ["test/**/*.ts"],
    rules: {
      "@typescript-eslint/no-floating-promises": [
        "error",
        { allowForKnownSafeCalls: [{ from: "package", package: "@tapjs/test", name: ["test", "skip", "todo", "only"] }] },
      ],
      "@typescript-eslint/require-await": "off",
    },
  },
  {
    files: ["**/*.{js,mjs}"],
    extends: [js.configs.recommended],
    languageOptions: { globals: globals.node },
  },
);
