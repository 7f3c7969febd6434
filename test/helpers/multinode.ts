/**
 * A small multi-node "cluster" in network namespaces for the routing end-to-end tests: three node
 * namespaces, each with its own addresses on a link to a shared namespace — a "ToR" router (separate
 * L3 links, one /24 and one /64 per node: `topology: "l3"`) or an L2 "switch" (one bridge, every node
 * in 10.0.0.0/24 and fd00::/64: `topology: "l2"`). Per node the helper starts the real programs from
 * dist/ (`dist/bin/coild.mjs` on the Kubernetes store, `dist/bin/coil-router.mjs`, the CNI executable
 * the image ships, `dist/bin/coil-qjs`) and Debian's BIRD 2 with the shipped config/bird files. The API
 * server of the test control plane is relayed into every node namespace (test/helpers/api-relay.ts).
 *
 * Everything lives in namespaces and a temp dir created here; sysctls are only set inside them, and
 * the machine's own links, routes and rules are never touched. {@link MultiNode.close} (registered as
 * a teardown) stops every process by PID, then deletes the namespaces and the temp dir.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CoreV1Api } from "@kubernetes/client-node";
import type { Test } from "tap";
import { netnsPath } from "../../lib/changeset/index.js";
import { relayApiIntoNetns, type ApiRelay } from "./api-relay.js";
import type { TestNetns } from "./netns.js";
import { REPO_ROOT, startCoildInNetns, stopProcess, terminateProcess, type CniRun, type CoildProcess } from "./test-host.js";
import { eventually } from "./wait.js";
import { startCoilControlPlaneOrSkip, type CoilControlPlane } from "./coil-envtest.js";
import { api, createPool, startController, type Api } from "../adapters/ipam-controller/harness.js";

/** The dist programs the helper runs. */
export const DIST = {
  coild: join(REPO_ROOT, "dist/bin/coild.mjs"),
  router: join(REPO_ROOT, "dist/bin/coil-router.mjs"),
  coil: join(REPO_ROOT, "dist/bin/coil-qjs"),
} as const;

/** The shipped BIRD files the test runs. */
export const BIRD_CONFIG_DIR = join(REPO_ROOT, "config/bird");

/** Missing programs (dist files, `bird`, `birdc`) for the prerequisite check; empty when all are there. */
export function missingPrograms(opts: { readonly bird: boolean }): string[] {
  const missing = Object.values(DIST).filter((p) => !existsSync(p));
  if (opts.bird) {
    for (const cmd of ["bird", "birdc"]) {
      try {
        execFileSync(cmd, ["--version"], { stdio: "ignore" });
      } catch (e) {
        // bird --version exits 0; birdc has no --version and exits non-zero, but it ran.
        if ((e as NodeJS.ErrnoException).code === "ENOENT") missing.push(`${cmd} (apt-get install -y bird2)`);
      }
    }
  }
  return missing;
}

/** One node of the cluster. */
export interface SimNode {
  /** Node name (the Node object and `COIL_NODE_NAME`). */
  readonly name: string;
  /** 1-based index. */
  readonly index: number;
  /** The node's network namespace. */
  readonly netns: TestNetns;
  /** InternalIPs (also on the node's `eth0`). */
  readonly v4: string;
  readonly v6: string;
  /** The ToR's addresses on this node's link (`l3` only). */
  readonly torV4?: string;
  readonly torV6?: string;
  /** BGP AS number of the node (`l3`). */
  readonly as: number;
  /** This node's files (coild socket, BIRD files, relay socket). */
  readonly dir: string;
  /** coild's CNI socket. */
  readonly socket: string;
}

/** A pod created through the CNI executable. */
export interface SimPod {
  readonly node: SimNode;
  readonly id: string;
  readonly namespace: string;
  readonly netns: TestNetns;
  readonly ipv4?: string;
  readonly ipv6?: string;
}

/** A BIRD daemon in one namespace. */
export interface BirdProcess {
  readonly child: ChildProcess;
  readonly socket: string;
  /** `birdc -s <socket> <args…>` output. */
  birdc(...args: string[]): string;
  /** Everything BIRD logged (its `log` file). */
  log(): string;
}

/** A route as `ip -j route` prints it. */
export interface IpRoute {
  readonly dst: string;
  readonly gateway?: string;
  readonly dev?: string;
  readonly protocol?: string | number;
}

/** Options of {@link startMultiNode}. */
export interface MultiNodeOptions {
  readonly topology: "l3" | "l2";
  /** Admin kubeconfig path of the control plane, and its API server URL. */
  readonly kubeconfig: string;
  readonly server: string;
  readonly core: CoreV1Api;
  /** Number of nodes (default 3). */
  readonly nodes?: number;
}

/** The cluster. */
export interface MultiNode {
  readonly nodes: readonly SimNode[];
  /** The ToR (`l3`) or switch (`l2`) namespace. */
  readonly hub: TestNetns;
  /** Start coild on `node` (extra flags after the defaults); resolves once it serves CNI. */
  startCoild(node: SimNode, extra?: readonly string[]): Promise<CoildProcess>;
  /** The running coild of `node`, if any. */
  coild(node: SimNode): CoildProcess | undefined;
  /** Stop `node`'s coild with `signal` and wait for it to exit. */
  stopCoild(node: SimNode, signal?: NodeJS.Signals): Promise<void>;
  /**
   * Start BIRD with config/bird/node.conf on `node` (eBGP to the ToR, or with `ibgp` an iBGP session
   * in the ToR's AS, the ToR reflecting routes); resolves once its control socket answers.
   */
  startNodeBird(node: SimNode, opts?: { readonly ibgp?: boolean }): Promise<BirdProcess>;
  /** Start BIRD with config/bird/tor.conf on the ToR (`l3`); `ibgp` nodes peer as route-reflector clients. */
  startTorBird(opts?: { readonly ibgp?: readonly SimNode[] }): Promise<BirdProcess>;
  /** Start `coil-router` (dist) on `node`; resolves once it has started (its routes are the caller's to wait for). */
  startRouter(node: SimNode, extra?: readonly string[]): Promise<ChildProcess & { log(): string }>;
  /** ADD a pod on `node` through the CNI executable (code 11 retried). Throws with the CNI output on failure. */
  addPod(node: SimNode, id: string, namespace?: string): Promise<SimPod>;
  /** DEL a pod through the CNI executable (its namespace is deleted afterwards). */
  delPod(pod: SimPod): Promise<CniRun>;
  /** Routes of `netns` (a namespace name), both families, `ip -j route show [table …] [proto …]`. */
  routes(netns: string, filter?: { readonly table?: string | number; readonly proto?: string | number }): IpRoute[];
  /** Whether one ping from `pod` to `addr` is answered (1 s wait). */
  ping(pod: SimPod, addr: string): boolean;
  /** Stop everything and delete the namespaces (idempotent; also registered as a teardown). */
  close(): Promise<void>;
}

const TOR_AS = 64600;

function run(cmd: string, args: readonly string[]): string {
  return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function makeNetns(prefix: string): TestNetns {
  const name = `${prefix}-${randomBytes(3).toString("hex")}`;
  run("ip", ["netns", "add", name]);
  run("ip", ["-n", name, "link", "set", "lo", "up"]);
  const path = `/var/run/netns/${name}`;
  return { name, path, ref: netnsPath(path), trackHostLink: () => undefined };
}

/** `sysctl -w` inside `ns` only (through `ip netns exec`, which gives the command the namespace's /proc/sys/net). */
function nsSysctl(ns: string, kv: string): void {
  run("ip", ["netns", "exec", ns, "sysctl", "-q", "-w", kv]);
}

/**
 * Build the namespaces and links, create the Node objects, and relay the API server into every
 * node. Processes are started by the caller through the returned object.
 */
export async function startMultiNode(t: Test, o: MultiNodeOptions): Promise<MultiNode> {
  const dir = mkdtempSync(join(tmpdir(), "coil-multinode-"));
  const namespaces: TestNetns[] = [];
  const processes = new Set<ChildProcess>();
  const relays: ApiRelay[] = [];
  const coilds = new Map<string, CoildProcess>();
  const pods: SimPod[] = [];
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    for (const c of coilds.values()) await terminateProcess(c.child, 10_000);
    for (const p of processes) await terminateProcess(p, 5000);
    for (const r of relays) await r.close();
    for (const p of pods) if (existsSync(p.netns.path)) run("ip", ["netns", "del", p.netns.name]);
    for (const n of namespaces.reverse()) if (existsSync(n.path)) run("ip", ["netns", "del", n.name]);
    rmSync(dir, { recursive: true, force: true });
  };
  t.teardown(close);

  const hub = makeNetns(o.topology === "l3" ? "coilmn-tor" : "coilmn-sw");
  namespaces.push(hub);
  if (o.topology === "l3") {
    nsSysctl(hub.name, "net.ipv4.ip_forward=1");
    nsSysctl(hub.name, "net.ipv6.conf.all.forwarding=1");
  } else {
    run("ip", ["-n", hub.name, "link", "add", "br0", "type", "bridge"]);
    run("ip", ["-n", hub.name, "link", "set", "br0", "up"]);
  }
  const nodes: SimNode[] = [];
  for (let i = 1; i <= (o.nodes ?? 3); i++) {
    const netns = makeNetns(`coilmn-n${i}`);
    namespaces.push(netns);
    const port = `n${i}`;
    run("ip", ["-n", hub.name, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", netns.name]);
    const l3 = o.topology === "l3";
    const v4 = l3 ? `10.0.${i}.2` : `10.0.0.${10 + i}`;
    const v6 = l3 ? `fd00:0:0:${i}::2` : `fd00::${10 + i}`;
    if (l3) {
      run("ip", ["-n", hub.name, "addr", "add", `10.0.${i}.1/24`, "dev", port]);
      run("ip", ["-n", hub.name, "-6", "addr", "add", `fd00:0:0:${i}::1/64`, "dev", port, "nodad"]);
    } else {
      run("ip", ["-n", hub.name, "link", "set", port, "master", "br0"]);
    }
    run("ip", ["-n", hub.name, "link", "set", port, "up"]);
    run("ip", ["-n", netns.name, "addr", "add", `${v4}/24`, "dev", "eth0"]);
    run("ip", ["-n", netns.name, "-6", "addr", "add", `${v6}/64`, "dev", "eth0", "nodad"]);
    run("ip", ["-n", netns.name, "link", "set", "eth0", "up"]);
    const nodeDir = join(dir, `node${i}`);
    mkdirSync(nodeDir);
    const node: SimNode = {
      name: `node${i}`,
      index: i,
      netns,
      v4,
      v6,
      ...(l3 ? { torV4: `10.0.${i}.1`, torV6: `fd00:0:0:${i}::1` } : {}),
      as: TOR_AS + i,
      dir: nodeDir,
      socket: join(nodeDir, "coild.sock"),
    };
    nodes.push(node);
    await o.core.createNode({ body: { metadata: { name: node.name }, status: { addresses: [{ type: "InternalIP", address: v4 }, { type: "InternalIP", address: v6 }] } } });
    relays.push(await relayApiIntoNetns(netns, o.server, nodeDir));
  }

  const spawnIn = (ns: TestNetns, argv: readonly string[], env: Record<string, string> = {}): ChildProcess & { log(): string } => {
    const child = spawn("nsenter", [`--net=${ns.path}`, "--", ...argv], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], cwd: REPO_ROOT });
    processes.add(child);
    child.once("close", () => processes.delete(child));
    let log = "";
    child.stdout?.on("data", (b: Buffer) => (log += b.toString()));
    child.stderr?.on("data", (b: Buffer) => (log += b.toString()));
    return Object.assign(child, { log: () => log });
  };

  const startBird = async (ns: TestNetns, birdDir: string, conf: string, local: string, localName: string): Promise<BirdProcess> => {
    mkdirSync(birdDir, { recursive: true });
    copyFileSync(join(BIRD_CONFIG_DIR, conf), join(birdDir, conf));
    const logFile = join(birdDir, "bird.log");
    writeFileSync(join(birdDir, localName), `${local}log "${logFile}" all;\n`);
    const socket = join(birdDir, "bird.ctl");
    // -f: foreground, so that the test owns (and reaps) the process and stops it by its PID.
    const child = spawnIn(ns, ["bird", "-f", "-c", join(birdDir, conf), "-s", socket, "-P", join(birdDir, "bird.pid")]);
    const birdc = (...args: string[]): string => run("birdc", ["-s", socket, ...args]);
    const readLog = (): string => (existsSync(logFile) ? execFileSync("cat", [logFile], { encoding: "utf8" }) : "");
    await eventually(`BIRD in ${ns.name} answering on its socket`, () => (birdc("show", "status").includes("Daemon is up and running") ? true : undefined), {
      timeoutMs: 60_000,
      abortIf: () => (child.exitCode === null ? undefined : `bird exited ${String(child.exitCode)}: ${child.log()}`),
    });
    return { child, socket, birdc, log: readLog };
  };

  const cniEnv = (cmd: string, pod: { id: string; netns: string; namespace: string }): NodeJS.ProcessEnv => ({
    ...process.env,
    CNI_COMMAND: cmd,
    CNI_CONTAINERID: pod.id,
    CNI_NETNS: pod.netns,
    CNI_IFNAME: "eth0",
    CNI_PATH: "/opt/cni/bin",
    CNI_ARGS: `K8S_POD_NAMESPACE=${pod.namespace};K8S_POD_NAME=${pod.id}`,
  });
  const runCoil = (node: SimNode, cmd: string, pod: { id: string; netns: string; namespace: string }): Promise<CniRun> => {
    const conf = JSON.stringify({ cniVersion: "1.0.0", name: "k8s-pod-network", type: "coil", socket: node.socket });
    const t0 = performance.now();
    const child = spawn(DIST.coil, [], { env: cniEnv(cmd, pod), stdio: ["pipe", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stdin.end(conf);
    return new Promise((resolve) => child.on("close", (code) => resolve({ code: code ?? -1, stdout: out, ms: performance.now() - t0 })));
  };

  const routes = (ns: string, f: { table?: string | number; proto?: string | number } = {}): IpRoute[] => {
    const sel = [...(f.table === undefined ? [] : ["table", String(f.table)]), ...(f.proto === undefined ? [] : ["proto", String(f.proto)])];
    return [4, 6].flatMap((fam) => JSON.parse(run("ip", ["-n", ns, "-j", `-${fam}`, "route", "show", ...sel]) || "[]") as IpRoute[]);
  };

  return {
    nodes,
    hub,
    startCoild: async (node, extra = []) => {
      const flags = ["--store=kubernetes", `--kubeconfig=${o.kubeconfig}`, `--socket=${node.socket}`, "--metrics-addr=127.0.0.1:9384",
        "--health-addr=127.0.0.1:9385", "--enable-egress=false", ...extra];
      const c = await startCoildInNetns({ netnsPath: node.netns.path, flags, nodeName: node.name, command: [DIST.coild], timeoutMs: 60_000 });
      coilds.set(node.name, c);
      return c;
    },
    coild: (node) => coilds.get(node.name),
    stopCoild: async (node, signal = "SIGTERM") => {
      const c = coilds.get(node.name);
      if (c === undefined) return;
      await stopProcess(c.child, signal);
      coilds.delete(node.name);
    },
    startNodeBird: (node, opts = {}) => {
      if (node.torV4 === undefined || node.torV6 === undefined) throw new Error("BIRD needs the l3 topology");
      const [t4, t6, as] = opts.ibgp === true ? ["coil_rr4", "coil_rr6", TOR_AS] : ["coil_uplink4", "coil_uplink6", node.as];
      const local = `router id ${node.v4};\n` +
        `protocol bgp uplink4 from ${t4} { local ${node.v4} as ${as}; neighbor ${node.torV4} as ${TOR_AS}; }\n` +
        `protocol bgp uplink6 from ${t6} { local ${node.v6} as ${as}; neighbor ${node.torV6} as ${TOR_AS}; }\n`;
      return startBird(node.netns, join(node.dir, "bird"), "node.conf", local, "coil-node.local.conf");
    },
    startTorBird: (opts = {}) => {
      const ibgp = new Set((opts.ibgp ?? []).map((n) => n.name));
      const sessions = nodes.map((n) => {
        const rr = ibgp.has(n.name);
        const peerAs = rr ? TOR_AS : n.as;
        return `protocol bgp ${n.name}_4 from ${rr ? "coil_rr_client4" : "coil_node4"} { local ${n.torV4 ?? ""} as ${TOR_AS}; neighbor ${n.v4} as ${peerAs}; }\n` +
          `protocol bgp ${n.name}_6 from ${rr ? "coil_rr_client6" : "coil_node6"} { local ${n.torV6 ?? ""} as ${TOR_AS}; neighbor ${n.v6} as ${peerAs}; }\n`;
      });
      return startBird(hub, join(dir, "tor-bird"), "tor.conf", `router id 10.0.1.1;\n${sessions.join("")}`, "coil-tor.local.conf");
    },
    startRouter: async (node, extra = []) => {
      const child = spawnIn(node.netns, [process.execPath, DIST.router, `--kubeconfig=${o.kubeconfig}`, "--metrics-addr=127.0.0.1:9388", "--health-addr=127.0.0.1:9389", ...extra], {
        COIL_NODE_NAME: node.name,
      });
      await eventually(`coil-router on ${node.name} started`, () => (child.log().includes('"msg":"started"') ? true : undefined), {
        timeoutMs: 60_000,
        abortIf: () => (child.exitCode === null ? undefined : `coil-router exited ${String(child.exitCode)}: ${child.log()}`),
      });
      return child;
    },
    addPod: async (node, id, namespace = "default") => {
      const netns = makeNetns("coilmn-pod");
      const pod = { node, id, namespace, netns };
      pods.push(pod);
      // Code 11 (TRY_AGAIN_LATER: e.g. the API server slow to answer on a loaded machine) is retried,
      // as container runtimes retry a failed sandbox set-up; any other failure is final.
      let last: CniRun | undefined;
      const r = await eventually(`ADD ${id} on ${node.name}`, async () => {
        last = await runCoil(node, "ADD", { id, netns: netns.path, namespace });
        if (last.code === 11) return undefined;
        return last;
      }, { timeoutMs: 90_000, intervalMs: 500, describe: () => last?.stdout });
      if (r.code !== 0) throw new Error(`ADD ${id} on ${node.name} failed (${r.code}): ${r.stdout}`);
      const ips = (JSON.parse(r.stdout) as { ips: { address: string }[] }).ips.map((x) => x.address.split("/")[0] ?? "");
      const ipv4 = ips.find((a) => !a.includes(":"));
      const ipv6 = ips.find((a) => a.includes(":"));
      const full: SimPod = { ...pod, ...(ipv4 === undefined ? {} : { ipv4 }), ...(ipv6 === undefined ? {} : { ipv6 }) };
      pods[pods.indexOf(pod)] = full;
      return full;
    },
    delPod: async (pod) => {
      const r = await runCoil(pod.node, "DEL", { id: pod.id, netns: pod.netns.path, namespace: pod.namespace });
      if (r.code === 0 && existsSync(pod.netns.path)) run("ip", ["netns", "del", pod.netns.name]);
      return r;
    },
    routes,
    ping: (pod, addr) => {
      try {
        run("nsenter", [`--net=${pod.netns.path}`, "--", "ping", "-c1", "-W1", addr]);
        return true;
      } catch {
        return false;
      }
    },
    close,
  };
}

/** What {@link startRoutingCluster} started: the control plane, its API, the leading controller and the nodes. */
export interface RoutingCluster {
  /** The kube-apiserver + etcd (stopped by a teardown). */
  readonly cp: CoilControlPlane["cp"];
  /** Its admin kubeconfig, loaded. */
  readonly kc: CoilControlPlane["kc"];
  /** Clients of the control plane (destroyed by a teardown). */
  readonly a: Api;
  /** The in-process coil-ipam-controller, leading (closed by a teardown). */
  readonly ctrl: Awaited<ReturnType<typeof startController>>;
  /** The node namespaces ({@link startMultiNode}). */
  readonly mn: MultiNode;
}

/**
 * The common start of the routing end-to-end tests: a control plane (skips or fails `t` as
 * {@link startCoilControlPlaneOrSkip} does, then `undefined`), the real coil-ipam-controller code
 * in-process with identity `identity` (extra flags `controllerArgs`) leading, the pool `default` with
 * blocks of 2 addresses (/31, /127: a node's third pod needs a second block) in 10.100.0.0/24 and
 * fd02::/120, and {@link startMultiNode} with `topology`. Everything is torn down with `t`.
 */
export async function startRoutingCluster(
  t: Test,
  o: { readonly topology: MultiNodeOptions["topology"]; readonly identity: string; readonly controllerArgs?: readonly string[] },
): Promise<RoutingCluster | undefined> {
  const started = await startCoilControlPlaneOrSkip(t);
  if (started === undefined) return undefined;
  const { cp, kc } = started;
  const a = api(kc);
  const ctrl = await startController(kc, o.identity, o.controllerArgs ?? []);
  t.teardown(async () => {
    await ctrl.close();
    a.clients.destroy();
    await cp.stop();
  });
  await createPool(a, "default", 1, [{ ipv4: "10.100.0.0/24", ipv6: "fd02::/120" }]);
  await eventually("namespace default", async () => ((await a.core.readNamespace({ name: "default" }).catch(() => undefined)) === undefined ? undefined : true));
  await eventually("controller leads", () => (ctrl.isLeader() ? true : undefined));
  const mn = await startMultiNode(t, { topology: o.topology, kubeconfig: cp.kubeconfigPath, server: cp.server, core: a.core });
  return { cp, kc, a, ctrl, mn };
}
