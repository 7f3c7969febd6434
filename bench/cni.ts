/**
 * `npm run bench:cni` — Coil's installed `coil` executable + a real `coild` (local store) against
 * Debian's reference `ptp` + `host-local`, on the same workload, in ONE run:
 *
 * - serial ADD then DEL latency (p50/p90, n per case) for IPv4 and dual stack;
 * - a burst of 100 concurrent IPv4 ADDs (wall time), for both plugins;
 * - coild's RSS (`/proc/<pid>/status` VmRSS) with 110 pods attached.
 *
 * Everything runs inside a dedicated test "host" netns (coild is started there through
 * `nsenter --net=`, both plugins are invoked there through `nsenter`), so the machine's own routes,
 * rules and sysctls are never touched (ptp enables forwarding in the netns it runs in). Plugins are
 * invoked as a runtime does: argv array, `CNI_*` environment, netconf on stdin. Results go to stdout
 * and `bench/RESULTS-cni.md`. Everything created is removed at the end (also on failure).
 *
 * Usage: `npm run bench:cni [-- --n=30 --burst=100 --only=daemon --no-write]`
 * (`--only=daemon` measures only coild's daemon-side latency over the fast path, no executables;
 * `--coild-root=DIR` bundles coild from another source tree, e.g. an older commit for before/after).
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { addNodeAddresses, startCoildInNetns, terminateProcess, TEST_NODE_V4, TEST_NODE_V6 } from "../test/helpers/test-host.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const REF_DIR = "/usr/lib/cni";
const HOST_V4 = TEST_NODE_V4;
const HOST_V6 = TEST_NODE_V6;

const { values: opt } = parseArgs({
  options: {
    n: { type: "string", default: "30" },
    burst: { type: "string", default: "100" },
    pods: { type: "string", default: "110" },
    only: { type: "string" },
    "coild-root": { type: "string" },
    "coild-node-flags": { type: "string", default: "" },
    "no-write": { type: "boolean", default: false },
  },
});
const N = Number(opt.n);
const BURST = Number(opt.burst);
const PODS = Number(opt.pods);
const COILD_NODE_FLAGS = (opt["coild-node-flags"] ?? "").split(" ").filter((x) => x !== "");

type Plugin = "coil" | "ref";
type Stack = "v4" | "dual";

interface Ctx {
  readonly tmp: string;
  readonly bin: string;
  readonly host: string;
  readonly hostPath: string;
  readonly sock: string;
  readonly netns: Set<string>;
  coild?: ChildProcess;
}

const sh = (argv: readonly string[]): string => execFileSync(argv[0] ?? "", argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] }).toString();
const hex = (): string => randomBytes(4).toString("hex");

function pct(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

function addNetns(c: Ctx, prefix: string): string {
  const name = `${prefix}-${hex()}`;
  sh(["ip", "netns", "add", name]);
  c.netns.add(name);
  sh(["ip", "-n", name, "link", "set", "lo", "up"]);
  return name;
}

function delNetns(c: Ctx, name: string): void {
  if (!c.netns.delete(name)) return;
  try {
    sh(["ip", "netns", "del", name]);
  } catch {
    /* already gone */
  }
}

const poolsYaml = (): string =>
  [
    { name: "default", spec: { blockSizeBits: 5, subnets: [{ ipv4: "10.100.0.0/16", ipv6: "fd02::/112" }] } },
    { name: "v4", spec: { blockSizeBits: 5, subnets: [{ ipv4: "10.101.0.0/16" }] } },
  ]
    .map((p) => JSON.stringify({ apiVersion: "coil.cybozu.com/v2", kind: "AddressPool", metadata: { name: p.name }, spec: p.spec }))
    .join("\n---\n");

function startCoild(c: Ctx): Promise<ChildProcess> {
  writeFileSync(join(c.tmp, "pools.yaml"), poolsYaml());
  writeFileSync(join(c.tmp, "ns-pools.yaml"), "bench-v4: v4\n");
  const flags = [`--socket=${c.sock}`, `--state-dir=${join(c.tmp, "state")}`, `--pools=${join(c.tmp, "pools.yaml")}`, `--namespace-pools=${join(c.tmp, "ns-pools.yaml")}`,
    "--metrics-addr=0", "--health-addr=0", `--node-ipv4=${HOST_V4}`, `--node-ipv6=${HOST_V6}`, "--enable-egress=false"];
  const command = [...COILD_NODE_FLAGS, join(c.tmp, "coild", "main.mjs")];
  return startCoildInNetns({ netnsPath: c.hostPath, flags, nodeName: "bench", command, keepLogChars: 20_000 }).then((p) => p.child);
}

function netconf(c: Ctx, p: Plugin, stack: Stack): string {
  if (p === "coil") return JSON.stringify({ cniVersion: "1.0.0", name: "k8s-pod-network", type: "coil", socket: c.sock });
  const ranges = [[{ subnet: "10.200.0.0/16" }], ...(stack === "dual" ? [[{ subnet: "fd20::/64" }]] : [])];
  return JSON.stringify({ cniVersion: "1.0.0", name: `ref-${stack}`, type: "ptp", ipMasq: false, ipam: { type: "host-local", ranges, dataDir: join(c.tmp, "host-local") } });
}

interface Call {
  readonly code: number;
  readonly ms: number;
  readonly out: string;
}

/** Run a plugin as a runtime does: argv, CNI_* env, netconf on stdin, inside the test host netns. */
function invoke(c: Ctx, p: Plugin, stack: Stack, cmd: "ADD" | "DEL", id: string, ns: string): Promise<Call> {
  const exe = join(c.bin, p === "coil" ? "coil" : "ptp");
  const env = {
    PATH: process.env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin",
    CNI_COMMAND: cmd,
    CNI_CONTAINERID: id,
    CNI_NETNS: `/var/run/netns/${ns}`,
    CNI_IFNAME: "eth0",
    CNI_PATH: c.bin,
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${stack === "v4" ? "bench-v4" : "bench-dual"};K8S_POD_NAME=${id}`,
  };
  const t0 = performance.now();
  const child = spawn("nsenter", [`--net=${c.hostPath}`, "--", exe], { env, stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (out += b.toString()));
  child.stdin.on("error", () => undefined);
  child.stdin.end(netconf(c, p, stack));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code: code ?? -1, ms: performance.now() - t0, out })));
}

function must(r: Call, what: string): number {
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}): ${r.out}`);
  return r.ms;
}

/** One JSON-line call to coild's fast path (daemon-side latency, no executable start-up). */
function fastCall(c: Ctx, method: "Add" | "Del", id: string, ns: string, stack: Stack): Promise<number> {
  const pod = stack === "v4" ? "bench-v4" : "bench-dual";
  const args = { containerId: id, netns: `/var/run/netns/${ns}`, ifname: "eth0", args: { K8S_POD_NAMESPACE: pod, K8S_POD_NAME: id }, path: "", stdinData: "", ips: [], interfaces: {} };
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const s = connect(c.sock);
    let out = "";
    s.on("data", (b: Buffer) => (out += b.toString()));
    s.on("error", reject);
    s.on("close", () => ((JSON.parse(out || "{}") as { ok?: boolean }).ok === true ? resolve(performance.now() - t0) : reject(new Error(`${method} ${id}: ${out}`))));
    s.write(`${JSON.stringify({ v: 1, method, args })}\n`);
  });
}

interface Row {
  readonly label: string;
  readonly add: readonly number[];
  readonly del: readonly number[];
}

type Case = readonly [Plugin, Stack];

/**
 * Serial ADDs then serial DELs of several cases, interleaved call by call (round robin), so that the
 * cases compared with each other see the same machine load and the same cache warmth.
 */
async function serial(c: Ctx, cases: readonly Case[]): Promise<Row[]> {
  const key = ([p, s]: Case): string => `${p}-${s}`;
  const pods = Array.from({ length: N }, (_, i) => cases.map((k) => ({ k, id: `${key(k)}-${i}-${hex()}`, ns: addNetns(c, `cb-${k[0]}`) })));
  const add = new Map<string, number[]>(cases.map((k) => [key(k), []]));
  const del = new Map<string, number[]>(cases.map((k) => [key(k), []]));
  for (const round of pods) for (const x of round) add.get(key(x.k))?.push(must(await invoke(c, x.k[0], x.k[1], "ADD", x.id, x.ns), `${key(x.k)} ADD`));
  for (const round of pods) for (const x of round) del.get(key(x.k))?.push(must(await invoke(c, x.k[0], x.k[1], "DEL", x.id, x.ns), `${key(x.k)} DEL`));
  for (const round of pods) for (const x of round) delNetns(c, x.ns);
  const label = ([p, s]: Case): string => `${p === "coil" ? "coil + coild" : "ptp + host-local"} ${s === "v4" ? "IPv4" : "dual stack"}`;
  return cases.map((k) => ({ label: label(k), add: add.get(key(k)) ?? [], del: del.get(key(k)) ?? [] }));
}

async function daemonSide(c: Ctx, stack: Stack): Promise<Row> {
  const pods = Array.from({ length: N }, (_, i) => ({ id: `d-${stack}-${i}-${hex()}`, ns: addNetns(c, "cb-d") }));
  const add: number[] = [];
  const del: number[] = [];
  for (const x of pods) add.push(await fastCall(c, "Add", x.id, x.ns, stack));
  for (const x of pods) del.push(await fastCall(c, "Del", x.id, x.ns, stack));
  for (const x of pods) delNetns(c, x.ns);
  return { label: `coild daemon-side ${stack === "v4" ? "IPv4" : "dual stack"} (fast path, no executable)`, add, del };
}

/** `count` concurrent IPv4 ADDs; wall time. The pods stay (for the RSS reading) until `release`. */
async function burst(c: Ctx, p: Plugin, count: number): Promise<{ ms: number; release: () => Promise<void> }> {
  const pods = Array.from({ length: count }, (_, i) => ({ id: `${p}-burst-${i}-${hex()}`, ns: addNetns(c, `cb-${p}b`) }));
  const t0 = performance.now();
  const rs = await Promise.all(pods.map((x) => invoke(c, p, "v4", "ADD", x.id, x.ns)));
  const ms = performance.now() - t0;
  rs.forEach((r, i) => must(r, `${p} burst ADD ${i}`));
  const release = async (): Promise<void> => {
    for (const x of pods) must(await invoke(c, p, "v4", "DEL", x.id, x.ns), `${p} burst DEL`);
    for (const x of pods) delNetns(c, x.ns);
  };
  return { ms, release };
}

/** Where the executables' time goes: a DEL with no kernel work, and a burst of VERSION calls (no daemon). */
async function diagnostics(c: Ctx): Promise<string> {
  const ns = addNetns(c, "cb-x");
  const noop = new Map<Plugin, number[]>([["coil", []], ["ref", []]]);
  for (let i = 0; i < N; i++) for (const p of ["coil", "ref"] as const) noop.get(p)?.push(must(await invoke(c, p, "v4", "DEL", `unknown-${i}`, ns), `${p} DEL`));
  delNetns(c, ns);
  const version = async (p: Plugin): Promise<number> => {
    const exe = join(c.bin, p === "coil" ? "coil" : "ptp");
    const one = (): Promise<void> =>
      new Promise((resolve) => {
        const ch = spawn(exe, [], { env: { CNI_COMMAND: "VERSION", PATH: process.env["PATH"] ?? "" }, stdio: ["pipe", "ignore", "ignore"] });
        ch.stdin.on("error", () => undefined);
        ch.stdin.end('{"cniVersion":"1.0.0","name":"x","type":"x"}');
        ch.on("close", () => resolve());
      });
    const t0 = performance.now();
    await Promise.all(Array.from({ length: BURST }, one));
    return performance.now() - t0;
  };
  const [vc, vr] = [await version("coil"), await version("ref")];
  return [
    "| diagnostic | coil | ptp |",
    "|---|---|---|",
    `| DEL of an unknown container (executable round trip, no kernel work), p50 ms | ${f1(pct(noop.get("coil") ?? [], 50))} | ${f1(pct(noop.get("ref") ?? [], 50))} |`,
    `| ${BURST} concurrent \`VERSION\` calls (executable start-up only, no daemon), wall ms | ${f1(vc)} | ${f1(vr)} |`,
  ].join("\n");
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? NaN) / 1024;
}

function setup(): Ctx {
  const tmp = mkdtempSync(join(tmpdir(), "coil-bench-"));
  const bin = join(tmp, "bin");
  sh(["mkdir", "-p", bin]);
  const coilBin = join(ROOT, "dist/bin/coil");
  if (!existsSync(coilBin)) {
    process.stderr.write("building dist/bin/coil (scripts/build-cni.sh --bun-only)…\n");
    execFileSync("sh", [join(ROOT, "scripts/build-cni.sh"), "--bun-only"], { stdio: "inherit" });
  }
  copyFileSync(coilBin, join(bin, "coil"));
  sh(["chmod", "0755", join(bin, "coil")]);
  for (const ref of ["ptp", "host-local"]) {
    if (!existsSync(join(REF_DIR, ref))) throw new Error(`${REF_DIR}/${ref} missing: apt-get install containernetworking-plugins`);
    copyFileSync(join(REF_DIR, ref), join(bin, ref));
    sh(["chmod", "0755", join(bin, ref)]);
  }
  // coild bundled by esbuild (no tsx loader in the process) and run by plain node; code splitting keeps
  // lazily imported modules (the Kubernetes store) in chunks that a --store=local coild never loads.
  execFileSync(join(ROOT, "node_modules/.bin/esbuild"), [join(opt["coild-root"] ?? ROOT, "adapters/daemon/main.ts"), "--bundle", "--splitting", "--platform=node",
    "--target=node20", "--format=esm", `--outdir=${join(tmp, "coild")}`, "--out-extension:.js=.mjs", "--log-level=error",
    "--banner:js=import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);"]);
  const c: Ctx = { tmp, bin, host: "", hostPath: "", sock: join(tmp, "coild.sock"), netns: new Set() };
  const host = addNetns(c, "cb-host");
  addNodeAddresses(host, { v4: HOST_V4, v6: HOST_V6 });
  return { ...c, host, hostPath: `/var/run/netns/${host}` };
}

async function cleanup(c: Ctx): Promise<void> {
  await terminateProcess(c.coild);
  for (const ns of [...c.netns]) delNetns(c, ns);
  rmSync(c.tmp, { recursive: true, force: true });
}

const NOTES_MARKER = "<!-- notes: kept by bench/cni.ts -->";
const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : "—");

interface Target {
  readonly name: string;
  readonly measured: string;
  readonly limit: string;
  readonly met: boolean;
}

function targets(rows: readonly Row[], b: { coil: number; ref: number }, rss: number): Target[] {
  const get = (l: string): Row | undefined => rows.find((r) => r.label === l);
  const cv4 = get("coil + coild IPv4");
  const rv4 = get("ptp + host-local IPv4");
  const cd = get("coil + coild dual stack");
  const out: Target[] = [];
  if (cv4 && rv4) {
    const [c, r] = [pct(cv4.add, 50), pct(rv4.add, 50)];
    out.push({ name: "IPv4 ADD p50 ≤ 3 × reference", measured: `${f1(c)} ms = ${(c / r).toFixed(2)} ×`, limit: `≤ ${f1(3 * r)} ms`, met: c <= 3 * r });
    const [cd2, rd] = [pct(cv4.del, 50), pct(rv4.del, 50)];
    out.push({ name: "IPv4 DEL p50 ≤ reference", measured: `${f1(cd2)} ms = ${(cd2 / rd).toFixed(2)} ×`, limit: `≤ ${f1(rd)} ms`, met: cd2 <= rd });
  }
  if (cd && cv4) {
    const [d, v] = [pct(cd.add, 50), pct(cv4.add, 50)];
    out.push({ name: "dual-stack ADD p50 ≤ 1.2 × IPv4 ADD", measured: `${f1(d)} ms = ${(d / v).toFixed(2)} ×`, limit: `≤ ${f1(1.2 * v)} ms`, met: d <= 1.2 * v });
  }
  if (Number.isFinite(b.coil) && Number.isFinite(b.ref)) {
    out.push({ name: `burst of ${BURST} ADDs ≤ reference`, measured: `${f1(b.coil)} ms = ${(b.coil / b.ref).toFixed(2)} ×`, limit: `≤ ${f1(b.ref)} ms`, met: b.coil <= b.ref });
  }
  if (Number.isFinite(rss)) out.push({ name: `coild RSS with ${PODS} pods ≤ 80 MB`, measured: `${f1(rss)} MB`, limit: "≤ 80 MB", met: rss <= 80 });
  return out;
}

function table(rows: readonly Row[], b: { coil: number; ref: number }, rss: number, rssIdle = NaN): string {
  const lines = ["| case | n | ADD p50 ms | ADD p90 ms | DEL p50 ms | DEL p90 ms |", "|---|---|---|---|---|---|"];
  for (const r of rows) lines.push(`| ${r.label} | ${r.add.length} | ${f1(pct(r.add, 50))} | ${f1(pct(r.add, 90))} | ${f1(pct(r.del, 50))} | ${f1(pct(r.del, 90))} |`);
  const extra = ["", "| measure | coil + coild | ptp + host-local |", "|---|---|---|", `| burst of ${BURST} concurrent IPv4 ADDs, wall ms | ${f1(b.coil)} | ${f1(b.ref)} |`, `| coild VmRSS with ${PODS} pods, MB | ${f1(rss)} | — |`, `| coild VmRSS idle (0 pods), MB | ${f1(rssIdle)} | — |`];
  const t = targets(rows, b, rss);
  const tt = ["", "| target | measured | limit | met |", "|---|---|---|---|", ...t.map((x) => `| ${x.name} | ${x.measured} | ${x.limit} | ${x.met ? "✔ met" : "✘ missed"} |`)];
  return [...lines, ...extra, ...tt].join("\n");
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    process.stderr.write("bench:cni needs root (network namespaces, veths).\n");
    return 2;
  }
  const load = loadavg().map((x) => x.toFixed(2)).join(" ");
  const started = new Date().toISOString();
  const c = setup();
  const stopSignal = (): void => void cleanup(c).then(() => process.exit(130));
  process.once("SIGINT", stopSignal);
  process.once("SIGTERM", stopSignal);
  try {
    c.coild = await startCoild(c);
    const rssIdle = rssMb(c.coild.pid ?? -1);
    const rows: Row[] = [];
    if (opt.only === "rss") {
      const pods = Array.from({ length: PODS }, (_, i) => ({ id: `r-${i}-${hex()}`, ns: addNetns(c, "cb-r") }));
      const rss0 = rssMb(c.coild.pid ?? -1);
      const t0 = performance.now();
      await Promise.all(pods.map((x) => fastCall(c, "Add", x.id, x.ns, "v4")));
      const wall = performance.now() - t0;
      const rss = rssMb(c.coild.pid ?? -1);
      for (const x of pods) await fastCall(c, "Del", x.id, x.ns, "v4");
      process.stdout.write(`coild VmRSS idle ${f1(rss0)} MB, with ${PODS} pods ${f1(rss)} MB; ${PODS} concurrent daemon-side ADDs ${f1(wall)} ms\n`);
      return 0;
    }
    if (opt.only === "exec") {
      const ns = addNetns(c, "cb-x");
      const xs: number[] = [];
      for (let i = 0; i < N; i++) xs.push(must(await invoke(c, "coil", "v4", "DEL", `nothing-${i}`, ns), "coil DEL"));
      const ys: number[] = [];
      for (let i = 0; i < N; i++) ys.push(must(await invoke(c, "ref", "v4", "DEL", `nothing-${i}`, ns), "ref DEL"));
      process.stdout.write(`DEL of an unknown container (no kernel work): coil p50 ${f1(pct(xs, 50))} ms, ptp p50 ${f1(pct(ys, 50))} ms\n`);
      return 0;
    }
    if (opt.only === "daemon") {
      rows.push(await daemonSide(c, "v4"), await daemonSide(c, "dual"));
      process.stdout.write(`${table(rows, { coil: NaN, ref: NaN }, NaN)}\n`);
      return 0;
    }
    process.stderr.write(`serial: coil IPv4, coil dual stack, reference IPv4, interleaved (n=${N})…\n`);
    rows.push(...(await serial(c, [["coil", "v4"], ["ref", "v4"], ["coil", "dual"]])));
    process.stderr.write(`serial: reference dual stack (n=${N}; it waits ~2 s per ADD for IPv6 DAD)…\n`);
    rows.push(...(await serial(c, [["ref", "dual"]])));
    rows.push(await daemonSide(c, "v4"), await daemonSide(c, "dual"));
    process.stderr.write(`bursts of ${BURST}…\n`);
    const cb = await burst(c, "coil", BURST);
    const extraPods = await burst(c, "coil", Math.max(0, PODS - BURST));
    const rss = rssMb(c.coild.pid ?? -1);
    await extraPods.release();
    await cb.release();
    const rb = await burst(c, "ref", BURST);
    await rb.release();
    const b = { coil: cb.ms, ref: rb.ms };
    const diag = await diagnostics(c);
    const tab = `${table(rows, b, rss, rssIdle)}\n\n${diag}`;
    process.stdout.write(`${tab}\n`);
    if (opt["no-write"] !== true) writeResults(tab, started, load);
    return 0;
  } finally {
    await cleanup(c);
  }
}

function writeResults(tab: string, started: string, load: string): void {
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  const kernel = sh(["uname", "-r"]).trim();
  const text = `# CNI benchmark: coil + coild vs ptp + host-local

- Date: ${started}
- Machine: ${cpus().length} × ${cpu}, Linux ${kernel}, Node ${process.version}
- Load average at start: ${load}
- Command: \`npm run bench:cni\` (\`node --import tsx bench/cni.ts\`), n = ${N} per serial case

Both plugins run as a container runtime runs them (argv, \`CNI_*\` environment, netconf on stdin), through
\`nsenter --net=<test host netns>\` so that nothing touches the machine's own network. \`coil\` is the
self-contained Bun-compiled executable (\`dist/bin/coil\`, copied into a temp CNI bin dir) talking to a real
\`coild\` (esbuild bundle with code splitting, plain node, \`--store=local\`) that runs in the same test host netns. The reference is
Debian's \`containernetworking-plugins\` \`ptp\` + \`host-local\` (data dir in a temp dir). The serial cases coil
IPv4, reference IPv4 and coil dual stack alternate call by call, so the cases compared with each other see the same
machine load; the reference dual stack runs on its own (each of its ADDs sleeps ~2 s in DAD). Latencies are wall
times measured around the process, from spawn to exit, including one \`nsenter\` exec for both plugins.

${tab}
`;
  // Hand-written notes below the marker survive a re-run.
  const path = join(ROOT, "bench/RESULTS-cni.md");
  const old = existsSync(path) ? readFileSync(path, "utf8") : "";
  const at = old.indexOf(NOTES_MARKER);
  writeFileSync(path, at >= 0 ? `${text}\n${old.slice(at)}` : text);
}

process.exitCode = await main();
