/**
 * Privileged: one coild per network namespace and per state directory, with real coild processes.
 *
 * A first coild serves a pod in a test host netns (its block in table 119). A second coild in the
 * same netns with another `--socket` and another `--state-dir` must refuse to start, naming the
 * first one's pid, and change nothing: table 119 keeps the block, the first coild keeps serving,
 * the second's socket and state directory are never created. A coild in ANOTHER netns over the
 * first one's state directory is refused too (its recovery would return the first one's blocks).
 * After `kill -9` of the first coild the kernel has released its lock: a restart serves again.
 */
import t from "tap";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:net";
import { requireRoot, withNetns, type TestNetns } from "../../helpers/netns.js";
import { waitFor } from "../../helpers/wait.js";
import { programArgs } from "../../helpers/bundles.js";
import { addNodeAddresses, REPO_ROOT, stopProcess, TEST_NODE_V4 } from "../../helpers/test-host.js";
import { poolDoc } from "./harness.js";
import { sourceChildEnv } from "../../helpers/child-env.js";

/** A coild process and its stderr. */
interface Coild {
  readonly child: ChildProcess;
  log(): string;
  /** Resolves once the process exited or logged `serving CNI`. */
  readonly settled: Promise<"serving" | "exited">;
}

function spawnCoild(host: TestNetns, flags: readonly string[]): Coild {
  const child = spawn("nsenter", [`--net=${host.path}`, "--", process.execPath, ...programArgs("coild"), ...flags], {
    env: sourceChildEnv({ COIL_NODE_NAME: "lock" }),
    stdio: ["ignore", "ignore", "pipe"],
    cwd: REPO_ROOT,
  });
  let log = "";
  child.stderr?.on("data", (b: Buffer) => (log += b.toString()));
  const settled = new Promise<"serving" | "exited">((resolve) => {
    child.once("close", () => resolve("exited"));
    child.stderr?.on("data", () => {
      if (log.includes('"msg":"serving CNI"')) resolve("serving");
    });
  });
  return { child, log: () => log, settled };
}

function flagsOf(dir: string, name: string, ports: readonly [number, number]): string[] {
  return [
    `--socket=${join(dir, `${name}.sock`)}`,
    `--state-dir=${join(dir, `${name}-state`)}`,
    `--pools=${join(dir, "pools.yaml")}`,
    `--metrics-addr=127.0.0.1:${ports[0]}`,
    `--health-addr=127.0.0.1:${ports[1]}`,
    `--node-ipv4=${TEST_NODE_V4}`,
    "--enable-egress=false",
  ];
}

function fastAdd(sock: string, id: string, netns: string): Promise<Record<string, unknown>> {
  const args = { containerId: id, netns, ifname: "eth0", args: { K8S_POD_NAMESPACE: "default", K8S_POD_NAME: id }, path: "/opt/cni/bin", stdinData: "", ips: [], interfaces: {} };
  return new Promise((resolve) => {
    const s = connect(sock);
    let out = "";
    s.on("data", (b: Buffer) => (out += b.toString()));
    s.on("close", () => {
      try {
        resolve(JSON.parse(out) as Record<string, unknown>);
      } catch {
        resolve({ ok: "connection closed" });
      }
    });
    s.on("error", () => undefined);
    s.write(`${JSON.stringify({ v: 1, method: "Add", args })}\n`);
  });
}

const table119 = (ns: string): string[] =>
  (JSON.parse(execFileSync("ip", ["-n", ns, "-j", "route", "show", "table", "119"]).toString() || "[]") as { dst: string }[]).map((r) => r.dst);

t.test("a second coild in the same netns (or over the same state dir) refuses to start and changes nothing", async (t) => {
  if (!requireRoot(t)) return;
  const host = withNetns(t, "coiltest-host");
  const other = withNetns(t, "coiltest-host");
  addNodeAddresses(host.name);
  addNodeAddresses(other.name);
  const dir = mkdtempSync(join(tmpdir(), "coild-lock-"));
  writeFileSync(join(dir, "pools.yaml"), poolDoc("default", { blockSizeBits: 3, subnets: [{ ipv4: "10.100.0.0/24" }] }));
  const started: Coild[] = [];
  t.teardown(async () => {
    for (const c of started) await stopProcess(c.child, "SIGKILL");
  });
  const run = (ns: TestNetns, flags: string[]): Coild => {
    const c = spawnCoild(ns, flags);
    started.push(c);
    return c;
  };

  const first = run(host, flagsOf(dir, "a", [19384, 19385]));
  t.equal(await first.settled, "serving", first.log());
  const pod = withNetns(t, "coiltest-pod");
  t.match(await fastAdd(join(dir, "a.sock"), "p1", pod.path), { ok: true }, "the first coild serves a pod");
  t.same(table119(host.name), ["10.100.0.0/29"], "its block is exported to table 119");

  // Same netns, another socket, another state dir, other ports.
  const second = run(host, flagsOf(dir, "b", [19386, 19387]));
  t.equal(await second.settled, "exited", `the second coild must not start:\n${second.log()}`);
  t.equal(second.child.exitCode, 1, "exit code 1");
  t.match(second.log(), new RegExp(`another coild \\(pid ${first.child.pid ?? -1}\\b[^"]*${join(dir, "a.sock")}`), "the refusal names the holder's pid and socket");
  t.same(table119(host.name), ["10.100.0.0/29"], "table 119 of the first coild is untouched");
  t.notOk(existsSync(join(dir, "b.sock")), "the refused coild created no socket");
  t.notOk(existsSync(join(dir, "b-state")), "the refused coild created no state dir");
  t.equal(first.child.exitCode, null, "the first coild still runs");
  const pod2 = withNetns(t, "coiltest-pod");
  t.match(await fastAdd(join(dir, "a.sock"), "p2", pod2.path), { ok: true }, "the first coild still serves");

  // Another netns, but the first coild's state dir.
  const shared = [...flagsOf(dir, "c", [19384, 19385]).filter((f) => !f.startsWith("--state-dir=")), `--state-dir=${join(dir, "a-state")}`];
  const third = run(other, shared);
  t.equal(await third.settled, "exited", `a coild over a state dir in use must not start:\n${third.log()}`);
  t.equal(third.child.exitCode, 1, "exit code 1");
  t.match(third.log(), new RegExp(`another coild \\(pid ${first.child.pid ?? -1}\\b`), "the refusal names the holder's pid");
  t.notOk(existsSync(join(dir, "c.sock")), "no socket");
  t.same(table119(host.name), ["10.100.0.0/29"], "the first coild's block is still exported");
  t.match(await fastAdd(join(dir, "a.sock"), "p2", pod2.path), { ok: true, result: /./ }, "the first coild still has p2 (repeated ADD)");

  // SIGKILL releases both locks: the same coild starts again and recovers its pods.
  await stopProcess(first.child, "SIGKILL");
  const again = run(host, flagsOf(dir, "a", [19384, 19385]));
  t.equal(await again.settled, "serving", `a coild restarted after kill -9 serves:\n${again.log()}`);
  t.match(again.log(), /"msg":"recovered node state","blocks":1,"registered":2,/, "it recovers its block and both pods (nobody returned them)");
  const r = await fastAdd(join(dir, "a.sock"), "p1", pod.path);
  t.match(r, { ok: true }, "p1 is served again after the restart");
  const ips = (JSON.parse(Buffer.from(String(r["result"]), "base64").toString()) as { ips: { address: string }[] }).ips.map((i) => i.address);
  t.same(ips, ["10.100.0.0/32"], "p1 keeps its address");
  await stopProcess(again.child, "SIGTERM");
  await waitFor("the socket removed on SIGTERM", () => !existsSync(join(dir, "a.sock")));
});
