/**
 * `npm run demo` (through scripts/demo.sh, which checks root and installs what is missing):
 * coild on the local store inside a throw-away "node" network namespace, three pods added through
 * the real `coil` executable exactly as a container runtime calls it, pings pod↔pod and pod↔node
 * over IPv4 and IPv6, table 119, DEL of every pod, and a check that nothing is left.
 * Everything is created under one random suffix and removed at the end, also on failure.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { addNodeAddresses, startCoildInNetns, terminateProcess, TEST_NODE_V4, TEST_NODE_V6 } from "../test/helpers/test-host.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const COIL = process.env["COIL_DEMO_BIN"] ?? join(ROOT, "dist/bin/coil-qjs");
const NODE_V4 = TEST_NODE_V4;
const NODE_V6 = TEST_NODE_V6;
const POOL_V4 = "10.100.0.0/24";
const POOL_V6 = "fd02::/120";
const tag = randomBytes(3).toString("hex");
const HOST = `coil-demo-host-${tag}`;
const PODS = [1, 2, 3].map((i) => ({ name: `pod${i}`, ns: `coil-demo-pod${i}-${tag}`, id: `demo-${tag}-${i}`, v4: "", v6: "" }));

const green = (s: string): string => (process.stdout.isTTY ? `\x1b[32m${s}\x1b[0m` : s);
const red = (s: string): string => (process.stdout.isTTY ? `\x1b[31m${s}\x1b[0m` : s);
const line = (what: string, detail = ""): void => void process.stdout.write(`${green("✔")} ${what.padEnd(24)} ${detail}\n`);

class DemoError extends Error {}

function run(argv: readonly string[], input?: string): string {
  try {
    return execFileSync(argv[0] ?? "", argv.slice(1), { input: input ?? "", stdio: ["pipe", "pipe", "pipe"] }).toString();
  } catch (e) {
    const x = e as { stderr?: Buffer; stdout?: Buffer };
    throw new DemoError(`${argv.join(" ")}: ${x.stderr?.toString().trim() || x.stdout?.toString().trim() || String(e)}`);
  }
}

const created = new Set<string>();
function addNetns(name: string): void {
  run(["ip", "netns", "add", name]);
  created.add(name);
  run(["ip", "-n", name, "link", "set", "lo", "up"]);
}

function startCoild(dir: string): Promise<ChildProcess> {
  const pools = JSON.stringify({ apiVersion: "coil.cybozu.com/v2", kind: "AddressPool", metadata: { name: "default" }, spec: { blockSizeBits: 3, subnets: [{ ipv4: POOL_V4, ipv6: POOL_V6 }] } });
  writeFileSync(join(dir, "pools.yaml"), pools);
  const flags = [`--socket=${join(dir, "coild.sock")}`, `--state-dir=${join(dir, "state")}`, `--pools=${join(dir, "pools.yaml")}`, "--metrics-addr=0", "--health-addr=0",
    `--node-ipv4=${NODE_V4}`, `--node-ipv6=${NODE_V6}`, "--enable-egress=false"];
  return startCoildInNetns({ netnsPath: `/var/run/netns/${HOST}`, flags, nodeName: "demo-node", keepLogChars: 10_000 }).then(
    (c) => c.child,
    (e: unknown) => Promise.reject(new DemoError(e instanceof Error ? e.message : String(e))),
  );
}

/** Call the coil executable as a container runtime does: env + netconf on stdin, in the node's netns. */
function cni(cmd: "ADD" | "DEL", pod: (typeof PODS)[number], sock: string): Promise<{ out: string; ms: number }> {
  const env = {
    PATH: process.env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin",
    CNI_COMMAND: cmd,
    CNI_CONTAINERID: pod.id,
    CNI_NETNS: `/var/run/netns/${pod.ns}`,
    CNI_IFNAME: "eth0",
    CNI_PATH: join(ROOT, "dist/bin"),
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod.name}`,
  };
  const conf = JSON.stringify({ cniVersion: "1.0.0", name: "k8s-pod-network", type: "coil", socket: sock });
  const t0 = performance.now();
  const child = spawn("nsenter", [`--net=/var/run/netns/${HOST}`, "--", COIL], { env, stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (out += b.toString()));
  child.stdin.end(conf);
  return new Promise((resolve, reject) =>
    child.on("close", (code) => (code === 0 ? resolve({ out, ms: performance.now() - t0 }) : reject(new DemoError(`coil ${cmd} ${pod.name} exited ${code}: ${out}`)))),
  );
}

function ping(from: string, to: string): string {
  const out = run(["ip", "netns", "exec", from, "ping", "-c", "1", "-W", "2", to]);
  return /time=([\d.]+ ms)/.exec(out)?.[1] ?? "";
}

const ipj = (ns: string, args: readonly string[]): { dst?: string; ifname?: string; protocol?: string }[] =>
  JSON.parse(run(["ip", "-n", ns, "-j", ...args]) || "[]") as { dst?: string; ifname?: string; protocol?: string }[];

function table119(): string[] {
  return [...ipj(HOST, ["-4", "route", "show", "table", "119"]), ...ipj(HOST, ["-6", "route", "show", "table", "119"])].map((r) => `${r.dst} proto ${r.protocol}`);
}

async function demo(dir: string, coild: { c?: ChildProcess }): Promise<void> {
  addNetns(HOST);
  addNodeAddresses(HOST, { v4: NODE_V4, v6: NODE_V6 });
  const sock = join(dir, "coild.sock");
  const t0 = performance.now();
  coild.c = await startCoild(dir);
  line("coild started", `local store, pool ${POOL_V4} + ${POOL_V6}, node ${NODE_V4} / ${NODE_V6} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  for (const p of PODS) {
    addNetns(p.ns);
    const r = await cni("ADD", p, sock);
    const ips = (JSON.parse(r.out) as { ips: { address: string }[] }).ips.map((i) => i.address.split("/")[0] ?? "");
    p.v4 = ips.find((a) => !a.includes(":")) ?? "";
    p.v6 = ips.find((a) => a.includes(":")) ?? "";
    line(`ADD ${p.name}`, `${p.v4.padEnd(14)} ${p.v6.padEnd(10)} (coil executable, ${r.ms.toFixed(0)} ms)`);
  }
  const [p1, p2, p3] = PODS as [(typeof PODS)[number], (typeof PODS)[number], (typeof PODS)[number]];
  for (const [from, to, label] of [[p1, p2.v4, "pod1 → pod2"], [p1, p3.v6, "pod1 → pod3"], [p2, p3.v4, "pod2 → pod3"], [p2, NODE_V4, "pod2 → node"], [p3, NODE_V6, "pod3 → node"]] as const) {
    const ms = ping(from.ns, to);
    line(`ping ${label}`, `${to.padEnd(14)} IPv${to.includes(":") ? 6 : 4}, ${ms}`);
  }
  line("table 119 (exported)", table119().join("  ·  "));
  for (const p of PODS) await cni("DEL", p, sock);
  const veths = ipj(HOST, ["link", "show"]).filter((l) => l.ifname !== "lo");
  const left = [...table119(), ...ipj(HOST, ["-4", "route", "show", "table", "116"]), ...ipj(HOST, ["-6", "route", "show", "table", "116"])];
  const podLinks = PODS.flatMap((p) => ipj(p.ns, ["link", "show"]).filter((l) => l.ifname !== "lo"));
  if (veths.length + left.length + podLinks.length > 0) throw new DemoError(`left after DEL: ${JSON.stringify({ veths, left, podLinks })}`);
  line("DEL pod1 pod2 pod3", "nothing left: no veth, tables 116 and 119 empty, pods have only lo");
}

async function main(): Promise<number> {
  process.stdout.write(
    `Coil demo. The "node" is a throw-away network namespace (${HOST}): coild, its routing rules and\n` +
      `tables 116/119 live there, so this machine's own network is not touched. Pods are three more namespaces.\n\n`,
  );
  const dir = mkdtempSync(join(tmpdir(), "coil-demo-"));
  const coild: { c?: ChildProcess } = {};
  let code = 0;
  try {
    await demo(dir, coild);
  } catch (e) {
    process.stdout.write(`${red("✘")} ${e instanceof DemoError ? e.message : String(e)}\n`);
    code = 1;
  } finally {
    await terminateProcess(coild.c);
    if (code === 0) line("coild stopped");
    for (const ns of created) {
      try {
        run(["ip", "netns", "del", ns]);
      } catch {
        /* already gone */
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
  if (code === 0) process.stdout.write(`\nAll namespaces removed. Next: README.md (library), adapters/daemon/README.md (coild).\n`);
  return code;
}

process.exitCode = await main();
