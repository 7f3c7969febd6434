/**
 * Coil's egress end-to-end (coil-v2-behaviour.md §9.11: "Egress controller" and items 9–13) in the real
 * cluster of test/cluster/e2e.test.ts: egress pods made by coil-egress-controller from Egress objects,
 * client pods annotated `egress.coil.cybozu.com/internet: <egress>` set up by coild at the kubelet's ADD,
 * kube-proxy's real Service DNAT of the tunnel packets (ClusterIP:5555/udp → an egress pod), coild's
 * EgressWatcher following Egress changes in running pods, and coild's `--enable-originating-only`.
 *
 * The kernel has no FoU/IPIP here, so the cluster runs `config/variants/vxlan` (coild and the egress
 * controller with `--tunnel=vxlan`; the controller passes it to the egress pods). Layout, as Coil's kind
 * e2e with node 1 in the control plane's role: the egress pods run on node 1, whose network namespace
 * also holds the "internet" (9.9.9.9/32 and 2606:4700:4700::9999/128 — on its `lo`, as this kernel has
 * no dummy links — and an echo server that answers with the peer address it saw); client pods run on
 * nodes 2 and 3.
 *
 * Each test waits for conditions, never a fixed time. What the tests create (namespace `internet` with
 * its Egresses, the client pods, the fake addresses, the echo server, coild's originating-only flag) is
 * removed by their teardowns.
 *
 * @module
 */
import type { Test } from "tap";
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { TEST_IMAGE_HTTP_PORT, TEST_IMAGE_NAME } from "../../scripts/cluster/images.js";
import { terminateProcess } from "../helpers/test-host.js";
import { eventually } from "../helpers/wait.js";
import { cmd, nodeIp, nodeIp6, type Cluster } from "./harness.js";
import { coilPods, getJson, ipFamily, ok, podIps, podMetrics, podReady, type PodJson } from "./kube.js";

/** Upper bounds of the waits (scaled for load by `eventually`). */
const LONG = 300_000;
const MEDIUM = 120_000;

/** The Egress namespace (Coil's e2e: `internet`). */
const NS = "internet";
/** The fake internet addresses (Coil's e2e). */
const FAKE: Readonly<Record<4 | 6, string>> = { 4: "9.9.9.9", 6: "2606:4700:4700::9999" };
const MIB = 1 << 20;
/** The port of the echo server on node 1's own addresses and of the originating-only client pods (Coil: 12345). */
const OO_PORT = 12345;
/**
 * N of Coil's "1 + N transfers of 1 MiB" per client and family (Coil: 100). `COIL_E2E_EGRESS_ROUNDS`
 * overrides it (e.g. 5 while developing).
 */
const ROUNDS = ((): number => {
  const v = Number(process.env["COIL_E2E_EGRESS_ROUNDS"]);
  return Number.isInteger(v) && v >= 0 ? v : 100;
})();
/** Label of every client pod the egress tests create (for the cleanup). */
const CLIENT_LABEL = "e2e.coil.egress";

/** The parts of an apps/v1 Deployment read here. */
interface DeploymentJson {
  metadata: { name: string; generation?: number };
  spec: { template: { spec: { containers: { name: string; args?: string[] }[] } } };
  status: { readyReplicas?: number; updatedReplicas?: number; replicas?: number; observedGeneration?: number };
}

/** One Egress of the scenario, as Coil's e2e manifests define them (pods pinned to `node`). */
interface EgressSpec {
  readonly name: string;
  readonly replicas: number;
  readonly destinations: readonly string[];
  readonly fouSourcePortAuto?: boolean;
  readonly pdb?: boolean;
}

function egressManifest(e: EgressSpec, node: string): string {
  return JSON.stringify({
    apiVersion: "coil.cybozu.com/v2",
    kind: "Egress",
    metadata: { name: e.name, namespace: NS },
    spec: {
      replicas: e.replicas,
      destinations: e.destinations,
      ...(e.fouSourcePortAuto === true ? { fouSourcePortAuto: true } : {}),
      template: { spec: { nodeSelector: { "kubernetes.io/hostname": node }, containers: [{ name: "egress" }] } },
      ...(e.pdb === true ? { podDisruptionBudget: { maxUnavailable: 1 } } : {}),
    },
  });
}

/**
 * A client pod of the test image pinned to `node`, annotated for Egress `egress` of namespace
 * `internet`. By default it runs http-echo on :8080 with a readiness probe; `oo` runs it on
 * {@link OO_PORT} without one (Coil's originating-only client has none: with originating-only off the
 * kubelet's probe from the node address is answered through the tunnel and never arrives).
 */
function clientManifest(name: string, node: string, egress: string, oo = false): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default", labels: { [CLIENT_LABEL]: "1" }, annotations: { [`egress.coil.cybozu.com/${NS}`]: egress } },
    spec: {
      nodeSelector: { "kubernetes.io/hostname": node },
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: "main",
          image: TEST_IMAGE_NAME,
          imagePullPolicy: "Never",
          ...(oo
            ? { command: ["/bin/http-echo", "-port", String(OO_PORT)] }
            : { readinessProbe: { tcpSocket: { port: TEST_IMAGE_HTTP_PORT }, periodSeconds: 1 } }),
        },
      ],
    },
  });
}

async function pod(c: Cluster, name: string, namespace = "default"): Promise<PodJson | undefined> {
  return (await getJson<PodJson>(c, ["pods", "-n", namespace, "--field-selector", `metadata.name=${name}`]))[0];
}

/** Create a client pod and wait until it is Ready (or, without a readiness probe, running with its addresses). */
async function runClient(c: Cluster, name: string, node: string, egress: string, oo = false): Promise<PodJson> {
  await ok(c, ["apply", "-f", "-"], clientManifest(name, node, egress, oo));
  return eventually(
    `pod ${name} on ${node} ${oo ? "running" : "Ready"} (annotated for Egress ${NS}/${egress})`,
    async () => {
      const p = await pod(c, name);
      if (p === undefined || podIps(p).length === 0) return undefined;
      const running = p.status.phase === "Running" && p.status.containerStatuses?.[0]?.state?.running !== undefined;
      return (oo ? running : podReady(p)) ? p : undefined;
    },
    { timeoutMs: LONG, intervalMs: 500 },
  );
}

async function deployment(c: Cluster, name: string): Promise<DeploymentJson | undefined> {
  const r = await c.kubectl(["-n", NS, "get", "deployment", name, "-o", "json"]);
  return r.code === 0 ? (JSON.parse(r.stdout) as DeploymentJson) : undefined;
}

/** Apply an Egress (retried while the webhook is not answering, as Coil's e2e) and wait until its Deployment has `replicas` Ready. */
async function applyEgress(c: Cluster, e: EgressSpec, node: string): Promise<DeploymentJson> {
  await eventually(`Egress ${NS}/${e.name} applied`, async () => ((await c.kubectl(["apply", "-f", "-"], egressManifest(e, node))).code === 0 ? true : undefined), { timeoutMs: MEDIUM, intervalMs: 500 });
  return eventually(
    `Deployment ${NS}/${e.name} with ${e.replicas} Ready replicas`,
    async () => {
      const d = await deployment(c, e.name);
      return d !== undefined && d.status.readyReplicas === e.replicas ? d : undefined;
    },
    { timeoutMs: LONG, intervalMs: 500 },
  );
}

/** The Ready egress pods of an Egress. */
async function egressPods(c: Cluster, egress: string): Promise<PodJson[]> {
  return (await getJson<PodJson>(c, ["pods", "-n", NS, "-l", `app.kubernetes.io/instance=${egress}`])).filter(podReady);
}

/** The ClusterIPs of an Egress's Service. */
async function clusterIps(c: Cluster, egress: string): Promise<string[]> {
  const r = await c.kubectl(["-n", NS, "get", "service", egress, "-o", "jsonpath={.spec.clusterIPs}"]);
  return r.code === 0 && r.stdout !== "" ? (JSON.parse(r.stdout) as string[]) : [];
}

/** argv run inside node `n`'s network namespace (the host's programs: curl, ip). */
const inNode = (c: Cluster, n: number, argv: readonly string[]): string[] => ["nsenter", `--net=/run/netns/${c.state.prefix}-n${n}`, "--", ...argv];

/**
 * A process in the pod's network namespace, found by the pod UID in /proc/<pid>/cgroup: the sandbox's
 * `/pause` (it lives as long as the pod), else any other of the pod's processes (a `kubectl exec`'s
 * may come and go).
 */
function podPid(uid: string): number | undefined {
  let other: number | undefined;
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (!readFileSync(`/proc/${e}/cgroup`, "utf8").includes(`/pod${uid}/`)) continue;
      if (readFileSync(`/proc/${e}/cmdline`, "utf8").split("\0")[0] === "/pause") return Number(e);
      other ??= Number(e);
    } catch {
      /* exited */
    }
  }
  return other;
}

/** Run the host's `argv` (iproute2) in the pod's network namespace; stdout. */
async function inPod(p: PodJson, argv: readonly string[]): Promise<string> {
  const pid = podPid(p.metadata.uid);
  if (pid === undefined) throw new Error(`no process of pod ${p.metadata.name} (${p.metadata.uid})`);
  const r = await cmd(["nsenter", `--net=/proc/${pid}/ns/net`, "--", ...argv]);
  if (r.code !== 0) throw new Error(`${argv.join(" ")} in pod ${p.metadata.name}: exit ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** The pod's network namespace inode (a new sandbox = a new namespace). */
function podNetnsInode(p: PodJson): number {
  const pid = podPid(p.metadata.uid);
  if (pid === undefined) throw new Error(`no process of pod ${p.metadata.name}`);
  return statSync(`/proc/${pid}/ns/net`).ino;
}

interface LinkJson {
  ifname: string;
  ifindex: number;
  linkinfo?: { info_kind?: string; info_data?: { id?: number; remote?: string; remote6?: string; local?: string; local6?: string; port?: number } };
}

/** The egress tunnel devices (`vx4_…`/`vx6_…`) of a pod. */
async function tunnels(p: PodJson): Promise<LinkJson[]> {
  return (JSON.parse(await inPod(p, ["ip", "-d", "-j", "link", "show"])) as LinkJson[]).filter((l) => /^vx[46]_/.test(l.ifname));
}

/** Destinations of the pod's table 118 (`default` for 0.0.0.0/0 and ::/0). */
async function table118(p: PodJson, family: 4 | 6): Promise<string[]> {
  const out = await inPod(p, ["ip", `-${family}`, "-j", "route", "show", "table", "118"]).catch(() => "[]");
  return (JSON.parse(out === "" ? "[]" : out) as { dst: string }[]).map((r) => r.dst);
}

/** What identifies a running pod incarnation: a restart or a new sandbox changes one of these. */
async function incarnation(c: Cluster, name: string): Promise<string> {
  const p = await pod(c, name);
  if (p === undefined) throw new Error(`pod ${name} is gone`);
  const cs = p.status.containerStatuses?.[0];
  return JSON.stringify({ uid: p.metadata.uid, container: cs?.containerID, restarts: cs?.restartCount, started: cs?.state?.running?.startedAt, ips: podIps(p), netns: podNetnsInode(p) });
}

// ---------------------------------------------------------------------------------------------------
// The "internet" on node 1

/**
 * The echo servers in node 1's network namespace: on the fake internet addresses, port 80, a client
 * sends exactly `size` bytes and gets back "<peer address>\n" and the same bytes; on node 1's own
 * addresses, port {@link OO_PORT}, every connection gets "<peer address>\n" (Coil's `echotest
 * -reply-remote`). Prints "ready" once every listener is bound.
 */
const ECHO_SERVER = `const net=require("node:net");
const [size,fake,own,port]=[Number(process.argv[1]),JSON.parse(process.argv[2]),JSON.parse(process.argv[3]),Number(process.argv[4])];
const echo=(c)=>{const b=[];let n=0;c.on("error",()=>{});c.on("data",(d)=>{b.push(d);n+=d.length;if(n===size){c.write(c.remoteAddress+"\\n");c.end(Buffer.concat(b));}else if(n>size)c.destroy();});};
const hello=(c)=>{c.on("error",()=>{});c.end(c.remoteAddress+"\\n");};
const listen=(handler,host,p)=>new Promise((res,rej)=>{const s=net.createServer(handler);s.once("error",rej);s.listen(p,host,res);});
Promise.all([...fake.map((h)=>listen(echo,h,80)),...own.map((h)=>listen(hello,h,port))]).then(()=>console.log("ready"),(e)=>{console.error(String(e));process.exit(1);});`;

/**
 * Put the fake internet addresses on node 1's network namespace and start the echo servers there;
 * undone by `t`'s teardown. Coil puts them on a dummy link; this kernel has no `dummy` module, so they
 * go on the namespace's `lo` (local addresses all the same: the egress pods' packets to them are
 * delivered to node 1's echo server).
 */
async function fakeInternet(t: Test, c: Cluster): Promise<void> {
  const ns = `${c.state.prefix}-n1`;
  const ipn = async (...a: string[]): Promise<void> => {
    const r = await cmd(["ip", "-n", ns, ...a]);
    if (r.code !== 0) throw new Error(`ip -n ${ns} ${a.join(" ")}: ${r.stderr.trim()}`);
  };
  const addrs = [`${FAKE[4]}/32`, `${FAKE[6]}/128`];
  t.teardown(async () => {
    for (const a of addrs) await cmd(["ip", "-n", ns, "addr", "del", a, "dev", "lo"]);
  });
  for (const a of addrs) await ipn("addr", "add", a, "dev", "lo");
  const child: ChildProcess = spawn("nsenter", inNode(c, 1, [process.execPath, "-e", ECHO_SERVER, String(MIB), JSON.stringify([FAKE[4], FAKE[6]]), JSON.stringify([nodeIp(1), nodeIp6(1)]), String(OO_PORT)]).slice(1), {
    stdio: ["ignore", "pipe", "pipe"],
  });
  t.teardown(() => terminateProcess(child));
  let stderr = "";
  child.stderr?.on("data", (b: Buffer) => (stderr += b.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once("data", () => resolve());
    child.once("exit", (code) => reject(new Error(`echo server in ${ns} exited ${String(code)}: ${stderr}`)));
  });
}

// ---------------------------------------------------------------------------------------------------
// Transfers

/** What a batch of transfers from a client pod saw. */
interface Transfers {
  /** Transfers whose 1 MiB came back unchanged. */
  readonly ok: number;
  /** Peer addresses the echo server reported. */
  readonly sources: string[];
  /** The first failed transfers, as the pod reported them. */
  readonly failures: string[];
  /** Wall time of the batch. */
  readonly seconds: number;
}

/**
 * One transfer from inside the client pod's container (busybox, as Coil's `kubectl exec … curl -T -`):
 * a TCP connection to `host`:80 sending a random 1 MiB; the echo server answers with the peer address it
 * saw and the bytes. Prints "<peer> <bytes received> same|differ".
 */
const TRANSFER_SCRIPT = `head -c ${MIB} /dev/urandom >/tmp/body
timeout 20 nc "$1" 80 </tmp/body >/tmp/out 2>/dev/null
if tail -c ${MIB} /tmp/out | cmp -s - /tmp/body; then v=same; else v=differ; fi
echo "$(head -n 1 /tmp/out | head -c 64 | tr -d '\\n') $(($(wc -c </tmp/out))) $v"`;

/**
 * `rounds` sequential transfers as {@link TRANSFER_SCRIPT}'s, each a new TCP connection (a new flow:
 * VXLAN's outer source port follows the inner flow, so each is also a new UDP flow through kube-proxy),
 * made by Node in the pod's network namespace: busybox's nc took 0.55–0.8 s a transfer here (100 in
 * 55–78 s, loaded machine), which would make Coil's 100 per client and family cost minutes. Prints one
 * JSON line.
 */
const TRANSFER_CLIENT = `const net=require("node:net");const crypto=require("node:crypto");
const [host,size,rounds]=[process.argv[1],Number(process.argv[2]),Number(process.argv[3])];
const body=crypto.randomBytes(size);const sources=new Set();const failures=[];let ok=0;
const one=()=>new Promise((res)=>{const c=net.connect({host,port:80});const b=[];let done=false;
const fin=(why)=>{if(done)return;done=true;if(why!==undefined&&failures.length<5)failures.push(why);res();};
c.on("data",(d)=>b.push(d));c.on("error",(e)=>fin(String(e)));c.setTimeout(20000,()=>{c.destroy();fin("timeout");});
c.on("end",()=>{const all=Buffer.concat(b);const nl=all.indexOf(10);const src=nl<0?"":all.subarray(0,nl).toString();if(src!=="")sources.add(src);
if(nl>=0&&all.subarray(nl+1).equals(body)){ok++;fin();}else fin(src+" "+all.length);});c.end(body);});
(async()=>{const t0=process.hrtime.bigint();for(let i=0;i<rounds;i++)await one();
console.log(JSON.stringify({ok,sources:[...sources].sort(),failures,seconds:Number(process.hrtime.bigint()-t0)/1e9}));})();`;

/** One transfer from inside the client pod's container ({@link TRANSFER_SCRIPT}). */
async function transferInPod(c: Cluster, client: string, host: string): Promise<Transfers> {
  const t0 = Date.now();
  const out = (await ok(c, ["exec", client, "--", "sh", "-c", TRANSFER_SCRIPT, "sh", host])).trim();
  const m = /^(\S*) (\d+) (same|differ)$/.exec(out);
  const source = m?.[1] ?? "";
  const good = m !== null && m[3] === "same" && Number(m[2]) === source.length + 1 + MIB;
  return { ok: good ? 1 : 0, sources: source === "" ? [] : [source], failures: good ? [] : [out], seconds: (Date.now() - t0) / 1000 };
}

/** `rounds` transfers from the client pod's network namespace ({@link TRANSFER_CLIENT}). */
async function transfersFromPodNetns(p: PodJson, host: string, rounds: number): Promise<Transfers> {
  const out = await inPod(p, [process.execPath, "-e", TRANSFER_CLIENT, host, String(MIB), String(rounds)]);
  return JSON.parse(out.trim()) as Transfers;
}

/**
 * Coil's NAT traffic test for one client and family: 1 transfer (from inside the container), then
 * `ROUNDS` more (from the pod's network namespace); every one returns its 1 MiB, and the echo server saw
 * one of the Egress's pods' addresses, never the client's.
 */
async function natTraffic(t: Test, c: Cluster, client: PodJson, egress: string, family: 4 | 6, log: (m: string) => void): Promise<void> {
  const gateways = (await egressPods(c, egress)).flatMap(podIps).filter((ip) => ipFamily(ip) === family);
  const own = podIps(client);
  const name = client.metadata.name;
  const check = (r: Transfers, rounds: number, how: string): void => {
    t.same({ ok: r.ok, failures: r.failures }, { ok: rounds, failures: [] }, `${name} IPv${family}: ${rounds} × 1 MiB to ${FAKE[family]} through Egress ${egress} echoed back (${how})`);
    t.ok(r.sources.length > 0 && r.sources.every((x) => gateways.includes(x)), `the echo server saw egress pod addresses only (${r.sources.join(" ")}; egress pods ${gateways.join(" ")})`);
    t.notOk(r.sources.some((x) => own.includes(x)), `never the client's own address (${own.join(" ")})`);
  };
  check(await transferInPod(c, name, FAKE[family]), 1, "busybox nc in the pod's container");
  if (ROUNDS === 0) return;
  const r = await transfersFromPodNetns(client, FAKE[family], ROUNDS);
  check(r, ROUNDS, "sequential connections from the pod's network namespace");
  log(`${name} IPv${family}: ${ROUNDS} × 1 MiB through ${egress} in ${r.seconds.toFixed(1)} s (${(ROUNDS / r.seconds).toFixed(1)} transfers/s)`);
}

/** Wait until every pod of `egress` routes the client's addresses back through a tunnel (its coil_egress_client_pod_info series, read from node 1). */
async function servedBy(c: Cluster, egress: string, client: PodJson): Promise<void> {
  await eventually(
    `the pods of Egress ${egress} serving ${client.metadata.name}`,
    async () => {
      const pods = await egressPods(c, egress);
      if (pods.length === 0) return undefined;
      for (const p of pods) {
        const ip = podIps(p).find((x) => ipFamily(x) === 4) ?? podIps(p)[0] ?? "";
        const r = await cmd(inNode(c, 1, ["curl", "-sf", "--max-time", "5", `http://${ip.includes(":") ? `[${ip}]` : ip}:8080/metrics`]));
        const served = podIps(client).every((a) => r.stdout.includes(`pod="${client.metadata.name}",pod_ip="${a}"`));
        if (!served) return undefined;
      }
      return true;
    },
    { timeoutMs: MEDIUM, intervalMs: 500 },
  );
}

/** A TCP connection from the client pod to node 1's `addr`:{@link OO_PORT}: the peer address the server saw ("" when none). */
async function egressProbe(c: Cluster, client: string, addr: string): Promise<string> {
  const r = await c.kubectl(["exec", client, "--", "sh", "-c", `timeout 10 nc "$1" ${OO_PORT} </dev/null`, "sh", addr]);
  return r.code === 0 ? r.stdout.trim() : "";
}

/** An HTTP request from node 1's network namespace to the client pod's `ip`:{@link OO_PORT} (3 s limit): whether the pod answered. */
async function ingress(c: Cluster, client: string, ip: string): Promise<boolean> {
  const r = await cmd(inNode(c, 1, ["curl", "-s", "--max-time", "3", `http://${ip.includes(":") ? `[${ip}]` : ip}:${OO_PORT}/e2e`]));
  return r.code === 0 && r.stdout.startsWith(`${client} GET /e2e`);
}

// ---------------------------------------------------------------------------------------------------
// The tests

/**
 * Register the egress tests on `t` (in order; they share the Egress namespace as Coil's ordered e2e
 * context does). `log` prints timings.
 */
export function egressTests(t: Test, c: Cluster, log: (m: string) => void): void {
  const [n1, n2, n3] = c.nodeNames as [string, string, string];
  const EGRESS: EgressSpec = { name: "egress", replicas: 2, destinations: ["0.0.0.0/0", "::/0"], pdb: true };
  const SPORT_AUTO: EgressSpec = { name: "egress-sport-auto", replicas: 2, destinations: ["0.0.0.0/0", "::/0"], fouSourcePortAuto: true };
  const UPDATED: EgressSpec = { ...EGRESS, destinations: [`${FAKE[4]}/32`, `${FAKE[6]}/128`], fouSourcePortAuto: true };

  t.test("egress controller: lease coil-egress-leader held, 2 pods Ready, metrics (:9396) non-empty", async (t) => {
    const lease = await c.kubectl(["-n", "kube-system", "get", "lease", "coil-egress-leader", "-o", "jsonpath={.spec.holderIdentity}"]);
    t.equal(lease.code, 0, lease.stderr);
    t.ok(lease.stdout.length > 0, `lease kube-system/coil-egress-leader held by ${lease.stdout}`);
    const pods = (await coilPods(c, "coil-egress-controller")).filter(podReady);
    t.equal(pods.length, 2, "two coil-egress-controller replicas Ready");
    for (const p of pods) t.match(await podMetrics(c, "kube-system", p.metadata.name, 9396), /^# (HELP|TYPE) /m, `${p.metadata.name} :9396/metrics`);
  });

  t.test("egress (§9.11 items 9–13): egress pods on node 1, clients on nodes 2 and 3, over VXLAN", async (t) => {
    const t0 = Date.now();
    t.teardown(async () => {
      await c.kubectl(["delete", "pods", "-n", "default", "-l", `${CLIENT_LABEL}=1`, "--wait=true", "--timeout=300s"]);
      await c.kubectl(["delete", "namespace", NS, "--ignore-not-found", "--wait=true", "--timeout=300s"]);
      log(`egress tests and their cleanup took ${Date.now() - t0} ms`);
    });
    await ok(c, ["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } }));
    await fakeInternet(t, c);

    await t.test("9. an Egress makes 2 Ready pods and a PDB; a fouSourcePortAuto Egress makes 2; deleting an Egress removes its PDB", async (t) => {
      const d = await applyEgress(c, EGRESS, n1);
      t.equal(d.status.readyReplicas, 2, "Deployment internet/egress: 2 Ready replicas");
      const pdb = await eventually("PDB internet/egress", async () => {
        const r = await c.kubectl(["-n", NS, "get", "pdb", "egress", "-o", "json"]);
        return r.code === 0 ? (JSON.parse(r.stdout) as { spec: { maxUnavailable?: number } }) : undefined;
      }, { timeoutMs: MEDIUM, intervalMs: 500 });
      t.equal(pdb.spec.maxUnavailable, 1, "PDB maxUnavailable 1");
      t.same(d.spec.template.spec.containers[0]?.args, ["--zap-stacktrace-level=panic", "--backend=iptables", "--tunnel=vxlan"], "egress pods run coil-egress with the controller's --backend and --tunnel");
      const auto = await applyEgress(c, SPORT_AUTO, n1);
      t.equal(auto.status.readyReplicas, 2, "Deployment internet/egress-sport-auto: 2 Ready replicas");
      t.ok(auto.spec.template.spec.containers[0]?.args?.includes("--enable-sport-auto=true"), "fouSourcePortAuto: --enable-sport-auto=true");
      await ok(c, ["-n", NS, "delete", "egress", "egress", "--wait=true", "--timeout=120s"]);
      await eventually("PDB internet/egress deleted with its Egress", async () => ((await c.kubectl(["-n", NS, "get", "pdb", "egress"])).code !== 0 ? true : undefined), { timeoutMs: MEDIUM, intervalMs: 500 });
      t.pass("the PDB is gone with the Egress");
    });

    let natClient: PodJson | undefined;
    let sportAutoClient: PodJson | undefined;
    await t.test("10–11. annotated clients on nodes 2 and 3 become Ready; 1 + N × 1 MiB per family reach the fake internet from an egress pod's address", async (t) => {
      await applyEgress(c, EGRESS, n1);
      for (const e of [EGRESS.name, SPORT_AUTO.name]) {
        const ips = await eventually(`Service ${NS}/${e} with an IPv4 and an IPv6 ClusterIP`, async () => {
          const x = await clusterIps(c, e);
          return x.length === 2 ? x : undefined;
        }, { timeoutMs: MEDIUM, intervalMs: 500 });
        t.same(ips.map(ipFamily).sort(), [4, 6], `Service ${e}: ClusterIPs ${ips.join(" ")} (PreferDualStack)`);
      }
      natClient = await runClient(c, "nat-client", n2, EGRESS.name);
      sportAutoClient = await runClient(c, "nat-client-sport-auto", n3, SPORT_AUTO.name);
      t.pass(`nat-client Ready on ${n2}, nat-client-sport-auto Ready on ${n3}`);
      for (const [client, egress] of [[natClient, EGRESS.name], [sportAutoClient, SPORT_AUTO.name]] as const) {
        const gw = await clusterIps(c, egress);
        const links = await tunnels(client);
        t.same(
          links.map((l) => [l.linkinfo?.info_kind, l.linkinfo?.info_data?.remote ?? l.linkinfo?.info_data?.remote6, l.linkinfo?.info_data?.port]).sort(),
          gw.map((ip) => ["vxlan", ip, 5555]).sort(),
          `${client.metadata.name}: one VXLAN tunnel per ClusterIP of ${egress}, UDP port 5555`,
        );
        for (const f of [4, 6] as const) t.same(await table118(client, f), ["default"], `${client.metadata.name}: table 118 (IPv${f}) routes the default through the tunnel`);
      }
      for (const [client, egress] of [[natClient, EGRESS.name], [sportAutoClient, SPORT_AUTO.name]] as const) {
        await servedBy(c, egress, client);
        for (const f of [4, 6] as const) await natTraffic(t, c, client, egress, f, log);
      }
    });

    await t.test("12. destinations and fouSourcePortAuto changed live: the client's table 118 follows, the pod is not restarted", async (t) => {
      if (natClient === undefined || sportAutoClient === undefined) return t.fail("needs the clients of 10–11");
      const dummy = await runClient(c, "dummy", n2, SPORT_AUTO.name);
      const before = await incarnation(c, "nat-client");
      const gw = await clusterIps(c, EGRESS.name);
      const t1 = Date.now();
      await ok(c, ["apply", "-f", "-"], egressManifest(UPDATED, n1));
      // The controller updates the Deployment; only then is there a rollout to wait for.
      const d = await eventually("Deployment internet/egress updated by the controller", async () => {
        const x = await deployment(c, EGRESS.name);
        return x?.spec.template.spec.containers[0]?.args?.includes("--enable-sport-auto=true") === true ? x : undefined;
      }, { timeoutMs: MEDIUM, intervalMs: 250 });
      await ok(c, ["-n", NS, "rollout", "status", "deployment/egress", "--timeout=600s"]);
      log(`Egress egress updated (destinations, fouSourcePortAuto): Deployment updated and rolled out in ${Date.now() - t1} ms`);
      t.same(d.spec.template.spec.containers[0]?.args, ["--zap-stacktrace-level=panic", "--enable-sport-auto=true", "--backend=iptables", "--tunnel=vxlan"], "the egress pods now run with --enable-sport-auto=true");
      for (const f of [4, 6] as const) {
        const routes = await eventually(`nat-client's table 118 (IPv${f}) holds ${FAKE[f]} only`, async () => {
          const r = await table118(natClient!, f);
          return r.length === 1 && r[0] === FAKE[f] ? r : undefined;
        }, { timeoutMs: MEDIUM, intervalMs: 250 });
        t.same(routes, [FAKE[f]], `nat-client: table 118 (IPv${f}) has exactly one route, to ${FAKE[f]}`);
      }
      t.equal(await incarnation(c, "nat-client"), before, "nat-client was not restarted (same UID, container, start time, addresses, network namespace)");
      // VXLAN has no fixed-source-port mode: its devices always take the UDP source port from the flow
      // hash, which is what fouSourcePortAuto asks of FoU. The tunnels stay what they were.
      t.same((await tunnels(natClient)).map((l) => l.linkinfo?.info_data?.remote ?? l.linkinfo?.info_data?.remote6).sort(), [...gw].sort(), "nat-client: still one VXLAN tunnel per ClusterIP of egress");
      t.equal((await tunnels(dummy)).length, 2, "dummy (Egress egress-sport-auto, same node): exactly 2 tunnel devices (IPv4 and IPv6), none added by the update of egress");
      await servedBy(c, EGRESS.name, natClient);
      for (const f of [4, 6] as const) await natTraffic(t, c, natClient, EGRESS.name, f, log);
      await ok(c, ["delete", "pods", "-n", "default", "-l", `${CLIENT_LABEL}=1`, "--wait=true", "--timeout=300s"]);
      await ok(c, ["-n", NS, "delete", "egress", EGRESS.name, SPORT_AUTO.name, "--wait=true", "--timeout=120s"]);
    });

    await t.test("13. originating-only off, then on: egress through the tunnel works; ingress to the client fails, then works", async (t) => {
      const destinations = ["10.20.30.0/24", "fd10:20:30::/64"]; // the cluster bridge (Coil: the kind network)
      const node1 = { 4: nodeIp(1), 6: nodeIp6(1) } as const;
      const check = async (t: Test, originatingOnly: boolean): Promise<void> => {
        const name = `egress-originatingonly-${originatingOnly}`;
        const client = `nat-client-originatingonly-${originatingOnly}`;
        await applyEgress(c, { name, replicas: 1, destinations, fouSourcePortAuto: true }, n1);
        await eventually(`Service ${NS}/${name} with two ClusterIPs`, async () => ((await clusterIps(c, name)).length === 2 ? true : undefined), { timeoutMs: MEDIUM, intervalMs: 500 });
        const p = await runClient(c, client, n3, name, true);
        await servedBy(c, name, p);
        const gateways = (await egressPods(c, name)).flatMap(podIps);
        await eventually(`${client} serving on :${OO_PORT}`, async () => {
          const r = await c.kubectl(["exec", client, "--", "sh", "-c", `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 5 nc 127.0.0.1 ${OO_PORT}`]);
          return r.stdout.includes(client) ? true : undefined;
        }, { timeoutMs: MEDIUM, intervalMs: 500 });
        for (const f of [4, 6] as const) {
          // The first connection of a family may wait for the tunnel's neighbour entries: wait for the answer.
          const seen = await eventually(`${client} → ${node1[f]}:${OO_PORT} answered`, async () => {
            const x = await egressProbe(c, client, node1[f]);
            return x === "" ? undefined : x;
          }, { timeoutMs: MEDIUM, intervalMs: 500 });
          t.ok(gateways.includes(seen), `${client}: a connection to ${node1[f]}:${OO_PORT} (node 1, a destination) arrives from the egress pod (${seen}; egress pod ${gateways.join(" ")})`);
        }
        for (const ip of podIps(p)) {
          if (originatingOnly) {
            const answered = await eventually(`node 1 → ${client} (${ip}) answered`, async () => ((await ingress(c, client, ip)) ? true : undefined), { timeoutMs: MEDIUM, intervalMs: 500 });
            t.ok(answered, `originating-only on: node 1 reaches ${client} at ${ip}:${OO_PORT} (IPv${ipFamily(ip)})`);
          } else {
            t.notOk(await ingress(c, client, ip), `originating-only off: node 1 does not reach ${client} at ${ip}:${OO_PORT} (IPv${ipFamily(ip)}): the replies go into the tunnel`);
          }
        }
        await ok(c, ["delete", "pod", "-n", "default", client, "--wait=true", "--timeout=300s"]);
        await ok(c, ["-n", NS, "delete", "egress", name, "--wait=true", "--timeout=120s"]);
      };

      await t.test("originating-only off (coild's default)", (t) => check(t, false));

      await t.test("originating-only on (coild --enable-originating-only=true, rolled out)", async (t) => {
        const ds = JSON.parse(await ok(c, ["-n", "kube-system", "get", "daemonset", "coild", "-o", "json"])) as { spec: { template: { spec: { containers: { args: string[] }[] } } } };
        const args = ds.spec.template.spec.containers[0]?.args ?? [];
        const rollout = async (what: string, value: string[]): Promise<void> => {
          const t1 = Date.now();
          await ok(c, ["-n", "kube-system", "patch", "daemonset", "coild", "--type=json", "-p", JSON.stringify([{ op: "replace", path: "/spec/template/spec/containers/0/args", value }])]);
          await ok(c, ["-n", "kube-system", "rollout", "status", "daemonset/coild", "--timeout=900s"]);
          log(`coild ${what}: rollout ${Date.now() - t1} ms`);
        };
        t.teardown(() => rollout("back to its deployed arguments", args));
        await rollout("with --enable-originating-only=true", [...args, "--enable-originating-only=true"]);
        await check(t, true);
      });
    });
  });
}
