/**
 * Runs the BUILT executables, the Bun-compiled `dist/bin/coil` and the QuickJS build
 * `dist/bin/coil-qjs`, every case against both, the way a container runtime does: argv `[]`, CNI_*
 * env, netconf on stdin, result on stdout, against (a) a fast-path daemon and (b) a grpc-js daemon
 * implementing `pkg.cnirpc.CNI` (which proves the gRPC fallback's wire format, including the
 * CNIError detail in `grpc-status-details-bin`), once per spec version.
 *
 * The executables are (re)built in `before` when missing or older than their sources
 * (`scripts/build-cni.sh`: a few seconds warm, 1-2 min with a cold Go cache; the elapsed time is
 * printed as a comment).
 */
import t from "tap";
import { execFile, execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { scaledTimeout } from "../../helpers/wait.js";
import { FakeCoild } from "./fake-coild.js";
import { VERSIONS, netconf, podEnv, prevResult } from "./helpers.js";
import { startFastServer, startGrpcServer, type TestDaemon } from "./servers.js";

const ROOT = resolve(import.meta.dirname, "../../..");
const BIN = join(ROOT, "dist/bin/coil");
const QJS = join(ROOT, "dist/bin/coil-qjs");
const MJS = join(ROOT, "dist/bin/coil.mjs");

/** The self-contained executables: every runtime-facing case runs against each. */
const EXECUTABLES: readonly (readonly [string, string])[] = [
  ["Bun executable", BIN],
  ["QuickJS executable", QJS],
];

function newestSource(): number {
  const dirs = ["adapters/cni", "adapters/common", "lib/cni", "lib/net", "adapters/proto"];
  const walk = (d: string): number[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [statSync(join(d, e.name)).mtimeMs]));
  return Math.max(...dirs.flatMap((d) => walk(join(ROOT, d))));
}

t.before(() => {
  const newest = newestSource();
  if ([BIN, QJS, MJS].every((f) => existsSync(f) && statSync(f).mtimeMs > newest)) return;
  const t0 = performance.now();
  execFileSync(join(ROOT, "scripts/build-cni.sh"), { stdio: "inherit" });
  t.comment(`built dist/bin/coil, coil-qjs and coil.mjs in ${Math.round(performance.now() - t0)} ms`);
});

interface Exec {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Spawn like a runtime: no argv, only the given env, stdin = netconf (JSON-encoded; a string is written
 * as is). Async: the daemon lives in this process. The child is killed after `timeoutMs` (then `code`
 * is null).
 */
function exec(env: Record<string, string | undefined>, stdin: unknown, bin: readonly string[] = [BIN], timeoutMs = 30_000): Promise<Exec> {
  const clean = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
  const [file = BIN, ...args] = bin;
  return new Promise((done) => {
    const child = execFile(file, args, { env: clean, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (_e, stdout, stderr) =>
      done({ code: child.exitCode, stdout: String(stdout), stderr: String(stderr) }),
    );
    // A plugin may answer without reading all of a stdin it refuses; the write then fails with EPIPE.
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(typeof stdin === "string" ? stdin : JSON.stringify(stdin));
  });
}

/** {@link exec}, and how long the answer took (stdin is encoded before the clock starts). */
async function timedExec(env: Record<string, string | undefined>, stdin: unknown, bin: readonly string[], timeoutMs: number): Promise<Exec & { ms: number }> {
  const text = JSON.stringify(stdin);
  const t0 = performance.now();
  const r = await exec(env, text, bin, timeoutMs);
  return { ...r, ms: Math.round(performance.now() - t0) };
}

const parse = (s: string): Record<string, unknown> => JSON.parse(s) as Record<string, unknown>;

const kinds: readonly [string, (c: FakeCoild) => Promise<TestDaemon>][] = [
  ["fast-path daemon", startFastServer],
  ["grpc-js daemon (fallback)", startGrpcServer],
];

for (const [exe, bin] of EXECUTABLES) {
  const run = (env: Record<string, string | undefined>, stdin: unknown): Promise<Exec> => exec(env, stdin, [bin]);
  t.test(`${exe}: VERSION`, async (t) => {
    const r = await run({ CNI_COMMAND: "VERSION" }, { cniVersion: "1.0.0" });
    t.same({ code: r.code, out: parse(r.stdout) }, { code: 0, out: { cniVersion: "1.0.0", supportedVersions: [...VERSIONS] } });
  });

  for (const [kind, start] of kinds) {
    for (const v of VERSIONS) {
      t.test(`${exe}, ${kind}, cniVersion ${v}`, async (t) => {
        const coild = new FakeCoild();
        const d = await start(coild);
        t.teardown(() => d.close());
        const conf = netconf(v, { socket: d.socket });
        const add = await run(podEnv("ADD"), conf);
        t.equal(add.code, 0, add.stdout + add.stderr);
        const r = parse(add.stdout);
        t.equal(r["cniVersion"], v);
        t.same((r["ips"] as { address: string }[]).map((i) => i.address), ["10.100.0.1/32", "fd00::1/128"]);
        t.equal(coild.attachments.size, 1, "daemon state changed");
        const again = await run(podEnv("ADD"), conf);
        t.same([again.code, parse(again.stdout)], [1, { cniVersion: v, code: 999, msg: "failed to setup pod network IPAM", details: "c8f4a1b2c3d4/eth0 already exists" }], "CNIError detail decoded");
        if (v !== "0.3.1") t.same(await run(podEnv("CHECK"), conf), { code: 0, stdout: "", stderr: "" });
        t.same(await run(podEnv("DEL", { CNI_NETNS: undefined }), conf), { code: 0, stdout: "", stderr: "" });
        t.equal(coild.attachments.size, 0, "DEL reached the daemon");
        const noPod = await run(podEnv("ADD", { CNI_ARGS: "IgnoreUnknown=1" }), conf);
        t.same(parse(noPod.stdout), { cniVersion: v, code: 999, msg: "failed to get pod", details: "missing pod name or namespace" });
        t.equal(coild.requests.filter((q) => q.method === "Add").length, 3);
      });
    }

    t.test(`${exe}, ${kind}: STATUS, GC, chained ADD (1.1.0)`, async (t) => {
      const coild = new FakeCoild({ status: 51 });
      const d = await start(coild);
      t.teardown(() => d.close());
      const conf = netconf("1.1.0", { socket: d.socket });
      const st = await run({ CNI_COMMAND: "STATUS" }, conf);
      t.same([st.code, parse(st.stdout)], [1, { cniVersion: "1.1.0", code: 51, msg: "no address block available" }]);
      const gc = await run({ CNI_COMMAND: "GC", CNI_PATH: "/opt/cni/bin" }, { ...conf, "cni.dev/valid-attachments": [{ containerID: "a", ifname: "eth0" }] });
      t.same(gc, { code: 0, stdout: "", stderr: "" });
      const last = coild.requests.at(-1);
      t.same(last?.method === "GC" ? last.args.validAttachments : undefined, [{ containerId: "a", ifname: "eth0" }]);
      const chained = await run(podEnv("ADD"), netconf("1.1.0", { socket: d.socket, prevResult: prevResult("1.1.0") }));
      t.equal(chained.code, 1, "IPAM-mode daemon refuses a chained ADD");
      t.match(parse(chained.stdout)["msg"], /first plugin/);
    });
  }

  t.test(`${exe}: Coil v2 style daemon without Status/GC rpcs`, async (t) => {
    const d = await startGrpcServer(new FakeCoild({ hasStatusAndGc: false }));
    t.teardown(() => d.close());
    const st = await run({ CNI_COMMAND: "STATUS" }, netconf("1.1.0", { socket: d.socket }));
    t.same(st, { code: 0, stdout: "", stderr: "" }, "UNIMPLEMENTED counts as available");
    const fastOnly = await run(podEnv("ADD"), netconf("1.0.0", { socket: d.socket, rpc: "fast" }));
    t.match(parse(fastOnly.stdout), { code: 999, msg: /does not speak the fast protocol/ }, "rpc: fast does not fall back");
  });

  t.test(`${exe}: forced gRPC against a fast-path-only daemon fails; egress-only chaining passes prevResult`, async (t) => {
    const d = await startFastServer(new FakeCoild({ mode: "egress-only" }));
    t.teardown(() => d.close());
    const forced = await run(podEnv("ADD"), netconf("1.0.0", { socket: d.socket, rpc: "grpc" }));
    t.equal(forced.code, 1);
    const prev = prevResult("0.4.0");
    const chained = await run(podEnv("ADD"), netconf("0.4.0", { socket: d.socket, prevResult: prev }));
    t.equal(chained.code, 0, chained.stdout);
    t.same(parse(chained.stdout)["ips"], prev["ips"]);
  });

  t.test(`${exe}: daemon not running`, async (t) => {
    const add = await run(podEnv("ADD"), netconf("1.0.0", { socket: "/nonexistent/coild.sock" }));
    t.same([add.code, parse(add.stdout)["code"]], [1, 11]);
    const st = await run({ CNI_COMMAND: "STATUS" }, netconf("1.1.0", { socket: "/nonexistent/coild.sock" }));
    t.same([st.code, parse(st.stdout)["code"]], [1, 50]);
  });
}

t.test("the Node bundle behaves the same (fast path and gRPC)", async (t) => {
  for (const start of [startFastServer, startGrpcServer]) {
    const d = await start(new FakeCoild());
    const r = await exec(podEnv("ADD"), netconf("1.0.0", { socket: d.socket }), [process.execPath, MJS]);
    t.equal(r.code, 0, r.stdout + r.stderr);
    t.same((parse(r.stdout)["ips"] as unknown[]).length, 2);
    await d.close();
  }
});

const BINS: readonly (readonly [string, readonly string[]])[] = [
  ...EXECUTABLES.map(([name, bin]) => [name, [bin]] as const),
  ["Node bundle", [process.execPath, MJS]],
];

/**
 * Issue 7's bound for an answer to a huge input. Measured before the fix (this VM, loaded): the Bun
 * executable never answered a 200 KiB-1 MiB name against a fast-path daemon (it hung until the 60 s
 * call deadline); after it, about 0.1-1.5 s. 20 s leaves room for a loaded machine and still fails
 * on the hang. Scaled for load as the other waits (test/helpers/wait.ts), but kept under the 60 s
 * deadline so that a hang still fails.
 */
const ANSWER_WITHIN_MS = Math.min(scaledTimeout(20_000), 45_000);

t.test("issue 7: a 100,000-byte CNI_ARGS value is not echoed back whole", async (t) => {
  const big = "a".repeat(100_000);
  const cases: [string, string][] = [
    ["unknown key", `FOO=${big}`],
    ["pair without =", `FOO${big}`],
    ["pod name", `K8S_POD_NAMESPACE=n;K8S_POD_NAME=${big}`],
    ["infra container ID", `K8S_POD_INFRA_CONTAINER_ID=${big}`],
    ["IgnoreUnknown", `IgnoreUnknown=${big}`],
  ];
  for (const [name, args] of cases) {
    for (const [exe, bin] of EXECUTABLES) {
      const r = await exec(podEnv("ADD", { CNI_ARGS: args }), netconf("1.0.0", { socket: "/nonexistent/coild.sock" }), [bin]);
      t.equal(r.code, 1, `${exe}: ${name}`);
      t.ok(r.stdout.length < 2048, `${exe}: ${name}: ${r.stdout.length} bytes of stdout`);
      t.match(parse(r.stdout), { code: 4, msg: "failed to load CNI_ARGS", details: /… \(\d+ bytes\)|is too long: 100000 characters/ }, `${exe}: ${name}`);
    }
  }
  for (const [exe, bin] of EXECUTABLES) {
    const env = await exec(podEnv("ADD", { CNI_NETNS: `/x${big}\u0001` }), netconf("1.0.0"), [bin]);
    t.ok(env.stdout.length < 1024, `${exe}: CNI_NETNS: ${env.stdout.length} bytes of stdout`);
  }
});

t.test("issue 7: a netconf with a 1 MiB name is answered quickly (code 7, nothing sent to coild)", async (t) => {
  for (const [kind, start] of kinds) {
    for (const [name, bin] of BINS) {
      const coild = new FakeCoild();
      const d = await start(coild);
      const r = await timedExec(podEnv("ADD"), netconf("1.0.0", { socket: d.socket, name: "a".repeat(1024 * 1024) }), bin, ANSWER_WITHIN_MS + 5000);
      await d.close();
      t.comment(`${name}, ${kind}: answered in ${r.ms} ms`);
      t.ok(r.ms < ANSWER_WITHIN_MS, `${name}, ${kind}: answered in ${r.ms} ms`);
      t.equal(r.code, 1, `${name}, ${kind}: exit code (null = killed)`);
      t.same(r.code === 1 ? parse(r.stdout) : r.stdout, {
        cniVersion: "1.1.0",
        code: 7,
        msg: "network config is too large",
        details: "read 1048577 bytes from stdin, at most 1048576 are accepted",
      });
      t.equal(coild.requests.length, 0, "coild not called");
    }
  }
});

t.test("issue 7: a 512 KiB name (under the stdin bound) reaches coild whole and gets a result quickly", async (t) => {
  for (const [kind, start] of kinds) {
    for (const [name, bin] of BINS) {
      const coild = new FakeCoild();
      const d = await start(coild);
      const conf = netconf("1.0.0", { socket: d.socket, name: "a".repeat(512 * 1024) });
      const r = await timedExec(podEnv("ADD"), conf, bin, ANSWER_WITHIN_MS + 5000);
      await d.close();
      t.comment(`${name}, ${kind}: answered in ${r.ms} ms`);
      t.ok(r.ms < ANSWER_WITHIN_MS, `${name}, ${kind}: answered in ${r.ms} ms`);
      t.equal(r.code, 0, `${name}, ${kind}: ${r.stdout.slice(0, 300)}`);
      const q = coild.requests[0];
      t.equal(q?.method === "Add" ? Buffer.from(q.args.stdinData, "base64").toString() : undefined, JSON.stringify(conf), "coild got the whole stdin");
    }
  }
});

t.test("issue 7: a 64 MiB stdin is refused quickly without reading it all", async (t) => {
  const coild = new FakeCoild();
  const d = await startFastServer(coild);
  t.teardown(() => d.close());
  for (const [exe, bin] of EXECUTABLES) {
    const r = await timedExec(podEnv("ADD"), netconf("1.0.0", { socket: d.socket, pad: "x".repeat(64 * 1024 * 1024) }), [bin], ANSWER_WITHIN_MS + 5000);
    t.comment(`${exe}: answered in ${r.ms} ms`);
    t.ok(r.ms < ANSWER_WITHIN_MS, `${exe}: answered in ${r.ms} ms`);
    t.match(r.code === 1 ? parse(r.stdout) : r.stdout, { code: 7, msg: "network config is too large" }, exe);
  }
  t.equal(coild.requests.length, 0, "coild not called");
});
