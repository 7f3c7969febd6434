/**
 * A real multi-node Kubernetes cluster on one machine, for people (`npm run cluster -- up|down|status`)
 * and for tests (start it once per run with {@link clusterUp}, stop it with {@link clusterDown}).
 *
 * Layout (see docs/cluster.md):
 *   - `<prefix>-cp`: a network namespace with bridge `br0` (10.20.30.1/24, fd10:20:30::1/64, fixed MAC)
 *     running etcd, kube-apiserver (the envtest binaries), kube-controller-manager and kube-scheduler;
 *   - `<prefix>-n<N>` (N = 1..nodes): a network namespace (eth0 10.20.30.1N on the bridge) plus a
 *     private, persistent mount namespace in which containerd + runc (Debian's), kubelet and kube-proxy run.
 *
 * The host stays untouched: the kernel settings kubelet insists on are plain files bind-mounted over
 * their `/proc/sys` entries inside the node's mount namespace (and `protectKernelDefaults: true` makes
 * kubelet only check them); kube-proxy's conntrack settings are zero (it writes none); `/run/containerd`,
 * `/var/log`, the volume plugin and pod log directories are per node; each node's kubelet uses its own
 * cgroup root `/<prefix>-n<N>` (created here, removed by {@link clusterDown}). Every process is started
 * with an argv array and stopped by its recorded PID (checked against its start time).
 *
 * Errors are thrown (this is a process edge: the CLI and test set-up report them).
 *
 * @module
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, readdirSync } from "node:fs";
import { copyFile, mkdir, readFile, rm, rmdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { renderKustomization, toYamlStream } from "../../scripts/render-manifests.js";
import { eventually } from "../helpers/wait.js";

/** The repository root. */
export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** What the cluster runs as pod network. */
export type ClusterCni = "ptp" | "coil";

/** Options of {@link clusterUp}. */
export interface ClusterOptions {
  /** State directory (default `$COIL_CLUSTER_DIR` or `<tmpdir>/coil-cluster`). */
  readonly dir?: string;
  /** Name prefix of namespaces, nodes and cgroup roots (default `coilcl`). */
  readonly prefix?: string;
  /** Number of nodes, 1..9 (default 3). */
  readonly nodes?: number;
  /** Pod network: Debian's ptp + host-local, or Coil deployed from its image and manifests (default ptp). */
  readonly cni?: ClusterCni;
  /**
   * With `cni: "coil"`: a directory of `config/variants` (e.g. `vxlan`) rendered and applied instead of
   * `config/rendered/coil.yaml` (default: none, the rendered default manifests).
   */
  readonly variant?: string;
  /** Progress messages. */
  readonly log?: (msg: string) => void;
}

/** A recorded process of the cluster. */
export interface ProcRecord {
  readonly name: string;
  readonly pid: number;
  /** Start time in clock ticks since boot (/proc/<pid>/stat field 22): guards against PID reuse. */
  readonly start: string;
  readonly log: string;
}

/** What `state.json` in the state directory holds. */
export interface ClusterState {
  readonly dir: string;
  readonly prefix: string;
  readonly nodes: number;
  readonly cni: ClusterCni;
  /** The `config/variants` directory Coil was deployed from, if any. */
  readonly variant?: string;
  procs: ProcRecord[];
  /** Milliseconds `up` took, once it finished. */
  upMs?: number;
}

/** Paths of the programs the cluster runs (from scripts/envtest/build.sh and scripts/cluster/build.sh). */
export interface ClusterBinaries {
  readonly etcd: string;
  readonly kubeApiserver: string;
  readonly kubeControllerManager: string;
  readonly kubeScheduler: string;
  readonly kubelet: string;
  readonly kubeProxy: string;
  readonly kubectl: string;
  readonly pauseImage: string;
  readonly pauseImageName: string;
  readonly testImage: string;
  readonly testImageName: string;
}

const CP_IP = "10.20.30.1";
const CP_IP6 = "fd10:20:30::1";
const BRIDGE_MAC = "02:00:0a:14:1e:01";
/** Dual stack, so a Service with `ipFamilyPolicy: PreferDualStack` (an Egress's) gets an IPv6 ClusterIP too. */
const SERVICE_CIDRS = "10.96.0.0/16,fd00:10:96::/112";
const SERVICE_IP = "10.96.0.1";
/** The kernel settings kubelet checks with protectKernelDefaults (shadowed per node, never written). */
const KUBELET_SYSCTLS: ReadonlyArray<readonly [string, string]> = [
  ["vm/overcommit_memory", "1"],
  ["vm/panic_on_oom", "0"],
  ["kernel/panic", "10"],
  ["kernel/panic_on_oops", "1"],
  ["kernel/keys/root_maxkeys", "1000000"],
  ["kernel/keys/root_maxbytes", "25000000"],
];
const CGROUP_FS = "/sys/fs/cgroup";

/** IPv4 address of node `n` on the cluster bridge. */
export const nodeIp = (n: number): string => `10.20.30.${10 + n}`;
/** IPv6 address of node `n` on the cluster bridge. */
export const nodeIp6 = (n: number): string => `fd10:20:30::${10 + n}`;
/** Pod subnet of node `n` with the ptp CNI. */
export const ptpSubnet = (n: number): string => `10.244.${n}.0/24`;

/** Resolved defaults of {@link ClusterOptions}. */
export function clusterDefaults(opts: ClusterOptions = {}): { dir: string; prefix: string; nodes: number; cni: ClusterCni; variant?: string } {
  const nodes = opts.nodes ?? 3;
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 9) throw new Error(`nodes must be 1..9, got ${nodes}`);
  const prefix = opts.prefix ?? "coilcl";
  if (!/^[a-z][a-z0-9]{1,10}$/.test(prefix)) throw new Error(`prefix must be 2-11 lower-case letters/digits, got ${prefix}`);
  const cni = opts.cni ?? "ptp";
  const variant = opts.variant;
  if (variant !== undefined) {
    if (cni !== "coil") throw new Error(`a variant (${variant}) needs cni coil, got ${cni}`);
    if (!/^[a-z0-9][a-z0-9-]*$/.test(variant) || !existsSync(join(REPO_ROOT, "config", "variants", variant, "kustomization.yaml"))) {
      throw new Error(`variant must name a directory of config/variants, got ${JSON.stringify(variant)}`);
    }
  }
  const dir = resolve(opts.dir ?? process.env.COIL_CLUSTER_DIR ?? join(tmpdir(), "coil-cluster"));
  // Each node overlays /etc, /opt and /var/lib with upper layers in this directory: overlayfs refuses an
  // upper layer inside its own lower one.
  for (const top of ["/etc", "/opt", "/var/lib"]) {
    if (dir === top || dir.startsWith(`${top}/`)) throw new Error(`the cluster directory ${dir} must not be under ${top} (the nodes overlay ${top} with layers kept in it)`);
  }
  return { dir, prefix, nodes, cni, ...(variant === undefined ? {} : { variant }) };
}

// ---------------------------------------------------------------------------------------------------
// Processes

/** Result of a short command. */
export interface CmdResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run `argv` (no shell) to completion and return its exit code and output. */
export function cmd(argv: readonly string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CmdResult> {
  return new Promise((resolve, reject) => {
    const [file, ...args] = argv;
    if (file === undefined) return reject(new Error("empty argv"));
    const child = spawn(file, args, { shell: false, stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"], env: opts.env ?? process.env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on("data", (b: Buffer) => out.push(b));
    child.stderr?.on("data", (b: Buffer) => err.push(b));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
    if (opts.input !== undefined && child.stdin !== null) {
      child.stdin.on("error", () => undefined); // a child that exits without reading its input: its exit code tells
      child.stdin.end(opts.input);
    }
  });
}

/** Run `argv` and return its stdout; throw with its stderr when it fails. */
export async function must(argv: readonly string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const r = await cmd(argv, opts);
  if (r.code !== 0) throw new Error(`${argv.join(" ")}: exit ${r.code}: ${r.stderr.trim().slice(-2000)}`);
  return r.stdout;
}

function procStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which is in parentheses and may hold spaces); field 22 = starttime.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** Whether the recorded process is still the one that was started. */
export function procAlive(p: ProcRecord): boolean {
  return procStart(p.pid) === p.start;
}

/** Poll `probe` every `intervalMs` until it returns a value; throw naming `what` after `timeoutMs` (the shared {@link eventually}). */
export function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, abortIf?: () => string | undefined, intervalMs = 200): Promise<T> {
  return eventually(what, probe, { timeoutMs, intervalMs, ...(abortIf === undefined ? {} : { abortIf }) });
}

// ---------------------------------------------------------------------------------------------------
// State

const statePath = (dir: string): string => join(dir, "state.json");

/** Read the state of a cluster in `dir`, or undefined when there is none. */
export function readState(dir: string): ClusterState | undefined {
  try {
    return JSON.parse(readFileSync(statePath(dir), "utf8")) as ClusterState;
  } catch {
    return undefined;
  }
}

async function saveState(s: ClusterState): Promise<void> {
  await writeFile(statePath(s.dir), `${JSON.stringify(s, null, 2)}\n`);
}

/** The handle {@link clusterUp} returns: paths and helpers to drive the cluster. */
export interface Cluster {
  readonly state: ClusterState;
  readonly bins: ClusterBinaries;
  /** Admin kubeconfig (server https://10.20.30.1:6443, reachable from the cluster's namespaces only). */
  readonly kubeconfig: string;
  /** A script running kubectl with the admin kubeconfig inside the control-plane namespace. */
  readonly kubectlScript: string;
  /** Run kubectl (inside the control-plane network namespace) and return its result. */
  kubectl(args: readonly string[], input?: string): Promise<CmdResult>;
  /** Node names, in order. */
  readonly nodeNames: readonly string[];
}

const netnsName = (s: { prefix: string }, n: number | "cp"): string => (n === "cp" ? `${s.prefix}-cp` : `${s.prefix}-n${n}`);
const nodeDir = (s: { dir: string }, n: number): string => join(s.dir, `n${n}`);
const mntnsFile = (s: { dir: string }, n: number): string => join(nodeDir(s, n), "mntns");

function inNode(s: ClusterState, n: number, argv: readonly string[]): string[] {
  return ["nsenter", `--mount=${mntnsFile(s, n)}`, `--net=/run/netns/${netnsName(s, n)}`, "--", ...argv];
}
function inCp(s: ClusterState, argv: readonly string[]): string[] {
  return ["nsenter", `--net=/run/netns/${netnsName(s, "cp")}`, "--", ...argv];
}

/** Start a daemon (argv already wrapped in nsenter, which execs it) detached, with its output in a log. */
async function daemon(s: ClusterState, name: string, argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<ProcRecord> {
  const log = join(s.dir, "logs", `${name}.log`);
  const fd = openSync(log, "a");
  try {
    const [file, ...args] = argv;
    if (file === undefined) throw new Error("empty argv");
    const child = spawn(file, args, { shell: false, detached: true, stdio: ["ignore", fd, fd], cwd: s.dir, env });
    const pid = child.pid;
    if (pid === undefined) throw new Error(`${name}: spawn failed`);
    child.unref();
    const start = procStart(pid);
    if (start === undefined) throw new Error(`${name} exited at once; see ${log}`);
    const rec = { name, pid, start, log };
    s.procs.push(rec);
    await saveState(s);
    return rec;
  } finally {
    closeSync(fd);
  }
}

function logTail(path: string, lines = 15): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

const exitedReason = (p: ProcRecord) => (): string | undefined => (procAlive(p) ? undefined : `${p.name} (pid ${p.pid}) exited; log ${p.log}:\n${logTail(p.log)}`);

// ---------------------------------------------------------------------------------------------------
// Binaries

function parseKeyValues(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
}

/**
 * Find (or build) every program and image the cluster needs: scripts/envtest/build.sh for etcd and
 * kube-apiserver, scripts/cluster/build.sh for the rest. With `noBuild`, a missing one is an error.
 */
export async function findClusterBinaries(noBuild = false): Promise<ClusterBinaries> {
  const env = { ...process.env, ...(noBuild ? { COIL_ENVTEST_NO_BUILD: "1", COIL_CLUSTER_NO_BUILD: "1" } : {}) };
  const envtest = parseKeyValues(await must(["bash", join(REPO_ROOT, "scripts/envtest/build.sh")], { env }));
  const cluster = parseKeyValues(await must(["bash", join(REPO_ROOT, "scripts/cluster/build.sh")], { env }));
  const get = (m: Map<string, string>, k: string): string => {
    const v = m.get(k);
    if (v === undefined) throw new Error(`build scripts did not report ${k}`);
    if (!k.endsWith("_NAME") && !existsSync(v)) throw new Error(`${k}=${v}: no such file`);
    return v;
  };
  return {
    etcd: get(envtest, "ETCD"),
    kubeApiserver: get(envtest, "KUBE_APISERVER"),
    kubeControllerManager: get(cluster, "KUBE_CONTROLLER_MANAGER"),
    kubeScheduler: get(cluster, "KUBE_SCHEDULER"),
    kubelet: get(cluster, "KUBELET"),
    kubeProxy: get(cluster, "KUBE_PROXY"),
    kubectl: get(cluster, "KUBECTL"),
    pauseImage: get(cluster, "PAUSE_IMAGE"),
    pauseImageName: get(cluster, "PAUSE_IMAGE_NAME"),
    testImage: get(cluster, "TEST_IMAGE"),
    testImageName: get(cluster, "TEST_IMAGE_NAME"),
  };
}

// ---------------------------------------------------------------------------------------------------
// PKI and kubeconfig

async function makePki(pki: string): Promise<void> {
  await mkdir(pki, { recursive: true });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  const ext = (name: string, body: string): Promise<void> => writeFile(join(pki, `${name}.ext`), body);
  await ext("ca", "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\n");
  await ext(
    "serving",
    `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:${CP_IP},IP:127.0.0.1,IP:${SERVICE_IP},DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\n`,
  );
  await ext("client", "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n");
  const p = (f: string): string => join(pki, f);
  await must(["openssl", "req", "-new", ...ec, "-keyout", p("ca.key"), "-out", p("ca.csr"), "-subj", "/CN=coil-cluster-ca"]);
  await must(["openssl", "x509", "-req", "-in", p("ca.csr"), "-signkey", p("ca.key"), "-out", p("ca.crt"), "-days", "30", "-extfile", p("ca.ext")]);
  const issue = async (name: string, subj: string, extName: string): Promise<void> => {
    await must(["openssl", "req", "-new", ...ec, "-keyout", p(`${name}.key`), "-out", p(`${name}.csr`), "-subj", subj]);
    await must(["openssl", "x509", "-req", "-in", p(`${name}.csr`), "-CA", p("ca.crt"), "-CAkey", p("ca.key"), "-CAcreateserial", "-out", p(`${name}.crt`), "-days", "30", "-extfile", p(`${extName}.ext`)]);
  };
  await issue("serving", "/CN=kube-apiserver", "serving");
  await issue("admin", "/O=system:masters/CN=coil-cluster-admin", "client");
  await must(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", p("sa.key")]);
  await must(["openssl", "pkey", "-in", p("sa.key"), "-pubout", "-out", p("sa.pub")]);
}

async function writeKubeconfig(path: string, pki: string): Promise<void> {
  const b64 = async (f: string): Promise<string> => (await readFile(join(pki, f))).toString("base64");
  await writeFile(
    path,
    [
      "apiVersion: v1",
      "kind: Config",
      `clusters: [{name: coil-cluster, cluster: {server: "https://${CP_IP}:6443", certificate-authority-data: ${await b64("ca.crt")}}}]`,
      `users: [{name: admin, user: {client-certificate-data: ${await b64("admin.crt")}, client-key-data: ${await b64("admin.key")}}}]`,
      "contexts: [{name: coil-cluster, context: {cluster: coil-cluster, user: admin}}]",
      "current-context: coil-cluster",
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
}

// ---------------------------------------------------------------------------------------------------
// Network

async function netnsExists(name: string): Promise<boolean> {
  return existsSync(join("/run/netns", name));
}

async function controlPlaneNet(s: ClusterState): Promise<void> {
  const cp = netnsName(s, "cp");
  if (await netnsExists(cp)) throw new Error(`network namespace ${cp} exists already: run down first`);
  await must(["ip", "netns", "add", cp]);
  const ipn = (...a: string[]): Promise<string> => must(["ip", "-n", cp, ...a]);
  await ipn("link", "set", "lo", "up");
  await ipn("link", "add", "br0", "address", BRIDGE_MAC, "type", "bridge");
  await ipn("addr", "add", `${CP_IP}/24`, "dev", "br0");
  await ipn("addr", "add", `${CP_IP6}/64`, "dev", "br0", "nodad");
  await ipn("link", "set", "br0", "up");
}

async function nodeNet(s: ClusterState, n: number): Promise<void> {
  const nn = netnsName(s, n);
  const cp = netnsName(s, "cp");
  if (await netnsExists(nn)) throw new Error(`network namespace ${nn} exists already: run down first`);
  await must(["ip", "netns", "add", nn]);
  const ipn = (...a: string[]): Promise<string> => must(["ip", "-n", nn, ...a]);
  await ipn("link", "set", "lo", "up");
  await ipn("link", "add", "eth0", "type", "veth", "peer", "name", `n${n}`, "netns", cp);
  await must(["ip", "-n", cp, "link", "set", `n${n}`, "master", "br0", "up"]);
  await ipn("addr", "add", `${nodeIp(n)}/24`, "dev", "eth0");
  await ipn("addr", "add", `${nodeIp6(n)}/64`, "dev", "eth0", "nodad");
  await ipn("link", "set", "eth0", "up");
  await ipn("route", "add", "default", "via", CP_IP);
  await ipn("-6", "route", "add", "default", "via", CP_IP6);
}

// ---------------------------------------------------------------------------------------------------
// Control plane

async function controlPlaneUp(s: ClusterState, bins: ClusterBinaries, log: (m: string) => void): Promise<void> {
  const cpDir = join(s.dir, "cp");
  const pki = join(cpDir, "pki");
  await mkdir(cpDir, { recursive: true });
  await makePki(pki);
  const kubeconfig = join(s.dir, "kubeconfig");
  await writeKubeconfig(kubeconfig, pki);
  await writeFile(
    join(s.dir, "kubectl"),
    `#!/bin/sh\n# kubectl against the coil-ts local cluster (its API server is reachable from its namespaces only)\nexec nsenter --net=/run/netns/${netnsName(s, "cp")} -- ${bins.kubectl} --kubeconfig=${kubeconfig} "$@"\n`,
    { mode: 0o755 },
  );
  await controlPlaneNet(s);
  const etcd = await daemon(
    s,
    "etcd",
    inCp(s, [
      bins.etcd,
      "--name=coil-cluster",
      `--data-dir=${join(cpDir, "etcd-data")}`,
      "--listen-client-urls=http://127.0.0.1:2379",
      "--advertise-client-urls=http://127.0.0.1:2379",
      "--listen-peer-urls=http://127.0.0.1:2380",
      "--initial-advertise-peer-urls=http://127.0.0.1:2380",
      "--initial-cluster=coil-cluster=http://127.0.0.1:2380",
      "--unsafe-no-fsync=true",
      "--log-level=warn",
    ]),
  );
  const api = await daemon(
    s,
    "kube-apiserver",
    inCp(s, [
      bins.kubeApiserver,
      "--etcd-servers=http://127.0.0.1:2379",
      `--cert-dir=${join(cpDir, "apiserver-certs")}`,
      `--tls-cert-file=${join(pki, "serving.crt")}`,
      `--tls-private-key-file=${join(pki, "serving.key")}`,
      `--client-ca-file=${join(pki, "ca.crt")}`,
      "--secure-port=6443",
      `--bind-address=${CP_IP}`,
      `--advertise-address=${CP_IP}`,
      `--service-cluster-ip-range=${SERVICE_CIDRS}`,
      "--allow-privileged=true",
      "--authorization-mode=Node,RBAC",
      `--service-account-issuer=https://${CP_IP}:6443/`,
      `--service-account-key-file=${join(pki, "sa.pub")}`,
      `--service-account-signing-key-file=${join(pki, "sa.key")}`,
      "--kubelet-preferred-address-types=InternalIP",
      `--kubelet-client-certificate=${join(pki, "admin.crt")}`,
      `--kubelet-client-key=${join(pki, "admin.key")}`,
      // The API server has no kube-proxy in its namespace: reach webhook and aggregated services at their endpoints.
      "--enable-aggregator-routing=true",
      "--v=1",
    ]),
  );
  const t0 = Date.now();
  await until(
    "kube-apiserver /readyz",
    async () => ((await kubectlIn(s, bins, ["get", "--raw", "/readyz"])).code === 0 ? true : undefined),
    120_000,
    () => exitedReason(api)() ?? exitedReason(etcd)(),
    500,
  );
  log(`kube-apiserver ready after ${Date.now() - t0} ms`);
  const common = [`--kubeconfig=${kubeconfig}`, `--authentication-kubeconfig=${kubeconfig}`, `--authorization-kubeconfig=${kubeconfig}`, "--leader-elect=false", "--bind-address=127.0.0.1"];
  await daemon(
    s,
    "kube-controller-manager",
    inCp(s, [
      bins.kubeControllerManager,
      ...common,
      "--secure-port=10257",
      `--service-account-private-key-file=${join(pki, "sa.key")}`,
      `--root-ca-file=${join(pki, "ca.crt")}`,
      `--cluster-signing-cert-file=${join(pki, "ca.crt")}`,
      `--cluster-signing-key-file=${join(pki, "ca.key")}`,
      "--use-service-account-credentials=true",
      `--service-cluster-ip-range=${SERVICE_CIDRS}`,
      "--cluster-name=coil-cluster",
      "--v=1",
    ]),
  );
  await daemon(s, "kube-scheduler", inCp(s, [bins.kubeScheduler, ...common, "--secure-port=10259", "--v=1"]));
}

// ---------------------------------------------------------------------------------------------------
// Nodes

async function cgroupControllers(): Promise<string[]> {
  return readdirSync(CGROUP_FS, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => join(CGROUP_FS, e.name));
}

async function createCgroupRoot(name: string): Promise<void> {
  for (const c of await cgroupControllers()) {
    const d = join(c, name);
    await mkdir(d, { recursive: true });
    // A cpuset child starts with no CPUs and memory nodes: copy the parent's.
    if (existsSync(join(c, "cpuset.cpus")) && existsSync(join(d, "cpuset.cpus"))) {
      await writeFile(join(d, "cpuset.cpus"), await readFile(join(c, "cpuset.cpus")));
      await writeFile(join(d, "cpuset.mems"), await readFile(join(c, "cpuset.mems")));
    }
  }
}

/** Every process in a cgroup tree (any controller) named `name` at the top level. */
function cgroupProcs(name: string): number[] {
  const pids = new Set<number>();
  const walk = (d: string): void => {
    try {
      for (const line of readFileSync(join(d, "cgroup.procs"), "utf8").split("\n")) if (line !== "") pids.add(Number(line));
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
    } catch {
      /* gone */
    }
  };
  for (const e of readdirSync(CGROUP_FS, { withFileTypes: true })) if (e.isDirectory()) walk(join(CGROUP_FS, e.name, name));
  return [...pids];
}

async function removeCgroupTree(d: string): Promise<void> {
  let entries;
  try {
    entries = readdirSync(d, { withFileTypes: true });
  } catch {
    return; // already gone
  }
  for (const e of entries) if (e.isDirectory()) await removeCgroupTree(join(d, e.name));
  // A cgroup whose last process has just exited can stay busy for a moment.
  // Another remover (runc's, or the same hierarchy mounted under two controller names) may win the race:
  // ENOENT means the goal holds.
  await until(`rmdir ${d}`, async () => {
    await rmdir(d).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "ENOENT") throw e;
    });
    return true;
  }, 10_000, undefined, 100);
}

/**
 * The node's private mount namespace (a file bind-mounted by `unshare`, so it outlives its processes):
 * the kubelet sysctls shadowed by plain files; a per-node `/run` (containerd's shims and runc state,
 * coild's socket), `/var/log` (kubelet writes /var/log/containers regardless of podLogsDir); and `/etc`
 * and `/opt` as overlays whose upper layers are in the node's directory, so the usual CNI directories
 * `/etc/cni/net.d` and `/opt/cni/bin` (the hostPaths of Coil's DaemonSet) exist per node and the host's
 * /etc and /opt are never written; `/var/lib` likewise, for the CNI result cache containerd's libcni
 * writes to `/var/lib/cni` (not configurable) and the plugins' own state there. `populate` fills the
 * upper layers before they are mounted.
 */
async function nodeMountNs(s: ClusterState, n: number, populate: (etcUpper: string, optUpper: string) => Promise<void>): Promise<void> {
  const d = nodeDir(s, n);
  for (const sub of ["fake-sysctl", "run", "varlog", "etc/upper/cni/net.d", "etc/work", "opt/upper/cni/bin", "opt/work", "var/lib/upper", "var/lib/work", "containerd/root", "kubelet", "pod-logs", "volume-plugins"]) {
    await mkdir(join(d, sub), { recursive: true });
  }
  await populate(join(d, "etc", "upper"), join(d, "opt", "upper"));
  await writeFile(mntnsFile(s, n), "");
  await must(["unshare", `--mount=${mntnsFile(s, n)}`, "--propagation", "private", "true"]);
  const inMnt = (argv: string[]): string[] => ["nsenter", `--mount=${mntnsFile(s, n)}`, "--", ...argv];
  for (const [key, value] of KUBELET_SYSCTLS) {
    const f = join(d, "fake-sysctl", key.replaceAll("/", "_"));
    await writeFile(f, `${value}\n`);
    await must(inMnt(["mount", "--bind", f, `/proc/sys/${key}`]));
  }
  await must(inMnt(["mount", "--bind", join(d, "run"), "/run"]));
  // Pods mount /run with HostToContainer propagation (coild), which needs a shared or slave source; this
  // makes a peer group inside the node's namespace only (the namespace itself is private to the host).
  await must(inMnt(["mount", "--make-shared", "/run"]));
  await must(inMnt(["mount", "--bind", join(d, "varlog"), "/var/log"]));
  for (const top of ["etc", "opt", "var/lib"]) {
    const o = `lowerdir=/${top},upperdir=${join(d, top, "upper")},workdir=${join(d, top, "work")}`;
    await must(inMnt(["mount", "-t", "overlay", `${s.prefix}-n${n}-${top.replaceAll("/", "-")}`, "-o", o, `/${top}`]));
  }
}

/**
 * containerd's configuration for the node directory `d`. Its state directory is `/run/containerd`, which
 * is the node's own `/run` inside its mount namespace. The pods' network namespaces are mounted where
 * containerd mounts them by default, `/var/run/netns/cni-<id>` — the node's own `/run/netns` — where
 * coild (hostPath /run, HostToContainer) opens them at ADD and, by name through `ip netns list-id`, when
 * its EgressWatcher updates a running pod (Coil's `getNetNsPath` looks only there too), as on a real node.
 */
function containerdConfig(d: string, pauseImageName: string): string {
  return `version = 2
root = "${d}/containerd/root"
state = "/run/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "${d}/containerd.sock"
[ttrpc]
  address = "${d}/containerd.sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${pauseImageName}"
  disable_apparmor = true
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/opt/cni/bin"
    conf_dir = "/etc/cni/net.d"
    max_conf_num = 1
`;
}

/** The kubelet configuration of node `n` (exported for tests). */
export function kubeletConfig(s: { dir: string; prefix: string }, n: number): string {
  const d = nodeDir(s, n);
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /${s.prefix}-n${n}
protectKernelDefaults: true
makeIPTablesUtilChains: false
failSwapOn: false
containerRuntimeEndpoint: unix://${d}/containerd.sock
imageServiceEndpoint: unix://${d}/containerd.sock
address: ${nodeIp(n)}
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: ${join(s.dir, "cp", "pki", "ca.crt")}}
authorization: {mode: AlwaysAllow}
podLogsDir: ${d}/pod-logs
volumePluginDir: ${d}/volume-plugins
resolvConf: /etc/resolv.conf
maxPods: 110
serializeImagePulls: false
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
registerNode: true
`;
}

/**
 * The kube-proxy configuration of node `n`: conntrack settings zero, so it writes no global sysctl;
 * `iptables.masqueradeAll`, so traffic to a Service leaves the node from the node's address (pods on
 * the pod network reach the API server, whose namespace has no route to them).
 */
export function kubeProxyConfig(s: { dir: string; prefix: string }, n: number): string {
  return `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: ${join(s.dir, "kubeconfig")}}
hostnameOverride: ${s.prefix}-n${n}
mode: iptables
iptables: {masqueradeAll: true, localhostNodePorts: false}
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s, udpTimeout: 0s, udpStreamTimeout: 0s}
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
`;
}

function ptpConflist(s: ClusterState, n: number): string {
  return `${JSON.stringify(
    {
      cniVersion: "0.4.0",
      name: "coil-cluster-ptp",
      plugins: [
        {
          type: "ptp",
          ipMasq: false,
          mtu: 1400,
          ipam: { type: "host-local", ranges: [[{ subnet: ptpSubnet(n) }]], routes: [{ dst: "0.0.0.0/0" }], dataDir: join(nodeDir(s, n), "cni-ipam") },
        },
        { type: "portmap", capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  )}\n`;
}

async function nodeUp(s: ClusterState, bins: ClusterBinaries, n: number, images: readonly string[], log: (m: string) => void): Promise<void> {
  const d = nodeDir(s, n);
  const name = `${s.prefix}-n${n}`;
  await nodeNet(s, n);
  await createCgroupRoot(name);
  await nodeMountNs(s, n, async (etcUpper, optUpper) => {
    for (const f of readdirSync("/usr/lib/cni")) await copyFile(join("/usr/lib/cni", f), join(optUpper, "cni", "bin", f));
    if (s.cni === "ptp") await writeFile(join(etcUpper, "cni", "net.d", "10-ptp.conflist"), ptpConflist(s, n));
  });
  await writeFile(join(d, "containerd.toml"), containerdConfig(d, bins.pauseImageName));
  const ctrd = await daemon(s, `containerd-n${n}`, inNode(s, n, ["containerd", "--config", join(d, "containerd.toml")]));
  const ctr = (...a: string[]): string[] => inNode(s, n, ["ctr", "-a", join(d, "containerd.sock"), "-n", "k8s.io", ...a]);
  await until(`containerd n${n}`, async () => ((await cmd(ctr("version"))).code === 0 ? true : undefined), 30_000, exitedReason(ctrd));
  for (const img of images) await must(ctr("images", "import", img));
  if (s.cni === "ptp") {
    // Routes to the other nodes' pod subnets (the bridge is one L2 segment), and from the control plane.
    for (let m = 1; m <= s.nodes; m++) if (m !== n) await must(["ip", "-n", netnsName(s, n), "route", "add", ptpSubnet(m), "via", nodeIp(m)]);
    await must(["ip", "-n", netnsName(s, "cp"), "route", "add", ptpSubnet(n), "via", nodeIp(n)]);
  }
  await writeFile(join(d, "kubelet-config.yaml"), kubeletConfig(s, n));
  const kubelet = await daemon(
    s,
    `kubelet-n${n}`,
    inNode(s, n, [
      bins.kubelet,
      `--config=${join(d, "kubelet-config.yaml")}`,
      `--kubeconfig=${join(s.dir, "kubeconfig")}`,
      `--root-dir=${join(d, "kubelet")}`,
      `--hostname-override=${name}`,
      `--node-ip=${nodeIp(n)},${nodeIp6(n)}`,
      "--v=1",
    ]),
  );
  await writeFile(join(d, "kube-proxy-config.yaml"), kubeProxyConfig(s, n));
  await daemon(s, `kube-proxy-n${n}`, inNode(s, n, [bins.kubeProxy, `--config=${join(d, "kube-proxy-config.yaml")}`, "--v=1"]));
  await until(`node ${name} registered`, async () => ((await kubectlIn(s, bins, ["get", "node", name, "-o", "name"])).code === 0 ? true : undefined), 120_000, exitedReason(kubelet), 500);
  log(`node ${name} registered (containerd, kubelet, kube-proxy running)`);
}

/** Wait until every node reports Ready; return the milliseconds it took. */
export async function waitNodesReady(c: Cluster, timeoutMs = 180_000): Promise<number> {
  const t0 = Date.now();
  await until(
    `all ${c.nodeNames.length} nodes Ready`,
    async () => {
      const r = await c.kubectl(["get", "nodes", "-o", 'jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}']);
      const ready = r.stdout.split("\n").filter((l) => l.endsWith("=True")).length;
      return ready === c.nodeNames.length ? true : undefined;
    },
    timeoutMs,
    undefined,
    500,
  );
  return Date.now() - t0;
}

function kubectlIn(s: ClusterState, bins: ClusterBinaries, args: readonly string[], input?: string): Promise<CmdResult> {
  return cmd(inCp(s, [bins.kubectl, `--kubeconfig=${join(s.dir, "kubeconfig")}`, ...args]), input === undefined ? {} : { input });
}

function handle(s: ClusterState, bins: ClusterBinaries): Cluster {
  return {
    state: s,
    bins,
    kubeconfig: join(s.dir, "kubeconfig"),
    kubectlScript: join(s.dir, "kubectl"),
    kubectl: (args, input) => kubectlIn(s, bins, args, input),
    nodeNames: Array.from({ length: s.nodes }, (_, i) => `${s.prefix}-n${i + 1}`),
  };
}

/** The project's image archive (`npm run image`) and its name. */
export function coilImage(): { archive: string; name: string } {
  const version = (JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string }).version;
  return { archive: join(REPO_ROOT, "dist", "image", `coil-ts-${version}.oci.tar`), name: `localhost/coil-ts:${version}` };
}

/** The default AddressPool the harness creates with Coil (dual stack, /27 and /123 blocks). */
export const DEFAULT_POOL = `apiVersion: coil.cybozu.com/v2
kind: AddressPool
metadata: {name: default}
spec:
  blockSizeBits: 5
  subnets:
    - {ipv4: 10.100.0.0/16, ipv6: "fd00:10:100::/112"}
`;

async function kubectlOk(c: Cluster, args: readonly string[], input?: string): Promise<string> {
  const r = await c.kubectl(args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${r.stderr.trim()}`);
  return r.stdout;
}

/**
 * Deploy Coil as users do: the image is in every node's containerd already; apply the rendered manifests
 * (or the state's `config/variants` directory, rendered) (CRDs, RBAC, coil-ipam-controller with its
 * webhooks, coil-egress-controller, the coild DaemonSet whose init container
 * coil-installer writes the conflist into the node's /etc/cni/net.d, coil-router for this flat L2
 * network), wait until the controller and every coild and coil-router are Ready, then create the default
 * AddressPool through the webhook.
 */
export async function deployCoil(c: Cluster, log: (m: string) => void): Promise<void> {
  try {
    await deployCoilSteps(c, log);
  } catch (e) {
    const pods = await c.kubectl(["get", "pods", "-A", "-o", "wide"]);
    const events = await c.kubectl(["get", "events", "-A", "--field-selector=type=Warning", "--sort-by=.lastTimestamp"]);
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n${pods.stdout}\n${events.stdout.trimEnd().split("\n").slice(-8).join("\n")}`);
  }
}

/** The manifests of Coil itself: config/rendered/coil.yaml, or the variant's kustomization rendered as the tests render it. */
async function coilManifests(variant: string | undefined): Promise<{ source: string; text: string }> {
  if (variant === undefined) return { source: "config/rendered/coil.yaml", text: await readFile(join(REPO_ROOT, "config", "rendered", "coil.yaml"), "utf8") };
  const source = `config/variants/${variant}`;
  return { source, text: toYamlStream(await renderKustomization(join(REPO_ROOT, source)), source) };
}

async function deployCoilSteps(c: Cluster, log: (m: string) => void): Promise<void> {
  const t0 = Date.now();
  const coil = await coilManifests(c.state.variant);
  await kubectlOk(c, ["apply", "--server-side", "-f", "-"], coil.text);
  await kubectlOk(c, ["apply", "--server-side", "-f", join(REPO_ROOT, "config", "rendered", "coil-router.yaml")]);
  log(`applied ${coil.source} and config/rendered/coil-router.yaml`);
  const n = c.nodeNames.length;
  // Give up early when a Coil container keeps failing (crash loop, or a container that cannot be created).
  let failing: string | undefined;
  const ready = (kind: string, name: string, path: string, want: number) => async (): Promise<true | undefined> => {
    const pods = await c.kubectl(["-n", "kube-system", "get", "pods", "-l", "app.kubernetes.io/name=coil", "-o", 'jsonpath={range .items[*]}{.metadata.name} {range .status.containerStatuses[*]}{.restartCount}/{.state.waiting.reason} {end}{"\n"}{end}']);
    for (const line of pods.stdout.split("\n")) {
      const [pod, ...states] = line.split(" ");
      for (const st of states) {
        const [restarts, reason] = st.split("/");
        if (Number(restarts) >= 3 || reason === "CreateContainerError" || reason === "CreateContainerConfigError") failing = `${pod ?? "?"}: ${st}`;
      }
    }
    const r = await c.kubectl(["-n", "kube-system", "get", kind, name, "-o", `jsonpath={${path}}`]);
    return r.code === 0 && Number(r.stdout) === want ? true : undefined;
  };
  const abort = (): string | undefined => (failing === undefined ? undefined : `a Coil container keeps failing (${failing}, restarts/waiting reason)`);
  await until("coild Ready on every node", ready("daemonset", "coild", ".status.numberReady", n), 300_000, abort, 1000);
  log(`coild Ready on ${n} nodes after ${Date.now() - t0} ms`);
  await until("coil-ipam-controller Available (2 replicas)", ready("deployment", "coil-ipam-controller", ".status.readyReplicas", 2), 300_000, abort, 1000);
  await until("coil-router Ready on every node", ready("daemonset", "coil-router", ".status.numberReady", n), 300_000, abort, 1000);
  log(`coil-ipam-controller and coil-router Ready after ${Date.now() - t0} ms`);
  await until("default AddressPool accepted by the webhook", async () => ((await c.kubectl(["apply", "-f", "-"], DEFAULT_POOL)).code === 0 ? true : undefined), 120_000, undefined, 1000);
  log(`default AddressPool created after ${Date.now() - t0} ms`);
}

/** A handle on the cluster already running in the state directory (for status, tests attaching to it). */
export async function clusterAttach(opts: ClusterOptions = {}): Promise<Cluster | undefined> {
  const { dir } = clusterDefaults(opts);
  const s = readState(dir);
  if (s === undefined) return undefined;
  return handle(s, await findClusterBinaries(true));
}

/**
 * Start the cluster: control plane, then every node; wait until every node is Ready. Throws on failure
 * (after which {@link clusterDown} removes what was made). Refuses when a cluster is recorded in the
 * state directory already.
 */
export async function clusterUp(opts: ClusterOptions = {}): Promise<Cluster> {
  const def = clusterDefaults(opts);
  const log = opts.log ?? ((): void => undefined);
  if (readState(def.dir) !== undefined) throw new Error(`a cluster is recorded in ${def.dir} already: run down first`);
  if (def.cni === "coil" && !existsSync(coilImage().archive)) throw new Error(`${coilImage().archive} missing: run npm run image first`);
  const t0 = Date.now();
  const bins = await findClusterBinaries();
  log(`binaries ready after ${Date.now() - t0} ms`);
  await rm(join(def.dir, "logs"), { recursive: true, force: true }); // the last run's, kept by down
  await mkdir(join(def.dir, "logs"), { recursive: true });
  const s: ClusterState = { ...def, procs: [] };
  await saveState(s);
  await controlPlaneUp(s, bins, log);
  const images = [bins.pauseImage, bins.testImage, ...(def.cni === "coil" ? [coilImage().archive] : [])];
  for (let n = 1; n <= s.nodes; n++) await nodeUp(s, bins, n, images, log);
  const c = handle(s, bins);
  if (s.cni === "coil") await deployCoil(c, log);
  const readyMs = await waitNodesReady(c);
  log(`all ${s.nodes} nodes Ready ${readyMs} ms after the last registered`);
  s.upMs = Date.now() - t0;
  await saveState(s);
  return c;
}

// ---------------------------------------------------------------------------------------------------
// Down

async function stopProc(p: ProcRecord, graceMs = 15_000): Promise<void> {
  if (!procAlive(p)) return;
  process.kill(p.pid, "SIGTERM");
  const gone = async (): Promise<true | undefined> => (procAlive(p) ? undefined : true);
  const stopped = await eventually(`${p.name} (pid ${p.pid}) to exit after SIGTERM`, gone, { timeoutMs: graceMs, intervalMs: 100 }).catch(() => false);
  if (stopped) return;
  if (procAlive(p)) process.kill(p.pid, "SIGKILL");
  await eventually(`${p.name} (pid ${p.pid}) to exit after SIGKILL`, gone, { timeoutMs: Number.POSITIVE_INFINITY, intervalMs: 50 });
}

/** containerd shims of a node: their command line names the node's containerd socket. */
function shimPids(sock: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const argv = readFileSync(`/proc/${e}/cmdline`, "utf8").split("\0");
      if (argv[0]?.endsWith("containerd-shim-runc-v2") === true && argv.includes(sock)) out.push(Number(e));
    } catch {
      /* exited */
    }
  }
  return out;
}

async function killAndWait(pids: readonly number[]): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
  await until("killed processes to exit", async () => (pids.every((p) => !existsSync(`/proc/${p}`)) ? true : undefined), 10_000, undefined, 50);
}

/**
 * Stop and remove everything of the cluster recorded in (or named like) the state directory: the
 * kubelets first (so nothing is restarted), the containers (SIGKILL to the processes in the node's
 * cgroup root), the shims, containerd, the mount and network namespaces, the cgroup roots, the control
 * plane and the state directory. Works on a half-started cluster too.
 */
export async function clusterDown(opts: ClusterOptions = {}): Promise<void> {
  const def = clusterDefaults(opts);
  const log = opts.log ?? ((): void => undefined);
  const s: ClusterState = readState(def.dir) ?? { ...def, procs: [] };
  const byName = (name: string): ProcRecord | undefined => s.procs.find((p) => p.name === name);
  const stopAll = (names: readonly string[]): Promise<unknown> =>
    Promise.all(names.map((name) => byName(name)).filter((p): p is ProcRecord => p !== undefined).map((p) => stopProc(p)));
  const nodes = Array.from({ length: s.nodes }, (_, i) => i + 1);
  let t = Date.now();
  const phase = (what: string): void => {
    log(`down: ${what} (${Date.now() - t} ms)`);
    t = Date.now();
  };
  await stopAll(nodes.flatMap((n) => [`kubelet-n${n}`, `kube-proxy-n${n}`]));
  phase("kubelets and kube-proxies stopped");
  await Promise.all(
    nodes.map(async (n) => {
      const cg = `${s.prefix}-n${n}`;
      await killAndWait(cgroupProcs(cg));
      await killAndWait(shimPids(join(nodeDir(s, n), "containerd.sock")));
      await stopAll([`containerd-n${n}`]);
      const mnt = mntnsFile(s, n);
      if (existsSync(mnt)) {
        await cmd(["umount", mnt]);
        await rm(mnt, { force: true });
      }
      if (existsSync(`/run/netns/${netnsName(s, n)}`)) await must(["ip", "netns", "del", netnsName(s, n)]);
      for (const c of await cgroupControllers()) await removeCgroupTree(join(c, cg));
    }),
  );
  phase("containers, shims, containerd, mount and network namespaces, cgroup roots removed");
  await stopAll(["kube-scheduler", "kube-controller-manager"]);
  await stopAll(["kube-apiserver"]);
  await stopAll(["etcd"]);
  await Promise.all(s.procs.map((p) => stopProc(p)));
  phase("control plane stopped");
  if (existsSync(`/run/netns/${netnsName(s, "cp")}`)) await must(["ip", "netns", "del", netnsName(s, "cp")]);
  // Keep the logs for a post-mortem; remove everything else.
  for (const e of existsSync(s.dir) ? readdirSync(s.dir) : []) if (e !== "logs") await rm(join(s.dir, e), { recursive: true, force: true });
  log(`down: ${s.prefix} removed`);
}

/** What is left of a cluster with `prefix` / `dir` on the host: empty when `down` left nothing. */
export async function leftovers(opts: ClusterOptions = {}): Promise<string[]> {
  const def = clusterDefaults(opts);
  const out: string[] = [];
  for (const ns of readdirSync("/run/netns")) if (ns.startsWith(`${def.prefix}-`)) out.push(`netns ${ns}`);
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) if (line.includes(def.dir)) out.push(`mount ${line}`);
  for (const c of await cgroupControllers()) for (const e of readdirSync(c)) if (e.startsWith(`${def.prefix}-`)) out.push(`cgroup ${join(c, e)}`);
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cl = readFileSync(`/proc/${e}/cmdline`, "utf8");
      if (cl.includes(def.dir) || cl.includes(`/run/netns/${def.prefix}-`)) out.push(`process ${e} ${cl.replaceAll("\0", " ").slice(0, 160)}`);
    } catch {
      /* exited */
    }
  }
  return out;
}

const SNAPSHOT_SYSCTLS = [
  "net/ipv4/ip_forward",
  "net/ipv6/conf/all/forwarding",
  "net/ipv4/conf/all/rp_filter",
  "net/ipv4/conf/all/route_localnet",
  "net/netfilter/nf_conntrack_max",
  "net/netfilter/nf_conntrack_tcp_timeout_established",
  "net/netfilter/nf_conntrack_tcp_timeout_close_wait",
  "net/netfilter/nf_conntrack_udp_timeout",
  "net/netfilter/nf_conntrack_udp_timeout_stream",
  "net/netfilter/nf_conntrack_tcp_be_liberal",
  "net/bridge/bridge-nf-call-iptables",
  "net/bridge/bridge-nf-call-ip6tables",
  ...KUBELET_SYSCTLS.map(([k]) => k),
];

/**
 * The host state the cluster must not change, as text: links, addresses, routes and rules of every table
 * (IPv4 and IPv6), the nftables ruleset, iptables-save/ip6tables-save, the kernel settings kubelet and
 * kube-proxy care about, and the cgroup groups at the top of every hierarchy. Two snapshots taken
 * before `up` and after `down` must be equal.
 */
export async function hostSnapshot(): Promise<string> {
  const parts: string[] = [];
  const add = async (title: string, argv: string[]): Promise<void> => {
    const r = await cmd(argv);
    parts.push(`## ${title}\n${r.stdout}${r.stderr === "" ? "" : `stderr: ${r.stderr}`}`);
  };
  await add("links", ["ip", "-d", "link", "show"]);
  await add("addresses", ["ip", "addr", "show"]);
  await add("routes4", ["ip", "-4", "route", "show", "table", "all"]);
  await add("routes6", ["ip", "-6", "route", "show", "table", "all"]);
  await add("rules4", ["ip", "-4", "rule", "show"]);
  await add("rules6", ["ip", "-6", "rule", "show"]);
  await add("nft", ["nft", "list", "ruleset"]);
  const strip = (t: string): string => t.split("\n").filter((l) => !l.startsWith("#")).join("\n");
  for (const tool of ["iptables-save", "ip6tables-save"]) parts.push(`## ${tool}\n${strip((await cmd([tool])).stdout)}`);
  parts.push(
    `## sysctls\n${SNAPSHOT_SYSCTLS.map((k) => {
      try {
        return `${k}=${readFileSync(`/proc/sys/${k}`, "utf8").trim()}`;
      } catch (e) {
        return `${k}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`;
      }
    }).join("\n")}\n`,
  );
  // The top level of every hierarchy: where a kubelet or runc that escaped its cgroup root would write
  // (kubepods, k8s.io, ...). Deeper levels belong to whoever owns the top-level group (the machine's own
  // supervisor creates and removes groups there per command).
  const dirs: string[] = [];
  for (const c of await cgroupControllers()) {
    dirs.push(c);
    for (const e of readdirSync(c, { withFileTypes: true })) if (e.isDirectory()) dirs.push(join(c, e.name));
  }
  parts.push(`## cgroups\n${dirs.sort().join("\n")}\n`);
  // The CNI result cache a containerd on the host would write (the nodes' go to their /var/lib overlays).
  const cniCache = "/var/lib/cni/results";
  parts.push(`## ${cniCache}\n${existsSync(cniCache) ? readdirSync(cniCache).sort().join("\n") : "(none)"}\n`);
  return parts.join("\n");
}
