/**
 * Privileged CNI conformance against the real coild and the real Bun-compiled `dist/bin/coil`
 * executable. coild runs in a test "host" netns (`startCoildInNetns`), pods are further netns, and
 * the executable is spawned exactly as a runtime does (CNI_* env, netconf on stdin, result or error
 * JSON on stdout). Covers, per supported spec version, ADD/CHECK/DEL/VERSION (+ STATUS/GC for
 * 1.1.0), failing ADDs that must change nothing, DEL idempotency (netns gone, unknown id, daemon
 * restarted), CHECK on a removed table-116 route, 50 concurrent pods without leaks, hostile input,
 * and ADD not waiting for IPv6 DAD.
 */
import t from "tap";
import type { Test } from "tap";
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { requireRoot, withNetns, type TestNetns } from "../../helpers/netns.js";
import { waitFor } from "../../helpers/wait.js";
import { addNodeAddresses, REPO_ROOT, startCoildInNetns, stopProcess, TEST_NODE_V4, TEST_NODE_V6 } from "../../helpers/test-host.js";
import { poolDoc } from "./harness.js";

/** The executable the image installs as /opt/cni/bin/coil: the QuickJS build. */
const COIL = join(REPO_ROOT, "dist/bin/coil-qjs");
const HOST_DIR = join(REPO_ROOT, "adapters/cni/quickjs/host");
const VERSIONS = ["0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const;
const execFileP = promisify(execFile);

/** Build dist/bin/coil-qjs when it is missing or older than any source it bundles (meta/coil-qjs.json inputs) or its Go host. */
function ensureExecutable(): string {
  const meta = join(REPO_ROOT, "dist/bin/meta/coil-qjs.json");
  let stale = !existsSync(COIL);
  if (!stale && existsSync(meta)) {
    const built = statSync(COIL).mtimeMs;
    const inputs = Object.keys((JSON.parse(execFileSync("cat", [meta]).toString()) as { inputs: Record<string, unknown> }).inputs);
    const host = [...readdirSync(HOST_DIR).map((f) => join(HOST_DIR, f)), join(HOST_DIR, "compile/main.go")].filter((f) => !f.endsWith("_test.go"));
    stale = [...inputs.map((f) => join(REPO_ROOT, f)), ...host].some((f) => existsSync(f) && statSync(f).mtimeMs > built);
  }
  if (stale) execFileSync("flock", ["/tmp/coil-build-cni.lock", "nice", "-n", "19", "sh", join(REPO_ROOT, "scripts/build-cni.sh"), "--qjs-only"], { stdio: "inherit" });
  return stale ? "rebuilt" : "up to date";
}

const ipj = (ns: string, args: string[]): unknown[] => JSON.parse(execFileSync("ip", ["-n", ns, "-j", ...args]).toString() || "[]") as unknown[];

/** Drop fields the kernel changes on its own (address lifetimes count down). */
function scrub(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(scrub);
  if (typeof v !== "object" || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (k !== "valid_life_time" && k !== "preferred_life_time") out[k] = scrub(x);
  return out;
}

/** Links, addresses, routes of every table and rules of a netns (`ip -j`). */
function netState(ns: string): Record<string, unknown> {
  return {
    links: scrub(ipj(ns, ["-d", "link", "show"])),
    addrs: scrub(ipj(ns, ["addr", "show"])),
    routes4: ipj(ns, ["-4", "route", "show", "table", "all"]),
    routes6: ipj(ns, ["-6", "route", "show", "table", "all"]),
    rules4: ipj(ns, ["-4", "rule", "show"]),
    rules6: ipj(ns, ["-6", "rule", "show"]),
  };
}

/** Whether any address in `ns` is still in duplicate address detection. */
function hasTentative(ns: string): boolean {
  const links = ipj(ns, ["addr", "show"]) as { addr_info?: { tentative?: boolean }[] }[];
  return links.some((l) => (l.addr_info ?? []).some((a) => a.tentative === true));
}

function listTree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).sort();
}

/** A pod netns (own bookkeeping so a test may delete it early). */
interface Pod {
  readonly name: string;
  readonly path: string;
}

function podNetns(t: Test): Pod {
  const name = `coilconf-${randomBytes(4).toString("hex")}`;
  execFileSync("ip", ["netns", "add", name]);
  t.teardown(() => {
    try {
      execFileSync("ip", ["netns", "del", name], { stdio: "ignore" });
    } catch {
      /* already deleted by the test */
    }
  });
  execFileSync("ip", ["-n", name, "link", "set", "lo", "up"]);
  return { name, path: `/var/run/netns/${name}` };
}

interface CniRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

interface Call {
  readonly cmd: string;
  readonly conf: Record<string, unknown> | string;
  readonly id?: string | undefined;
  readonly netns?: string | undefined;
  readonly ifname?: string | undefined;
  readonly podNs?: string;
}

/** Spawn the executable as a runtime does. `undefined` id/netns/ifname leave the variable unset. */
function coil(c: Call): Promise<CniRun> {
  const env: Record<string, string> = { PATH: process.env["PATH"] ?? "/usr/bin:/bin", CNI_COMMAND: c.cmd, CNI_PATH: "/opt/cni/bin" };
  if (c.id !== undefined) {
    env["CNI_CONTAINERID"] = c.id;
    env["CNI_ARGS"] = `K8S_POD_NAMESPACE=${c.podNs ?? "default"};K8S_POD_NAME=p-${c.id.replace(/[^a-z0-9]/g, "")}`;
  }
  if (c.netns !== undefined) env["CNI_NETNS"] = c.netns;
  if (c.ifname !== undefined) env["CNI_IFNAME"] = c.ifname;
  const t0 = performance.now();
  const child = spawn(COIL, [], { env, stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (err += b.toString()));
  child.stdin.end(typeof c.conf === "string" ? c.conf : JSON.stringify(c.conf));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code: code ?? -1, stdout: out, stderr: err, ms: performance.now() - t0 })));
}

interface CniErrorOut {
  readonly cniVersion: string;
  readonly code: number;
  readonly msg: string;
  readonly details?: string;
}
interface IpOut {
  readonly address: string;
  readonly version?: string;
  readonly interface?: number;
  readonly gateway?: string;
}
interface AddOut {
  readonly cniVersion: string;
  readonly interfaces?: { name: string; sandbox?: string }[];
  readonly ips: IpOut[];
}

const parse = <T>(r: CniRun): T => JSON.parse(r.stdout) as T;

/** The table-116 route of `ip` (v4 without prefix) in the host netns, if any: its device. */
function podRouteDev(host: string, ip: string): string | undefined {
  const r = (ipj(host, ["route", "show", "table", "116"]) as { dst: string; dev: string }[]).find((x) => x.dst === ip);
  return r?.dev;
}
function linkExists(ns: string, dev: string): boolean {
  return (ipj(ns, ["link", "show"]) as { ifname: string }[]).some((l) => l.ifname === dev);
}
const v4Of = (a: AddOut): string => (a.ips.find((i) => !i.address.includes(":"))?.address ?? "").split("/")[0] ?? "";
const v6Of = (a: AddOut): string => (a.ips.find((i) => i.address.includes(":"))?.address ?? "").split("/")[0] ?? "";

t.test("CNI conformance: real coild in a test host netns, real dist/bin/coil-qjs", async (t) => {
  if (!requireRoot(t)) return;
  t.comment(`dist/bin/coil-qjs ${ensureExecutable()}`);
  const host: TestNetns = withNetns(t, "coilconf-host");
  addNodeAddresses(host.name);
  const dir = mkdtempSync(join(tmpdir(), "coild-conf-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const sock = join(dir, "coild.sock");
  const pools = [
    poolDoc("default", { blockSizeBits: 4, subnets: [{ ipv4: "10.100.0.0/24", ipv6: "fd02::/120" }] }),
    poolDoc("tiny", { blockSizeBits: 2, subnets: [{ ipv4: "10.101.0.0/30" }] }),
  ].join("\n---\n");
  writeFileSync(join(dir, "pools.yaml"), pools);
  writeFileSync(join(dir, "ns-pools.yaml"), "tiny: tiny\n");
  const flags = [`--socket=${sock}`, `--state-dir=${join(dir, "state")}`, `--pools=${join(dir, "pools.yaml")}`, `--namespace-pools=${join(dir, "ns-pools.yaml")}`,
    "--metrics-addr=127.0.0.1:9384", "--health-addr=127.0.0.1:9385", `--node-ipv4=${TEST_NODE_V4}`, `--node-ipv6=${TEST_NODE_V6}`, "--enable-egress=false",
    // As in the image: commands start through coil-spawner (built by test-prepare; `--spawner=auto` would find it too).
    `--spawner=${join(REPO_ROOT, "dist/bin/coil-spawner")}`];
  let firstLog: (() => string) | undefined;
  const start = async (): Promise<ChildProcess> => {
    const c = await startCoildInNetns({ netnsPath: host.path, flags, nodeName: "conf" });
    firstLog ??= () => c.log();
    return c.child;
  };
  let coild = await start();
  // coild names its spawner once it has started (after "serving CNI").
  await waitFor("coild's spawner log line", () => (firstLog?.() ?? "").includes('"msg":"commands start through"'));
  t.match(firstLog?.() ?? "", /"msg":"commands start through","spawner":"[^"]*dist\/bin\/coil-spawner"/, "coild starts its commands through coil-spawner");
  t.teardown(() => stopProcess(coild, "SIGKILL"));
  const conf = (v: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ cniVersion: v, name: "k8s-pod-network", type: "coil", socket: sock, ...extra });
  const attach = (cmd: string, v: string, id: string, p: Pod, ifname = "eth0", podNs?: string): Promise<CniRun> =>
    coil({ cmd, conf: conf(v), id, netns: p.path, ifname, ...(podNs === undefined ? {} : { podNs }) });
  const snap = (pods: readonly Pod[] = []): Record<string, unknown> => ({
    host: netState(host.name),
    pods: pods.map((p) => (existsSync(p.path) ? netState(p.name) : "gone")),
    files: listTree(dir),
  });
  /** Every pod of the subtest was deleted: tables 116 and 119 of the test host netns are empty. */
  const assertClean = (t: Test, what: string): void => {
    t.same(ipj(host.name, ["route", "show", "table", "116"]), [], `${what}: table 116 empty`);
    t.same(ipj(host.name, ["-6", "route", "show", "table", "116"]), [], `${what}: IPv6 table 116 empty`);
    t.same(ipj(host.name, ["route", "show", "table", "119"]), [], `${what}: table 119 empty (every block returned)`);
  };

  await t.test("every supported version: ADD shape, CHECK, DEL, VERSION; 1.1.0 STATUS and GC", async (t) => {
    for (const v of VERSIONS) {
      const p = podNetns(t);
      const id = `ver-${v.replace(/\./g, "")}`;
      const add = await attach("ADD", v, id, p);
      t.equal(add.code, 0, `${v} ADD exit 0 ${add.stdout}${add.stderr}`);
      const r = parse<AddOut>(add);
      t.equal(r.cniVersion, v, `${v} result cniVersion`);
      t.equal(r.ips.length, 2, `${v} dual-stack result`);
      for (const ip of r.ips) {
        if (v.startsWith("0.")) t.equal(ip.version, ip.address.includes(":") ? "6" : "4", `${v} ip ${ip.address} carries version`);
        else t.notOk("version" in ip, `${v} ip ${ip.address} has no version`);
      }
      t.match(v4Of(r), /^10\.100\.0\.\d+$/, `${v} IPv4 from the default pool`);
      t.match(v6Of(r), /^fd02::[0-9a-f]*$/, `${v} IPv6 from the default pool`);
      t.ok(podRouteDev(host.name, v4Of(r)), `${v} table-116 route for the pod`);
      const check = await attach("CHECK", v, id, p);
      if (v === "0.3.1") {
        t.not(check.code, 0, "0.3.1 CHECK refused");
        t.match(parse<CniErrorOut>(check), { code: 1, cniVersion: "0.3.1" }, "0.3.1 CHECK: incompatible version (code 1)");
      } else t.equal(check.code, 0, `${v} CHECK passes ${check.stdout}`);
      const ver = await coil({ cmd: "VERSION", conf: conf(v) });
      t.equal(ver.code, 0, `${v} VERSION exit 0`);
      const vr = parse<{ cniVersion: string; supportedVersions: string[] }>(ver);
      t.equal(vr.cniVersion, v, `${v} VERSION answers in the config's version`);
      for (const s of VERSIONS) t.ok(vr.supportedVersions.includes(s), `${v} VERSION lists ${s}`);
      const dev = podRouteDev(host.name, v4Of(r)) ?? "";
      const del = await attach("DEL", v, id, p);
      t.equal(del.code, 0, `${v} DEL exit 0 ${del.stdout}`);
      t.equal(podRouteDev(host.name, v4Of(r)), undefined, `${v} DEL removed the table-116 route`);
      t.notOk(linkExists(host.name, dev), `${v} DEL removed host veth ${dev}`);
    }

    const status = await coil({ cmd: "STATUS", conf: conf("1.1.0") });
    t.equal(status.code, 0, `1.1.0 STATUS exit 0 ${status.stdout}`);
    t.equal(status.stdout.trim(), "", "STATUS prints nothing on success");
    const st = await coil({ cmd: "STATUS", conf: conf("1.0.0") });
    t.match(parse<CniErrorOut>(st), { code: 1 }, "STATUS refused for 1.0.0 (code 1)");

    const keep = podNetns(t);
    const drop = podNetns(t);
    const ka = parse<AddOut>(await attach("ADD", "1.1.0", "gc-keep", keep));
    const da = parse<AddOut>(await attach("ADD", "1.1.0", "gc-drop", drop));
    const dropDev = podRouteDev(host.name, v4Of(da)) ?? "";
    t.ok(linkExists(host.name, dropDev), `gc-drop host veth ${dropDev} before GC`);
    const gc = await coil({ cmd: "GC", conf: conf("1.1.0", { "cni.dev/valid-attachments": [{ containerID: "gc-keep", ifname: "eth0" }] }) });
    t.equal(gc.code, 0, `GC exit 0 ${gc.stdout}`);
    t.equal(podRouteDev(host.name, v4Of(da)), undefined, "GC released the unlisted attachment: table-116 route gone");
    t.notOk(linkExists(host.name, dropDev), "GC released the unlisted attachment: host veth gone");
    t.ok(podRouteDev(host.name, v4Of(ka)), "the listed attachment keeps its route");
    t.equal((await attach("CHECK", "1.1.0", "gc-keep", keep)).code, 0, "the listed attachment still passes CHECK");
    const noList = await coil({ cmd: "GC", conf: conf("1.1.0") });
    t.not(noList.code, 0, "GC without cni.dev/valid-attachments is refused");
    t.equal(podRouteDev(host.name, v4Of(ka)) !== undefined, true, "refused GC released nothing");
    t.equal((await attach("DEL", "1.1.0", "gc-keep", keep)).code, 0);
    t.equal((await attach("DEL", "1.1.0", "gc-drop", drop)).code, 0, "DEL after GC released it");
    assertClean(t, "after every version's DEL and GC");
  });

  // The CNI spec (and Coil) require ADD to fail when CNI_IFNAME already exists in the pod netns and
  // no host link of this container owns it; nothing may be replaced or torn down.
  await t.test("ADD onto an existing interface fails with a CNI error and changes nothing", async (t) => {
    const p = podNetns(t);
    execFileSync("ip", ["-n", p.name, "link", "add", "eth0", "type", "veth", "peer", "name", "peer0"]);
    const before = snap([p]);
    const add = await attach("ADD", "1.0.0", "exists1", p);
    t.not(add.code, 0, "ADD exits non-zero");
    const e = parse<CniErrorOut>(add);
    t.type(e.code, "number", `error JSON: ${add.stdout.trim()}`);
    t.type(e.msg, "string", "error msg");
    t.same(snap([p]), before, "host netns, pod netns and state files unchanged");

    const q = podNetns(t);
    const ok = await attach("ADD", "1.0.0", "first", q);
    t.equal(ok.code, 0);
    // The kernel's own link-local addresses of the new veth pair are still in duplicate address
    // detection right after ADD (`tentative`); the snapshot must not race DAD finishing.
    await waitFor("DAD finished on the host and the first pod (no tentative address)", () => !hasTentative(host.name) && !hasTentative(q.name));
    const before2 = snap([q]);
    const dup = await attach("ADD", "1.0.0", "second", q);
    t.not(dup.code, 0, "second container id on the same netns+ifname fails");
    t.type(parse<CniErrorOut>(dup).code, "number", `error JSON: ${dup.stdout.trim()}`);
    t.same(snap([q]), before2, "nothing changed, the first pod intact");
    t.equal((await attach("CHECK", "1.0.0", "first", q)).code, 0, "first pod still passes CHECK");
    t.equal((await attach("DEL", "1.0.0", "second", q)).code, 0, "DEL of the failed second id succeeds");
    t.equal((await attach("CHECK", "1.0.0", "first", q)).code, 0, "and does not tear down the first pod");
    for (const [id, pod] of [["first", q], ["exists1", p]] as const) {
      const d = await attach("DEL", "1.0.0", id, pod);
      t.equal(d.code, 0, `DEL ${id} ${d.stdout.trim()}`);
    }
    assertClean(t, "after the failed ADDs and their DELs");
  });

  await t.test("DEL is idempotent on the real kernel", async (t) => {
    assertClean(t, "before the DEL cases");
    const base = snap();
    const p = podNetns(t);
    const a = parse<AddOut>(await attach("ADD", "1.0.0", "twice", p));
    t.equal((await attach("DEL", "1.0.0", "twice", p)).code, 0, "first DEL");
    t.equal((await attach("DEL", "1.0.0", "twice", p)).code, 0, "second DEL");
    t.equal(podRouteDev(host.name, v4Of(a)), undefined, "route gone");

    const lost = podNetns(t);
    const la = parse<AddOut>(await attach("ADD", "1.0.0", "lost-if", lost));
    execFileSync("ip", ["-n", lost.name, "link", "del", "eth0"]);
    const ld = await attach("DEL", "1.0.0", "lost-if", lost);
    t.equal(ld.code, 0, `DEL after the pod's eth0 (and so its veth) vanished, netns still there: ${ld.stdout.trim()}`);
    t.equal((await attach("DEL", "1.0.0", "lost-if", lost)).code, 0, "and again");
    t.equal(podRouteDev(host.name, v4Of(la)), undefined, "its route is gone");

    const unknown = await attach("DEL", "1.0.0", "never-added", podNetns(t));
    t.equal(unknown.code, 0, "DEL of an unknown container id succeeds");
    const gone = await coil({ cmd: "DEL", conf: conf("1.0.0"), id: "never-added-2", netns: "/var/run/netns/coilconf-does-not-exist", ifname: "eth0" });
    t.equal(gone.code, 0, `DEL of an unknown id with a missing netns succeeds ${gone.stdout}`);
    t.same(snap(), base, "host netns back to the baseline");

    // Tiny pool: 4 addresses. Fill it, delete one pod's netns, DEL it, and the address comes back.
    const tiny = Array.from({ length: 4 }, () => podNetns(t));
    const got: string[] = [];
    for (const [i, q] of tiny.entries()) {
      const r = await attach("ADD", "1.0.0", `tiny${i}`, q, "eth0", "tiny");
      t.equal(r.code, 0, `tiny${i} ADD ${r.stdout}`);
      got.push(v4Of(parse<AddOut>(r)));
    }
    t.same([...got].sort(), ["10.101.0.0", "10.101.0.1", "10.101.0.2", "10.101.0.3"], "tiny pool full");
    const extra = podNetns(t);
    const full = await attach("ADD", "1.0.0", "tiny4", extra, "eth0", "tiny");
    t.not(full.code, 0, `fifth ADD fails while the pool is exhausted: ${full.stdout.trim()}`);
    const victim = got[1] ?? "";
    const dev = podRouteDev(host.name, victim) ?? "";
    execFileSync("ip", ["netns", "del", tiny[1]?.name ?? ""]);
    const delGone = await attach("DEL", "1.0.0", "tiny1", tiny[1] as Pod, "eth0", "tiny");
    t.equal(delGone.code, 0, `DEL after the pod netns was deleted ${delGone.stdout}`);
    t.equal((await attach("DEL", "1.0.0", "tiny1", tiny[1] as Pod, "eth0", "tiny")).code, 0, "and again");
    t.notOk(linkExists(host.name, dev), `host veth ${dev} gone`);
    t.equal(podRouteDev(host.name, victim), undefined, "table-116 route gone");
    const reuse = await attach("ADD", "1.0.0", "tiny4", extra, "eth0", "tiny");
    t.equal(reuse.code, 0, `ADD after the release ${reuse.stdout}`);
    t.equal(v4Of(parse<AddOut>(reuse)), victim, `freed ${victim} handed out again`);

    // coild restarted between ADD and DEL.
    const r = podNetns(t);
    const ra = parse<AddOut>(await attach("ADD", "1.0.0", "restart", r));
    const rdev = podRouteDev(host.name, v4Of(ra)) ?? "";
    await stopProcess(coild, "SIGTERM");
    coild = await start();
    t.equal((await attach("DEL", "1.0.0", "restart", r)).code, 0, "DEL after a coild restart");
    t.notOk(linkExists(host.name, rdev), "host veth gone");
    t.equal(podRouteDev(host.name, v4Of(ra)), undefined, "route gone");
    for (const [i, q] of tiny.entries()) if (i !== 1) t.equal((await attach("DEL", "1.0.0", `tiny${i}`, q, "eth0", "tiny")).code, 0);
    t.equal((await attach("DEL", "1.0.0", "tiny4", extra, "eth0", "tiny")).code, 0);
    t.same(snap(), base, "host netns back to the baseline after every DEL");
    assertClean(t, "after the DEL cases");
  });

  await t.test("CHECK detects a removed table-116 route", async (t) => {
    const p = podNetns(t);
    const a = parse<AddOut>(await attach("ADD", "1.0.0", "chk", p));
    t.equal((await attach("CHECK", "1.0.0", "chk", p)).code, 0, "CHECK passes");
    execFileSync("ip", ["-n", host.name, "route", "del", v4Of(a), "table", "116"]);
    const c = await attach("CHECK", "1.0.0", "chk", p);
    t.not(c.code, 0, `CHECK fails: ${c.stdout.trim()}`);
    t.type(parse<CniErrorOut>(c).code, "number");
    t.equal((await attach("DEL", "1.0.0", "chk", p)).code, 0);
    assertClean(t, "after CHECK");
  });

  await t.test("50 concurrent ADDs, pings, 50 concurrent DELs leak nothing", async (t) => {
    const before = netState(host.name);
    const pods = Array.from({ length: 50 }, () => podNetns(t));
    const t0 = performance.now();
    const adds = await Promise.all(pods.map((p, i) => attach("ADD", "1.0.0", `many${i}`, p)));
    const addWall = performance.now() - t0;
    for (const [i, a] of adds.entries()) t.equal(a.code, 0, `many${i} ADD ${a.code === 0 ? "" : a.stdout}`);
    const results = adds.filter((a) => a.code === 0).map((a) => parse<AddOut>(a));
    const v4 = results.map(v4Of);
    const v6 = results.map(v6Of);
    t.equal(new Set(v4).size, 50, "50 distinct IPv4 addresses");
    t.equal(new Set(v6).size, 50, "50 distinct IPv6 addresses");
    const targets = [...v4, ...v6];
    let pinged = 0;
    for (let i = 0; i < targets.length; i += 10) {
      const batch = targets.slice(i, i + 10);
      const res = await Promise.allSettled(batch.map((ip) => execFileP("ip", ["netns", "exec", host.name, "ping", "-c1", "-W1", ip])));
      for (const [j, r] of res.entries()) if (r.status === "fulfilled") pinged += 1;
      else t.fail(`ping ${batch[j]} from the test host netns`);
    }
    t.equal(pinged, 100, "every pod answers IPv4 and IPv6 ping from the test host netns");
    const t1 = performance.now();
    const dels = await Promise.all(pods.map((p, i) => attach("DEL", "1.0.0", `many${i}`, p)));
    const delWall = performance.now() - t1;
    t.same(dels.filter((d) => d.code !== 0).map((d) => d.stdout), [], "all 50 DELs exit 0");
    t.comment(`50 concurrent executable ADDs ${addWall.toFixed(0)} ms wall, 50 concurrent DELs ${delWall.toFixed(0)} ms wall`);
    t.same(netState(host.name), before, "test host netns links/addresses/routes (all tables)/rules equal the snapshot before the ADDs");
  });

  await t.test("bad input: right error code, nothing changes", async (t) => {
    const p = podNetns(t);
    const good = { cmd: "ADD", conf: conf("1.0.0"), id: "bad1", netns: p.path, ifname: "eth0" } as const;
    const cases: { name: string; call: Call; code: number; msg?: RegExp }[] = [
      { name: "malformed JSON stdin", call: { ...good, conf: "{not json" }, code: 6 },
      { name: "missing CNI_CONTAINERID", call: { ...good, id: undefined }, code: 4, msg: /CNI_CONTAINERID/ },
      { name: "missing CNI_IFNAME", call: { ...good, ifname: undefined }, code: 4, msg: /CNI_IFNAME/ },
      { name: "unknown cniVersion 9.9.9", call: { ...good, conf: conf("9.9.9") }, code: 1 },
      { name: "wrong socket path", call: { ...good, conf: { ...conf("1.0.0"), socket: join(dir, "nope.sock") } }, code: 11 },
      { name: "container id ../../x", call: { ...good, id: "../../x" }, code: 4, msg: /CNI_CONTAINERID/ },
      { name: "container id a;b", call: { ...good, id: "a;b" }, code: 4, msg: /CNI_CONTAINERID/ },
      { name: "ifname eth0;reboot", call: { ...good, ifname: "eth0;reboot" }, code: 4, msg: /CNI_IFNAME/ },
      { name: "ifname of 16 chars", call: { ...good, ifname: "abcdefghijklmnop" }, code: 4, msg: /CNI_IFNAME/ },
      { name: "ifname ..", call: { ...good, ifname: ".." }, code: 4, msg: /CNI_IFNAME/ },
    ];
    const netnsDir = (): string[] => readdirSync("/var/run/netns").filter((n) => ["x", "a;b", "b", "..", "eth0;reboot"].includes(n) || n.startsWith("bad1"));
    for (const c of cases) {
      const before = snap([p]);
      const nsBefore = netnsDir();
      const r = await coil(c.call);
      t.not(r.code, 0, `${c.name}: non-zero exit`);
      const e = parse<CniErrorOut>(r);
      t.equal(e.code, c.code, `${c.name}: code ${c.code} (${e.msg}${e.details === undefined ? "" : `: ${e.details}`})`);
      if (c.msg !== undefined) t.match(e.msg, c.msg, `${c.name}: message names the variable`);
      t.same(snap([p]), before, `${c.name}: host netns, pod netns and state files unchanged`);
      t.same(netnsDir(), nsBefore, `${c.name}: no new netns`);
    }
  });

  await t.test("dual-stack ADD does not wait for DAD", async (t) => {
    const p = podNetns(t);
    // DAD in this pod namespace would take 10 s (10 probes, 1 s apart; a device moved in takes the
    // namespace's defaults), so an ADD that waited for it could not finish within the bound below
    // even on a slow machine.
    execFileSync("ip", ["netns", "exec", p.name, "sysctl", "-q", "-w", "net.ipv6.conf.default.dad_transmits=10"]);
    const a = await attach("ADD", "1.0.0", "dad", p);
    const addrs = ipj(p.name, ["-6", "addr", "show", "dev", "eth0"]) as { addr_info: Record<string, unknown>[] }[];
    t.equal(a.code, 0, a.stdout);
    const v6 = v6Of(parse<AddOut>(a));
    const info = addrs[0]?.addr_info.find((x) => x["local"] === v6);
    t.ok(info, `pod has ${v6} on eth0`);
    t.notOk(info?.["tentative"], `${v6} is not tentative right after ADD (${JSON.stringify(info)})`);
    t.notOk(info?.["dadfailed"], "and not dadfailed");
    t.ok(a.ms < 5000, `ADD wall time ${a.ms.toFixed(0)} ms < 5000 ms (DAD here takes 10 s)`);
    t.comment(`dual-stack ADD through dist/bin/coil: ${a.ms.toFixed(1)} ms wall`);
    t.equal((await attach("DEL", "1.0.0", "dad", p)).code, 0);
    assertClean(t, "after the DAD case");
  });

  await stopProcess(coild, "SIGTERM");
  t.notOk(existsSync(sock), "socket removed on SIGTERM");
});
