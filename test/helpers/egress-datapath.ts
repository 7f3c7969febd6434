/**
 * The egress data path's test world, shared by the e2e tests that run it (test/e2e/egress-datapath
 * and test/e2e/egress-only-chained): two node namespaces on an underlay, two egress pods on node B's
 * bridge running coil-egress from source over VXLAN (this kernel has no FoU), an "internet"
 * namespace with echo servers, kube-proxy's Service DNAT played by nft in node A, 1 MiB transfers.
 */
import type { Test } from "tap";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import type { V1Pod } from "@kubernetes/client-node";
import { waitFor } from "./coil-envtest.js";
import { withNetns, type TestNetns } from "./netns.js";
import { programArgs } from "./bundles.js";
import { sourceChildEnv } from "./child-env.js";
import { REPO_ROOT, terminateProcess } from "./test-host.js";
import type { Api } from "../adapters/ipam-controller/harness.js";

/** Node A: the client pods' node (coild), its name and underlay addresses. */
export const NODE_A = { name: "node-a", v4: "192.168.50.1", v6: "fd50::1" };
/** Node B: the egress pods' node, its underlay addresses. */
export const NODE_B = { v4: "192.168.50.2", v6: "fd50::2" };
/** The client pods' address ranges (node B routes them to node A). */
export const POOL = { v4: "10.100.0.0/24", v6: "fd10:100::/120" };
/** IPv4: egress pods 1 and 2, the Egress Service ClusterIP, the "internet" target. */
export const V4 = { eg1: "10.200.0.11", eg2: "10.200.0.12", cluster: "10.0.0.10", target: "9.9.9.9" };
/** IPv6: egress pods 1 and 2, the Egress Service ClusterIP, the "internet" target. */
export const V6 = { eg1: "fd10:200::11", eg2: "fd10:200::12", cluster: "fd00:10:96::10", target: "2606:4700:4700::9999" };
/** One transfer's size. */
export const MIB = 1024 * 1024;
/** Transfers per family in the long runs (`COIL_EGRESS_ROUNDS`, default 100, Coil's count). */
export const ROUNDS = Number(process.env["COIL_EGRESS_ROUNDS"] ?? "100");
/** The Egress `internet/egress` as a custom-object reference. */
export const EGRESS = { group: "coil.cybozu.com", version: "v2", namespace: "internet", plural: "egresses", name: "egress" } as const;
/** The client pod annotation that selects the Egress `internet/egress`. */
export const ANNOTATION = { "egress.coil.cybozu.com/internet": "egress" };

/** `ip -n <ns> …`, its stdout. */
export function ip(ns: TestNetns, ...args: string[]): string {
  return execFileSync("ip", ["-n", ns.name, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}
/** Run `argv` in `ns` (nsenter), its stdout. */
export function inNs(ns: TestNetns, argv: string[], input?: string): string {
  return execFileSync("nsenter", [`--net=${ns.path}`, "--", ...argv], { encoding: "utf8", input: input ?? "", stdio: ["pipe", "pipe", "pipe"] });
}
/** A veth `an` (in `a`) ⇄ `bn` (in `b`), both up. */
export function veth(a: TestNetns, an: string, b: TestNetns, bn: string): void {
  execFileSync("ip", ["link", "add", "coiltmpa", "netns", a.name, "type", "veth", "peer", "name", "coiltmpb", "netns", b.name]);
  ip(a, "link", "set", "coiltmpa", "name", an);
  ip(b, "link", "set", "coiltmpb", "name", bn);
  ip(a, "link", "set", an, "up");
  ip(b, "link", "set", bn, "up");
}
/** Add addresses to `dev` in `ns` (IPv6 without DAD). */
export function addr(ns: TestNetns, dev: string, ...cidrs: string[]): void {
  for (const c of cidrs) ip(ns, "addr", "add", c, "dev", dev, ...(c.includes(":") ? ["nodad"] : []));
}

/** The namespaces of {@link buildTopology}. */
export interface Topology {
  nodeA: TestNetns;
  nodeB: TestNetns;
  eg1: TestNetns;
  eg2: TestNetns;
  inet: TestNetns;
}

/** Node namespaces, the underlay, egress pods on node B's bridge, the "internet"; every netns is deleted by `t`'s teardown (links go with them). */
export function buildTopology(t: Test): Topology {
  const [nodeA, nodeB, eg1, eg2, inet] = ["ega", "egb", "eg1", "eg2", "egi"].map((p) => withNetns(t, p)) as [TestNetns, TestNetns, TestNetns, TestNetns, TestNetns];
  for (const n of [nodeA, nodeB]) inNs(n, ["sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0"]);
  veth(nodeA, "eth0", nodeB, "eth0");
  addr(nodeA, "eth0", `${NODE_A.v4}/24`, `${NODE_A.v6}/64`);
  addr(nodeB, "eth0", `${NODE_B.v4}/24`, `${NODE_B.v6}/64`);
  // Node A's default route goes to node B (the rest of the world, as a node's uplink); node B knows the pods.
  ip(nodeA, "route", "add", "default", "via", NODE_B.v4);
  ip(nodeA, "-6", "route", "add", "default", "via", NODE_B.v6);
  ip(nodeB, "route", "add", POOL.v4, "via", NODE_A.v4);
  ip(nodeB, "-6", "route", "add", POOL.v6, "via", NODE_A.v6);
  ip(nodeB, "link", "add", "br0", "type", "bridge");
  ip(nodeB, "link", "set", "br0", "up");
  addr(nodeB, "br0", "10.200.0.1/24", "fd10:200::1/64");
  for (const [eg, v4, v6, host] of [[eg1, V4.eg1, V6.eg1, "veg1"], [eg2, V4.eg2, V6.eg2, "veg2"]] as const) {
    veth(eg, "eth0", nodeB, host);
    ip(nodeB, "link", "set", host, "master", "br0");
    addr(eg, "eth0", `${v4}/24`, `${v6}/64`);
    ip(eg, "route", "add", "default", "via", "10.200.0.1");
    ip(eg, "-6", "route", "add", "default", "via", "fd10:200::1");
  }
  veth(nodeB, "inet0", inet, "eth0");
  addr(nodeB, "inet0", "203.0.113.1/24", "2001:db8:1::1/64");
  addr(inet, "eth0", "203.0.113.2/24", "2001:db8:1::2/64");
  addr(inet, "lo", `${V4.target}/32`, `${V6.target}/128`);
  ip(inet, "route", "add", "default", "via", "203.0.113.1");
  ip(inet, "-6", "route", "add", "default", "via", "2001:db8:1::1");
  ip(nodeB, "route", "add", `${V4.target}/32`, "via", "203.0.113.2");
  ip(nodeB, "-6", "route", "add", `${V6.target}/128`, "via", "2001:db8:1::2");
  return { nodeA, nodeB, eg1, eg2, inet };
}

/** kube-proxy's part, played by nft in node A: ClusterIP:5555/udp → the chosen egress pod; UDP conntrack flushed as kube-proxy does for a removed endpoint. */
export function serviceDnat(nodeA: TestNetns, to: { v4: string; v6: string }): void {
  const table = (f: "ip" | "ip6", cluster: string, dst: string): string =>
    `table ${f} kubeproxy {\n chain pre { type nat hook prerouting priority dstnat; policy accept;\n  ${f} daddr ${cluster} udp dport 5555 dnat to ${dst}\n }\n}\n`;
  inNs(nodeA, ["nft", "-f", "-"], "table ip kubeproxy {}\ntable ip6 kubeproxy {}\ndelete table ip kubeproxy\ndelete table ip6 kubeproxy\n");
  inNs(nodeA, ["nft", "-f", "-"], table("ip", V4.cluster, to.v4) + table("ip6", V6.cluster, to.v6));
  for (const f of ["ipv4", "ipv6"]) {
    try {
      inNs(nodeA, ["conntrack", "-D", "-p", "udp", "-f", f]);
    } catch {
      // exit 1: no entry to delete
    }
  }
}

/** A node script: TCP echo servers on port 80 of each address given, answering the peer's address first. */
export const ECHO_SERVER = `const net=require("node:net");
for (const host of process.argv.slice(1)) net.createServer((c)=>{const b=[];c.on("data",(d)=>b.push(d));c.on("end",()=>{c.write(c.remoteAddress+"\\n");c.end(Buffer.concat(b));});c.on("error",()=>{});}).listen(80,host);
console.log("ready");`;

/** `rounds` sequential 1 MiB uploads echoed back; each is a new TCP connection (a new flow). */
export const CLIENT = `const net=require("node:net");const crypto=require("node:crypto");
const [host,size,rounds]=[process.argv[1],Number(process.argv[2]),Number(process.argv[3])];
const body=crypto.randomBytes(size);const sources=new Set();let ok=0;
function one(){return new Promise((res,rej)=>{const c=net.connect({host,port:80});const b=[];c.on("data",(d)=>b.push(d));c.on("error",rej);
c.setTimeout(10000,()=>{c.destroy();rej(new Error("timeout"));});
c.on("end",()=>{const all=Buffer.concat(b);const nl=all.indexOf(10);sources.add(all.subarray(0,nl).toString());if(all.subarray(nl+1).equals(body))ok++;res();});c.end(body);});}
(async()=>{const t0=process.hrtime.bigint();for(let i=0;i<rounds;i++)await one();const s=Number(process.hrtime.bigint()-t0)/1e9;
console.log(JSON.stringify({ok,rounds,seconds:s,sources:[...sources]}));})().catch((e)=>{console.log(JSON.stringify({ok:0,rounds,seconds:0,sources:[],error:String(e)}));});`;

/** What the {@link CLIENT} script reports. */
export interface Transfer {
  ok: number;
  rounds: number;
  seconds: number;
  sources: string[];
  error?: string;
}

/** `rounds` 1 MiB transfers from `ns` to `host`:80, echoed back. */
export function transfer(ns: TestNetns, host: string, rounds: number): Transfer {
  const out = execFileSync("nsenter", [`--net=${ns.path}`, "--", process.execPath, "-e", CLIENT, host, String(MIB), String(rounds)], { encoding: "utf8", timeout: 600_000 });
  return JSON.parse(out.trim()) as Transfer;
}
/** A transfer's rate, for people. */
export const rate = (r: Transfer): string => `${(r.rounds / r.seconds).toFixed(1)} transfers/s, ${((r.rounds * MIB * 8 * 2) / r.seconds / 1e9).toFixed(2)} Gbit/s (1 MiB up + 1 MiB echoed per transfer)`;

/** Start a node child in `ns` that prints "ready" once listening; stopped by `t`'s teardown. */
export async function startServer(t: Test, ns: TestNetns, script: string, args: readonly string[] = []): Promise<void> {
  const child = spawn("nsenter", [`--net=${ns.path}`, "--", process.execPath, "-e", script, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  t.teardown(() => terminateProcess(child));
  await new Promise<void>((resolve, reject) => {
    child.stdout.once("data", () => resolve());
    child.once("exit", (c) => reject(new Error(`server in ${ns.name} exited ${String(c)}`)));
  });
}

/** A running coil-egress. */
export interface EgressPod {
  readonly child: ChildProcess;
  log(): string;
}

/** Start coil-egress (dist/bin/coil-egress.mjs, kept current by ./bundles.ts) in egress pod namespace `ns` (VXLAN), ready; stopped by `t`'s teardown. */
export async function startCoilEgress(t: Test, ns: TestNetns, o: { kubeconfig: string; podIPs: string; name: string; backend: string }): Promise<EgressPod> {
  const env = sourceChildEnv({ KUBECONFIG: o.kubeconfig, COIL_POD_NAMESPACE: "internet", COIL_EGRESS_NAME: "egress", COIL_POD_ADDRESSES: o.podIPs, HOSTNAME: o.name });
  const args = [...programArgs("coil-egress"), "--tunnel=vxlan", `--backend=${o.backend}`, "--metrics-addr=127.0.0.1:8080", "--health-addr=127.0.0.1:8081"];
  const child = spawn("nsenter", [`--net=${ns.path}`, "--", process.execPath, ...args], { env, cwd: REPO_ROOT, stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr?.on("data", (b: Buffer) => (log += b.toString()));
  t.teardown(() => terminateProcess(child));
  await waitFor(
    `${o.name} ready`,
    () => {
      if (child.exitCode !== null) throw new Error(`coil-egress exited ${String(child.exitCode)}: ${log.slice(-2000)}`);
      try {
        return inNs(ns, ["curl", "-sf", "http://127.0.0.1:8081/readyz"]).startsWith("ok");
      } catch {
        return false;
      }
    },
    { timeoutMs: 180_000, intervalMs: 300 },
  );
  return { child, log: () => log };
}

/** The routes of `table` in `ns` (none when the table does not exist). */
export function routes(ns: TestNetns, family: "-4" | "-6", table: string): Array<{ dst: string; dev: string; gateway?: string }> {
  try {
    return JSON.parse(ip(ns, family, "-j", "route", "show", "table", table)) as Array<{ dst: string; dev: string }>;
  } catch {
    return []; // "FIB table does not exist": nothing there yet
  }
}

/** The client pod as the CNI ADD result gave it. */
export interface ClientPod {
  readonly name: string;
  readonly netns: TestNetns;
  readonly v4: string;
  readonly v6: string;
}

/** Read-modify-write of the Pod's status (a status replace with a bare metadata would drop the annotations: the status subresource takes the request's metadata). */
export async function markRunning(a: Api, name: string, ips: readonly string[]): Promise<void> {
  const pod = await a.core.readNamespacedPod({ namespace: "default", name });
  const body: V1Pod = { ...pod, status: { ...pod.status, phase: "Running", podIP: ips[0] ?? "", podIPs: ips.map((x) => ({ ip: x })) } };
  await a.core.replaceNamespacedPodStatus({ namespace: "default", name, body });
}

/** Wait until both egress pods route the client's addresses back through a tunnel (table 118). */
export async function servedBy(egs: readonly TestNetns[], c: ClientPod): Promise<void> {
  await waitFor(`${c.name} served by the egress pods`, () =>
    egs.every((eg) => routes(eg, "-4", "118").some((r) => r.dst === c.v4) && routes(eg, "-6", "118").some((r) => r.dst === c.v6)), { timeoutMs: 60_000, intervalMs: 100 });
}

/** Whether a TCP connection from the internet to `host`:12345 gets the client's "hello" (3 s limit). */
export function ingress(inet: TestNetns, host: string): boolean {
  try {
    return inNs(inet, ["curl", "-s", "--max-time", "3", `telnet://${host}:12345`], "").includes("hello");
  } catch {
    return false;
  }
}
/** A node script: "hello" to every TCP connection on port 12345; prints "ready". */
export const HELLO_SERVER = `require("node:net").createServer((c)=>c.end("hello\\n")).listen(12345,"::",()=>console.log("ready"))`;


/** Namespace `internet`, the Egress `internet/egress` (0.0.0.0/0 and ::/0, 2 replicas) and its dual-stack Service at {@link V4}/{@link V6} `cluster`. */
export async function createInternetEgress(a: Api): Promise<void> {
  await a.core.createNamespace({ body: { metadata: { name: "internet" } } });
  await a.clients.custom.createNamespacedCustomObject({
    ...EGRESS,
    body: { apiVersion: "coil.cybozu.com/v2", kind: "Egress", metadata: { name: "egress", namespace: "internet" }, spec: { destinations: ["0.0.0.0/0", "::/0"], replicas: 2 } },
  });
  await a.core.createNamespacedService({
    namespace: "internet",
    body: {
      metadata: { name: "egress", namespace: "internet" },
      spec: { ipFamilyPolicy: "RequireDualStack", ipFamilies: ["IPv4", "IPv6"], clusterIP: V4.cluster, clusterIPs: [V4.cluster, V6.cluster], ports: [{ port: 5555, targetPort: 5555, protocol: "UDP" }], sessionAffinity: "ClientIP" },
    },
  });
}

/**
 * Patch the Egress's destinations (its EgressWatchers update running client pods). The patch is
 * idempotent (a `replace`), so a request the API server dropped without an answer (ECONNRESET, "socket
 * hang up": seen once on a kept-alive connection in a loaded run) is sent again, at most twice more.
 */
export async function patchDestinations(a: Api, destinations: string[]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await a.clients.custom.patchNamespacedCustomObject({ ...EGRESS, body: [{ op: "replace", path: "/spec/destinations", value: destinations }] });
      return;
    } catch (e) {
      if (attempt >= 3 || (e as { code?: unknown }).code !== "ECONNRESET") throw e;
    }
  }
}
