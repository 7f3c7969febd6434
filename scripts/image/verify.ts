/**
 * Checks a built image archive the way a node uses it: imports it into a PRIVATE containerd
 * (`ctr images import`) and runs its programs with `ctr run`.
 *
 *   node --import tsx scripts/image/verify.ts [ARCHIVE]     (or: npm run image -- --verify)
 *
 * Nothing of the host's containerd is used or touched: the whole check runs in a new mount namespace
 * (`unshare --mount --propagation private`) with a tmpfs over /run (containerd 1.6 keeps shim sockets
 * under /run/containerd whatever its config says), and containerd's root, state and socket are in a
 * temporary directory; containers get their own network namespace. Needs root and Debian's
 * `containerd` package (containerd, ctr, runc).
 *
 * Checked: the archive imports under its `io.containerd.image.name` with the expected manifest digest;
 * `node` is the pinned version; coild, coil-router and (as uid 10000, like its Deployment)
 * coil-ipam-controller answer `--help` through their PATH names; ip, nft, iptables, nsenter and sysctl
 * run; /usr/local/coil/coil runs (VERSION, exit status); coil-installer, with the host directories
 * mounted as the coild DaemonSet mounts them, installs `coil` and `10-coil.conflist`, and the installed
 * `coil` answers VERSION when run on this host (no Node there is needed).
 *
 * @module
 */
import { spawn } from "node:child_process";
import { createWriteStream, existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ANNOTATION_CONTAINERD_NAME, ImageError, run } from "./oci.js";
import { COIL_DIR, NODE, REPO_ROOT, archiveFileName, projectVersion } from "./recipe.js";

/** One check's outcome. */
export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** Name and manifest digest of the single image in an OCI archive (read from its index.json). */
export async function archiveImage(archive: string): Promise<{ readonly name: string; readonly digest: string }> {
  const index = JSON.parse(await run(["tar", "--extract", "--to-stdout", `--file=${archive}`, "index.json"])) as {
    manifests?: Array<{ digest?: string; annotations?: Record<string, string> }>;
  };
  const m = index.manifests?.[0];
  const name = m?.annotations?.[ANNOTATION_CONTAINERD_NAME];
  if (index.manifests?.length !== 1 || m?.digest === undefined || name === undefined) {
    throw new ImageError("input", `${archive}: index.json does not hold exactly one named manifest`);
  }
  return { name, digest: m.digest };
}

/**
 * Run argv with optional stdin; resolve with exit code and output (never rejects on a non-zero exit).
 * Killed (code null) after `timeoutMs`.
 */
function exec(argv: readonly string[], input?: string, timeoutMs = 120_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const [file, ...args] = argv;
  return new Promise((done) => {
    const child = spawn(file ?? "false", args, { shell: false, timeout: timeoutMs, killSignal: "SIGKILL", stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr?.on("data", (b: Buffer) => (stderr += b.toString()));
    child.on("error", (e) => done({ code: null, stdout, stderr: stderr + e.message }));
    child.on("close", (code) => done({ code, stdout, stderr }));
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Wait until `probe` resolves true, polling every 100 ms, for at most `ms`. */
async function waitFor(probe: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await probe()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return probe();
}

/** The checks, run inside the private mount namespace (see the module comment). */
async function inner(archive: string): Promise<Check[]> {
  const { name, digest } = await archiveImage(archive);
  await run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/run"]);
  const dir = await mkdtemp("/tmp/coil-image-verify-");
  const sock = join(dir, "containerd.sock");
  await writeFile(
    join(dir, "config.toml"),
    [
      "version = 2",
      `root = "${join(dir, "root")}"`,
      `state = "${join(dir, "state")}"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      "[grpc]",
      `  address = "${sock}"`,
      "[ttrpc]",
      `  address = "${sock}.ttrpc"`,
      "",
    ].join("\n"),
  );
  const logFile = createWriteStream(join(dir, "containerd.log"));
  const containerd = spawn("containerd", ["--config", join(dir, "config.toml")], { shell: false, stdio: ["ignore", "pipe", "pipe"] });
  containerd.stdout.pipe(logFile);
  containerd.stderr.pipe(logFile);
  const exited = new Promise<void>((r) => containerd.on("close", () => r()));
  const checks: Check[] = [];
  const check = (n: string, ok: boolean, detail: string): void => {
    checks.push({ name: n, ok, detail: detail.trim().split("\n").slice(0, 3).join(" | ") });
  };
  const ctr = (...args: string[]): string[] => ["ctr", "--address", sock, "-n", "k8s.io", ...args];
  let seq = 0;
  const ctrRun = (opts: { env?: Record<string, string>; mounts?: Array<[string, string]> }, ...cmd: string[]): string[] =>
    ctr(
      "run",
      "--rm",
      ...Object.entries(opts.env ?? {}).flatMap(([k, v]) => ["--env", `${k}=${v}`]),
      ...(opts.mounts ?? []).flatMap(([src, dst]) => ["--mount", `type=bind,src=${src},dst=${dst},options=rbind:rw`]),
      name,
      `coil-image-verify-${process.pid}-${++seq}`,
      ...cmd,
    );
  try {
    if (!(await waitFor(async () => existsSync(sock) && (await exec(ctr("version"))).code === 0, 30_000))) {
      throw new ImageError("command", `containerd did not answer on ${sock} (log: ${join(dir, "containerd.log")})`);
    }
    const imp = await exec(ctr("images", "import", archive));
    check("ctr images import", imp.code === 0, imp.stdout + imp.stderr);
    const ls = await exec(ctr("images", "ls"));
    const row = ls.stdout.split("\n").find((l) => l.split(/\s+/)[0] === name);
    check(`image ${name} has digest ${digest}`, row?.includes(digest) === true, row ?? ls.stdout + ls.stderr);

    const nodeV = await exec(ctrRun({}, "node", "--version"));
    check(`node --version = v${NODE.version}`, nodeV.code === 0 && nodeV.stdout.trim() === `v${NODE.version}`, nodeV.stdout + nodeV.stderr);
    for (const cmd of ["coild", "coil-router"]) {
      const r = await exec(ctrRun({}, cmd, "--help"));
      check(`${cmd} --help`, r.code === 0 && r.stdout.includes(`\nUsage:\n  ${cmd} [flags]\n`), r.stdout + r.stderr);
    }
    // The controller's Deployment runs it as 10000:10000 (ctr 1.6's run has no --user: util-linux's setpriv).
    const ctl = await exec(ctrRun({}, "setpriv", "--reuid=10000", "--regid=10000", "--clear-groups", "coil-ipam-controller", "--help"));
    check("coil-ipam-controller --help (uid 10000)", ctl.code === 0 && ctl.stdout.includes("\nUsage:\n  coil-ipam-controller [flags]\n"), ctl.stdout + ctl.stderr);
    for (const tool of [["ip", "-V"], ["nft", "--version"], ["iptables", "--version"], ["nsenter", "--version"], ["sysctl", "--version"]]) {
      const r = await exec(ctrRun({}, ...tool));
      check(tool.join(" "), r.code === 0, r.stdout + r.stderr);
    }
    // ctr run never closes the container's stdin, so the CNI request cannot be sent here: with
    // --null-io stdin is empty, which `coil` answers with its VERSION result and exit status 0
    // (the request itself is checked below against the installed copy).
    const ver = await exec(ctr("run", "--rm", "--null-io", "--env", "CNI_COMMAND=VERSION", name, `coil-image-verify-${process.pid}-${++seq}`, `${COIL_DIR}/coil`));
    check(`${COIL_DIR}/coil VERSION (exit status)`, ver.code === 0, `exit ${ver.code} ${ver.stderr}`);
    const bin = join(dir, "host-opt-cni-bin");
    const etc = join(dir, "host-etc-cni-net.d");
    await mkdir(bin);
    await mkdir(etc);
    const netconf = readFileSync(join(REPO_ROOT, "config/default/netconf.json"), "utf8");
    const inst = await exec(ctrRun({ env: { CNI_NETCONF: netconf }, mounts: [[bin, "/host/opt/cni/bin"], [etc, "/host/etc/cni/net.d"]] }, "coil-installer"));
    const conflist = existsSync(join(etc, "10-coil.conflist")) ? (JSON.parse(await readFile(join(etc, "10-coil.conflist"), "utf8")) as { plugins?: Array<{ type?: string }> }) : undefined;
    check("coil-installer installs coil and 10-coil.conflist", inst.code === 0 && existsSync(join(bin, "coil")) && conflist?.plugins?.[0]?.type === "coil", inst.stdout + inst.stderr);
    const hostVer = existsSync(join(bin, "coil")) ? await exec(["env", "-i", "CNI_COMMAND=VERSION", join(bin, "coil")], JSON.stringify({ cniVersion: "1.1.0" })) : { code: null, stdout: "", stderr: "not installed" };
    check("installed coil runs on the host (VERSION)", hostVer.code === 0 && hostVer.stdout.includes('"1.1.0"'), hostVer.stdout + hostVer.stderr);
    return checks;
  } finally {
    // A check that timed out may have left its container running: kill and remove every task first.
    const tasks = (await exec(ctr("tasks", "ls", "-q"), undefined, 10_000)).stdout.split("\n").filter((l) => l !== "");
    for (const id of tasks) {
      await exec(ctr("tasks", "kill", "--signal", "SIGKILL", id), undefined, 10_000);
      await waitFor(async () => (await exec(ctr("tasks", "delete", id), undefined, 10_000)).code === 0, 10_000);
      await exec(ctr("containers", "delete", id), undefined, 10_000);
    }
    containerd.kill("SIGTERM");
    await exited;
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/**
 * Verify `archive` (see the module comment) in a child process inside a private mount namespace;
 * resolves with the checks, rejects when the environment is missing (not root, no containerd).
 */
export async function verifyImage(archive: string): Promise<Check[]> {
  for (const tool of ["containerd", "ctr", "runc", "unshare"]) {
    if ((await exec([tool, "--version"])).code !== 0) throw new ImageError("command", `${tool} not found (apt-get install containerd)`);
  }
  const self = fileURLToPath(import.meta.url);
  const r = await exec(["unshare", "--mount", "--propagation", "private", "--", process.execPath, ...process.execArgv, self, "--inner", resolve(archive)]);
  const line = r.stdout.split("\n").find((l) => l.startsWith("CHECKS "));
  if (line === undefined) throw new ImageError("command", `verification failed to run: exit ${r.code}\n${r.stderr.trim()}`);
  return JSON.parse(line.slice("CHECKS ".length)) as Check[];
}

/** Print checks, one per line; true when all passed. */
export function reportChecks(checks: readonly Check[]): boolean {
  for (const c of checks) process.stdout.write(`${c.ok ? "ok  " : "FAIL"} ${c.name}${c.ok ? "" : `: ${c.detail}`}\n`);
  const failed = checks.filter((c) => !c.ok).length;
  process.stdout.write(`verify: ${checks.length - failed} passed, ${failed} failed\n`);
  return failed === 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const args = process.argv.slice(2);
  const main = async (): Promise<number> => {
    if (args[0] === "--inner") {
      process.stdout.write(`CHECKS ${JSON.stringify(await inner(args[1] ?? ""))}\n`);
      return 0;
    }
    const archive = args[0] ?? join(REPO_ROOT, "dist", "image", archiveFileName(projectVersion()));
    return reportChecks(await verifyImage(archive)) ? 0 : 1;
  };
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`[image verify] ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
