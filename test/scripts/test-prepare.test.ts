// A missing test prerequisite (root, a tool, a prepared binary) fails the test instead of passing as
// a skip; COIL_TEST_ALLOW_SKIP=1 skips (never under CI=true). And `npm test`'s preparation
// (scripts/test-prepare.sh) refuses a non-root run up front, naming the fix, before building anything.
import t, { type Test } from "tap";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { requireRoot } from "../helpers/netns.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const helper = (name: string): string => pathToFileURL(join(root, "test/helpers", name)).href;
const tapUrl = pathToFileURL(join(root, "node_modules/tap/dist/esm/index.js")).href;
const tsx = join(root, "node_modules/tsx/dist/esm/index.mjs");

/** Environment without the variables under test (the suite itself may run under CI=true). */
function env(extra: Record<string, string>): Record<string, string> {
  const e = Object.fromEntries(Object.entries(process.env).filter((kv): kv is [string, string] => kv[1] !== undefined));
  delete e["CI"];
  delete e["COIL_TEST_ALLOW_SKIP"];
  delete e["TAP"];
  for (const k of Object.keys(e)) if (k.startsWith("TAP_")) delete e[k];
  return { ...e, ...extra };
}

/** Run a one-test TAP file standalone; `asNobody` drops root with setpriv. */
function runFixture(t: Test, body: string, extra: Record<string, string>, asNobody = false) {
  const dir = mkdtempSync(join(tmpdir(), "coil-prereq-"));
  chmodSync(dir, 0o755);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "fixture.test.mts");
  writeFileSync(file, `import { t } from ${JSON.stringify(tapUrl)};\n${body}\n`);
  const argv = [process.execPath, "--import", tsx, file];
  const cmd = asNobody ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", ...argv] : argv;
  const r = spawnSync(cmd[0]!, cmd.slice(1), { cwd: dir, encoding: "utf8", env: env({ HOME: dir, ...extra, _TAPJS_PROCESSINFO_COVERAGE_: "0" }), timeout: 60_000 });
  return { code: r.status, out: r.stdout + r.stderr };
}

const missing = `import { missingPrerequisite } from ${JSON.stringify(helper("prerequisites.ts"))};
t.test("needs a thing", async (t) => { missingPrerequisite(t, "the thing is missing", "make the thing"); });`;

t.test("missingPrerequisite fails by default, naming the reason and the fix", async (t) => {
  const r = runFixture(t, missing, {});
  t.equal(r.code, 1, "exit 1");
  t.match(r.out, /not ok 1 - the thing is missing — make the thing \(COIL_TEST_ALLOW_SKIP=1 skips instead of failing\)/);
  t.notMatch(r.out, /# SKIP/);
});

t.test("COIL_TEST_ALLOW_SKIP=1 skips with the reason", async (t) => {
  const r = runFixture(t, missing, { COIL_TEST_ALLOW_SKIP: "1" });
  t.equal(r.code, 0, "exit 0");
  t.match(r.out, /ok 1 - needs a thing # SKIP the thing is missing/);
});

t.test("under CI=true COIL_TEST_ALLOW_SKIP=1 does not skip", async (t) => {
  const r = runFixture(t, missing, { COIL_TEST_ALLOW_SKIP: "1", CI: "true" });
  t.equal(r.code, 1, "exit 1");
  t.match(r.out, /not ok 1 - the thing is missing — make the thing \(never skipped under CI=true\)/);
});

t.test("requireRoot as non-root fails (and skips only with COIL_TEST_ALLOW_SKIP=1)", async (t) => {
  if (!requireRoot(t)) return; // dropping to nobody needs root
  const body = `import { requireRoot } from ${JSON.stringify(helper("netns.ts"))};
t.test("privileged", async (t) => { if (!requireRoot(t)) return; t.pass("ran"); });`;
  const failed = runFixture(t, body, {}, true);
  t.equal(failed.code, 1, "non-root: exit 1");
  t.match(failed.out, /not ok 1 - needs root \(network namespaces, netlink, nftables\) — run the tests as root \(sudo npm test\)/);
  const skipped = runFixture(t, body, { COIL_TEST_ALLOW_SKIP: "1" }, true);
  t.equal(skipped.code, 0, "non-root with COIL_TEST_ALLOW_SKIP=1: exit 0");
  t.match(skipped.out, /# SKIP needs root/);
});

t.test("test-prepare.sh as non-root stops first and names the fix", async (t) => {
  if (!requireRoot(t)) return;
  const r = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--", "bash", "scripts/test-prepare.sh"], {
    cwd: root,
    encoding: "utf8",
    env: env({ HOME: tmpdir() }),
    timeout: 60_000,
  });
  t.equal(r.status, 1, "exit 1");
  t.match(r.stdout, /test-prepare: ERROR: the suite needs root .* Run it as root \(sudo npm test\), or set COIL_TEST_ALLOW_SKIP=1/);
  t.notMatch(r.stdout, /building|installing/, "nothing installed or built");
});
