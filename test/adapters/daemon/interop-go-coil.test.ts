/**
 * Wire compatibility with Coil v2 itself: Coil's OWN Go CNI executable (`cmd/coil` of
 * github.com/cybozu-go/coil/v2 v2.15.0, built by scripts/coil-v2/build.sh) drives OUR coild,
 * exactly as a container runtime runs it: CNI_* environment, the netconf on stdin with
 * `"socket": <our socket>`, run through `nsenter --net=<test host netns>`. Go's gRPC client, Go's
 * protobuf decoding of CNIArgs/AddResponse and Go's `status.Convert(err).Details()` on our
 * `grpc-status-details-bin` trailer are all exercised; nothing of ours runs on the client side.
 */
import t from "tap";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireRoot, withNetns, type TestNetns } from "../../helpers/netns.js";
import { missingPrerequisite } from "../../helpers/prerequisites.js";
import { programArgv } from "../../helpers/bundles.js";
import { addNodeAddresses, REPO_ROOT, startCoildInNetns, terminateProcess, TEST_NODE_V4, TEST_NODE_V6 } from "../../helpers/test-host.js";
import { poolDoc } from "./harness.js";
import { sourceChildEnv } from "../../helpers/child-env.js";

/** The Go `coil` binary: `COIL_V2_COIL=<path>` from the build script in no-build mode, or the reason it is missing. */
function goCoilBinary(): { readonly path: string } | { readonly missing: string } {
  try {
    const out = execFileSync("bash", [join(REPO_ROOT, "scripts/coil-v2/build.sh"), "coil"], {
      env: { ...process.env, COIL_V2_NO_BUILD: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    }).toString();
    const path = /^COIL_V2_COIL=(.+)$/m.exec(out)?.[1];
    return path === undefined ? { missing: `build script printed no COIL_V2_COIL line: ${out}` } : { path };
  } catch (e) {
    const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim() ?? String(e);
    return { missing: `Coil v2's Go coil binary is not built (run scripts/coil-v2/build.sh): ${stderr}` };
  }
}

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

interface Call {
  readonly cmd: "ADD" | "DEL" | "CHECK";
  readonly id: string;
  readonly pod: TestNetns;
  readonly cniVersion: string;
}

/** Run a CNI executable as a runtime does: env, netconf on stdin, inside the test host netns. */
function runCni(argv: readonly string[], host: TestNetns, sock: string, c: Call): Promise<Run> {
  const conf = JSON.stringify({ cniVersion: c.cniVersion, name: "k8s-pod-network", type: "coil", socket: sock });
  const env = {
    ...sourceChildEnv(),
    CNI_COMMAND: c.cmd,
    CNI_CONTAINERID: c.id,
    CNI_NETNS: c.pod.path,
    CNI_IFNAME: "eth0",
    CNI_PATH: "/opt/cni/bin:/usr/lib/cni",
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${c.id};K8S_POD_INFRA_CONTAINER_ID=${c.id}`,
  };
  const child = spawn("nsenter", [`--net=${host.path}`, "--", ...argv], { env, stdio: ["pipe", "pipe", "pipe"], cwd: REPO_ROOT });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  child.stdin.end(conf);
  return new Promise((resolve) => child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr })));
}

/** Our `coil` CNI executable: the Node bundle dist/bin/coil.mjs, kept current (test/helpers/bundles.ts). */
const OUR_COIL = programArgv("coil");
const ipj = <T>(ns: string, args: readonly string[]): T[] => JSON.parse(execFileSync("ip", ["-n", ns, "-j", ...args]).toString() || "[]") as T[];
const hostVethOf = (r: { interfaces?: { name: string; sandbox?: string }[] }): string | undefined => r.interfaces?.find((i) => i.sandbox === undefined || i.sandbox === "")?.name;

interface AddResult {
  readonly cniVersion: string;
  readonly interfaces?: { name: string; sandbox?: string }[];
  readonly ips: { address: string; version?: string; interface?: number }[];
}

t.test("Coil v2's Go coil executable against our coild", async (t) => {
  if (!requireRoot(t)) return;
  const bin = goCoilBinary();
  if ("missing" in bin) return missingPrerequisite(t, bin.missing);
  const goCoil = [bin.path];
  t.comment(`Go coil: ${bin.path}`);

  const host = withNetns(t, "coiltest-host");
  addNodeAddresses(host.name);
  const dir = mkdtempSync(join(tmpdir(), "coild-interop-"));
  const sock = join(dir, "coild.sock");
  // A tiny pool: one block of 4 IPv4 + 4 IPv6 addresses, so the fifth pod exhausts it.
  writeFileSync(join(dir, "pools.yaml"), poolDoc("default", { blockSizeBits: 2, subnets: [{ ipv4: "10.100.0.0/30", ipv6: "fd02::/126" }] }));
  const flags = [`--socket=${sock}`, `--state-dir=${join(dir, "state")}`, `--pools=${join(dir, "pools.yaml")}`, "--metrics-addr=127.0.0.1:9384",
    "--health-addr=127.0.0.1:9385", `--node-ipv4=${TEST_NODE_V4}`, `--node-ipv6=${TEST_NODE_V6}`, "--enable-egress=false"];
  const coild = await startCoildInNetns({ netnsPath: host.path, flags, nodeName: "interop" });
  t.teardown(() => terminateProcess(coild.child));

  const pods = [withNetns(t, "coiltest-pod"), withNetns(t, "coiltest-pod"), withNetns(t, "coiltest-pod"), withNetns(t, "coiltest-pod"), withNetns(t, "coiltest-pod")] as const;
  const [pGo1, pGo04, pOurs, pFill, pFull] = pods;

  // ADD by Go coil at CNI 1.0.0 and 0.4.0, and by our executable; same pool, distinct addresses.
  const go1 = await runCni(goCoil, host, sock, { cmd: "ADD", id: "go1", pod: pGo1, cniVersion: "1.0.0" });
  t.equal(go1.code, 0, `Go coil ADD (1.0.0): ${go1.stdout}${go1.stderr}`);
  const go04 = await runCni(goCoil, host, sock, { cmd: "ADD", id: "go04", pod: pGo04, cniVersion: "0.4.0" });
  t.equal(go04.code, 0, `Go coil ADD (0.4.0): ${go04.stdout}${go04.stderr}`);
  const ours = await runCni(OUR_COIL, host, sock, { cmd: "ADD", id: "ours", pod: pOurs, cniVersion: "1.0.0" });
  t.equal(ours.code, 0, `our coil ADD: ${ours.stdout}${ours.stderr}`);
  const r1 = JSON.parse(go1.stdout) as AddResult;
  const r04 = JSON.parse(go04.stdout) as AddResult;
  const rOurs = JSON.parse(ours.stdout) as AddResult;
  t.equal(r1.cniVersion, "1.0.0", "Go coil prints a 1.0.0 result");
  t.equal(r04.cniVersion, "0.4.0", "Go coil prints a 0.4.0 result");
  t.same(r04.ips.map((i) => i.version), ["4", "6"], "0.4.0 result carries the per-IP version field");
  t.notOk(r1.ips.some((i) => "version" in i), "1.0.0 result has no per-IP version field");
  const all = [r1, r04, rOurs].map((r) => r.ips.map((i) => i.address));
  t.comment(`addresses: Go 1.0.0 ${all[0]?.join(" ")}; Go 0.4.0 ${all[1]?.join(" ")}; ours ${all[2]?.join(" ")}`);
  for (const ips of all) {
    t.equal(ips.length, 2, "one IPv4 and one IPv6 address");
    t.match(ips[0], /^10\.100\.0\.[0-3]\/32$/, "IPv4 from the pool");
    t.match(ips[1], /^fd02::[0-3]?\/128$/, "IPv6 from the pool");
  }
  t.equal(new Set(all.flat()).size, 6, "the three pods got distinct addresses");
  t.same(ipj<{ address: string }>(pGo1.name, ["-4", "addr", "show", "dev", "eth0"]).length, 1, "pod eth0 exists");
  const podV4 = ipj<{ addr_info: { local: string; prefixlen: number }[] }>(pGo1.name, ["-4", "addr", "show", "dev", "eth0"])[0]?.addr_info.map((a) => `${a.local}/${a.prefixlen}`);
  t.same(podV4, [all[0]?.[0]], "the Go-reported address is the one on the pod's eth0");

  // The pod reaches the test host's node address; CHECK passes through Go coil.
  execFileSync("ip", ["netns", "exec", pGo1.name, "ping", "-c1", "-W2", TEST_NODE_V4]);
  execFileSync("ip", ["netns", "exec", pGo04.name, "ping", "-c1", "-W2", TEST_NODE_V4]);
  t.pass(`pods set up through Go coil ping the node address ${TEST_NODE_V4}`);
  for (const [id, pod, v] of [["go1", pGo1, "1.0.0"], ["go04", pGo04, "0.4.0"]] as const) {
    const c = await runCni(goCoil, host, sock, { cmd: "CHECK", id, pod, cniVersion: v });
    t.equal(c.code, 0, `Go coil CHECK (${v}) exits 0: ${c.stdout}${c.stderr}`);
  }

  // Fill the block's last address (Go coil at CNI 0.3.1), then the fifth pod exhausts the pool;
  // Go decodes our CNIError detail from the grpc-status-details-bin trailer.
  const fill = await runCni(goCoil, host, sock, { cmd: "ADD", id: "fill", pod: pFill, cniVersion: "0.3.1" });
  t.equal(fill.code, 0, `Go coil ADD (0.3.1) takes the last address: ${fill.stdout}${fill.stderr}`);
  const full = await runCni(goCoil, host, sock, { cmd: "ADD", id: "full", pod: pFull, cniVersion: "1.0.0" });
  t.equal(full.code, 1, "Go coil ADD fails when the pool is exhausted");
  t.comment(`Go coil error: ${full.stdout.trim()}`);
  const cniErr = JSON.parse(full.stdout) as { code: number; msg: string; details?: string };
  const sent = coild
    .log()
    .split("\n")
    .filter((l) => l.includes('"grpc.request.container_id":"full"'))
    .map((l) => JSON.parse(l) as { "grpc.method": string; "grpc.code": number; error?: { code: number; msg: string; details: string } })
    .find((l) => l["grpc.method"] === "Add");
  t.ok(sent?.error !== undefined, "coild logged the failed Add with its CNIError");
  t.comment(`coild sent: gRPC code ${sent?.["grpc.code"]}, CNIError ${JSON.stringify(sent?.error)}`);
  t.equal(sent?.error?.code, 11, "coild answers exhaustion with CNI code 11 (try again later)");
  t.equal(cniErr.code, sent?.error?.code, "Go coil prints the CNIError code coild sent (not 999, Go's code for an undecodable status)");
  t.equal(cniErr.msg, sent?.error?.msg, "msg from the CNIError detail");
  t.equal(cniErr.details, sent?.error?.details, "details from the CNIError detail");
  const cleanup = await runCni(goCoil, host, sock, { cmd: "DEL", id: "full", pod: pFull, cniVersion: "1.0.0" });
  t.equal(cleanup.code, 0, "the runtime's DEL after the failed ADD exits 0");

  // DEL through Go coil removes the host veth and the table-116 route; a second DEL is a no-op.
  for (const [id, pod, r, v] of [["go1", pGo1, r1, "1.0.0"], ["go04", pGo04, r04, "0.4.0"]] as const) {
    const veth = hostVethOf(r);
    t.ok(veth !== undefined && veth.startsWith("veth"), `host veth ${veth} in the result`);
    const podV4Addr = r.ips[0]?.address.split("/")[0] ?? "";
    const t116 = (): string[] => ipj<{ dst: string }>(host.name, ["route", "show", "table", "116"]).map((x) => x.dst);
    t.ok(t116().includes(podV4Addr), `table 116 has ${podV4Addr} before DEL`);
    const d = await runCni(goCoil, host, sock, { cmd: "DEL", id, pod, cniVersion: v });
    t.equal(d.code, 0, `Go coil DEL (${v}) exits 0: ${d.stdout}${d.stderr}`);
    t.notOk(ipj<{ ifname: string }>(host.name, ["link", "show"]).some((l) => l.ifname === veth), `${veth} removed from the test host netns`);
    t.notOk(t116().includes(podV4Addr), `table 116 route to ${podV4Addr} removed`);
    const again = await runCni(goCoil, host, sock, { cmd: "DEL", id, pod, cniVersion: v });
    t.equal(again.code, 0, "second DEL exits 0");
  }
  const d = await runCni(OUR_COIL, host, sock, { cmd: "DEL", id: "ours", pod: pOurs, cniVersion: "1.0.0" });
  t.equal(d.code, 0, "our coil DEL");
  const dFill = await runCni(goCoil, host, sock, { cmd: "DEL", id: "fill", pod: pFill, cniVersion: "0.3.1" });
  t.equal(dFill.code, 0, "Go coil DEL (0.3.1)");
  t.same(ipj(host.name, ["route", "show", "table", "116"]), [], "table 116 empty");
});
