/**
 * The environment for a test's child process that runs the project's TypeScript from source
 * (`node --import tsx …`): the test's own environment with tap's per-process coverage switched off.
 *
 * Why: tap (through @tapjs/processinfo) records V8 coverage in every Node child a test spawns.
 * Under the tsx loader a `lib/` module is compiled to a few long lines whose source map the
 * coverage merge does not apply, so each such child contributes a one-line record for every
 * `lib/` file it loaded, and the merged report of the full suite showed files like
 * `lib/cni/result.ts` at 63 % (or at 1 line) though their own tests cover them fully. The code
 * those children run is covered in-process by the tests that import it; the children's records
 * only corrupted the merge. `_TAPJS_PROCESSINFO_COVERAGE_=0` is processinfo's own switch.
 */
export function sourceChildEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  return { ...process.env, ...extra, _TAPJS_PROCESSINFO_COVERAGE_: "0" };
}
