/**
 * Live swap with Coil v2's OWN node daemon: Coil v2.15.0's Go `coild` (cmd/coild, built by
 * scripts/coil-v2/build.sh) and our coild (`--store=kubernetes`) take turns on one node — same
 * test host netns, same socket, same pods, a REAL kube-apiserver with the coil-ipam-controller
 * (ours, in-process) serving both daemons' BlockRequests.
 *
 * 1. Go coild sets pods up (through Go's `coil` CNI executable). It is stopped, our coild starts:
 *    recovery adopts the pods (addresses and routes untouched), CHECK passes on every Go-made pod,
 *    new ADDs get fresh addresses (never a duplicate), DEL of the Go-made pods frees their
 *    addresses (the emptied AddressBlock goes back to the API, our allocation gauge drops).
 * 2. Our coild's pods, our coild stopped, Go coild started: Go's CHECK and DEL work on our pods,
 *    Go's new ADDs do not duplicate our addresses, and Go frees our pods' addresses (the emptied
 *    block goes back to the API).
 * 3. Go coild as the node's daemon, driven by OUR `coil` executable in each of its builds (QuickJS
 *    `dist/bin/coil-qjs`, the Node bundle `dist/bin/coil.mjs`, the Bun `dist/bin/coil`), with the
 *    default `rpc` (auto: the fast-path probe must fall back to gRPC, Go coild being a pure grpc-go
 *    server) and with `"rpc": "grpc"`: ADD prints what Go's own `coil` prints for its pods (pod
 *    values aside) and leaves the kernel state Go coild makes, CHECK passes, DEL frees the addresses
 *    (the emptied block goes back to the API), and the failures Go coild reports with a CNIError in
 *    its gRPC status details (ADD of a pod the API does not know, CHECK of a deleted pod) print
 *    exactly the CNI error Go's `coil` prints.
 *
 * Blocks hold two addresses (blockSizeBits 1), so "the block was returned" and "a new block was
 * needed" tell exactly which addresses each daemon believes are in use.
 */
import t, { type Test } from "tap";
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { requireRoot, withNetns, type TestNetns } from "../../helpers/netns.js";
import { eventually, startCoilControlPlane } from "../../helpers/coil-envtest.js";
import { relayApiIntoNetns, type ApiRelay } from "../../helpers/api-relay.js";
import { missingPrerequisite } from "../../helpers/prerequisites.js";
import { programArgv } from "../../helpers/bundles.js";
import { addNodeAddresses, REPO_ROOT, startCoildInNetns, stopProcess, TEST_NODE_V4, TEST_NODE_V6 } from "../../helpers/test-host.js";
import { api, createPool, NO_ELECTION, startController, type Api } from "../ipam-controller/harness.js";
import { cidrContains, parseCidr, parseIp } from "../../../lib/net/index.js";
import { sourceChildEnv } from "../../helpers/child-env.js";
import type { RpcMode } from "../../../adapters/cni/client.js";

const NODE = "swap";

/** Coil v2's Go `coil` and `coild`: the build script's lines in no-build mode, or why they are missing. */
function goBinaries(): { readonly coil: string; readonly coild: string } | { readonly missing: string } {
  try {
    const out = execFileSync("bash", [join(REPO_ROOT, "scripts/coil-v2/build.sh"), "coil", "coild"], {
      env: { ...process.env, COIL_V2_NO_BUILD: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    }).toString();
    const coil = /^COIL_V2_COIL=(.+)$/m.exec(out)?.[1];
    const coild = /^COIL_V2_COILD=(.+)$/m.exec(out)?.[1];
    if (coil === undefined || coild === undefined) return { missing: `scripts/coil-v2/build.sh printed no COIL_V2_COIL/COIL_V2_COILD lines: ${out}` };
    return { coil, coild };
  } catch (e) {
    const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim() ?? String(e);
    return { missing: `Coil v2's Go coild (and coil) must be built for the live-swap test (bash scripts/coil-v2/build.sh): ${stderr}` };
  }
}

/** A running Go coild. */
interface GoCoild {
  readonly child: ChildProcess;
  log(): string;
}

/**
 * Start Go coild in the test host netns as its DaemonSet does (COIL_NODE_NAME, `--socket`), IPAM
 * only, reaching the API through KUBECONFIG; resolve once its gRPC server and its BlockRequest
 * watcher have started (both log a line), reject with its log when it exits first.
 */
function startGoCoild(bin: string, host: TestNetns, sock: string, kubeconfig: string): Promise<GoCoild> {
  const flags = [`--socket=${sock}`, "--enable-egress=false", "--metrics-addr=127.0.0.1:9384", "--health-addr=127.0.0.1:9385", "--zap-time-encoding=rfc3339nano"];
  const child = spawn("nsenter", [`--net=${host.path}`, "--", bin, ...flags], {
    env: { ...process.env, COIL_NODE_NAME: NODE, KUBECONFIG: kubeconfig },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  child.stderr?.on("data", (b: Buffer) => (log += b.toString()));
  const ready = (): boolean => log.includes("start periodic nodeIPAM GC") && /"msg":"Starting workers"[^\n]*"controller":"blockrequest"/.test(log);
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = setInterval(() => {
      if (ready()) {
        clearInterval(poll);
        resolve({ child, log: () => log });
      } else if (child.exitCode !== null || Date.now() - started > 60_000) {
        clearInterval(poll);
        child.kill("SIGKILL");
        reject(new Error(`Go coild did not start:\n${log}`));
      }
    }, 20);
  });
}

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Our `coil` CNI executable: the Node bundle dist/bin/coil.mjs, kept current (test/helpers/bundles.ts). */
const OUR_COIL = programArgv("coil");

/** Where the self-contained builds of our `coil` executable are, and the build-cni.sh flag that builds each. */
const SELF_CONTAINED = {
  qjs: { file: join(REPO_ROOT, "dist/bin/coil-qjs"), flag: "--qjs-only" },
  bun: { file: join(REPO_ROOT, "dist/bin/coil"), flag: "--bun-only" },
} as const;

/** The newest mtime of what dist/bin/coil and coil-qjs are built from (as test/adapters/cni/executable.test.ts reckons it, plus the build script). */
function newestCniSource(): number {
  const walk = (d: string): number[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : e.name.endsWith(".md") ? [] : [statSync(join(d, e.name)).mtimeMs]));
  const dirs = ["adapters/cni", "adapters/common", "adapters/proto", "lib/cni", "lib/net"].flatMap((d) => walk(join(REPO_ROOT, d)));
  return Math.max(...dirs, statSync(join(REPO_ROOT, "scripts/build-cni.sh")).mtimeMs);
}

/**
 * The argv of a self-contained build of our `coil`, rebuilt first (`nice sh scripts/build-cni.sh
 * <flag>`: seconds warm, 1-2 min with a cold Go cache) when it is missing or older than its sources.
 * build-cni.sh renames its output into place, so a concurrent build or a running copy is never
 * handed a half-written file.
 */
async function selfContained(which: keyof typeof SELF_CONTAINED): Promise<{ readonly argv: readonly string[]; readonly built: boolean }> {
  const { file, flag } = SELF_CONTAINED[which];
  if (existsSync(file) && statSync(file).mtimeMs > newestCniSource()) return { argv: [file], built: false };
  await promisify(execFile)("nice", ["-n", "10", "sh", join(REPO_ROOT, "scripts/build-cni.sh"), flag], { cwd: REPO_ROOT });
  return { argv: [file], built: true };
}

/**
 * Run a CNI executable as a runtime does: env, netconf on stdin, inside the test host netns. `rpc`
 * is the netconf's `rpc` key (our executable's protocol choice; absent: the default, auto).
 */
function runCni(argv: readonly string[], host: TestNetns, sock: string, cmd: "ADD" | "DEL" | "CHECK", id: string, pod: TestNetns, rpc?: RpcMode): Promise<Run> {
  const conf = JSON.stringify({ cniVersion: "1.0.0", name: "k8s-pod-network", type: "coil", socket: sock, ...(rpc === undefined ? {} : { rpc }) });
  const env = {
    ...sourceChildEnv(),
    CNI_COMMAND: cmd,
    CNI_CONTAINERID: id,
    CNI_NETNS: pod.path,
    CNI_IFNAME: "eth0",
    CNI_PATH: "/opt/cni/bin",
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${id};K8S_POD_INFRA_CONTAINER_ID=${id}`,
  };
  const child = spawn("nsenter", [`--net=${host.path}`, "--", ...argv], { env, stdio: ["pipe", "pipe", "pipe"], cwd: REPO_ROOT });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  child.stdin.end(conf);
  return new Promise((resolve) => child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr })));
}

const ipj = <T>(ns: string, args: readonly string[]): T[] => JSON.parse(execFileSync("ip", ["-n", ns, "-j", ...args]).toString() || "[]") as T[];

/** A pod as the test tracks it. */
interface Pod {
  readonly id: string;
  readonly ns: TestNetns;
  readonly v4: string;
  readonly v6: string;
  readonly veth: string;
  /** The ADD's stdout. */
  readonly result: string;
}

/** `ip -j route show` entries, as far as compared here. */
interface RouteJson {
  readonly dst: string;
  readonly gateway?: string;
  readonly dev?: string;
  readonly scope?: string;
  readonly protocol?: string;
}

/** What must survive a swap unchanged: the pod's global addresses, its routes, its table-116 routes. */
function view(host: TestNetns, p: Pod): { addrs: string[]; routes: string[]; t116: string[] } {
  const addrs = ipj<{ addr_info: { local: string; prefixlen: number; scope: string }[] }>(p.ns.name, ["addr", "show", "dev", "eth0"])
    .flatMap((l) => l.addr_info)
    .filter((a) => a.scope === "global")
    .map((a) => `${a.local}/${a.prefixlen}`)
    .sort();
  const routes = [...ipj<RouteJson>(p.ns.name, ["-4", "route", "show"]), ...ipj<RouteJson>(p.ns.name, ["-6", "route", "show"])]
    .map((r) => [r.dst, r.gateway === undefined ? "" : `via ${r.gateway}`, r.dev ?? "", r.scope ?? "", r.protocol ?? ""].join(" "))
    .sort();
  return { addrs, routes, t116: table116(host, p) };
}

/** The table-116 routes (destinations) through the pod's host veth. */
function table116(host: TestNetns, p: Pod): string[] {
  return [...ipj<{ dst: string; dev: string }>(host.name, ["-4", "route", "show", "table", "116"]), ...ipj<{ dst: string; dev: string }>(host.name, ["-6", "route", "show", "table", "116"])]
    .filter((r) => r.dev === p.veth)
    .map((r) => r.dst)
    .sort();
}

/** The pod's IPv6 default gateway (`default via <gw> dev eth0`). */
const v6Gateway = (p: Pod): string | undefined => ipj<{ dst: string; gateway?: string }>(p.ns.name, ["-6", "route", "show", "default"])[0]?.gateway;

/**
 * `value` with pod `p`'s own values replaced by placeholders, so that two pods set up alike compare
 * equal: its addresses (with or without a prefix length), its host veth's name, its netns path, MAC
 * addresses and IPv6 link-local addresses (the veths', and Go coild's IPv6 gateway). Strings are
 * taken token by token (space-separated: {@link view} joins route fields with spaces).
 */
function podless(value: unknown, p: Pod): unknown {
  const token = (s: string): string => {
    if (s === p.ns.path) return "<netns>";
    if (s === p.veth) return "<veth>";
    if (/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(s)) return "<mac>";
    const [ip = "", ...len] = s.split("/");
    const suffix = len.length === 0 ? "" : `/${len.join("/")}`;
    if (ip === p.v4) return `<v4>${suffix}`;
    if (ip === p.v6) return `<v6>${suffix}`;
    return /^fe80:/i.test(ip) ? `<link-local>${suffix}` : s;
  };
  if (typeof value === "string") return value.split(" ").map(token).join(" ");
  if (Array.isArray(value)) return value.map((v: unknown) => podless(v, p));
  if (typeof value === "object" && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, podless(v, p)]));
  return value;
}

/** {@link view} with the pod's own values replaced ({@link podless}), each list sorted again. */
function podlessView(host: TestNetns, p: Pod): { addrs: string[]; routes: string[]; t116: string[] } {
  const v = view(host, p);
  const norm = (l: string[]): string[] => l.map((s) => String(podless(s, p))).sort();
  return { addrs: norm(v.addrs), routes: norm(v.routes), t116: norm(v.t116) };
}

/** The CNI error object a failed CNI call printed, as far as compared here. */
function cniErrorOf(stdout: string): { code?: unknown; msg?: unknown; details?: unknown } {
  try {
    const e = JSON.parse(stdout) as Record<string, unknown>;
    return { code: e["code"], msg: e["msg"], details: e["details"] };
  } catch {
    return { msg: `not JSON: ${stdout}` };
  }
}

/** How many calls of `method` Go coild has logged as finished (its gRPC logging interceptor, one line per call). */
function goCalls(go: GoCoild, method: string): number {
  return go
    .log()
    .split("\n")
    .filter((l) => l.includes('"msg":"finished call"') && l.includes(`"grpc.method":"${method}"`)).length;
}

/** The node's AddressBlocks as `<name> <ipv4 cidr>`, sorted. */
async function blocks(a: Api): Promise<string[]> {
  const items = (await a.coil.blocks.list({ labelSelector: `coil.cybozu.com/node=${NODE}` }))._unsafeUnwrap().items;
  return items.map((b) => `${b.metadata.name} ${b.ipv4 ?? ""}`).sort();
}

/** The block (`<name> <ipv4 cidr>`) whose IPv4 range holds `v4`. */
async function blockOf(a: Api, v4: string): Promise<string | undefined> {
  const ip = parseIp(v4);
  return (await blocks(a)).find((b) => {
    const c = parseCidr(b.split(" ")[1] ?? "");
    return c.isOk() && ip.isOk() && cidrContains(c.value, ip.value);
  });
}

/** Our coild's `coil_node_allocated_addresses{pool="default"}` (read inside the test host netns). */
function allocatedGauge(host: TestNetns): number | undefined {
  const text = execFileSync("ip", ["netns", "exec", host.name, "curl", "-s", "--max-time", "5", "http://127.0.0.1:9384/metrics"]).toString();
  const m = /^coil_node_allocated_addresses\{pool="default"\} (\d+)$/m.exec(text);
  return m === null ? undefined : Number(m[1]);
}

t.test("live swap between Coil v2's Go coild and our coild, both ways", async (t) => {
  if (!requireRoot(t)) return;
  const bin = goBinaries();
  if ("missing" in bin) return missingPrerequisite(t, bin.missing, "build them with `bash scripts/coil-v2/build.sh` (npm test prepares them)");
  const started = await startCoilControlPlane();
  if (typeof started === "string") return missingPrerequisite(t, `control plane unavailable: ${started}`);
  const { cp, kc } = started;
  t.comment(`Go coild: ${bin.coild}; Go coil: ${bin.coil}`);

  const a = api(kc);
  const ctrl = await startController(kc, "swap-ctrl", NO_ELECTION);
  const dir = mkdtempSync(join(tmpdir(), "coild-swap-"));
  const sock = join(dir, "coild.sock");
  const running: { go?: ChildProcess | undefined; ours?: ChildProcess | undefined; relay?: ApiRelay } = {};
  t.teardown(async () => {
    if (running.go !== undefined) await stopProcess(running.go, "SIGKILL");
    if (running.ours !== undefined) await stopProcess(running.ours, "SIGKILL");
    await running.relay?.close();
    await ctrl.close();
    a.clients.destroy();
    await cp.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  await a.core.createNode({ body: { metadata: { name: NODE }, status: { addresses: [{ type: "InternalIP", address: TEST_NODE_V4 }, { type: "InternalIP", address: TEST_NODE_V6 }] } } });
  // Two addresses per block, four blocks.
  await createPool(a, "default", 1, [{ ipv4: "10.100.0.0/29", ipv6: "fd02::/125" }]);
  await eventually("namespace default", async () => ((await a.core.readNamespace({ name: "default" }).catch(() => undefined)) === undefined ? undefined : true));
  await eventually("controller leader", () => (ctrl.isLeader() ? true : undefined));
  // Go coild's ADD reads the Pod object (kubelet would have created it).
  const ids = ["g1", "g2", "g3", "o1", "o2", "o3", "h1", "h2"];
  for (const id of ids) {
    await a.core.createNamespacedPod({ namespace: "default", body: { metadata: { name: id }, spec: { nodeName: NODE, containers: [{ name: "c", image: "pause" }] } } });
  }

  const top = t;
  const host = withNetns(t, "coiltest-host");
  addNodeAddresses(host.name);
  running.relay = await relayApiIntoNetns(host, cp.server, dir);

  const live = new Map<string, Pod>();
  const liveAddrs = (): string[] => [...live.values()].flatMap((p) => [p.v4, p.v6]);
  /** ADD through `argv`; the pod joins `live` after checking its addresses are fresh. */
  const add = async (t: Test, argv: readonly string[], id: string, who: string, rpc?: RpcMode): Promise<Pod> => {
    // Pods outlive the subtest that made them (the next swap adopts them): their netns belongs to the whole test.
    const ns = withNetns(top, "coiltest-pod");
    const r = await runCni(argv, host, sock, "ADD", id, ns, rpc);
    if (r.code !== 0) {
      // Coil v2's NodeIPAM.Notify is a non-blocking send: a BlockRequest completion that arrives
      // before Go's allocating goroutine waits for it is dropped, and the ADD times out after 10 s.
      const race = /aborting new block request/.test(r.stdout) ? " (Go coild missed its BlockRequest's completion, a race in Coil v2 itself)" : "";
      throw new Error(`${who} ADD ${id} failed${race}: ${r.stdout}${r.stderr}`);
    }
    t.pass(`${who} ADD ${id}`);
    const res = JSON.parse(r.stdout) as { interfaces?: { name: string; sandbox?: string }[]; ips: { address: string }[] };
    const [v4, v6] = res.ips.map((i) => i.address.split("/")[0] ?? "");
    const veth = res.interfaces?.find((i) => i.sandbox === undefined || i.sandbox === "")?.name ?? "";
    const pod = { id, ns, v4: v4 ?? "", v6: v6 ?? "", veth, result: r.stdout };
    t.match(pod.v4, /^10\.100\.0\.[0-7]$/, `${id}: IPv4 from the pool`);
    t.match(pod.v6, /^fd02::[0-7]?$/, `${id}: IPv6 from the pool`);
    t.notOk(liveAddrs().includes(pod.v4) || liveAddrs().includes(pod.v6), `${id} got ${pod.v4} ${pod.v6}, addresses no live pod has (live: ${liveAddrs().join(" ")})`);
    live.set(id, pod);
    return pod;
  };
  const cni = (argv: readonly string[], cmd: "DEL" | "CHECK", p: Pod, rpc?: RpcMode): Promise<Run> => runCni(argv, host, sock, cmd, p.id, p.ns, rpc);
  const del = async (t: Test, argv: readonly string[], p: Pod, who: string, rpc?: RpcMode): Promise<void> => {
    const r = await cni(argv, "DEL", p, rpc);
    t.equal(r.code, 0, `${who} DEL ${p.id}: ${r.stdout}${r.stderr}`);
    t.notOk(ipj<{ ifname: string }>(host.name, ["link", "show"]).some((l) => l.ifname === p.veth), `${p.id}: host veth ${p.veth} removed`);
    t.same(table116(host, p), [], `${p.id}: its table-116 routes removed`);
    live.delete(p.id);
  };
  const pingBetween = (from: Pod, to: Pod): void => {
    execFileSync("ip", ["netns", "exec", from.ns.name, "ping", "-c1", "-W2", to.v4], { stdio: "ignore" });
    execFileSync("ip", ["netns", "exec", from.ns.name, "ping", "-6", "-c1", "-W2", to.v6], { stdio: "ignore" });
  };
  const goCoil = [bin.coil];

  await t.test("Go coild's pods adopted by our coild", async (t) => {
    const go = await startGoCoild(bin.coild, host, sock, cp.kubeconfigPath);
    running.go = go.child;
    t.teardown(async () => {
      if (t.passing()) return;
      t.comment(`Go coild log:\n${go.log()}`);
      t.comment(`BlockRequests: ${JSON.stringify((await a.coil.requests.list({}))._unsafeUnwrap().items)}`);
      t.comment(`AddressBlocks: ${(await blocks(a)).join(", ")}`);
    });
    const g1 = await add(t, goCoil, "g1", "Go");
    const g2 = await add(t, goCoil, "g2", "Go");
    const g3 = await add(t, goCoil, "g3", "Go");
    const goBlocks = await blocks(a);
    t.equal(goBlocks.length, 2, `Go coild took two blocks: ${goBlocks.join(", ")}`);
    for (const p of [g1, g2, g3]) {
      const c = await cni(goCoil, "CHECK", p);
      t.equal(c.code, 0, `Go CHECK ${p.id} under Go coild: ${c.stdout}`);
      t.match(v6Gateway(p), /^fe80::/, `${p.id}: Go routes IPv6 via the host veth's link-local address (${v6Gateway(p)})`);
      t.not(v6Gateway(p), "fe80::1", `${p.id}: not the fixed fe80::1 our coild plans`);
    }
    const before = new Map([g1, g2, g3].map((p) => [p.id, view(host, p)]));
    for (const [id, v] of before) t.equal(v.t116.length, 2, `${id}: IPv4 and IPv6 routes in table 116`);

    await stopProcess(go.child, "SIGTERM");
    running.go = undefined;
    t.comment(`Go coild stopped (exit ${String(go.child.exitCode ?? go.child.signalCode)})`);

    const ours = await startCoildInNetns({
      netnsPath: host.path,
      nodeName: NODE,
      timeoutMs: 60_000,
      flags: ["--store=kubernetes", `--kubeconfig=${cp.kubeconfigPath}`, `--socket=${sock}`, "--metrics-addr=127.0.0.1:9384", "--health-addr=127.0.0.1:9385", "--enable-egress=false"],
    });
    running.ours = ours.child;
    t.match(ours.log(), /"msg":"recovered node state".*"registered":3/, "recovery registered the three Go-made pods");
    t.notMatch(ours.log(), /failed to register IP/, "no pod skipped");
    t.same(await blocks(a), goBlocks, "recovery kept both blocks (none looked unused)");
    t.equal(await eventually("allocation gauge", () => allocatedGauge(host)), 3, "our coild counts the three adopted addresses");

    for (const p of [g1, g2, g3]) {
      const c = await cni(OUR_COIL, "CHECK", p);
      t.equal(c.code, 0, `our CHECK passes on Go-made pod ${p.id}: ${c.stdout}`);
      t.same(view(host, p), before.get(p.id), `${p.id}: addresses, routes and table-116 routes unchanged`);
    }
    pingBetween(g1, g3);
    t.pass("Go-made pods still reach each other (IPv4 and IPv6) under our coild");

    // The free address of g3's block is the next one; then a new block is needed.
    const o1 = await add(t, OUR_COIL, "o1", "our");
    t.equal(await blockOf(a, o1.v4), await blockOf(a, g3.v4), "o1 got the free address of g3's block");
    const o2 = await add(t, OUR_COIL, "o2", "our");
    t.equal((await blocks(a)).length, 3, "o2 needed a third block");
    pingBetween(o1, g2);
    t.pass("a new pod reaches a Go-made pod");

    // DEL of Go-made pods frees their addresses: g1+g2's block is returned to the API.
    const g12Block = await blockOf(a, g1.v4);
    t.equal(await blockOf(a, g2.v4), g12Block, "g1 and g2 share a block");
    await del(t, OUR_COIL, g1, "our");
    t.ok((await blocks(a)).includes(g12Block ?? ""), "block kept while g2 still uses it");
    await del(t, OUR_COIL, g2, "our");
    await eventually("g1+g2's block returned", async () => ((await blocks(a)).includes(g12Block ?? "") ? undefined : true));
    t.pass(`${g12Block ?? ""} returned to the API after the DELs of g1 and g2`);
    await del(t, OUR_COIL, g3, "our");
    t.ok((await blockOf(a, o1.v4)) !== undefined, "g3's block kept: o1 uses it");
    t.equal(await eventually("allocation gauge 2", () => (allocatedGauge(host) === 2 ? 2 : undefined)), 2, "our allocations: o1, o2");

    const o3 = await add(t, OUR_COIL, "o3", "our");
    t.ok([await blockOf(a, o1.v4), await blockOf(a, o2.v4)].includes(await blockOf(a, o3.v4)), `o3 (${o3.v4}) took a free address of o1's or o2's block`);
    t.equal((await blocks(a)).length, 2, "no new block for o3");
    for (const p of [o1, o2, o3]) t.equal((await cni(OUR_COIL, "CHECK", p)).code, 0, `our CHECK ${p.id}`);

    await stopProcess(ours.child, "SIGTERM");
    running.ours = undefined;
  });

  await t.test("our coild's pods adopted by Go coild", async (t) => {
    const ours = [...live.values()];
    t.equal(ours.length, 3, `our coild left three pods: ${ours.map((p) => p.id).join(" ")}`);
    const ourBlocks = await blocks(a);
    // Three pods in two blocks of two: one block is full, the other has one free address.
    const byBlock = new Map<string, Pod[]>();
    for (const p of ours) {
      const b = (await blockOf(a, p.v4)) ?? "";
      byBlock.set(b, [...(byBlock.get(b) ?? []), p]);
    }
    const full = [...byBlock.entries()].find(([, ps]) => ps.length === 2);
    const half = [...byBlock.entries()].find(([, ps]) => ps.length === 1);
    if (full === undefined || half === undefined) return t.fail(`unexpected placement: ${JSON.stringify([...byBlock])}`);
    const [fullBlock, [p1, p2] = []] = full;
    const [halfBlock, [p3] = []] = half;
    if (p1 === undefined || p2 === undefined || p3 === undefined) return t.fail("unexpected placement");
    const before = new Map(ours.map((p) => [p.id, view(host, p)]));
    for (const p of ours) t.equal(v6Gateway(p), "fe80::1", `${p.id}: our layout (IPv6 via fe80::1)`);

    const go = await startGoCoild(bin.coild, host, sock, cp.kubeconfigPath);
    running.go = go.child;
    t.equal((go.log().match(/"msg":"registered existing IP"/g) ?? []).length, 3, "Go coild registered our three pods");
    t.notMatch(go.log(), /failed to register IP/, "none skipped");
    t.same(await blocks(a), ourBlocks, "Go's start-up GC kept both blocks");
    for (const p of ours) {
      const c = await cni(goCoil, "CHECK", p);
      t.equal(c.code, 0, `Go CHECK passes on our pod ${p.id}: ${c.stdout}`);
      t.same(view(host, p), before.get(p.id), `${p.id}: unchanged under Go coild`);
    }
    pingBetween(p1, p3);
    t.pass("our pods still reach each other under Go coild");

    const h1 = await add(t, goCoil, "h1", "Go");
    t.equal(await blockOf(a, h1.v4), halfBlock, `h1 got the free address of ${halfBlock}`);
    const h2 = await add(t, goCoil, "h2", "Go");
    t.equal((await blocks(a)).length, 3, "h2 needed a third block");
    pingBetween(h2, p2);
    t.pass("a Go-made pod reaches our pod");

    await del(t, goCoil, p1, "Go");
    t.ok((await blocks(a)).includes(fullBlock), `${fullBlock} kept while ${p2.id} still uses it`);
    await del(t, goCoil, p2, "Go");
    await eventually(`${fullBlock} returned`, async () => ((await blocks(a)).includes(fullBlock) ? undefined : true));
    t.pass(`Go coild returned ${fullBlock} after the DELs of our ${p1.id} and ${p2.id}`);
    await del(t, goCoil, p3, "Go");
    const again = await cni(goCoil, "DEL", p3);
    t.equal(again.code, 0, "a second DEL of our pod is a no-op for Go coild");
    await del(t, goCoil, h1, "Go");
    await del(t, goCoil, h2, "Go");
    await eventually("every block returned", async () => ((await blocks(a)).length === 0 ? true : undefined));
    t.pass("every block returned to the API");
    t.same([...ipj(host.name, ["-4", "route", "show", "table", "116"]), ...ipj(host.name, ["-6", "route", "show", "table", "116"])], [], "table 116 empty");
    await stopProcess(go.child, "SIGTERM");
    running.go = undefined;
  });

  await t.test("our coil executables (QuickJS, Node and Bun builds) drive Go coild over gRPC", async (t) => {
    const t0 = performance.now();
    const qjs = await selfContained("qjs");
    const bun = await selfContained("bun");
    const rebuilt = [qjs.built ? "dist/bin/coil-qjs" : "", bun.built ? "dist/bin/coil" : ""].filter((f) => f !== "");
    if (rebuilt.length > 0) t.comment(`rebuilt ${rebuilt.join(" and ")} in ${Math.round(performance.now() - t0)} ms`);
    const builds = [
      { tag: "qjs", name: "coil-qjs (QuickJS)", argv: qjs.argv },
      { tag: "mjs", name: "coil.mjs (Node)", argv: OUR_COIL },
      { tag: "bun", name: "coil (Bun)", argv: bun.argv },
    ] as const;
    // The default (no `rpc` key: auto, whose fast-path probe meets grpc-go's SETTINGS frame and falls back), and gRPC forced.
    const modes = [undefined, "grpc"] as const;
    const podId = (tag: string, rpc: RpcMode | undefined): string => `${tag}-${rpc ?? "auto"}`;
    for (const id of ["gref", ...builds.flatMap((b) => modes.map((m) => podId(b.tag, m)))]) {
      await a.core.createNamespacedPod({ namespace: "default", body: { metadata: { name: id }, spec: { nodeName: NODE, containers: [{ name: "c", image: "pause" }] } } });
    }
    t.same(await blocks(a), [], "no block before Go coild starts");
    const go = await startGoCoild(bin.coild, host, sock, cp.kubeconfigPath);
    running.go = go.child;
    t.teardown(async () => {
      if (t.passing()) return;
      t.comment(`Go coild log:\n${go.log()}`);
      t.comment(`AddressBlocks: ${(await blocks(a)).join(", ")}`);
    });

    // What Go's own coil prints and leaves behind: the reference for ours.
    const ref = await add(t, goCoil, "gref", "Go");
    const refResult = podless(JSON.parse(ref.result), ref);
    const refView = podlessView(host, ref);
    t.equal((await cni(goCoil, "CHECK", ref)).code, 0, "Go CHECK gref");
    await del(t, goCoil, ref, "Go");
    await eventually("gref's block returned", async () => ((await blocks(a)).length === 0 ? true : undefined));
    // Two failures Go coild reports with a CNIError detail in its status. Coil v2.15.0's Add, Del and
    // Check wrap every failure as INTERNAL (999), so the detail shows in `details`: without it, the
    // status alone gives 999 with details `rpc error: code = Internal desc = <msg>` (Coil's convertError).
    const ghostNs = withNetns(t, "coiltest-pod");
    const goGhost = await runCni(goCoil, host, sock, "ADD", "ghost", ghostNs);
    const ghostError = cniErrorOf(goGhost.stdout);
    t.equal(goGhost.code, 1, "Go ADD of a pod the API does not know fails");
    t.same(ghostError, { code: 999, msg: "failed to get pod", details: "rpc error: code = NotFound desc = pod not found" }, "Go's coil prints Go coild's CNIError: its pod lookup's NotFound status, wrapped");
    const goStale = await cni(goCoil, "CHECK", ref);
    const staleError = cniErrorOf(goStale.stdout);
    t.equal(goStale.code, 1, "Go CHECK of the deleted gref fails");
    t.same(staleError, { code: 999, msg: "check failed", details: "not found" }, "Go's coil prints Go coild's CNIError for a CHECK of a deleted pod");

    for (const b of builds) {
      const made: { p: Pod; rpc: RpcMode | undefined; who: string }[] = [];
      const calls = { add: goCalls(go, "Add"), check: goCalls(go, "Check"), del: goCalls(go, "Del") };
      for (const rpc of modes) {
        const who = `${b.name}, rpc ${rpc ?? "auto (default)"}`;
        const p = await add(t, b.argv, podId(b.tag, rpc), who, rpc);
        made.push({ p, rpc, who });
        const res = JSON.parse(p.result) as { cniVersion?: unknown; interfaces?: { name: string; sandbox?: string }[] };
        t.equal(res.cniVersion, "1.0.0", `${who}: a 1.0.0 result`);
        t.ok(res.interfaces?.some((i) => i.name === "eth0" && i.sandbox === p.ns.path), `${who}: the result names eth0 in the pod's netns`);
        t.ok(ipj<{ ifname: string }>(host.name, ["link", "show"]).some((l) => l.ifname === p.veth), `${who}: the result's host veth ${p.veth} exists`);
        t.same(podless(res, p), refResult, `${who}: ADD prints what Go's coil printed for gref (pod values aside)`);
        t.same(view(host, p).addrs, [`${p.v4}/32`, `${p.v6}/128`], `${who}: the result's addresses on eth0`);
        t.same(ipj<RouteJson>(p.ns.name, ["-4", "route", "show", "default"]).map((r) => r.dev), ["eth0"], `${who}: IPv4 default route via eth0`);
        t.match(v6Gateway(p), /^fe80::/, `${who}: IPv6 default route via the host veth's link-local address (${v6Gateway(p)}), Go coild's layout`);
        t.same(podlessView(host, p), refView, `${who}: eth0's addresses, the pod's routes and its table-116 routes are those Go coild made for gref`);
        const c = await cni(b.argv, "CHECK", p, rpc);
        t.same({ code: c.code, stdout: c.stdout, stderr: c.stderr }, { code: 0, stdout: "", stderr: "" }, `${who}: CHECK passes`);
      }
      t.same({ add: goCalls(go, "Add") - calls.add, check: goCalls(go, "Check") - calls.check }, { add: 2, check: 2 }, `${b.name}: Go coild served both ADDs and CHECKs over gRPC`);
      const [first, second] = made;
      if (first === undefined || second === undefined) return t.fail("two pods expected");
      const blk = await blockOf(a, first.p.v4);
      t.same(await blocks(a), [blk], `${b.name}: both pods in one block`);

      // Go coild's failures, through our gRPC client: the CNIError detail, exactly as Go's coil prints it.
      for (const rpc of modes) {
        const g = await runCni(b.argv, host, sock, "ADD", "ghost", ghostNs, rpc);
        t.equal(g.code, 1, `${b.name}, rpc ${rpc ?? "auto"}: ADD of an unknown pod fails`);
        t.same(cniErrorOf(g.stdout), ghostError, `${b.name}, rpc ${rpc ?? "auto"}: prints Go coild's CNIError as Go's coil does`);
      }
      const fast = await runCni(b.argv, host, sock, "ADD", "ghost", ghostNs, "fast");
      t.equal(fast.code, 1, `${b.name}, rpc fast: fails against Go coild`);
      t.match(cniErrorOf(fast.stdout), { code: 999, msg: /does not speak the fast protocol/ }, `${b.name}, rpc fast: says Go coild does not speak the fast path`);

      await del(t, b.argv, first.p, first.who, first.rpc);
      t.same(await blocks(a), [blk], `${blk} kept while ${second.p.id} uses it`);
      await del(t, b.argv, second.p, second.who, second.rpc);
      await eventually(`${blk} returned`, async () => ((await blocks(a)).length === 0 ? true : undefined));
      t.pass(`${b.name}: Go coild returned ${blk ?? ""} after our DELs (it freed both addresses)`);
      t.equal(goCalls(go, "Del") - calls.del, 2, `${b.name}: Go coild served both DELs over gRPC`);
      for (const { p, rpc, who } of made) {
        const c = await cni(b.argv, "CHECK", p, rpc);
        t.equal(c.code, 1, `${who}: CHECK of the deleted ${p.id} fails`);
        t.same(cniErrorOf(c.stdout), staleError, `${who}: prints Go coild's CNIError as Go's coil does`);
        t.equal((await cni(b.argv, "DEL", p, rpc)).code, 0, `${who}: a second DEL is a no-op`);
      }
    }
    t.same([...ipj(host.name, ["-4", "route", "show", "table", "116"]), ...ipj(host.name, ["-6", "route", "show", "table", "116"])], [], "table 116 empty");
    await stopProcess(go.child, "SIGTERM");
    running.go = undefined;
  });
});
