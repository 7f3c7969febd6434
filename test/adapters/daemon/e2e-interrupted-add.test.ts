/**
 * Privileged regression test: coild killed in the middle of an ADD, then the runtime retries the
 * same ADD (same container, same netns, no DEL in between) against the restarted coild. The retry
 * must succeed and leave a complete attachment.
 *
 * The kill lands at a deterministic point: coild runs with a fault-injecting `ip` first in its
 * `PATH` (a wrapper around the real one). In a batch (`ip [-force] -batch -`, which is how coild
 * sends every netlink line) the wrapper forwards the lines to the real `ip` one by one; at the first
 * line matching the kill point it creates a marker file and blocks (that line and the later ones
 * never run) until coild is gone. The test waits for the marker, then SIGKILLs coild. coild sends
 * its host lines one at a time to its `ip` co-process and waits for each, so every line before the
 * kill point has been applied when the marker appears.
 */
import t from "tap";
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:net";
import { requireRoot, withNetns, type TestNetns } from "../../helpers/netns.js";
import { addNodeAddresses, startCoildInNetns, stopProcess, TEST_NODE_V4, TEST_NODE_V6, type CoildProcess } from "../../helpers/test-host.js";
import { waitFor } from "../../helpers/wait.js";
import { poolDoc } from "./harness.js";

const ipj = (ns: string, args: string[]): unknown => JSON.parse(execFileSync("ip", ["-n", ns, "-j", ...args]).toString() || "[]");

/** The fault-injecting `ip` (see the module comment); `$REAL_IP` is substituted. */
const IP_WRAPPER = `#!/bin/bash
real="$REAL_IP"
if [[ -n "$COIL_TEST_IP_BLOCK" && "\${*: -2}" == "-batch -" ]]; then
  while IFS= read -r line; do
    if [[ "$line" =~ $COIL_TEST_IP_BLOCK ]]; then
      : >"$COIL_TEST_IP_MARK"
      exec tail --pid="$PPID" -s 0.05 -f /dev/null
    fi
    printf '%s\\n' "$line"
  done | "$real" "$@"
  exit "\${PIPESTATUS[1]}"
fi
exec "$real" "$@"
`;

function fakeIpDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "coild-fake-ip-"));
  const real = execFileSync("bash", ["-c", "command -v ip"], { encoding: "utf8" }).trim();
  writeFileSync(join(dir, "ip"), IP_WRAPPER.replace("$REAL_IP", real));
  chmodSync(join(dir, "ip"), 0o755);
  return dir;
}

function startCoild(host: TestNetns, dir: string, env: Record<string, string> = {}): Promise<CoildProcess> {
  const flags = [`--socket=${join(dir, "coild.sock")}`, `--state-dir=${join(dir, "state")}`, `--pools=${join(dir, "pools.yaml")}`,
    "--metrics-addr=127.0.0.1:9384", "--health-addr=127.0.0.1:9385", `--node-ipv4=${TEST_NODE_V4}`, `--node-ipv6=${TEST_NODE_V6}`, "--enable-egress=false"];
  return startCoildInNetns({ netnsPath: host.path, flags, nodeName: "interrupted", env });
}

type Reply = Record<string, unknown> & { readonly ok?: unknown; readonly result?: unknown; readonly error?: { readonly code?: number; readonly msg?: string; readonly details?: string } };

function fastCall(sock: string, method: "Add" | "Del" | "Check", id: string, netns: string): Promise<Reply> {
  const args = { containerId: id, netns, ifname: "eth0", args: { K8S_POD_NAMESPACE: "default", K8S_POD_NAME: id }, path: "/opt/cni/bin", stdinData: "", ips: [], interfaces: {} };
  return new Promise((resolve) => {
    const s = connect(sock);
    let out = "";
    s.on("data", (b: Buffer) => (out += b.toString()));
    s.on("close", () => {
      try {
        resolve(JSON.parse(out) as Reply);
      } catch {
        resolve({ ok: "connection closed" });
      }
    });
    s.on("error", () => undefined);
    s.write(`${JSON.stringify({ v: 1, method, args })}\n`);
  });
}

interface LinkJson {
  readonly ifname: string;
  readonly ifalias?: string;
  readonly flags?: readonly string[];
}

const vethsOf = (ns: string): LinkJson[] => ipj(ns, ["link", "show", "type", "veth"]) as LinkJson[];

/** Where coild dies, as the first `ip` batch line that must not run (an extended regex). */
const KILL_POINTS = [
  {
    name: "after the veth pair is created, before the host end gets its alias",
    line: "^link set dev veth[0-9a-f]+ up alias",
    expect: (host: LinkJson[], pod: LinkJson[]) => host.length === 1 && host[0]?.ifalias === undefined && pod.some((l) => l.ifname === "eth0"),
  },
  {
    name: "after the alias, before the host routes",
    line: "^route replace .* table 116",
    expect: (host: LinkJson[], pod: LinkJson[]) => host.length === 1 && host[0]?.ifalias === "COIL:default:c1:eth0" && pod.some((l) => l.ifname === "eth0"),
  },
  {
    name: "after the host side, before the pod side",
    line: "^link set dev eth0 up",
    expect: (host: LinkJson[], pod: LinkJson[]) => host.length === 1 && host[0]?.ifalias === "COIL:default:c1:eth0" && pod.some((l) => l.ifname === "eth0" && !(l.flags ?? []).includes("UP")),
  },
] as const;

for (const kp of KILL_POINTS) {
  t.test(`coild SIGKILLed ${kp.name}: the retried ADD of the same container succeeds`, async (t) => {
    if (!requireRoot(t)) return;
    const host = withNetns(t, "coiltest-host");
    addNodeAddresses(host.name);
    const dir = mkdtempSync(join(tmpdir(), "coild-interrupted-"));
    const sock = join(dir, "coild.sock");
    writeFileSync(join(dir, "pools.yaml"), poolDoc("default", { blockSizeBits: 3, subnets: [{ ipv4: "10.100.0.0/24", ipv6: "fd02::/120" }] }));
    const mark = join(dir, "blocked");
    const faulty = await startCoild(host, dir, { PATH: `${fakeIpDir()}:${process.env["PATH"] ?? ""}`, COIL_TEST_IP_BLOCK: kp.line, COIL_TEST_IP_MARK: mark });
    t.teardown(() => stopProcess(faulty.child, "SIGKILL"));
    const p = withNetns(t, "coiltest-pod");

    const interrupted = fastCall(sock, "Add", "c1", p.path);
    await waitFor(`coild reaches the kill point (${kp.line})`, () => existsSync(mark), { abortIf: () => (faulty.child.exitCode !== null ? `coild exited:\n${faulty.log()}` : undefined) });
    await stopProcess(faulty.child, "SIGKILL");
    t.same(await interrupted, { ok: "connection closed" }, "the interrupted ADD got no answer");
    const [hostVeths, podLinks] = [vethsOf(host.name), ipj(p.name, ["link", "show"]) as LinkJson[]];
    t.ok(kp.expect(hostVeths, podLinks), `the kernel holds the half-made attachment: host ${JSON.stringify(hostVeths)}, pod ${JSON.stringify(podLinks.map((l) => l.ifname))}`);

    const coild = await startCoild(host, dir);
    t.teardown(() => stopProcess(coild.child, "SIGKILL"));
    const retry = await fastCall(sock, "Add", "c1", p.path);
    t.match(retry, { ok: true }, `the retried ADD succeeds${retry.error === undefined ? "" : `: ${JSON.stringify(retry.error)}`}`);
    const result = typeof retry.result === "string" ? (JSON.parse(Buffer.from(retry.result, "base64").toString()) as { ips: { address: string }[]; interfaces: { name: string }[] }) : undefined;
    t.same(result?.ips.map((i) => i.address), ["10.100.0.0/32", "fd02::/128"], "the pod's addresses");
    const veths = vethsOf(host.name);
    t.same(veths.map((l) => [l.ifname, l.ifalias]), [[result?.interfaces[1]?.name, "COIL:default:c1:eth0"]], "one host veth, the result's, with the pod's alias");
    t.match(await fastCall(sock, "Check", "c1", p.path), { ok: true }, "CHECK passes");
    execFileSync("ip", ["netns", "exec", p.name, "ping", "-c1", "-W2", TEST_NODE_V4]);
    execFileSync("ip", ["netns", "exec", p.name, "ping", "-c1", "-W2", TEST_NODE_V6]);
    t.pass("the pod reaches the node over IPv4 and IPv6");
    t.match(await fastCall(sock, "Del", "c1", p.path), { ok: true }, "DEL");
    t.same(vethsOf(host.name), [], "no host veth left");
    t.same(ipj(host.name, ["route", "show", "table", "116"]), [], "table 116 empty");
    await stopProcess(coild.child, "SIGTERM");
  });
}
