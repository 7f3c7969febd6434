/**
 * A test "host" (node) network namespace with a real coild running in it, shared by the
 * privileged e2e tests, `bench/cni.ts` and `scripts/demo.ts`. coild is started through
 * `nsenter --net=<netns>` so its rules and tables 116/119 live in the test namespace and the
 * machine's own routing is never touched. The namespace itself is created by the caller (tests use
 * `withNetns`, the scripts their own bookkeeping); this module gives it the node addresses, starts
 * coild there, waits until it serves CNI, and stops it.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { programArgs } from "./bundles.js";
import { sourceChildEnv } from "./child-env.js";
import { scaledTimeout } from "./wait.js";

/** The repository root. */
export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** The test node's IPv4 address (`--node-ipv4`, on the host netns' `lo`). */
export const TEST_NODE_V4 = "10.20.30.41";
/** The test node's IPv6 address (`--node-ipv6`, on the host netns' `lo`). */
export const TEST_NODE_V6 = "fd10::41";

/** Put the node addresses (`<v4>/32`, `<v6>/128`) on `lo` of the netns named `netns`. */
export function addNodeAddresses(netns: string, addrs: { readonly v4?: string; readonly v6?: string } = {}): void {
  execFileSync("ip", ["-n", netns, "addr", "add", `${addrs.v4 ?? TEST_NODE_V4}/32`, "dev", "lo"], { stdio: ["ignore", "pipe", "pipe"] });
  execFileSync("ip", ["-n", netns, "addr", "add", `${addrs.v6 ?? TEST_NODE_V6}/128`, "dev", "lo"], { stdio: ["ignore", "pipe", "pipe"] });
}

/** Options of {@link startCoildInNetns}. */
export interface CoildStartOptions {
  /** Path of the host netns (`/var/run/netns/<name>`). */
  readonly netnsPath: string;
  /** coild's own flags (`--socket=...`, `--store=...`, ...). */
  readonly flags: readonly string[];
  /** `COIL_NODE_NAME` of the process. */
  readonly nodeName: string;
  /** Node arguments before the flags (default `programArgs("coild")`: dist/bin/coild.mjs, kept current; test/helpers/bundles.ts). */
  readonly command?: readonly string[];
  /** Give up when coild does not serve within this time (default 120 s nominal, times the test timeout scale). */
  readonly timeoutMs?: number;
  /** Keep only the last N characters of coild's stderr (default: all). */
  readonly keepLogChars?: number;
  /** Extra environment of the process (e.g. a `PATH` with a fault-injecting `ip` first). */
  readonly env?: Readonly<Record<string, string>>;
}

/** A running coild. */
export interface CoildProcess {
  readonly child: ChildProcess;
  /** coild's stderr (JSON log lines) so far. */
  log(): string;
}

/**
 * Spawn coild inside the netns and resolve once it logs `serving CNI`; reject (with its log) when
 * it exits first or does not serve within the timeout.
 */
export function startCoildInNetns(opts: CoildStartOptions): Promise<CoildProcess> {
  const child = spawn("nsenter", [`--net=${opts.netnsPath}`, "--", process.execPath, ...(opts.command ?? programArgs("coild")), ...opts.flags], {
    env: sourceChildEnv({ ...opts.env, COIL_NODE_NAME: opts.nodeName }),
    stdio: ["ignore", "ignore", "pipe"],
    cwd: REPO_ROOT,
  });
  let log = "";
  const keep = opts.keepLogChars;
  child.stderr?.on("data", (b: Buffer) => {
    log += b.toString();
    if (keep !== undefined) log = log.slice(-keep);
  });
  // Generous: coild takes seconds to start on a loaded 2-core machine (tens of seconds from source,
  // COIL_TEST_FROM_SOURCE=1, compiling under tsx); the wait ends as soon as coild serves.
  const timeoutMs = scaledTimeout(opts.timeoutMs ?? 120_000);
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = setInterval(() => {
      if (log.includes('"msg":"serving CNI"')) {
        clearInterval(poll);
        resolve({ child, log: () => log });
      } else if (child.exitCode !== null || Date.now() - started > timeoutMs) {
        clearInterval(poll);
        // A coild that is merely slow must not live on after the test gave up on it: it would
        // bind the ports and take the lock the next coild of the test needs.
        if (child.exitCode === null) child.kill("SIGKILL");
        reject(new Error(`coild did not start within ${timeoutMs} ms:\n${log}`));
      }
    }, 10);
  });
}

/** Send `sig` to a child process and resolve when it has exited (at once if it already has). */
export function stopProcess(c: ChildProcess, sig: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) return resolve();
    c.once("close", () => resolve());
    c.kill(sig);
  });
}

/** SIGTERM, wait up to `graceMs` for the exit, then SIGKILL. A missing or exited process is a no-op. */
export async function terminateProcess(c: ChildProcess | undefined, graceMs = 5000): Promise<void> {
  if (c === undefined || c.exitCode !== null || c.signalCode !== null) return;
  const done = new Promise((r) => c.once("close", r));
  c.kill("SIGTERM");
  await Promise.race([done, new Promise((r) => setTimeout(r, graceMs))]);
  if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
}

/** Outcome of one run of the CNI executable. */
export interface CniRun {
  /** Exit code (-1 when killed by a signal). */
  readonly code: number;
  /** Everything printed on stdout (the result or the CNI error JSON). */
  readonly stdout: string;
  /** Wall time from spawn to exit. */
  readonly ms: number;
}

/** What {@link runCoil} passes to the executable. */
export interface CoilRunOptions {
  readonly cmd: string;
  readonly containerId: string;
  readonly netns: string;
  readonly socket: string;
  readonly rpc: "fast" | "grpc";
  /** `K8S_POD_NAMESPACE` in CNI_ARGS (default `default`). */
  readonly podNamespace?: string;
  /** `K8S_POD_NAME` in CNI_ARGS (default: the container id). */
  readonly podName?: string;
  /** The netconf on stdin (default: CNI 1.0.0, type `coil`, `socket` and `rpc` from these options), e.g. with a `prevResult`. */
  readonly conf?: Readonly<Record<string, unknown>>;
}

/**
 * Run the `coil` CNI executable as a container runtime does: `CNI_*` environment, a CNI 1.0.0 netconf
 * on stdin. The Node bundle dist/bin/coil.mjs, kept current by test/helpers/bundles.ts (from source
 * under tsx with `COIL_TEST_FROM_SOURCE=1`); the Bun-compiled dist/bin/coil has tests of its own
 * (test/adapters/cni/executable.test.ts, test/adapters/daemon/e2e-conformance.test.ts).
 */
export function runCoil(o: CoilRunOptions): Promise<CniRun> {
  const conf = JSON.stringify(o.conf ?? { cniVersion: "1.0.0", name: "k8s-pod-network", type: "coil", socket: o.socket, rpc: o.rpc });
  const t0 = performance.now();
  const env = {
    ...sourceChildEnv(),
    CNI_COMMAND: o.cmd,
    CNI_CONTAINERID: o.containerId,
    CNI_NETNS: o.netns,
    CNI_IFNAME: "eth0",
    CNI_PATH: "/opt/cni/bin",
    CNI_ARGS: `K8S_POD_NAMESPACE=${o.podNamespace ?? "default"};K8S_POD_NAME=${o.podName ?? o.containerId}`,
  };
  const child = spawn(process.execPath, programArgs("coil"), { env, stdio: ["pipe", "pipe", "inherit"], cwd: REPO_ROOT });
  let out = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stdin.end(conf);
  return new Promise((resolve) => child.on("close", (code) => resolve({ code: code ?? -1, stdout: out, ms: performance.now() - t0 })));
}
