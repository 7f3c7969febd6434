/**
 * `coil/must-use-result`: a neverthrow `Result` / `ResultAsync` (or a `Promise` of one, once awaited)
 * must not be thrown away by an expression statement: `validate(x);`, `await store.release(k);` and
 * `r.map(f);` all drop an error on the floor. Consuming it — assigning it, returning it, testing
 * `isErr()`, passing it on, `match`, `unwrapOr`, `Result.combine` — is fine, and so is an explicit
 * `void f();` (a written-down decision to ignore it).
 *
 * Why a local rule and not a published one (checked on npm, 2026):
 * - `eslint-plugin-neverthrow@1.1.4` (the original) reads `context.parserServices` and calls
 *   `context.getScope()`, both removed in ESLint 9: it throws "types not available" on every file.
 * - `eslint-plugin-neverthrow-must-use@0.1.2` has no type information at all: it matches the
 *   source text against /map|andThen|match|.../, so it flags `array.map(...)` statements and
 *   misses `validate(x);`.
 * - `@bufferings/eslint-plugin-neverthrow@0.3.0` (a flat-config fork of the original) works on
 *   ESLint 9, but keeps the original's idea that a Result is only handled by `match`, `unwrapOr`
 *   or `_unsafeUnwrap`: it flagged `if (validate(x).isErr())`, `(await f()).isErr()`, arrays of
 *   Results fed to `Result.combine` and `resolve(err(...))` — about 70% of its findings in lib/
 *   and adapters/ were this project's normal style. It also pins `@typescript-eslint/utils@8.48.0`,
 *   whose peer range excludes the TypeScript 6 this project uses.
 * The check here is the narrow, exact one: a statement whose value is a Result.
 */
/** neverthrow's Result classes: `Result<T, E>` is `Ok<T, E> | Err<T, E>`. */
const RESULT_CLASSES = new Set(["Ok", "Err", "ResultAsync"]);

/**
 * Whether `type` is (or, for a union, contains) one of neverthrow's Result classes. The class is
 * recognised by name and by being declared inside the neverthrow package, so a project type that
 * happens to be called `Ok` does not count.
 */
function isResultType(type) {
  const parts = type.isUnion() ? type.types : [type];
  return parts.some((part) => {
    const symbol = part.getSymbol() ?? part.aliasSymbol;
    if (!symbol || !RESULT_CLASSES.has(symbol.getName())) return false;
    return (symbol.getDeclarations() ?? []).some((d) => /[\\/]neverthrow[\\/]/.test(d.getSourceFile().fileName));
  });
}

/** The expressions whose value an expression statement actually discards. */
function discarded(node) {
  switch (node.type) {
    case "SequenceExpression":
      return node.expressions.flatMap(discarded);
    case "ConditionalExpression":
      return [...discarded(node.consequent), ...discarded(node.alternate)];
    case "LogicalExpression":
      // `a && f()`: the right side's value is dropped (the left one is tested, so it is used).
      return discarded(node.right);
    case "ChainExpression":
      return discarded(node.expression);
    default:
      return [node];
  }
}

/** @type {import("eslint").Rule.RuleModule} */
const rule = {
  meta: {
    type: "problem",
    docs: {
      description: "A neverthrow Result (or awaited ResultAsync) must be consumed, not dropped by an expression statement",
    },
    messages: {
      mustUse:
        "This {{what}} is thrown away: its error would go unnoticed. Check it (isErr / match / return it / combine it), or write `void` before it if ignoring it is deliberate.",
    },
    schema: [],
  },
  create(context) {
    const services = context.sourceCode.parserServices;
    if (!services?.program || !services.esTreeNodeToTSNodeMap) {
      throw new Error("coil/must-use-result needs type information (parserOptions.project or projectService)");
    }
    const checker = services.program.getTypeChecker();
    return {
      ExpressionStatement(stmt) {
        // `"use strict";` and friends.
        if (stmt.directive !== undefined) return;
        for (const expr of discarded(stmt.expression)) {
          // `void f()` is the explicit "ignore it" marker; assignments keep the value.
          if (expr.type === "UnaryExpression" && expr.operator === "void") continue;
          if (expr.type === "AssignmentExpression") continue;
          const tsNode = services.esTreeNodeToTSNodeMap.get(expr);
          if (!tsNode) continue;
          const type = checker.getTypeAtLocation(tsNode);
          if (!isResultType(type)) continue;
          const what = expr.type === "AwaitExpression" ? "awaited Result" : "Result";
          context.report({ node: expr, messageId: "mustUse", data: { what } });
        }
      },
    };
  },
};

export default rule;
