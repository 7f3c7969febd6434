/**
 * What a test does when something it needs is missing (root, a Debian tool, a prepared binary).
 *
 * `npm test` prepares every prerequisite before tap starts (scripts/test-prepare.sh: packages,
 * dist/, the envtest control plane, Coil v2's Go coil), so a missing one means the preparation did
 * not happen or failed: the test FAILS with the reason and the fix instead of passing as a skip.
 * A developer who knowingly runs without them sets `COIL_TEST_ALLOW_SKIP=1`: the test file is then
 * skipped with the reason (`1..0 # <reason>`). Under `CI=true` skipping is never allowed.
 *
 * @module
 */
import type { Test } from "tap";

/** How to get the prerequisites that scripts/test-prepare.sh provides. */
export const PREPARE_HINT = "npm test prepares it; before running single test files run `npm run test:prepare`";

/** Whether a missing prerequisite may skip instead of fail: `COIL_TEST_ALLOW_SKIP=1` and not `CI=true`. */
export function skipAllowed(): boolean {
  return process.env["COIL_TEST_ALLOW_SKIP"] === "1" && process.env["CI"] !== "true";
}

/**
 * A prerequisite of `t` is missing: fail `t` with `reason` and `fix`, or, when
 * {@link skipAllowed}, skip it (`t.plan(0, reason)`). Call it before any assertion or subtest.
 */
export function missingPrerequisite(t: Test, reason: string, fix: string = PREPARE_HINT): void {
  if (skipAllowed()) {
    t.comment(`skipping (COIL_TEST_ALLOW_SKIP=1): ${reason}`);
    t.plan(0, reason);
  } else {
    const escape = process.env["CI"] === "true" ? "never skipped under CI=true" : "COIL_TEST_ALLOW_SKIP=1 skips instead of failing";
    t.fail(`${reason} — ${fix} (${escape})`);
  }
}
