/**
 * `npm run bench:coilctl -- [--nodes=1000] [--blocks=10000] [--pods=50000] [--concurrency=32]
 * [--load-note=<text>] [--out=bench/RESULTS-coilctl.md] [--no-write]` — issue 11's done-when: the time
 * of `coilctl ipam check` on 1,000 Nodes / 10,000 AddressBlocks / 50,000 Pods in a real API server.
 *
 * One real kube-apiserver + etcd (test/helpers/coil-envtest.ts) is seeded with, `concurrency`
 * creates at a time (each phase timed):
 *   - `nodes` Nodes `node-0000`… (no addresses: no coild answers behind them);
 *   - one AddressPool `default` (blockSizeBits 5, an IPv4 subnet just large enough);
 *   - `blocks` AddressBlocks rendered exactly as coil-ipam-controller creates them (its
 *     `renderBlock`: labels pool, node and request UID, the finalizer, the owner reference), block i
 *     on node i mod `nodes`;
 *   - `pods` Pods in 10 namespaces, pod j on node j mod `nodes`, each with a podIP in one of its
 *     node's blocks (status written through the status subresource: a create and a merge patch
 *     per pod, raw JSON requests); they never run (no kubelet). The cluster is clean: no finding
 *     is expected.
 * Then coilctl, bundled from the current source with esbuild (as scripts/build-bins.sh bundles it,
 * into a temporary directory: dist/ is not touched), runs ONCE as
 * `coilctl ipam check -o json --api-only --progress` under GNU time (wall time, peak RSS), its report
 * checked (no finding, every node unchecked: `--api-only` reads no coild view). The API requests
 * it made are the difference of the API server's `apiserver_request_total` before and after (by
 * verb and resource; the API server's own background requests during the run are included).
 * Then, once, the same check WITHOUT `--api-only`: the 1,000 node-proxy queries each fail at once
 * (the Nodes have no address), so it shows the cost of the per-node round trips, not of coild.
 * Load (uptime, runnable tasks, stress-ng processes) is recorded before and after. Results: stdout
 * and bench/RESULTS-coilctl.md between its markers (unless `--no-write`). Needs the envtest
 * binaries (~/.cache/coil-envtest) and /usr/bin/time (GNU time).
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request, type RequestOptions } from "node:https";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { build } from "esbuild";
import { renderBlock } from "../adapters/ipam-controller/pool-manager.js";
import { coilClient, makeClients } from "../adapters/k8s/index.js";
import { startCoilControlPlane } from "../test/helpers/coil-envtest.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const { values } = parseArgs({
  options: {
    nodes: { type: "string", default: "1000" },
    blocks: { type: "string", default: "10000" },
    pods: { type: "string", default: "50000" },
    concurrency: { type: "string", default: "32" },
    "load-note": { type: "string", default: "" },
    out: { type: "string", default: join(ROOT, "bench/RESULTS-coilctl.md") },
    "no-write": { type: "boolean", default: false },
  },
});
const NODES = Number(values.nodes);
const BLOCKS = Number(values.blocks);
const PODS = Number(values.pods);
const WIDTH = Number(values.concurrency);
const NAMESPACES = 10;
const BLOCK_BITS = 5;

/** Load: `uptime`, /proc/loadavg's runnable/total tasks, stress-ng processes. */
function load(): string {
  const uptime = execFileSync("uptime", [], { encoding: "utf8" }).trim();
  const runnable = readFileSync("/proc/loadavg", "utf8").split(" ")[3] ?? "?";
  let stress = 0;
  try {
    stress = execFileSync("pgrep", ["-x", "stress-ng"], { encoding: "utf8" }).split("\n").filter((l) => l !== "").length;
  } catch {
    // pgrep exits 1 when there is none
  }
  return `\`${uptime}\`; runnable/total ${runnable}; stress-ng processes: ${stress}`;
}

/** Run `fn` over 0..n-1, `WIDTH` at a time, printing the rate every 10 s; the seconds taken. */
async function seed(what: string, n: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  let done = 0;
  const tick = setInterval(() => {
    const s = (performance.now() - t0) / 1000;
    process.stdout.write(`  ${what}: ${done}/${n} in ${s.toFixed(0)} s (${(done / s).toFixed(0)}/s)\n`);
  }, 10_000);
  try {
    await Promise.all(Array.from({ length: Math.min(WIDTH, n) }, async () => {
      while (next < n) {
        await fn(next++);
        done++;
      }
    }));
  } finally {
    clearInterval(tick);
  }
  const s = (performance.now() - t0) / 1000;
  process.stdout.write(`${what}: ${n} in ${s.toFixed(1)} s\n`);
  return s;
}

const ipv4 = (base: number, n: number): string => [24, 16, 8, 0].map((s) => ((base + n) >>> s) & 255).join(".");
const BASE = (10 << 24) | (64 << 16);
const nodeName = (i: number): string => `node-${String(i).padStart(4, "0")}`;

/** The API server's `apiserver_request_total`, summed by `verb resource[/subresource]`. */
async function requestCounts(kc: KubeConfig): Promise<Map<string, number>> {
  const server = new URL(kc.getCurrentCluster()?.server ?? "");
  const opts: RequestOptions = { host: server.hostname, port: server.port, path: "/metrics", method: "GET" };
  await kc.applyToHTTPSOptions(opts);
  const text = await new Promise<string>((resolve, reject) => {
    const req = request(opts, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`/metrics: HTTP ${String(res.statusCode)}`))));
    });
    req.on("error", reject);
    req.end();
  });
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line.startsWith("apiserver_request_total{")) continue;
    const label = (k: string): string => new RegExp(`[{,]${k}="([^"]*)"`).exec(line)?.[1] ?? "";
    const key = `${label("verb")} ${label("resource")}${label("subresource") === "" ? "" : `/${label("subresource")}`}`;
    out.set(key, (out.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1)));
  }
  return out;
}

/**
 * Raw JSON requests to the API server over keep-alive TLS (the admin kubeconfig's credentials):
 * for the 100,000 pod writes of the seeding, client-node's typed (de)serialisation costs as much
 * CPU as the API server itself on a 2-core machine.
 */
async function rawApi(kc: KubeConfig): Promise<(method: string, path: string, body: unknown, contentType?: string) => Promise<void>> {
  const server = new URL(kc.getCurrentCluster()?.server ?? "");
  const base: RequestOptions = { host: server.hostname, port: server.port };
  await kc.applyToHTTPSOptions(base);
  const agent = new Agent({ keepAlive: true, maxSockets: WIDTH, ...(base.ca === undefined ? {} : { ca: base.ca }), ...(base.cert === undefined ? {} : { cert: base.cert }), ...(base.key === undefined ? {} : { key: base.key }) });
  return (method, path, body, contentType = "application/json") =>
    new Promise<void>((resolve, reject) => {
      const data = JSON.stringify(body);
      const req = request({ ...base, agent, method, path, headers: { "content-type": contentType, "content-length": Buffer.byteLength(data), accept: "application/json" } }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => ((res.statusCode ?? 0) < 300 ? resolve() : reject(new Error(`${method} ${path}: HTTP ${String(res.statusCode)} ${text.slice(0, 300)}`))));
      });
      req.on("error", reject);
      req.end(data);
    });
}

/** `after − before`, non-zero entries, largest first. */
function delta(before: Map<string, number>, after: Map<string, number>): [string, number][] {
  return [...after].map(([k, v]): [string, number] => [k, v - (before.get(k) ?? 0)]).filter(([, d]) => d > 0).sort((a, b) => b[1] - a[1]);
}

/** coilctl bundled from source into `dir` (esbuild, as scripts/build-bins.sh does). */
async function bundleCoilctl(dir: string): Promise<string> {
  const outfile = join(dir, "coilctl.mjs");
  const banner = [
    'import { createRequire as __coilCreateRequire } from "node:module";',
    'import { fileURLToPath as __coilFileURLToPath } from "node:url";',
    'import { dirname as __coilDirname } from "node:path";',
    "const require = __coilCreateRequire(import.meta.url);",
    "const __filename = __coilFileURLToPath(import.meta.url);",
    "const __dirname = __coilDirname(__filename);",
  ].join("\n");
  await build({ entryPoints: [join(ROOT, "adapters/coilctl/main.ts")], bundle: true, minify: true, platform: "node", target: "node20", format: "esm", banner: { js: banner }, outfile, logLevel: "warning", define: { __COIL_VERSION__: '"bench"', __COIL_COMMIT__: '"bench"' } });
  return outfile;
}

/** One coilctl run under GNU time. */
interface CoilctlRun {
  readonly argv: readonly string[];
  readonly code: number | null;
  readonly wallS: number;
  readonly maxRssMiB: number;
  readonly cpuS: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly requests: [string, number][];
}

async function runCoilctl(kc: KubeConfig, bundle: string, kubeconfig: string, args: readonly string[], dir: string): Promise<CoilctlRun> {
  const timeFile = join(dir, "time.txt");
  const argv = ["ipam", "check", "-o", "json", "--progress", `--kubeconfig=${kubeconfig}`, ...args];
  const before = await requestCounts(kc);
  const t0 = performance.now();
  const child = spawn("/usr/bin/time", ["-o", timeFile, "-f", "%e %M %U %S", process.execPath, bundle, ...argv], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => {
    stderr += c;
    process.stdout.write(c.replace(/^(?=.)/gm, "    | "));
  });
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  const wallS = (performance.now() - t0) / 1000;
  const requests = delta(before, await requestCounts(kc));
  const [, rssKiB, user, sys] = readFileSync(timeFile, "utf8").trim().split("\n").pop()?.split(" ").map(Number) ?? [];
  return { argv, code, wallS, maxRssMiB: (rssKiB ?? NaN) / 1024, cpuS: (user ?? NaN) + (sys ?? NaN), stdout, stderr, requests };
}

const BEGIN = "<!-- bench/coilctl-scale.ts: latest run -->";
const END = "<!-- /bench/coilctl-scale.ts -->";

function writeResults(path: string, md: string): void {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    text = "# coilctl ipam check at scale\n\nWritten by `npm run bench:coilctl` (bench/coilctl-scale.ts) between the markers below; notes outside them are kept.\n";
  }
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  const block = `${BEGIN}\n${md}${END}`;
  writeFileSync(path, a >= 0 && b > a ? text.slice(0, a) + block + text.slice(b + END.length) : `${text.trimEnd()}\n\n${block}\n`);
}

/** The progress lines of coilctl's stderr, and a count of the others (one warning per node at most). */
function progressLines(stderr: string): string[] {
  const lines = stderr.split("\n").filter((l) => l !== "");
  const progress = lines.filter((l) => /^coilctl: (listing |nodes queried)/.test(l));
  const rest = lines.filter((l) => !progress.includes(l));
  return [...progress, ...(rest.length === 0 ? [] : [`(+ ${rest.length} other line(s), the first: ${rest[0] ?? ""})`])];
}

function runSection(title: string, r: CoilctlRun, summary: string): string[] {
  const total = r.requests.reduce((s, [, n]) => s + n, 0);
  return [
    `### ${title}`,
    "",
    `\`coilctl ${r.argv.filter((a) => !a.startsWith("--kubeconfig")).join(" ")}\` → exit ${String(r.code)}; ${summary}`,
    "",
    "| figure | value |",
    "|---|---|",
    `| wall time, spawn → exit (s) | ${r.wallS.toFixed(2)} |`,
    `| peak RSS, GNU time %M (MiB) | ${r.maxRssMiB.toFixed(1)} |`,
    `| CPU, user+sys (s) | ${r.cpuS.toFixed(2)} |`,
    `| API requests (apiserver_request_total delta) | ${total} |`,
    "",
    `Requests by verb and resource: ${r.requests.map(([k, n]) => `${k} ${n}`).join(", ")}.`,
    "",
    "Progress lines on stderr (`--progress` into a pipe), then how many other lines (notes, warnings) followed:",
    "",
    "```",
    ...progressLines(r.stderr),
    "```",
    "",
  ];
}

async function main(): Promise<void> {
  const loadBefore = load();
  process.stdout.write(`load before: ${loadBefore}\n`);
  const dir = mkdtempSync(join(tmpdir(), "coilctl-scale-"));
  const bundle = await bundleCoilctl(dir);
  const started = await startCoilControlPlane();
  if (typeof started === "string") throw new Error(started);
  const { cp, kc } = started;
  const clients = makeClients(kc, { maxSockets: WIDTH });
  const core = kc.makeApiClient(CoreV1Api);
  const coil = coilClient(clients.custom);
  try {
    const t0 = performance.now();
    const seconds: Record<string, number> = {};
    seconds["Nodes"] = await seed("Nodes", NODES, (i) => core.createNode({ body: { metadata: { name: nodeName(i) } } }));
    const hostBits = Math.ceil(Math.log2(BLOCKS * 2 ** BLOCK_BITS));
    const pool = (await coil.pools.create({ metadata: { name: "default", finalizers: ["coil.cybozu.com"] }, spec: { blockSizeBits: BLOCK_BITS, subnets: [{ ipv4: `${ipv4(BASE, 0)}/${32 - hostBits}` }] } }))._unsafeUnwrap();
    seconds["AddressBlocks"] = await seed("AddressBlocks", BLOCKS, async (i) =>
      (await coil.blocks.create(renderBlock(pool, { node: nodeName(i % NODES), uid: `bench-request-${i}`, index: i, ipv4: `${ipv4(BASE, i * 2 ** BLOCK_BITS)}/${32 - BLOCK_BITS}` })))._unsafeUnwrap());
    const namespaces = Array.from({ length: NAMESPACES }, (_, i) => `bench-${i}`);
    for (const name of namespaces) await core.createNamespace({ body: { metadata: { name } } });
    const perNodeBlocks = Math.floor(BLOCKS / NODES);
    const api = await rawApi(kc);
    seconds["Pods (create + status)"] = await seed("Pods (create + status)", PODS, async (j) => {
      const node = j % NODES;
      const k = Math.floor(j / NODES);
      const block = node + (k % perNodeBlocks) * NODES;
      const offset = Math.floor(k / perNodeBlocks);
      if (offset >= 2 ** BLOCK_BITS) throw new Error(`more pods than addresses: pod ${j}`);
      const ip = ipv4(BASE, block * 2 ** BLOCK_BITS + offset);
      const namespace = namespaces[j % NAMESPACES] ?? "default";
      const pods = `/api/v1/namespaces/${namespace}/pods`;
      await api("POST", pods, { apiVersion: "v1", kind: "Pod", metadata: { name: `pod-${j}` }, spec: { nodeName: nodeName(node), containers: [{ name: "c", image: "example.invalid/none" }] } });
      await api("PATCH", `${pods}/pod-${j}/status`, { status: { phase: "Running", podIP: ip, podIPs: [{ ip }] } }, "application/merge-patch+json");
    });
    const seedS = (performance.now() - t0) / 1000;
    const loadSeeded = load();
    process.stdout.write(`seeded in ${seedS.toFixed(0)} s; load: ${loadSeeded}\n`);

    const kubeconfig = cp.kubeconfigPath;
    process.stdout.write("coilctl ipam check --api-only:\n");
    const apiOnly = await runCoilctl(kc, bundle, kubeconfig, ["--api-only", "--grace-period=0s"], dir);
    const report = JSON.parse(apiOnly.stdout) as { findings: unknown[]; uncheckedNodes: unknown[] };
    const apiOnlySummary = `${report.findings.length} finding(s), ${report.uncheckedNodes.length} node(s) unchecked (no coild view read).`;
    if (report.findings.length !== 0 || report.uncheckedNodes.length !== NODES || apiOnly.code !== 3) throw new Error(`unexpected --api-only report: exit ${String(apiOnly.code)}, ${apiOnlySummary}`);
    process.stdout.write(`  ${apiOnly.wallS.toFixed(2)} s, peak RSS ${apiOnly.maxRssMiB.toFixed(1)} MiB, ${apiOnly.requests.reduce((s, [, n]) => s + n, 0)} API requests\n`);
    process.stdout.write("coilctl ipam check (node queries, none answered):\n");
    const withNodes = await runCoilctl(kc, bundle, kubeconfig, ["--grace-period=0s"], dir);
    const r2 = JSON.parse(withNodes.stdout) as { findings: unknown[]; uncheckedNodes: unknown[] };
    const withNodesSummary = `${r2.findings.length} finding(s), ${r2.uncheckedNodes.length} node(s) unchecked (the node proxy has no address to reach).`;
    process.stdout.write(`  ${withNodes.wallS.toFixed(2)} s, peak RSS ${withNodes.maxRssMiB.toFixed(1)} MiB\n`);
    const loadAfter = load();
    process.stdout.write(`load after: ${loadAfter}\n`);

    const loaded = Number(/load average: ([\d.]+)/.exec(loadAfter)?.[1] ?? 0) > cpus().length;
    const md = [
      `## ${NODES} Nodes, ${BLOCKS} AddressBlocks, ${PODS} Pods`,
      "",
      `${new Date().toISOString()} · \`npm run bench:coilctl -- --nodes=${NODES} --blocks=${BLOCKS} --pods=${PODS} --concurrency=${WIDTH}\` (bench/coilctl-scale.ts) · ${cpus().length} × ${cpus()[0]?.model ?? "?"}, Node ${process.version}`,
      "",
      `${loaded ? "**Loaded machine**" : "Machine"}, shared with other jobs; each coilctl figure is ONE run, not a median: read them as an order of magnitude.`,
      `- before: ${loadBefore}`,
      `- after seeding: ${loadSeeded}`,
      `- after the coilctl runs: ${loadAfter}`,
      ...(values["load-note"] === "" ? [] : [`- ${values["load-note"]}`]),
      "",
      `Seeding (${WIDTH} requests in flight): ${Object.entries(seconds).map(([k, s]) => `${k} ${s.toFixed(0)} s`).join(", ")}; ${seedS.toFixed(0)} s in all.`,
      "",
      ...runSection("`ipam check --api-only` (the figure the issue asks for: API lists and the check)", apiOnly, apiOnlySummary),
      ...runSection("`ipam check` with the per-node queries (each fails at once here: no coild, no node address)", withNodes, withNodesSummary),
    ].join("\n");
    process.stdout.write(`${md}\n`);
    if (values["no-write"] !== true) writeResults(values.out, md);
  } finally {
    clients.destroy();
    await cp.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
