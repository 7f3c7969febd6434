/**
 * Egress interop with Coil v2.15.0 over FoU, both directions, with every daemon run whole: run
 * INSIDE the VM by test/e2e/egress-fou-interop-vm.test.ts (bundled on the host, `node <bundle>`),
 * as root, on a throw-away kernel that has FoU, IPIP and ip6tnl. The VM has no network card, so
 * everything that talks to the API server runs in the VM with it:
 *
 *   etcd + kube-apiserver (the host's envtest binaries) and our coil-ipam-controller (in this
 *   process) in the VM's own namespace, which is also the node ("coil-vm", 192.168.50.1 / fd50::1);
 *   pods are named namespaces whose networks the node daemon lays out through the CNI executable;
 *   an "internet" namespace behind the node holds the Egress destinations (9.9.9.9,
 *   2606:4700:4700::9999) and an echo server.
 *
 * Direction 1: OUR coild (`--store=kubernetes --tunnel=fou --backend=nftables`) sets up the egress
 * pod and the client pod through OUR `coil` executable; Coil v2's Go `coil-egress` serves the
 * client from the egress pod (Egress `internet/egress-go`, Service ClusterIPs 10.96.0.10 and
 * fd00:10:96::10). Direction 2: our coild is stopped and Coil v2's Go `coild` takes the node over
 * (it adopts direction 1's pods, as in test/adapters/daemon/interop-go-coild.test.ts); it sets up
 * a second egress pod and a second client pod through Go's `coil` executable, and OUR
 * `coil-egress` serves that client (Egress `internet/egress-ts`, 10.96.0.20 and fd00:10:96::20).
 * The API server runs with {@link LIGHT_APISERVER_FLAGS} (no RBAC, no API Priority and Fairness:
 * about three times faster to start under emulation) and also listens on the node's address, where
 * each coil-egress reaches it from its pod (the pod's default route goes to the node). kube-proxy's
 * Service DNAT (ClusterIP:5555/udp → the egress pod) is played by an nft DNAT rule in the node, as
 * in the other egress tests; the node drops any packet a client sends to the destinations
 * directly, so an answer can only come through the tunnel.
 *
 * Prints one line `COIL-VM-RESULT <json>` ({@link InteropReport}); the host test asserts on it.
 * Exits non-zero (with the reason and the daemons' log tails) only when a set-up step fails.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, symlinkSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { CNI_ERROR } from "../../../lib/cni/index.js";
import type { Ip } from "../../../lib/net/index.js";
import { fouLinkName } from "../../../lib/plan/index.js";
import { SILENT_LOGGER } from "../../../adapters/k8s/index.js";
import { runIpamController, type RunningController } from "../../../adapters/ipam-controller/run.js";
import { api, createPool, testFlags, type Api } from "../../adapters/ipam-controller/harness.js";
import { applyCoilCrds } from "../../helpers/coil-envtest.js";
import { LIGHT_APISERVER_FLAGS, startControlPlane, type ControlPlane } from "../../helpers/envtest.js";
import { waitFor } from "../../helpers/wait.js";
import { addInternet, ECHO_SRC, inNs, ipIn, linkNames, linkViews, run, transfer, type LinkView, type Transfer } from "./guest-tools.js";

/** The programs, passed by the host test (paths valid in the VM: the host's filesystem is its root). */
const BIN = {
  etcd: need("COIL_VM_ETCD"),
  kubeApiserver: need("COIL_VM_KUBE_APISERVER"),
  goCoil: need("COIL_VM_GO_COIL"),
  goCoild: need("COIL_VM_GO_COILD"),
  goCoilEgress: need("COIL_VM_GO_COIL_EGRESS"),
  ourCoil: need("COIL_VM_OUR_COIL"),
  ourCoild: need("COIL_VM_OUR_COILD"),
  ourCoilEgress: need("COIL_VM_OUR_COIL_EGRESS"),
};
const ROUNDS = Number(process.env["COIL_VM_INTEROP_ROUNDS"] ?? "5");
const NODE = { name: "coil-vm", v4: "192.168.50.1", v6: "fd50::1" };
const POOL = { v4: "10.100.0.0/24", v6: "fd10:100::/120", blockSizeBits: 3 };
const INET = { ns: "inet", v4: "203.0.113.2", v6: "2001:db8:1::2", target4: "9.9.9.9", target6: "2606:4700:4700::9999" };
const EGRESS_NS = "internet";
const PORT = 5555;

/** What one direction uses. */
interface Direction {
  /** Report key and log prefix. */
  readonly key: "goEgress" | "ourEgress";
  /** The Egress (and its Service) in {@link EGRESS_NS}. */
  readonly egress: string;
  /** The Service's ClusterIPs. */
  readonly cluster: { readonly v4: string; readonly v6: string };
  /** The egress pod (namespace {@link EGRESS_NS}) and the client pod (namespace default): Pod names = netns names. */
  readonly egressPod: string;
  readonly clientPod: string;
}
const DIR1: Direction = { key: "goEgress", egress: "egress-go", cluster: { v4: "10.96.0.10", v6: "fd00:10:96::10" }, egressPod: "egress-go-0", clientPod: "client-ours" };
const DIR2: Direction = { key: "ourEgress", egress: "egress-ts", cluster: { v4: "10.96.0.20", v6: "fd00:10:96::20" }, egressPod: "egress-ts-0", clientPod: "client-go" };

/** A pod's addresses as its CNI ADD result gave them. */
export interface PodAddrs {
  readonly v4: string;
  readonly v6: string;
}

/** What one direction reports. */
export interface DirectionReport {
  /** The egress pod's addresses. */
  readonly egressPod: PodAddrs;
  /** The client pod's addresses. */
  readonly clientPod: PodAddrs;
  /** The client pod's tunnels to the ClusterIPs (`fou4_<hex>`, `fou6_<sha1>`). */
  readonly clientLinks: readonly LinkView[];
  /** Every link name in the client pod. */
  readonly clientLinkNames: readonly string[];
  /** The client pod's table-118 routes (`ip -j route show table 118`, both families). */
  readonly clientTable118: readonly RouteView[];
  /** The egress pod's tunnels to the client (`fou4_<hex>`, `fou6_<sha1>`). */
  readonly egressLinks: readonly LinkView[];
  /** The egress pod's table-118 routes (its clients). */
  readonly egressTable118: readonly RouteView[];
  /** `ip fou show` in the egress pod. */
  readonly fouPorts: string;
  /** `nft list ruleset` in the egress pod. */
  readonly egressNft: string;
  /** 1 MiB echo transfers from the client pod to the Egress destinations. */
  readonly transfers: Readonly<Record<"v4" | "v6", Transfer>>;
}

/** One route of `ip -j route show`. */
export interface RouteView {
  readonly dst: string;
  readonly dev?: string;
}

/** What the guest reports. */
export interface InteropReport {
  /** `uname -r`. */
  readonly kernel: string;
  /** Direction 1: our coild's client served by Go's coil-egress. */
  readonly goEgress: DirectionReport;
  /** Direction 2: Go coild's client served by our coil-egress. */
  readonly ourEgress: DirectionReport;
  /** Packets the node dropped because a client sent them to the destinations outside the tunnel. */
  readonly directDrops: number;
  /** Go coild's log lines about adopting direction 1's pods (`registered existing IP`). */
  readonly goCoildRegistered: number;
  /** The VM's available memory at the end, with every daemon still running but the coil-egresses (MiB of 2 GiB). */
  readonly memAvailableMiB: number;
  /** Seconds per step. */
  readonly timings: Readonly<Record<string, number>>;
}

function need(name: string): string {
  const v = process.env[name];
  if (v === undefined || v === "") throw new Error(`${name} is not set (the host test passes it)`);
  return v;
}
const nsPath = (ns: string): string => `/var/run/netns/${ns}`;
const since = (t0: number): number => Math.round((performance.now() - t0) / 10) / 100;
const mark = (what: string): void => console.error(`interop-guest: ${process.uptime().toFixed(1)}s ${what}`);

/** A daemon started here, with its merged output kept for the failure report. */
interface Daemon {
  readonly name: string;
  readonly child: ChildProcess;
  /** Its output so far (the last 200,000 characters). */
  readonly log: () => string;
  /** A reason to stop waiting for it (it exited), or undefined. */
  readonly exited: () => string | undefined;
}
const daemons: Daemon[] = [];

function startDaemon(name: string, argv: readonly string[], env: Readonly<Record<string, string>>): Daemon {
  const [cmd, ...args] = argv;
  const child = spawn(cmd ?? "false", args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  const keep = (b: Buffer): void => {
    log = (log + b.toString()).slice(-200_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const d: Daemon = {
    name,
    child,
    log: () => log,
    exited: () => (child.exitCode !== null || child.signalCode !== null ? `${name} exited (${String(child.exitCode ?? child.signalCode)}): ${log.slice(-3000)}` : undefined),
  };
  daemons.push(d);
  return d;
}

async function stopDaemon(d: Daemon): Promise<void> {
  if (d.child.exitCode !== null || d.child.signalCode !== null) return;
  const closed = once(d.child, "close");
  d.child.kill("SIGTERM");
  const timer = setTimeout(() => d.child.kill("SIGKILL"), 30_000);
  await closed;
  clearTimeout(timer);
}

/** The node: its addresses, forwarding, the "internet" behind it with the echo server, kube-proxy's nft tables. */
async function layOutNode(): Promise<ChildProcess> {
  run(["ip", "-batch", "-"], [`addr add ${NODE.v4}/32 dev lo`, `addr add ${NODE.v6}/128 dev lo`, ""].join("\n"));
  run(["sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"]);
  addInternet(INET);
  // kube-proxy's part and the direct-path drop; rules are added as the pods get their addresses.
  run(["nft", "-f", "-"], ["ip", "ip6"].map((f) => `table ${f} kubeproxy {
  chain pre { type nat hook prerouting priority dstnat; policy accept; }
  chain forward_drop { type filter hook forward priority filter; policy accept; }
}
`).join(""));
  const echo = spawn("ip", ["netns", "exec", INET.ns, process.execPath, "-e", ECHO_SRC, INET.target4, INET.target6], { stdio: ["ignore", "pipe", "inherit"] });
  const [ready] = (await once(echo.stdout, "data")) as [Buffer];
  if (!ready.toString().includes("ready")) throw new Error("echo server did not start");
  return echo;
}

/** kube-proxy: the Service's ClusterIPs (UDP 5555) DNATed to the egress pod. */
function serviceDnat(d: Direction, to: PodAddrs): void {
  run(["nft", "-f", "-"], [
    `add rule ip kubeproxy pre ip daddr ${d.cluster.v4} udp dport ${PORT} counter dnat to ${to.v4}`,
    `add rule ip6 kubeproxy pre ip6 daddr ${d.cluster.v6} udp dport ${PORT} counter dnat to ${to.v6}`,
    "",
  ].join("\n"));
}
/** A client packet sent to the destinations outside the tunnel is dropped (and counted). */
function dropDirect(c: PodAddrs): void {
  run(["nft", "-f", "-"], [
    `add rule ip kubeproxy forward_drop ip saddr ${c.v4} ip daddr ${INET.target4} counter drop`,
    `add rule ip6 kubeproxy forward_drop ip6 saddr ${c.v6} ip6 daddr ${INET.target6} counter drop`,
    "",
  ].join("\n"));
}
function directDrops(): number {
  const out = run(["nft", "-j", "list", "ruleset"]);
  let n = 0;
  for (const item of (JSON.parse(out) as { nftables: Array<{ rule?: { chain: string; expr: Array<{ counter?: { packets: number } }> } }> }).nftables) {
    if (item.rule?.chain !== "forward_drop") continue;
    for (const e of item.rule.expr) n += e.counter?.packets ?? 0;
  }
  return n;
}

/** Coil's objects and the Node, Pool, Egresses and Services both directions use. */
async function createObjects(a: Api): Promise<void> {
  await a.core.createNode({ body: { metadata: { name: NODE.name }, status: { addresses: [{ type: "InternalIP", address: NODE.v4 }, { type: "InternalIP", address: NODE.v6 }] } } });
  await createPool(a, "default", POOL.blockSizeBits, [{ ipv4: POOL.v4, ipv6: POOL.v6 }]);
  await a.core.createNamespace({ body: { metadata: { name: EGRESS_NS } } });
  await waitFor("namespace default", async () => (await a.core.readNamespace({ name: "default" }).catch(() => undefined)) !== undefined, { timeoutMs: 60_000, intervalMs: 200 });
  for (const d of [DIR1, DIR2]) {
    await a.clients.custom.createNamespacedCustomObject({
      group: "coil.cybozu.com",
      version: "v2",
      namespace: EGRESS_NS,
      plural: "egresses",
      body: { apiVersion: "coil.cybozu.com/v2", kind: "Egress", metadata: { name: d.egress, namespace: EGRESS_NS }, spec: { destinations: [`${INET.target4}/32`, `${INET.target6}/128`], replicas: 1 } },
    });
    await a.core.createNamespacedService({
      namespace: EGRESS_NS,
      body: {
        metadata: { name: d.egress, namespace: EGRESS_NS },
        spec: { ipFamilyPolicy: "RequireDualStack", ipFamilies: ["IPv4", "IPv6"], clusterIP: d.cluster.v4, clusterIPs: [d.cluster.v4, d.cluster.v6], ports: [{ port: PORT, targetPort: PORT, protocol: "UDP" }], sessionAffinity: "ClientIP" },
      },
    });
  }
}

/** A CNI executable run as a container runtime runs it (`CNI_*` environment, netconf on stdin), in the node's namespace. */
function cniCall(command: "ADD" | "DEL", argv: readonly string[], socket: string, namespace: string, pod: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const conf = JSON.stringify({ cniVersion: "1.0.0", name: "k8s-pod-network", type: "coil", socket });
  const env = {
    ...process.env,
    CNI_COMMAND: command,
    CNI_CONTAINERID: `ctr-${pod}`,
    CNI_NETNS: nsPath(pod),
    CNI_IFNAME: "eth0",
    CNI_PATH: "/opt/cni/bin",
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${namespace};K8S_POD_NAME=${pod};K8S_POD_INFRA_CONTAINER_ID=ctr-${pod}`,
  };
  const [cmd, ...args] = argv;
  const child = spawn(cmd ?? "false", args, { env, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  child.stdin.end(conf);
  return new Promise((resolve) => child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr })));
}

/** The `code` of a CNI error object on stdout, if it is one. */
function cniCode(stdout: string): number | undefined {
  try {
    const o = JSON.parse(stdout) as { code?: unknown };
    return typeof o.code === "number" ? o.code : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A pod as the kubelet and the runtime make it: the Pod object (on this node), its network
 * namespace, CNI ADD through `cni`, then `status.podIPs` (what coil-egress watches).
 */
async function addPod(a: Api, cni: readonly string[], socket: string, namespace: string, pod: string, annotations: Record<string, string>): Promise<PodAddrs> {
  await a.core.createNamespacedPod({ namespace, body: { metadata: { name: pod, annotations }, spec: { nodeName: NODE.name, containers: [{ name: "c", image: "pause" }] } } });
  run(["ip", "netns", "add", pod]);
  run(["ip", "-n", pod, "link", "set", "lo", "up"]); // the runtime's loopback plugin
  // As a runtime does: an ADD answered with CNI code 11 ("try again later": here coild did not answer
  // within the executable's 1-minute deadline, which this emulated guest on a loaded host can exceed)
  // is torn down with DEL, its network namespace removed, and tried again in a new one (the kubelet's
  // next sandbox); any other failure, or a third 11, fails the test.
  let r = await cniCall("ADD", cni, socket, namespace, pod);
  for (let attempt = 2; attempt <= 3 && r.code !== 0 && cniCode(r.stdout) === CNI_ERROR.TRY_AGAIN_LATER; attempt++) {
    mark(`CNI ADD ${namespace}/${pod} answered code 11 (${r.stdout.trim()}); DEL and ADD again (attempt ${attempt})`);
    const del = await cniCall("DEL", cni, socket, namespace, pod);
    if (del.code !== 0) throw new Error(`CNI DEL ${namespace}/${pod} after a failed ADD failed (${del.code}): ${del.stdout}${del.stderr}`);
    run(["ip", "netns", "del", pod]);
    run(["ip", "netns", "add", pod]);
    run(["ip", "-n", pod, "link", "set", "lo", "up"]);
    r = await cniCall("ADD", cni, socket, namespace, pod);
  }
  if (r.code !== 0) throw new Error(`CNI ADD ${namespace}/${pod} failed (${r.code}): ${r.stdout}${r.stderr}`);
  const ips = (JSON.parse(r.stdout) as { ips: Array<{ address: string }> }).ips.map((x) => x.address.split("/")[0] ?? "");
  const addrs = { v4: ips.find((x) => !x.includes(":")) ?? "", v6: ips.find((x) => x.includes(":")) ?? "" };
  const current = await a.core.readNamespacedPod({ namespace, name: pod });
  const body: V1Pod = { ...current, status: { ...current.status, phase: "Running", podIP: addrs.v4, podIPs: [{ ip: addrs.v4 }, { ip: addrs.v6 }] } };
  await a.core.replaceNamespacedPodStatus({ namespace, name: pod, body });
  return addrs;
}

function routes(ns: string, family: "-4" | "-6", table: string): RouteView[] {
  try {
    return JSON.parse(ipIn(ns, [family, "-j", "route", "show", "table", table])) as RouteView[];
  } catch {
    return []; // the table does not exist yet
  }
}
const table118 = (ns: string): RouteView[] => [...routes(ns, "-4", "118"), ...routes(ns, "-6", "118")];

/** coil-egress's `GET /readyz` (port 8081 of the egress pod, reached from the node) answers 200. */
async function readyz(pod: PodAddrs): Promise<boolean> {
  try {
    return (await fetch(`http://${pod.v4}:8081/readyz`, { signal: AbortSignal.timeout(5000) })).ok;
  } catch {
    return false;
  }
}

/** Start a coil-egress (`argv`: the program and its flags) in the egress pod's namespace with its environment, wait until ready. */
async function startCoilEgress(name: string, argv: readonly string[], d: Direction, pod: PodAddrs, kubeconfig: string): Promise<Daemon> {
  const eg = startDaemon(name, ["ip", "netns", "exec", d.egressPod, ...argv, "--backend=nftables", "--metrics-addr=:8080", "--health-addr=:8081"], {
    KUBECONFIG: kubeconfig,
    COIL_POD_NAMESPACE: EGRESS_NS,
    COIL_EGRESS_NAME: d.egress,
    COIL_POD_ADDRESSES: `${pod.v4},${pod.v6}`,
    HOSTNAME: d.egressPod,
  });
  await waitFor(`${name} ready (/readyz)`, () => readyz(pod), { timeoutMs: 120_000, intervalMs: 300, abortIf: eg.exited });
  return eg;
}

/** Wait until the egress pod routes both client addresses back through its tunnels (table 118). */
async function waitServed(d: Direction, c: PodAddrs, eg: Daemon): Promise<void> {
  await waitFor(`${d.egressPod} routes ${c.v4} and ${c.v6} to its tunnels`, () => {
    const dsts = table118(d.egressPod).map((r) => r.dst);
    return dsts.includes(c.v4) && dsts.includes(c.v6);
  }, { timeoutMs: 60_000, intervalMs: 300, abortIf: eg.exited, describe: () => table118(d.egressPod) });
}

function directionReport(d: Direction, eg: PodAddrs, c: PodAddrs, transfers: DirectionReport["transfers"]): DirectionReport {
  return {
    egressPod: eg,
    clientPod: c,
    clientLinks: linkViews(d.clientPod, [fouLinkName(d.cluster.v4 as Ip), fouLinkName(d.cluster.v6 as Ip)]),
    clientLinkNames: linkNames(d.clientPod),
    clientTable118: table118(d.clientPod),
    egressLinks: linkViews(d.egressPod, [fouLinkName(c.v4 as Ip), fouLinkName(c.v6 as Ip)]),
    egressTable118: table118(d.egressPod),
    fouPorts: ipIn(d.egressPod, ["fou", "show"]),
    egressNft: inNs(d.egressPod, ["nft", "list", "ruleset"]),
    transfers,
  };
}

function transfers(d: Direction, t: Record<string, number>): DirectionReport["transfers"] {
  let t0 = performance.now();
  const v4 = transfer(d.clientPod, INET.target4, ROUNDS);
  t[`${d.key}.transfer4`] = since(t0);
  t0 = performance.now();
  const v6 = transfer(d.clientPod, INET.target6, ROUNDS);
  t[`${d.key}.transfer6`] = since(t0);
  return { v4, v6 };
}

/**
 * One direction, the node daemon already running: the egress pod through the daemon's CNI
 * executable, then at once coil-egress in it and the client pod (annotated for the Egress) through
 * the same CNI executable; once the egress pod routes the client back through its tunnels, the
 * transfers, then what both pods hold. coil-egress is stopped at the end.
 */
async function direction(a: Api, d: Direction, node: { readonly cni: readonly string[]; readonly socket: string }, egress: { readonly name: string; readonly argv: readonly string[] }, kubeconfig: string, t: Record<string, number>): Promise<DirectionReport> {
  let t0 = performance.now();
  const eg = await addPod(a, node.cni, node.socket, EGRESS_NS, d.egressPod, {});
  t[`${d.key}.egressPodAdd`] = since(t0);
  serviceDnat(d, eg);
  mark(`${d.egressPod} set up (${eg.v4}, ${eg.v6})`);
  t0 = performance.now();
  const client = (async (): Promise<PodAddrs> => {
    const c = await addPod(a, node.cni, node.socket, "default", d.clientPod, { [`egress.coil.cybozu.com/${EGRESS_NS}`]: d.egress });
    t[`${d.key}.clientAdd`] = since(t0);
    mark(`${d.clientPod} set up (${c.v4}, ${c.v6})`);
    return c;
  })();
  const server = (async (): Promise<Daemon> => {
    const e = await startCoilEgress(egress.name, egress.argv, d, eg, kubeconfig);
    t[`${d.key}.egressStart`] = since(t0);
    mark(`${egress.name} ready`);
    return e;
  })();
  const [c, e] = await Promise.all([client, server]);
  dropDirect(c);
  t0 = performance.now();
  await waitServed(d, c, e);
  t[`${d.key}.served`] = since(t0);
  mark(`${d.clientPod} served by ${egress.name}`);
  const report = directionReport(d, eg, c, transfers(d, t));
  mark(`${d.key}: transfers done`);
  await stopDaemon(e);
  return report;
}

async function main(): Promise<InteropReport> {
  mark("loaded");
  const t: Record<string, number> = {};
  // Coil's Go programs load fou/fou6 with /sbin/modprobe; the host this VM borrows its root from may
  // have no kmod, and the VM's busybox modprobe is then only on PATH (scripts/vm/run-in-vm.sh).
  if (!existsSync("/sbin/modprobe") && existsSync("/usr/local/sbin/modprobe")) symlinkSync("/usr/local/sbin/modprobe", "/sbin/modprobe");
  // The API server, lightened for emulation, also listens on the node's address: the egress pods reach
  // it there (their default route goes to the node) with a kubeconfig naming that address. It starts
  // while the node is laid out.
  let t0 = performance.now();
  const starting: Promise<ControlPlane> = startControlPlane({
    binaries: { etcd: BIN.etcd, kubeApiserver: BIN.kubeApiserver },
    serviceClusterIPRange: "10.96.0.0/24,fd00:10:96::/112",
    readyTimeoutMs: 120_000,
    apiserverFlags: [...LIGHT_APISERVER_FLAGS, "--bind-address=0.0.0.0"],
    servingCertIPs: [NODE.v4],
    serviceAccountKey: "ecdsa",
  });
  const echo = await layOutNode();
  t["node"] = since(t0);
  mark("node and internet laid out");
  const cp = await starting;
  t["apiServer"] = since(t0);
  mark(`API server ready at ${cp.server}`);
  const podKubeconfig = `${cp.kubeconfigPath}-pods`;
  await writeFile(podKubeconfig, (await readFile(cp.kubeconfigPath, "utf8")).replace(cp.server, cp.server.replace("127.0.0.1", NODE.v4)), { mode: 0o600 });
  t0 = performance.now();
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
  await applyCoilCrds(kc, join(process.cwd(), "config/crd"));
  t["crds"] = since(t0);
  t0 = performance.now();
  const a = api(kc);
  await createObjects(a);
  t["objects"] = since(t0);
  mark("CRDs and objects created");

  // ---- Direction 1: our coild sets the pods up, Go's coil-egress serves the client. coild starts
  // while the coil-ipam-controller (serving the BlockRequests of both daemons) starts in this process.
  t0 = performance.now();
  const ours = startDaemon("our coild", [process.execPath, BIN.ourCoild, "--store=kubernetes", `--kubeconfig=${cp.kubeconfigPath}`, "--socket=/run/coild-ours.sock", "--tunnel=fou", "--backend=nftables", "--metrics-addr=127.0.0.1:9384", "--health-addr=127.0.0.1:9385"], { COIL_NODE_NAME: NODE.name });
  const ctrl: RunningController = (await runIpamController(testFlags(["--leader-elect=false"]), { kc, log: SILENT_LOGGER, identity: "vm", processMetrics: false }))._unsafeUnwrap();
  await waitFor("coil-ipam-controller running", () => ctrl.isLeader(), { timeoutMs: 60_000, intervalMs: 100 });
  t["ipamController"] = since(t0);
  await waitFor("our coild serves CNI", () => ours.log().includes('"msg":"serving CNI"'), { timeoutMs: 120_000, intervalMs: 100, abortIf: ours.exited });
  t["goEgress.coildStart"] = since(t0);
  mark("our coild serves CNI");
  const r1 = await direction(a, DIR1, { cni: [process.execPath, BIN.ourCoil], socket: "/run/coild-ours.sock" }, { name: "Go coil-egress", argv: [BIN.goCoilEgress] }, podKubeconfig, t);
  await stopDaemon(ours);

  // ---- Direction 2: Go coild takes the node over, Go's coil sets the pods up, our coil-egress serves the client.
  t0 = performance.now();
  const go = startDaemon("Go coild", [BIN.goCoild, "--socket=/run/coild-go.sock", "--backend=nftables", "--metrics-addr=127.0.0.1:9384", "--health-addr=127.0.0.1:9385"], { COIL_NODE_NAME: NODE.name, KUBECONFIG: cp.kubeconfigPath });
  const goReady = (): boolean => go.log().includes("start periodic nodeIPAM GC") && ["blockrequest", "egress"].every((c) => new RegExp(`"msg":"Starting workers"[^\\n]*"controller":"${c}"`).test(go.log()));
  await waitFor("Go coild started (nodeIPAM GC, BlockRequest and Egress controllers)", goReady, { timeoutMs: 120_000, intervalMs: 100, abortIf: go.exited });
  t["ourEgress.coildStart"] = since(t0);
  mark("Go coild started");
  const r2 = await direction(a, DIR2, { cni: [BIN.goCoil], socket: "/run/coild-go.sock" }, { name: "our coil-egress", argv: [process.execPath, BIN.ourCoilEgress, "--tunnel=fou"] }, podKubeconfig, t);

  echo.kill();
  return {
    kernel: run(["uname", "-r"]).trim(),
    goEgress: r1,
    ourEgress: r2,
    directDrops: directDrops(),
    goCoildRegistered: (go.log().match(/"msg":"registered existing IP"/g) ?? []).length,
    memAvailableMiB: Math.round(Number(/^MemAvailable:\s+(\d+)/m.exec(await readFile("/proc/meminfo", "utf8"))?.[1] ?? "0") / 1024),
    timings: t,
  };
}

main().then(
  (r) => {
    console.log(`COIL-VM-RESULT ${JSON.stringify(r)}`);
    process.exit(0);
  },
  (e: unknown) => {
    console.error(`interop-guest: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    for (const d of daemons) console.error(`---- ${d.name} (last 6000 characters of its log):\n${d.log().slice(-6000)}`);
    process.exit(1);
  },
);
