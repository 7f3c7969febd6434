/**
 * Every program that talks to the API server (coild --store=kubernetes, coil-ipam-controller,
 * coil-router), run as the BUILT bundle (dist/bin/*.mjs, rebuilt when older than its sources:
 * test/helpers/bundles.ts), with a kubeconfig that cannot be used: each must fail at start-up with
 * exit code 1 and one JSON error line naming the file (or the missing configuration) and the cause —
 * no Node stack trace, and no retry loop when there is no kubeconfig at all.
 *
 * The programs run in a fresh network namespace (`unshare --net`): nothing they might do before
 * failing can reach this host's network or an API server on it. The 27 runs are independent (each
 * its own namespace, socket, state and certificate directories), so they start at once, at most
 * {@link CONCURRENT_RUNS} at a time, and each subtest awaits its own run's outcome.
 */
import t, { type Test } from "tap";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { bundlePath, ensureBundles } from "../../helpers/bundles.js";
import { scaledTimeout } from "../../helpers/wait.js";

const PROGRAMS = ["coild", "coil-ipam-controller", "coil-router"] as const;
type Program = (typeof PROGRAMS)[number];
/**
 * How long a program may take to give up: 20 s scaled for load (test/helpers/wait.ts; 21.4 s was seen
 * at load 18 — the bundle's start-up alone); a retry loop runs for ever.
 */
const EXIT_WITHIN_MS = scaledTimeout(20_000);
/**
 * Runs in flight at once: a few, so the 27 start-ups overlap (one after the other they took 306 s in a
 * loaded full run) without each taking so long on a shared 2-core machine that it nears {@link EXIT_WITHIN_MS}.
 */
const CONCURRENT_RUNS = 3;

const t0 = performance.now();
t.comment(`dist/bin bundles ${ensureBundles()._unsafeUnwrap()} (${Math.round(performance.now() - t0)} ms)`);

const work = mkdtempSync(join(tmpdir(), "coil-kubeconfig-"));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
/** A HOME without `.kube/config`. */
const home = join(work, "home");
mkdirSync(home);

/** Flags that keep each program's own listeners and files (in `own`, a directory of this run's) out of the way (kubeconfig aside). */
function baseArgs(p: Program, own: string): string[] {
  if (p === "coild") return ["--store=kubernetes", "--enable-egress=false", `--socket=${join(own, "coild.sock")}`, `--state-dir=${join(own, "state")}`, "--metrics-addr=0", "--health-addr=0"];
  if (p === "coil-ipam-controller") return ["--leader-elect=false", "--metrics-addr=0", "--health-addr=0", "--webhook-addr=127.0.0.1:0", `--cert-dir=${join(own, "certs")}`];
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
  const own = mkdtempSync(join(work, `${p}-`));
  const started = performance.now();
  const argv = ["--net", "--", process.execPath, bundlePath(p), ...baseArgs(p, own), ...args];
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

/** A case: its name, the program's extra flags and environment, what the error must name, and when it cannot run here. */
interface Case {
  readonly name: string;
  readonly args: readonly string[];
  readonly env?: Record<string, string>;
  readonly want: RegExp;
  readonly skip?: string;
}
const CASES: readonly Case[] = [
  { name: "--kubeconfig naming a missing file", args: [`--kubeconfig=${missing}`], want: new RegExp(`${esc(missing)}.*(no such file|does not exist)`, "i") },
  { name: "$KUBECONFIG naming a missing file", args: [], env: { KUBECONFIG: missing }, want: new RegExp(`${esc(missing)}.*(no such file|does not exist)`, "i") },
  { name: "--kubeconfig naming a directory", args: [`--kubeconfig=${directory}`], want: new RegExp(`${esc(directory)}.*(directory|EISDIR)`, "i") },
  { name: "--kubeconfig that is not YAML", args: [`--kubeconfig=${notYaml}`], want: new RegExp(`${esc(notYaml)}.*(YAML|parse)`, "i") },
  { name: "--kubeconfig without a current context", args: [`--kubeconfig=${noContext}`], want: new RegExp(`${esc(noContext)}.*current context`, "i") },
  { name: "--kubeconfig whose cluster has no server", args: [`--kubeconfig=${badCluster}`], want: new RegExp(`${esc(badCluster)}.*server`, "i") },
  { name: "--kubeconfig naming a missing certificate-authority file", args: [`--kubeconfig=${missingCa}`], want: new RegExp(`${esc(missingCa)}.*${esc(caPath)}`, "i") },
  { name: "no kubeconfig at all and not in a cluster", args: [], want: /no kubeconfig.*--kubeconfig.*KUBECONFIG.*KUBERNETES_SERVICE_HOST.*\.kube\/config/i },
  {
    name: "in-cluster variables without a service-account token",
    args: [],
    env: { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: "6443" },
    want: /in-cluster.*\/var\/run\/secrets\/kubernetes\.io\/serviceaccount\/token/i,
    ...(existsSync("/var/run/secrets/kubernetes.io/serviceaccount/token") ? { skip: "this host has a service-account token" } : {}),
  },
];

/** Start `f` once fewer than {@link CONCURRENT_RUNS} started ones are still running. */
const queue: Array<() => void> = [];
let running = 0;
function pooled<T>(f: () => Promise<T>): Promise<T> {
  return new Promise<void>((resolve) => {
    if (running < CONCURRENT_RUNS) {
      running++;
      resolve();
    } else queue.push(resolve);
  })
    .then(f)
    .finally(() => {
      const next = queue.shift();
      if (next === undefined) running--;
      else next();
    });
}

// Every run starts now (bounded); the subtests below await them in order.
const outcomes = new Map<string, Promise<Ran>>();
for (const p of PROGRAMS) {
  for (const c of CASES) {
    if (c.skip !== undefined) continue;
    const ran = pooled(() => run(p, c.args, c.env));
    ran.catch(() => undefined); // handled: its subtest awaits it (and fails with the error)
    outcomes.set(`${p} ${c.name}`, ran);
  }
}

for (const p of PROGRAMS) {
  t.test(p, async (t) => {
    for (const c of CASES) {
      await t.test(c.name, { skip: c.skip ?? false }, async (t) => {
        const ran = outcomes.get(`${p} ${c.name}`);
        if (ran !== undefined) assertStartupError(t, await ran, c.want);
      });
    }
  });
}
