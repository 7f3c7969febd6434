/**
 * Every program that talks to the API server (coild --store=kubernetes, coil-ipam-controller,
 * coil-router), run as the BUILT bundle (dist/bin/*.mjs, rebuilt here when older than its
 * sources), with a kubeconfig that cannot be used: each must fail at start-up with exit code 1 and
 * one JSON error line naming the file (or the missing configuration) and the cause — no Node stack
 * trace, and no retry loop when there is no kubeconfig at all.
 *
 * The programs run in a fresh network namespace (`unshare --net`): nothing they might do before
 * failing can reach this host's network or an API server on it.
 */
import t, { type Test } from "tap";
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { scaledTimeout } from "../../helpers/wait.js";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const PROGRAMS = ["coild", "coil-ipam-controller", "coil-router"] as const;
type Program = (typeof PROGRAMS)[number];
/**
 * How long a program may take to give up: 20 s scaled for load (test/helpers/wait.ts; 21.4 s was seen
 * at load 18 — the bundle's start-up alone); a retry loop runs for ever.
 */
const EXIT_WITHIN_MS = scaledTimeout(20_000);

/** Rebuild the bundles (scripts/build-bins.sh) when one is missing or older than a source it bundles. */
function ensureBins(): string {
  const stale = PROGRAMS.some((p) => {
    const bin = join(ROOT, "dist/bin", `${p}.mjs`);
    const meta = join(ROOT, "dist/bin/meta", `${p}.json`);
    if (!existsSync(bin) || !existsSync(meta)) return true;
    const built = statSync(bin).mtimeMs;
    const inputs = Object.keys((JSON.parse(readFileSync(meta, "utf8")) as { inputs: Record<string, unknown> }).inputs);
    return inputs.some((f) => existsSync(join(ROOT, f)) && statSync(join(ROOT, f)).mtimeMs > built);
  });
  if (stale) execFileSync("flock", ["/tmp/coil-build-bins.lock", "sh", join(ROOT, "scripts/build-bins.sh")], { stdio: ["ignore", "inherit", "inherit"] });
  return stale ? "rebuilt" : "up to date";
}

const t0 = performance.now();
t.comment(`dist/bin bundles ${ensureBins()} (${Math.round(performance.now() - t0)} ms)`);

const work = mkdtempSync(join(tmpdir(), "coil-kubeconfig-"));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
/** A HOME without `.kube/config`. */
const home = join(work, "home");
mkdirSync(home);

/** Flags that keep each program's own listeners and files out of the way (kubeconfig aside). */
function baseArgs(p: Program): string[] {
  if (p === "coild") return ["--store=kubernetes", "--enable-egress=false", `--socket=${join(work, "coild.sock")}`, `--state-dir=${join(work, "state")}`, "--metrics-addr=0", "--health-addr=0"];
  if (p === "coil-ipam-controller") return ["--leader-elect=false", "--metrics-addr=0", "--health-addr=0", "--webhook-addr=127.0.0.1:0", `--cert-dir=${join(work, "certs")}`];
  return ["--metrics-addr=0", "--health-addr=0"];
}

interface Ran {
  readonly code: number | null;
  readonly stderr: string;
  readonly stdout: string;
  readonly ms: number;
}

/** Run a bundle in a new network namespace with only `env` (plus PATH and HOME); kill it if it outlives {@link EXIT_WITHIN_MS}. */
async function run(p: Program, args: readonly string[], env: Record<string, string> = {}): Promise<Ran> {
  const started = performance.now();
  const argv = ["--net", "--", process.execPath, join(ROOT, "dist/bin", `${p}.mjs`), ...baseArgs(p), ...args];
  const child = spawn("unshare", argv, { env: { PATH: `${dirname(process.execPath)}:/usr/sbin:/usr/bin:/sbin:/bin`, HOME: home, COIL_NODE_NAME: "node-1", ...env } });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), EXIT_WITHIN_MS);
  const [code] = (await once(child, "exit")) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr, ms: Math.round(performance.now() - started) };
}

/** The checks every case shares: exit 1 in time, one JSON error line matching `want`, no stack trace. */
function assertStartupError(t: Test, r: Ran, want: RegExp): void {
  t.equal(r.code, 1, `exit code 1 within ${EXIT_WITHIN_MS} ms (took ${r.ms} ms; null = still running, killed)`);
  t.notMatch(r.stderr, /^\s+at /m, "no stack trace");
  const lines = r.stderr.split("\n").filter((l) => l !== "");
  t.equal(lines.length, 1, `exactly one line on stderr:\n${r.stderr.slice(0, 3000)}`);
  const line = lines[0] ?? "";
  let parsed: { level?: string; msg?: string; error?: unknown } = {};
  try {
    parsed = JSON.parse(line) as typeof parsed;
  } catch {
    t.fail(`stderr line is JSON: ${line}`);
  }
  t.equal(parsed.level, "error", "an error line");
  t.match(JSON.stringify(parsed.error ?? ""), want, "names the file/source and the cause");
  t.equal(r.stdout, "", "nothing on stdout");
}

const missing = join(work, "no-such-dir", "kubeconfig");
const notYaml = join(work, "not-yaml.kubeconfig");
writeFileSync(notYaml, "clusters: [\n  - name: x\n  cluster: {server: \n");
const noContext = join(work, "no-context.kubeconfig");
writeFileSync(noContext, "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:6443\nusers:\n- name: u\n  user: {}\n");
const badCluster = join(work, "bad-cluster.kubeconfig");
writeFileSync(badCluster, "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\nusers:\n- name: u\n  user: {}\n");
const missingCa = join(work, "missing-ca.kubeconfig");
const caPath = join(work, "no-such-ca.crt");
writeFileSync(missingCa, `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:6443\n    certificate-authority: ${caPath}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\nusers:\n- name: u\n  user: {}\n`);
const directory = join(work, "a-directory");
mkdirSync(directory);

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

for (const p of PROGRAMS) {
  t.test(p, async (t) => {
    await t.test("--kubeconfig naming a missing file", async (t) => {
      assertStartupError(t, await run(p, [`--kubeconfig=${missing}`]), new RegExp(`${esc(missing)}.*(no such file|does not exist)`, "i"));
    });
    await t.test("$KUBECONFIG naming a missing file", async (t) => {
      assertStartupError(t, await run(p, [], { KUBECONFIG: missing }), new RegExp(`${esc(missing)}.*(no such file|does not exist)`, "i"));
    });
    await t.test("--kubeconfig naming a directory", async (t) => {
      assertStartupError(t, await run(p, [`--kubeconfig=${directory}`]), new RegExp(`${esc(directory)}.*(directory|EISDIR)`, "i"));
    });
    await t.test("--kubeconfig that is not YAML", async (t) => {
      assertStartupError(t, await run(p, [`--kubeconfig=${notYaml}`]), new RegExp(`${esc(notYaml)}.*(YAML|parse)`, "i"));
    });
    await t.test("--kubeconfig without a current context", async (t) => {
      assertStartupError(t, await run(p, [`--kubeconfig=${noContext}`]), new RegExp(`${esc(noContext)}.*current context`, "i"));
    });
    await t.test("--kubeconfig whose cluster has no server", async (t) => {
      assertStartupError(t, await run(p, [`--kubeconfig=${badCluster}`]), new RegExp(`${esc(badCluster)}.*server`, "i"));
    });
    await t.test("--kubeconfig naming a missing certificate-authority file", async (t) => {
      assertStartupError(t, await run(p, [`--kubeconfig=${missingCa}`]), new RegExp(`${esc(missingCa)}.*${esc(caPath)}`, "i"));
    });
    await t.test("no kubeconfig at all and not in a cluster", async (t) => {
      assertStartupError(t, await run(p, []), /no kubeconfig.*--kubeconfig.*KUBECONFIG.*KUBERNETES_SERVICE_HOST.*\.kube\/config/i);
    });
    await t.test("in-cluster variables without a service-account token", { skip: existsSync("/var/run/secrets/kubernetes.io/serviceaccount/token") ? "this host has a service-account token" : false }, async (t) => {
      const r = await run(p, [], { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: "6443" });
      assertStartupError(t, r, /in-cluster.*\/var\/run\/secrets\/kubernetes\.io\/serviceaccount\/token/i);
    });
  });
}
