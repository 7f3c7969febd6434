/**
 * A real, throw-away Kubernetes control plane (etcd + kube-apiserver) for tests, started the way
 * controller-runtime's envtest starts it. No controller-manager runs: no garbage collection, no
 * Deployments reconciled.
 *
 * Binaries come from `TEST_ASSET_KUBE_APISERVER` / `TEST_ASSET_ETCD`, `KUBEBUILDER_ASSETS`, or the cache
 * `${COIL_ENVTEST_CACHE:-~/.cache/coil-envtest}/<k8s-version>/` that `scripts/envtest/build.sh` fills
 * (that script does the resolution; this module only runs it).
 *
 * @module
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { request as httpsRequest } from "node:https";
import { request as httpRequest } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { scaledTimeout } from "./wait.js";

const execFileP = promisify(execFile);

/** Absolute path of `scripts/envtest/build.sh`. */
export const ENVTEST_BUILD_SCRIPT = fileURLToPath(new URL("../../scripts/envtest/build.sh", import.meta.url));

/** Paths of the two control-plane binaries. */
export interface ControlPlaneBinaries {
  readonly kubeApiserver: string;
  readonly etcd: string;
}

/** Options of {@link findControlPlaneBinaries}. */
export interface FindBinariesOptions {
  /** Build missing binaries with build.sh (slow: many minutes). Default true. */
  readonly build?: boolean;
  /** Receives build.sh's progress lines (stderr). Default: discarded unless the script fails. */
  readonly log?: (line: string) => void;
}

/**
 * Resolves the binaries through `scripts/envtest/build.sh` (env vars, then the cache, then — when
 * `build` is true — a build). Rejects with a message naming the missing binary and how to build it.
 */
export async function findControlPlaneBinaries(opts: FindBinariesOptions = {}): Promise<ControlPlaneBinaries> {
  const env = { ...process.env, ...(opts.build === false ? { COIL_ENVTEST_NO_BUILD: "1" } : {}) };
  const child = spawn("bash", [ENVTEST_BUILD_SCRIPT], { env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  const stderrLines: string[] = [];
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    for (const line of d.split("\n").filter((l) => l !== "")) {
      stderrLines.push(line);
      opts.log?.(line);
    }
  });
  const [code] = (await once(child, "close")) as [number | null];
  const value = (key: string): string | undefined =>
    stdout.split("\n").find((l) => l.startsWith(`${key}=`))?.slice(key.length + 1);
  const kubeApiserver = value("KUBE_APISERVER");
  const etcd = value("ETCD");
  if (code !== 0 || kubeApiserver === undefined || etcd === undefined) {
    throw new Error(
      `control-plane binaries unavailable (${ENVTEST_BUILD_SCRIPT} exited ${String(code)}):\n` +
        stderrLines.slice(-15).join("\n"),
    );
  }
  return { kubeApiserver, etcd };
}

/** Options of {@link startControlPlane}. */
export interface ControlPlaneOptions {
  /** Binaries to use; default: {@link findControlPlaneBinaries} with `build`. */
  readonly binaries?: ControlPlaneBinaries;
  /** Whether missing binaries may be built (see {@link FindBinariesOptions.build}). Default true. */
  readonly build?: boolean;
  /** How long to wait for etcd and for the apiserver's /readyz. Default 60 s each. */
  readonly readyTimeoutMs?: number;
  /** `--service-cluster-ip-range`; default `10.0.0.0/24`. Two ranges (`10.0.0.0/24,fd00:10:96::/112`) give dual-stack Services. */
  readonly serviceClusterIPRange?: string;
  /**
   * kube-apiserver flags (`--name=value`) that replace the defaults of the same name or are added,
   * e.g. a lighter server under CPU emulation ({@link LIGHT_APISERVER_FLAGS}) or `--bind-address=0.0.0.0`.
   */
  readonly apiserverFlags?: readonly string[];
  /** IP addresses the serving certificate is valid for besides 127.0.0.1 (to reach it at another address). */
  readonly servingCertIPs?: readonly string[];
  /** The service-account signing key: RSA 2048 (default) or ECDSA P-256 (generated in a fraction of the time). */
  readonly serviceAccountKey?: "rsa" | "ecdsa";
}

/**
 * kube-apiserver flags for a server that starts about three times faster where CPU is scarce (a
 * VM under emulation): no RBAC (AlwaysAllow; the RBAC and flow-control APIs off, so their
 * bootstrap of ~150 default objects does not run) and no API Priority and Fairness. Clients use
 * the admin certificate as usual; anonymous requests are refused (AlwaysAllow turns anonymous
 * authentication off).
 */
export const LIGHT_APISERVER_FLAGS: readonly string[] = [
  "--authorization-mode=AlwaysAllow",
  "--enable-priority-and-fairness=false",
  "--runtime-config=rbac.authorization.k8s.io/v1=false,flowcontrol.apiserver.k8s.io/v1=false",
  "--profiling=false",
];

/** A running control plane. */
export interface ControlPlane {
  /** kubeconfig (admin user in `system:masters`, client-certificate auth). */
  readonly kubeconfigPath: string;
  /** `https://127.0.0.1:<port>`. */
  readonly server: string;
  /** Binaries in use. */
  readonly binaries: ControlPlaneBinaries;
  /** Stops the processes started here (by PID) and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

interface Pki {
  readonly caCert: string;
  readonly servingCert: string;
  readonly servingKey: string;
  readonly adminCert: string;
  readonly adminKey: string;
  readonly saKey: string;
  readonly saPub: string;
}

/** Processes alive in this Node process, killed synchronously on exit if a test forgot stop(). */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const p of live) p.kill("SIGKILL");
  });
}

/** Starts etcd and kube-apiserver on free loopback ports and waits until the apiserver is ready. */
export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const binaries = opts.binaries ?? (await findControlPlaneBinaries({ build: opts.build ?? true }));
  const timeout = opts.readyTimeoutMs ?? 60_000;
  const dir = await mkdtemp(join(tmpdir(), "coil-envtest-"));
  const started: ChildProcess[] = [];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const p of [...started].reverse()) await terminate(p);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const pki = await generatePki(join(dir, "pki"), { ips: opts.servingCertIPs ?? [], saKey: opts.serviceAccountKey ?? "rsa" });
    const [etcdClient = 0, etcdPeer = 0, securePort = 0] = await freePorts(3);
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const etcd = launch(binaries.etcd, etcdArgs(dir, etcdClient, etcdPeer), join(dir, "etcd.log"));
    started.push(etcd);
    await waitFor(() => httpOk(`${etcdUrl}/health`), { timeoutMs: timeout, what: "etcd /health", proc: etcd, dir, log: "etcd.log" });
    const server = `https://127.0.0.1:${securePort}`;
    const args = withFlags(apiserverArgs({ dir, pki, etcdUrl, securePort, serviceRange: opts.serviceClusterIPRange ?? "10.0.0.0/24" }), opts.apiserverFlags ?? []);
    const apiserver = launch(binaries.kubeApiserver, args, join(dir, "kube-apiserver.log"));
    started.push(apiserver);
    const what = "kube-apiserver /readyz";
    await waitFor(() => httpsOk(`${server}/readyz`, pki), { timeoutMs: timeout, what, proc: apiserver, dir, log: "kube-apiserver.log" });
    const kubeconfigPath = join(dir, "kubeconfig");
    await writeFile(kubeconfigPath, await kubeconfig(server, pki), { mode: 0o600 });
    return { kubeconfigPath, server, binaries, stop };
  } catch (err) {
    await stop();
    throw err;
  }

  function launch(bin: string, args: readonly string[], logPath: string): ChildProcess {
    installExitHook();
    const log = createWriteStream(logPath);
    const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    child.on("error", (e) => log.write(`spawn error: ${e.message}\n`));
    live.add(child);
    child.on("exit", () => live.delete(child));
    return child;
  }
}

function etcdArgs(dir: string, client: number, peer: number): string[] {
  const peerUrl = `http://127.0.0.1:${peer}`;
  const clientUrl = `http://127.0.0.1:${client}`;
  return [
    "--name=coil-envtest",
    `--data-dir=${join(dir, "etcd-data")}`,
    `--listen-client-urls=${clientUrl}`,
    `--advertise-client-urls=${clientUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=coil-envtest=${peerUrl}`,
    "--unsafe-no-fsync=true",
    "--log-level=warn",
  ];
}

function apiserverArgs(o: { dir: string; pki: Pki; etcdUrl: string; securePort: number; serviceRange: string }): string[] {
  return [
    `--etcd-servers=${o.etcdUrl}`,
    `--cert-dir=${join(o.dir, "apiserver-certs")}`,
    `--tls-cert-file=${o.pki.servingCert}`,
    `--tls-private-key-file=${o.pki.servingKey}`,
    `--client-ca-file=${o.pki.caCert}`,
    `--secure-port=${o.securePort}`,
    "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1",
    `--service-cluster-ip-range=${o.serviceRange}`,
    "--allow-privileged=true",
    "--disable-admission-plugins=ServiceAccount",
    "--authorization-mode=RBAC",
    `--service-account-issuer=https://127.0.0.1:${o.securePort}/`,
    `--service-account-key-file=${o.pki.saPub}`,
    `--service-account-signing-key-file=${o.pki.saKey}`,
    "--v=1",
  ];
}

/** `defaults` with every flag named in `flags` replaced by its entry there; the other entries of `flags` appended. */
function withFlags(defaults: readonly string[], flags: readonly string[]): string[] {
  const name = (f: string): string => f.split("=")[0] ?? f;
  const given = new Set(flags.map(name));
  return [...defaults.filter((f) => !given.has(name(f))), ...flags];
}

/** SIGTERM, then SIGKILL after 10 s; resolves when the process has exited. */
async function terminate(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null || p.pid === undefined) return;
  const exited = once(p, "exit");
  p.kill("SIGTERM");
  const timer = setTimeout(() => p.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, async () => {
      const s = createServer();
      s.listen(0, "127.0.0.1");
      await once(s, "listening");
      return s;
    }),
  );
  const ports = servers.map((s) => {
    const a = s.address();
    if (a === null || typeof a === "string") throw new Error("no port");
    return a.port;
  });
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

interface WaitOptions {
  readonly timeoutMs: number;
  readonly what: string;
  /** Fail fast when this process exits while waiting. */
  readonly proc: ChildProcess;
  readonly dir: string;
  readonly log: string;
}

/** Polls `probe` every 200 ms; on timeout or early exit, rejects with the log's last lines. */
async function waitFor(probe: () => Promise<boolean>, o: WaitOptions): Promise<void> {
  const timeoutMs = scaledTimeout(o.timeoutMs);
  const deadline = Date.now() + timeoutMs;
  let why = `not ready after ${timeoutMs} ms`;
  while (Date.now() < deadline) {
    if (await probe()) return;
    if (o.proc.exitCode !== null || o.proc.signalCode !== null) {
      why = `process exited (code ${String(o.proc.exitCode)}, signal ${String(o.proc.signalCode)})`;
      break;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const tail = await readFile(join(o.dir, o.log), "utf8").then(
    (s) => s.split("\n").slice(-25).join("\n"),
    () => "(no log)",
  );
  throw new Error(`${o.what}: ${why}; last log lines:\n${tail}`);
}

function httpOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpRequest(url, { timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("error", () => resolve(false)).on("timeout", () => req.destroy());
    req.end();
  });
}

async function httpsOk(url: string, pki: Pki): Promise<boolean> {
  const [ca, cert, key] = await Promise.all([pki.caCert, pki.adminCert, pki.adminKey].map((f) => readFile(f)));
  return new Promise((resolve) => {
    const req = httpsRequest(url, { ca, cert, key, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("error", () => resolve(false)).on("timeout", () => req.destroy());
    req.end();
  });
}

async function openssl(cwd: string, args: readonly string[]): Promise<void> {
  await execFileP("openssl", args, { cwd });
}

/** CA, serving cert (127.0.0.1/localhost and `o.ips`), admin client cert (O=system:masters), SA key pair (RSA or ECDSA). */
async function generatePki(dir: string, o: { readonly ips: readonly string[]; readonly saKey: "rsa" | "ecdsa" }): Promise<Pki> {
  await mkdir(dir, { recursive: true });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await writeFile(join(dir, "ca.ext"), "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\n");
  await writeFile(
    join(dir, "serving.ext"),
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n" +
      `subjectAltName=${["IP:127.0.0.1", ...o.ips.map((ip) => `IP:${ip}`), "DNS:localhost"].join(",")}\n`,
  );
  await writeFile(
    join(dir, "client.ext"),
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n",
  );
  await openssl(dir, ["req", "-new", ...ec, "-keyout", "ca.key", "-out", "ca.csr", "-subj", "/CN=coil-envtest-ca"]);
  await openssl(dir, [
    ...["x509", "-req", "-in", "ca.csr", "-signkey", "ca.key", "-out", "ca.crt", "-days", "2", "-extfile", "ca.ext"],
  ]);
  const issue = async (name: string, subj: string, ext: string): Promise<void> => {
    await openssl(dir, ["req", "-new", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subj]);
    await openssl(dir, [
      ...["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial"],
      ...["-out", `${name}.crt`, "-days", "2", "-extfile", ext],
    ]);
  };
  await issue("serving", "/CN=kube-apiserver", "serving.ext");
  await issue("admin", "/O=system:masters/CN=coil-envtest-admin", "client.ext");
  const saKeyArgs = o.saKey === "rsa" ? ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"] : ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];
  await openssl(dir, ["genpkey", ...saKeyArgs, "-out", "sa.key"]);
  await openssl(dir, ["pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub"]);
  const p = (f: string): string => join(dir, f);
  return {
    caCert: p("ca.crt"),
    servingCert: p("serving.crt"),
    servingKey: p("serving.key"),
    adminCert: p("admin.crt"),
    adminKey: p("admin.key"),
    saKey: p("sa.key"),
    saPub: p("sa.pub"),
  };
}

async function kubeconfig(server: string, pki: Pki): Promise<string> {
  const b64 = async (f: string): Promise<string> => (await readFile(f)).toString("base64");
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: envtest",
    "  cluster:",
    `    server: ${server}`,
    `    certificate-authority-data: ${await b64(pki.caCert)}`,
    "users:",
    "- name: envtest-admin",
    "  user:",
    `    client-certificate-data: ${await b64(pki.adminCert)}`,
    `    client-key-data: ${await b64(pki.adminKey)}`,
    "contexts:",
    "- name: envtest",
    "  context:",
    "    cluster: envtest",
    "    user: envtest-admin",
    "current-context: envtest",
    "",
  ].join("\n");
}
