/**
 * Privileged end-to-end: the real coild process (dist/bin/coild.mjs, built from adapters/daemon/main.ts
 * and kept current by test/helpers/bundles.ts) runs inside a test "host" netns (spawned through
 * `nsenter --net=`), so its rules and tables 116/119 live there and the machine's own routing is never
 * touched. Pods are further test netns; the real `coil` CNI executable (dist/bin/coil.mjs, from
 * adapters/cni/main.ts) drives ADD/CHECK/DEL over the fast path and over gRPC.
 */
import t from "tap";
import { execFileSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:net";
import { requireRoot, withNetns, type TestNetns } from "../../helpers/netns.js";
import { addNodeAddresses, runCoil, startCoildInNetns, stopProcess, TEST_NODE_V4, TEST_NODE_V6, type CniRun } from "../../helpers/test-host.js";
import { poolDoc } from "./harness.js";

const ipj = (ns: string, args: string[]): unknown => JSON.parse(execFileSync("ip", ["-n", ns, "-j", ...args]).toString() || "[]");

function startCoild(host: TestNetns, dir: string): Promise<ChildProcess> {
  const flags = [`--socket=${join(dir, "coild.sock")}`, `--state-dir=${join(dir, "state")}`, `--pools=${join(dir, "pools.yaml")}`,
    "--metrics-addr=127.0.0.1:9384", "--health-addr=127.0.0.1:9385", `--node-ipv4=${TEST_NODE_V4}`, `--node-ipv6=${TEST_NODE_V6}`, "--enable-egress=false"];
  return startCoildInNetns({ netnsPath: host.path, flags, nodeName: "e2e" }).then((c) => c.child);
}

function fastCall(sock: string, method: "Add" | "Del", id: string, netns: string): Promise<Record<string, unknown>> {
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
    s.write(`${JSON.stringify({ v: 1, method, args })}\n`);
  });
}

function coil(cmd: string, id: string, netns: string, sock: string, rpc: "fast" | "grpc"): Promise<CniRun> {
  return runCoil({ cmd, containerId: id, netns, socket: sock, rpc });
}

const stop = stopProcess;

t.test("real coild in a test host netns with the real coil executable", async (t) => {
  if (!requireRoot(t)) return;
  const host = withNetns(t, "coiltest-host");
  addNodeAddresses(host.name);
  const dir = mkdtempSync(join(tmpdir(), "coild-e2e-"));
  const sock = join(dir, "coild.sock");
  writeFileSync(join(dir, "pools.yaml"), poolDoc("default", { blockSizeBits: 3, subnets: [{ ipv4: "10.100.0.0/24", ipv6: "fd02::/120" }] }));
  let coild = await startCoild(host, dir);
  t.teardown(() => stop(coild, "SIGKILL"));

  const rules = ipj(host.name, ["rule", "show"]) as { priority: number; table: string }[];
  t.ok(rules.some((r) => r.priority === 2000 && r.table === "116"), "rule lookup 116 pref 2000 in the test host netns");
  const p1 = withNetns(t, "coiltest-pod");
  const p2 = withNetns(t, "coiltest-pod");
  const a1 = await coil("ADD", "c1", p1.path, sock, "fast");
  const a2 = await coil("ADD", "c2", p2.path, sock, "grpc");
  t.equal(a1.code, 0, a1.stdout);
  t.equal(a2.code, 0, a2.stdout);
  const r1 = JSON.parse(a1.stdout) as { ips: { address: string }[]; cniVersion: string };
  t.equal(r1.cniVersion, "1.0.0");
  t.same(r1.ips.map((i) => i.address), ["10.100.0.0/32", "fd02::/128"]);
  t.same((JSON.parse(a2.stdout) as { ips: { address: string }[] }).ips.map((i) => i.address), ["10.100.0.1/32", "fd02::1/128"]);
  const t116 = (ipj(host.name, ["route", "show", "table", "116"]) as { dst: string }[]).map((r) => r.dst).sort();
  t.same(t116, ["10.100.0.0", "10.100.0.1"]);
  const t119 = (ipj(host.name, ["route", "show", "table", "119"]) as { dst: string; protocol: string }[]).map((r) => `${r.dst} ${r.protocol}`);
  t.same(t119, ["10.100.0.0/29 30"], "block exported to table 119 proto 30");
  execFileSync("ip", ["netns", "exec", p1.name, "ping", "-c1", "-W2", "10.100.0.1"]);
  execFileSync("ip", ["netns", "exec", p1.name, "ping", "-c1", "-W2", "fd02::1"]);
  t.pass("pod-to-pod ping over IPv4 and IPv6 through the test host netns");
  t.equal((await coil("CHECK", "c1", p1.path, sock, "fast")).code, 0, "CHECK passes");
  execFileSync("ip", ["-n", p1.name, "addr", "del", "10.100.0.0/32", "dev", "eth0"]);
  t.not((await coil("CHECK", "c1", p1.path, sock, "grpc")).code, 0, "CHECK fails after the pod address was removed");
  t.equal((await coil("ADD", "c1", p1.path, sock, "fast")).code, 0, "ADD again repairs");

  // Serial latency through the daemon (fast path, no executable start-up), then SIGKILL mid-churn.
  const lat = Array.from({ length: 10 }, () => withNetns(t, "coiltest-pod"));
  const addMs: number[] = [];
  const delMs: number[] = [];
  for (const [i, p] of lat.entries()) {
    const t0 = performance.now();
    t.match(await fastCall(sock, "Add", `l${i}`, p.path), { ok: true });
    addMs.push(performance.now() - t0);
  }
  for (const [i, p] of lat.entries()) {
    const t0 = performance.now();
    t.match(await fastCall(sock, "Del", `l${i}`, p.path), { ok: true });
    delMs.push(performance.now() - t0);
  }
  const med = (xs: number[]): string => ([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0).toFixed(1);
  t.comment(`daemon-side dual-stack ADD median ${med(addMs)} ms, DEL median ${med(delMs)} ms (fast path, real kernel, n=10)`);

  const churn = Array.from({ length: 24 }, () => withNetns(t, "coiltest-pod"));
  const answered = new Map<number, string>();
  const inflight = churn.map((p, i) =>
    fastCall(sock, "Add", `k${i}`, p.path).then((r) => {
      if (r.ok === true && typeof r.result === "string") answered.set(i, (JSON.parse(Buffer.from(r.result, "base64").toString()) as { ips: { address: string }[] }).ips[0]?.address ?? "");
      if (answered.size === 8) void stop(coild, "SIGKILL");
      return r;
    }),
  );
  const settled = await Promise.all(inflight);
  t.comment(`churn outcomes: ${JSON.stringify(settled.map((r) => (r.ok === true ? "ok" : r.ok === false ? (r["error"] as { msg?: string })?.msg : r.ok)))}`);
  await stop(coild, "SIGKILL");
  t.ok(answered.size >= 8 && answered.size < 24, `coild killed after ${answered.size} of 24 concurrent ADDs answered`);
  coild = await startCoild(host, dir);
  const again = await coil("ADD", "c2", p2.path, sock, "fast");
  t.same((JSON.parse(again.stdout) as { ips: { address: string }[] }).ips.map((i) => i.address), ["10.100.0.1/32", "fd02::1/128"], "c2 keeps its address across the restart");
  const all = new Map<string, string>();
  for (const [i, p] of churn.entries()) {
    // The kill can land in the middle of a pod's ADD (even between creating its veth pair and
    // aliasing the host end): the plain retry of the same ADD finishes it.
    const r = await fastCall(sock, "Add", `k${i}`, p.path);
    const ip = r.ok === true && typeof r.result === "string" ? ((JSON.parse(Buffer.from(r.result, "base64").toString()) as { ips: { address: string }[] }).ips[0]?.address ?? "") : "";
    t.ok(ip !== "", `k${i} ADD after restart`);
    if (answered.has(i)) t.equal(ip, answered.get(i), `k${i} answered before the kill keeps ${answered.get(i)}`);
    t.notOk(all.has(ip), `${ip} unique`);
    all.set(ip, `k${i}`);
  }
  t.notOk(all.has("10.100.0.0/32") || all.has("10.100.0.1/32"), "c1/c2 addresses never handed out again");

  // DEL, idempotent; the last DEL of a block returns it and empties table 119.
  for (const [id, p] of [["c1", p1], ["c2", p2], ...churn.map((p, i) => [`k${i}`, p] as const)] as const) {
    t.equal((await coil("DEL", id, p.path, sock, "fast")).code, 0);
  }
  t.equal((await coil("DEL", "c1", p1.path, sock, "grpc")).code, 0, "second DEL succeeds");
  t.same(ipj(host.name, ["route", "show", "table", "119"]), [], "table 119 empty after the last DEL");
  t.same(ipj(host.name, ["route", "show", "table", "116"]), []);
  const timings = [a1.ms, a2.ms].map((x) => x.toFixed(0)).join(", ");
  t.comment(`coil executable ADD wall times (node start-up included): ${timings} ms`);
  await stop(coild, "SIGTERM");
  t.notOk(existsSync(sock), "socket removed on SIGTERM");
});
