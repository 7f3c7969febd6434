/**
 * The package's `bin`s (scripts/build-bins.sh): single-file ESM bundles that run with plain Node from a
 * directory without node_modules, and leave nothing but Node built-ins to load at run time.
 */
import t from "tap";
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { get } from "node:http";
import { builtinModules } from "node:module";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { findControlPlaneBinaries, startControlPlane } from "../helpers/envtest.js";
import { missingPrerequisite } from "../helpers/prerequisites.js";
import { waitFor } from "../helpers/wait.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BIN = join(ROOT, "dist/bin");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { bin: Record<string, string>; version: string };
const pkgVersion = pkg.version;
/** Optional modules that CommonJS dependencies require inside try/catch (ws, node-fetch): absent is fine. */
const GUARDED_OPTIONAL = new Set(["bufferutil", "utf-8-validate", "encoding"]);

/** The commit the bundles embed (scripts/lib/build-info.sh): this checkout's HEAD at build time. */
const commit = execFileSync("git", ["-C", ROOT, "rev-parse", "HEAD"]).toString().trim();
const t0 = performance.now();
execFileSync("sh", [join(ROOT, "scripts/build-bins.sh")], { stdio: ["ignore", "inherit", "inherit"] });
t.comment(`built ${Object.keys(pkg.bin).length} bundles in ${Math.round(performance.now() - t0)} ms`);

/** A fresh directory with no node_modules in it or above it, holding copies of every bundle. */
const dir = mkdtempSync(join(tmpdir(), "coil-bins-"));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
for (let d = dir; d !== dirname(d); d = dirname(d)) if (existsSync(join(d, "node_modules"))) t.fail(`${d}/node_modules exists: the test would not be isolated`);
for (const [name, path] of Object.entries(pkg.bin)) copyFileSync(join(ROOT, path), join(dir, `${name}.mjs`));

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}
async function run(file: string, args: readonly string[], o: { env?: Record<string, string>; stdin?: string; direct?: boolean } = {}): Promise<Ran> {
  // Node's own directory on PATH so `#!/usr/bin/env node` finds it; nothing else inherited from this process.
  const env = { PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, ...o.env };
  const child = o.direct === true ? spawn(file, args, { cwd: dir, env }) : spawn(process.execPath, [file, ...args], { cwd: dir, env });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  child.stdin.end(o.stdin ?? "");
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, stdout, stderr };
}

/** Bundles whose `#!` line passes Node options (scripts/build-bins.sh); the others use `#!/usr/bin/env node`. */
const SHEBANG: Readonly<Record<string, string>> = { "coil-ipam-controller": "#!/usr/bin/env -S node --max-semi-space-size=4" };

t.test("package.json bin entries are the built bundles", async (t) => {
  t.same(Object.keys(pkg.bin).sort(), ["coil", "coil-egress", "coil-egress-controller", "coil-installer", "coil-ipam-controller", "coil-router", "coilctl", "coild"]);
  for (const [name, path] of Object.entries(pkg.bin)) {
    t.equal(path, `dist/bin/${name}.mjs`, name);
    const first = readFileSync(join(ROOT, path), "utf8").split("\n", 1)[0];
    t.equal(first, SHEBANG[name] ?? "#!/usr/bin/env node", `${name}: shebang`);
  }
});

t.test("nothing but Node built-ins is loaded at run time (esbuild metafiles)", async (t) => {
  const builtins = new Set(builtinModules);
  for (const name of Object.keys(pkg.bin)) {
    const meta = JSON.parse(readFileSync(join(BIN, "meta", `${name}.json`), "utf8")) as {
      outputs: Record<string, { imports: Array<{ path: string; kind: string; external?: boolean }> }>;
    };
    const externals = Object.values(meta.outputs).flatMap((o) => o.imports.filter((i) => i.external === true));
    const foreign = externals.filter((i) => !builtins.has(i.path.replace(/^node:/, "")) && !GUARDED_OPTIONAL.has(i.path));
    t.same(foreign, [], `${name}: ${externals.length} external imports, all built-in or guarded optional`);
  }
});

t.test("coil-ipam-controller's bundle leaves client-node out (its memory: adapters/k8s/rest.ts)", async (t) => {
  const meta = JSON.parse(readFileSync(join(BIN, "meta", "coil-ipam-controller.json"), "utf8")) as { outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }> };
  // esbuild lists every module it read (index.ts re-exports clients.ts); what counts is what is left in the output.
  const inputs = Object.values(meta.outputs).flatMap((o) => Object.entries(o.inputs).filter(([, v]) => v.bytesInOutput > 0).map(([k]) => k));
  t.same(inputs.filter((i) => i.includes("node_modules/@kubernetes/client-node/")), [], "no client-node code bundled");
  t.ok(inputs.some((i) => i.endsWith("adapters/k8s/rest.ts")), "the REST client is");
});

t.test("each bin runs from an empty directory", async (t) => {
  const cases = [
    { name: "coild", usage: /^coild is a gRPC server running on each node\.\n[\s\S]*\nUsage:\n {2}coild \[flags\]\n[\s\S]*--compat-calico +make veth name compatible with Calico\n/ },
    { name: "coil-ipam-controller", usage: /^coil-ipam-controller is a Kubernetes controller[\s\S]*--enable-cert-rotation[\s\S]*--webhook-addr string +bind address of admission webhook \(default ":9443"\)/ },
    { name: "coil-router", usage: /^coil-router programs Linux kernel routing table[\s\S]*--protocol-id int +route author ID \(default 31\)[\s\S]*COIL_NODE_NAME/ },
    { name: "coil-installer", usage: /^coil-installer setup coil on each node[\s\S]*Environment:\n[\s\S]*CNI_NETCONF_FILE/ },
    { name: "coil-egress", usage: /^coil-egress manages Foo-over-UDP tunnels in pods created by Egress\.\n[\s\S]*--fou-port int +port number for foo-over-udp tunnels \(default 5555\)[\s\S]*COIL_EGRESS_NAME +\(required\)/ },
    { name: "coil-egress-controller", usage: /^coil-egress-controller is a Kubernetes controller for coil egress related custom resources\.\n[\s\S]*--egress-port int32 +UDP port number used by coil-egress \(default 5555\)[\s\S]*--webhook-addr string +bind address of admission webhook \(default ":9444"\)/ },
    { name: "coilctl", usage: /^coilctl shows how Coil's address pools are used and checks them for leaks\.\n[\s\S]*\nUsage:\n {2}coilctl <command> \[flags\]\n[\s\S]*--grace-period duration +ipam check: [^\n]*\(default 5m0s\)/ },
  ];
  for (const c of cases) {
    const r = await run(join(dir, `${c.name}.mjs`), ["--help"]);
    t.equal(r.code, 0, `${c.name} --help: exit 0 (${r.stderr.slice(0, 300)})`);
    t.match(r.stdout, c.usage, `${c.name} --help: usage on stdout`);
    const v = await run(join(dir, `${c.name}.mjs`), ["--version"]);
    t.equal(v.code, 0, `${c.name} --version: exit 0`);
    t.equal(v.stdout, `${c.name} version ${pkgVersion} (commit ${commit})\n`, `${c.name} --version: package.json's version and the commit built`);
    const bad = await run(join(dir, `${c.name}.mjs`), ["--no-such-flag"]);
    t.equal(bad.code, 2, `${c.name}: unknown flag exits 2`);
    t.match(bad.stderr, new RegExp(`^${c.name}: unknown flag: --no-such-flag\n`), `${c.name}: says which flag`);
  }

  const about = await run(join(dir, "coil.mjs"), [], { direct: true });
  t.equal(about.code, 0, "coil without CNI_COMMAND: exit 0");
  t.equal(about.stdout, "", "nothing on stdout");
  t.match(about.stderr, new RegExp(`^coil ${pkgVersion.replace(/\./g, "\\.")} \\(commit ${commit}\\)\nCNI protocol versions supported: 0\\.3\\.1, 0\\.4\\.0, 1\\.0\\.0, 1\\.1\\.0\n$`), "the about line (Coil: skel's about string)");
  const cniVersion = await run(join(dir, "coil.mjs"), ["--version"], { direct: true });
  t.equal(cniVersion.stdout, `coil version ${pkgVersion} (commit ${commit})\n`, "coil --version");

  const noNode = await run(join(dir, "coil-router.mjs"), []);
  t.equal(noNode.code, 2, "coil-router without COIL_NODE_NAME: exit 2");
  t.match(noNode.stderr, /COIL_NODE_NAME environment variable should be set/);
  const noEgress = await run(join(dir, "coil-egress.mjs"), []);
  t.equal(noEgress.code, 2, "coil-egress without COIL_POD_NAMESPACE: exit 2");
  t.match(noEgress.stderr, /^coil-egress: COIL_POD_NAMESPACE environment variable should be set\n/);
  const coildProto = await run(join(dir, "coil-router.mjs"), ["--protocol-id", "30"], { env: { COIL_NODE_NAME: "n1" } });
  t.equal(coildProto.code, 2, "coil-router --protocol-id 30: exit 2");
  t.match(coildProto.stderr, /--protocol-id: 30 is coild's route protocol/);

  // Executed directly, as the image runs it: `env -S` passes the heap option to node.
  const ctlVersion = await run(join(dir, "coil-ipam-controller.mjs"), ["--version"], { direct: true });
  t.equal(ctlVersion.code, 0, `coil-ipam-controller --version through its #! line: exit 0 ${ctlVersion.stderr}`);
  t.match(ctlVersion.stdout, /^coil-ipam-controller version /);
  const version = await run(join(dir, "coil.mjs"), [], { env: { CNI_COMMAND: "VERSION" }, stdin: '{"cniVersion":"1.0.0"}', direct: true });
  t.equal(version.code, 0, `coil VERSION: exit 0 (run through its shebang) ${version.stderr}`);
  const v = JSON.parse(version.stdout) as { cniVersion: string; supportedVersions: string[] };
  t.equal(v.cniVersion, "1.0.0");
  t.ok(v.supportedVersions.includes("1.0.0"), `supported: ${v.supportedVersions.join(", ")}`);
});

t.test("coil-installer installs into temp directories", async (t) => {
  const work = mkdtempSync(join(tmpdir(), "coil-bins-install-"));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const missing = await run(join(dir, "coil-installer.mjs"), [], { env: { CNI_ETC_DIR: join(work, "etc"), CNI_BIN_DIR: join(work, "bin") } });
  t.equal(missing.code, 1, "no netconf: exit 1");
  t.match(missing.stderr, /neither CNI_NETCONF nor CNI_NETCONF_FILE is set/);
  t.notOk(existsSync(join(work, "bin")), "nothing written");

  const conflist = JSON.stringify({ cniVersion: "1.0.0", name: "k8s-pod-network", plugins: [{ type: "coil", socket: "/run/coild.sock" }] });
  writeFileSync(join(work, "netconf.json"), conflist);
  const started = performance.now();
  const r = await run(join(dir, "coil-installer.mjs"), [], {
    env: { CNI_ETC_DIR: join(work, "etc"), CNI_BIN_DIR: join(work, "bin"), COIL_PATH: join(dir, "coil.mjs"), CNI_NETCONF_FILE: join(work, "netconf.json") },
    direct: true,
  });
  t.equal(r.code, 0, `exit 0 (${r.stderr})`);
  t.comment(`installer ran ${Math.round(performance.now() - started)} ms (6 s of it is Coil's settle wait)`);
  t.equal(readFileSync(join(work, "bin/coil"), "utf8"), readFileSync(join(dir, "coil.mjs"), "utf8"), "binary copied");
  t.equal(readFileSync(join(work, "etc/10-coil.conflist"), "utf8"), conflist, "conflist written");
  t.same(readdirSync(join(work, "etc")), ["10-coil.conflist"]);
});

// With a real API server: the bundled controller starts its webhook, generates certificates, injects
// the CA and reports ready.
let binaries: Awaited<ReturnType<typeof findControlPlaneBinaries>> | string;
try {
  binaries = await findControlPlaneBinaries({ build: false });
} catch (e) {
  binaries = (e as Error).message;
}
t.test("coil-ipam-controller bundle: webhook with cert rotation against kube-apiserver", async (t) => {
  if (typeof binaries === "string") return missingPrerequisite(t, binaries);
  const cp = await startControlPlane({ binaries });
  t.teardown(() => cp.stop());
  const { AdmissionregistrationV1Api, ApiextensionsV1Api, KubeConfig, loadAllYaml, loadYaml } = await import("@kubernetes/client-node");
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
  const adm = kc.makeApiClient(AdmissionregistrationV1Api);
  const ext = kc.makeApiClient(ApiextensionsV1Api);
  for (const f of ["addresspools", "addressblocks", "blockrequests"]) {
    await ext.createCustomResourceDefinition({ body: loadYaml(readFileSync(join(ROOT, `config/crd/coil.cybozu.com_${f}.yaml`), "utf8")) });
  }
  for (const d of loadAllYaml(readFileSync(join(ROOT, "config/webhook/manifests.yaml"), "utf8")) as Array<{ kind: string }>) {
    if (d.kind === "ValidatingWebhookConfiguration") await adm.createValidatingWebhookConfiguration({ body: d });
    else await adm.createMutatingWebhookConfiguration({ body: d });
  }
  const certDir = join(mkdtempSync(join(tmpdir(), "coil-bins-certs-")), "certs");
  t.teardown(() => rmSync(dirname(certDir), { recursive: true, force: true }));
  const probe = createServer().listen(0, "127.0.0.1");
  await once(probe, "listening");
  const healthPort = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
  const args = ["--kubeconfig", cp.kubeconfigPath, "--leader-elect=false", "--enable-cert-rotation", "--cert-dir", certDir];
  args.push("--webhook-addr", "127.0.0.1:0", "--metrics-addr", "0", "--health-addr", `127.0.0.1:${healthPort}`);
  const child = spawn(process.execPath, [join(dir, "coil-ipam-controller.mjs"), ...args], { cwd: dir, env: { PATH: process.env["PATH"] ?? "" } });
  let log = "";
  child.stderr.on("data", (b: Buffer) => (log += b.toString()));
  t.teardown(() => void child.kill("SIGTERM"));
  const readyz = (): Promise<number> =>
    new Promise((resolve) => get(`http://127.0.0.1:${healthPort}/readyz`, (res) => (res.resume(), resolve(res.statusCode ?? 0))).on("error", () => resolve(0)));
  const waiting = { timeoutMs: 30_000, intervalMs: 200, abortIf: () => (child.exitCode === null && child.signalCode === null ? undefined : `the controller exited (${String(child.exitCode ?? child.signalCode)})`), describe: () => log.slice(-2000) };
  await waitFor("/readyz 200 (webhook check included)", async () => (await readyz()) === 200, waiting);
  t.pass("/readyz 200 (webhook check included)");
  await waitFor('the "caches synced" log line', () => log.includes('"caches synced"'), waiting);
  t.match(log, /"caches synced"/, "informers synced (the CRDs are installed)");
  const ca = readFileSync(join(certDir, "ca.crt"), "utf8");
  const v = await adm.readValidatingWebhookConfiguration({ name: "coilv2-validating-ipam-webhook-configuration" });
  t.ok(Buffer.from(v.webhooks?.[0]?.clientConfig.caBundle ?? "", "base64").toString().includes(ca), "the bundle's CA was injected");
  child.kill("SIGTERM");
  const [code] = (await once(child, "exit")) as [number | null];
  t.equal(code, 0, "SIGTERM: exit 0");
});
