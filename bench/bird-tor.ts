/**
 * `node --import tsx bench/bird-tor.ts [--blocks=1000] [--no-write]` — BIRD's share of issue 9's P7:
 * how long the shipped config/bird files take to carry N block routes from a node's table 119 to the
 * ToR's kernel main table, and to withdraw them.
 *
 * Two network namespaces (a node and a ToR, one veth link), Debian's BIRD 2 in each with
 * config/bird/node.conf and tor.conf (eBGP). The N routes are written into the node's table 119 as
 * coild writes them (`<block> dev lo proto 30`) with ONE `ip -batch` (timed separately); the clock
 * runs from the start of that batch until the ToR's main table holds N `proto bird` routes, then
 * from the start of the delete batch until it holds none. Only namespaces and a temp dir created
 * here are touched; everything is removed at the end (also on failure). Results: stdout and
 * bench/RESULTS-routing.md (unless `--no-write`).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { terminateProcess } from "../test/helpers/test-host.js";
import { waitFor } from "../test/helpers/wait.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const { values } = parseArgs({ options: { blocks: { type: "string", default: "1000" }, "no-write": { type: "boolean", default: false } } });
const N = Number(values.blocks);

const run = (cmd: string, args: readonly string[], input?: string): string =>
  execFileSync(cmd, args, { encoding: "utf8", stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"], ...(input === undefined ? {} : { input }) });

/** Probe every 20 ms for up to 5 min (the shared poll of test/helpers/wait.ts). */
const POLL = { timeoutMs: 300_000, intervalMs: 20 };

const suffix = randomBytes(3).toString("hex");
const tor = `coilbench-tor-${suffix}`;
const node = `coilbench-n1-${suffix}`;
const dir = mkdtempSync(join(tmpdir(), "coil-bench-bird-"));
const procs: ChildProcess[] = [];

function startBird(ns: string, name: string, conf: string, local: string, localName: string): ChildProcess {
  const d = join(dir, name);
  run("mkdir", ["-p", d]);
  copyFileSync(join(ROOT, "config/bird", conf), join(d, conf));
  writeFileSync(join(d, localName), `${local}log "${join(d, "bird.log")}" all;\n`);
  const child = spawn("nsenter", [`--net=/var/run/netns/${ns}`, "--", "bird", "-f", "-c", join(d, conf), "-s", join(d, "bird.ctl")], { stdio: "ignore" });
  procs.push(child);
  return child;
}
const birdc = (name: string, ...args: string[]): string => run("birdc", ["-s", join(dir, name, "bird.ctl"), ...args]);
const torCount = (): number => (JSON.parse(run("ip", ["-n", tor, "-j", "route", "show", "proto", "bird"]) || "[]") as unknown[]).length;

async function main(): Promise<void> {
  for (const ns of [tor, node]) {
    run("ip", ["netns", "add", ns]);
    run("ip", ["-n", ns, "link", "set", "lo", "up"]);
  }
  run("ip", ["-n", tor, "link", "add", "n1", "type", "veth", "peer", "name", "eth0", "netns", node]);
  run("ip", ["-n", tor, "addr", "add", "10.0.1.1/24", "dev", "n1"]);
  run("ip", ["-n", node, "addr", "add", "10.0.1.2/24", "dev", "eth0"]);
  run("ip", ["-n", tor, "link", "set", "n1", "up"]);
  run("ip", ["-n", node, "link", "set", "eth0", "up"]);
  run("ip", ["netns", "exec", tor, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
  startBird(tor, "tor", "tor.conf", "router id 10.0.1.1;\nprotocol bgp node1_4 from coil_node4 { local 10.0.1.1 as 64600; neighbor 10.0.1.2 as 64601; }\n", "coil-tor.local.conf");
  startBird(node, "node", "node.conf", "router id 10.0.1.2;\nprotocol bgp uplink4 from coil_uplink4 { local 10.0.1.2 as 64601; neighbor 10.0.1.1 as 64600; }\n", "coil-node.local.conf");
  // A birdc that fails (BIRD not answering yet) counts as "not yet".
  await waitFor("BGP session Established", () => birdc("tor", "show", "protocols").includes("Established"), { ...POLL, timeoutMs: 60_000 });
  // N /31 blocks of 10.64.0.0/10 (block i = 10.64.0.0 + 2i), as coild writes them.
  const cidr = (i: number): string => `10.${64 + Math.floor((2 * i) / 65536)}.${Math.floor((2 * i) / 256) % 256}.${(2 * i) % 256}/31`;
  const batch = (verb: string): string => Array.from({ length: N }, (_, i) => `route ${verb} ${cidr(i)} dev lo proto 30 table 119`).join("\n");
  const t0 = performance.now();
  run("ip", ["-n", node, "-batch", "-"], batch("add"));
  const tBatch = performance.now() - t0;
  await waitFor(`${N} routes at the ToR`, () => torCount() === N, POLL);
  const tAdd = performance.now() - t0;
  const t1 = performance.now();
  run("ip", ["-n", node, "-batch", "-"], batch("del"));
  const tDelBatch = performance.now() - t1;
  await waitFor("no route at the ToR", () => torCount() === 0, POLL);
  const tDel = performance.now() - t1;
  const host = `${cpus().length} CPUs, load average ${loadavg().map((x) => x.toFixed(1)).join(" ")} at the end`;
  const text = [
    `## BIRD: ${N} blocks from a node's table 119 to the ToR's kernel (config/bird, eBGP) — ${new Date().toISOString()}`,
    "",
    `- ${host}; ${spawnSync("bird", ["--version"], { encoding: "utf8" }).stderr.trim()} (Debian bird2).`,
    `- announce: ${N} routes written to table 119 with one \`ip -batch\` (${tBatch.toFixed(0)} ms) → all ${N} in the ToR's main table after **${tAdd.toFixed(0)} ms**.`,
    `- withdraw: ${N} routes deleted (${tDelBatch.toFixed(0)} ms) → none left at the ToR after **${tDel.toFixed(0)} ms**.`,
    "- Times include the polling of `ip -j route` (20 ms between probes; one probe lists up to N routes).",
    "",
  ].join("\n");
  process.stdout.write(`${text}\n`);
  if (values["no-write"] !== true) {
    const path = join(ROOT, "bench/RESULTS-routing.md");
    let old = "";
    try {
      old = run("cat", [path]);
    } catch {
      old = "# Routing benchmarks (issue 9, P7)\n\n";
    }
    writeFileSync(path, `${old.trimEnd()}\n\n${text}`);
  }
}

try {
  await main();
} finally {
  for (const p of procs) await terminateProcess(p, 5000);
  for (const ns of [tor, node]) {
    try {
      run("ip", ["netns", "del", ns]);
    } catch {
      // not created
    }
  }
  rmSync(dir, { recursive: true, force: true });
}
