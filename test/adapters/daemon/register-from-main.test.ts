/**
 * `--register-from-main` (Coil §1.3, pkg/nodenet `list()`): the migration aid from Coil 2.0.1,
 * whose pod host routes lived in the main table instead of table 116. At start-up a pod link
 * (alias `COIL:…`) without a table-116 route takes its address from the main-table route through
 * it of protocol `--protocol-id` (30) or 3 (`boot`, as Calico rewrites it).
 *
 * Real coild (from source) in a test host netns, the real `coil` executable: a pod is added, coild
 * stopped, the pod's route moved from table 116 to the main table (the Coil 2.0.1 layout), and coild
 * started again. Without the flag the pod is not registered, so its block counts as empty and the
 * start-up GC returns it (table 119 empty); with the flag the pod keeps its address and its block.
 */
import t from "tap";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireRoot, withNetns, type TestNetns } from "../../helpers/netns.js";
import { addNodeAddresses, runCoil, startCoildInNetns, stopProcess, TEST_NODE_V4, TEST_NODE_V6, type CoildProcess } from "../../helpers/test-host.js";
import { poolDoc } from "./harness.js";

interface IpRoute {
  readonly dst: string;
  readonly dev?: string;
  readonly protocol?: string;
}
const routes = (ns: string, fam: 4 | 6, table: string): IpRoute[] =>
  JSON.parse(execFileSync("ip", ["-n", ns, "-N", "-j", `-${fam}`, "route", "show", "table", table], { encoding: "utf8" }) || "[]") as IpRoute[];
const ip = (ns: string, args: readonly string[]): void => void execFileSync("ip", ["-n", ns, ...args], { stdio: ["ignore", "ignore", "pipe"] });

function startCoild(host: TestNetns, dir: string, extra: readonly string[]): Promise<CoildProcess> {
  const flags = [`--socket=${join(dir, "coild.sock")}`, `--state-dir=${join(dir, "state")}`, `--pools=${join(dir, "pools.yaml")}`,
    "--metrics-addr=127.0.0.1:9384", "--health-addr=127.0.0.1:9385", `--node-ipv4=${TEST_NODE_V4}`, `--node-ipv6=${TEST_NODE_V6}`, "--enable-egress=false", ...extra];
  return startCoildInNetns({ netnsPath: host.path, flags, nodeName: "rfm" });
}

/** Move the pod's table-116 routes into the main table with protocol `proto` (Coil 2.0.1's layout). */
function moveToMain(host: string, proto: string): string {
  let dev = "";
  for (const fam of [4, 6] as const) {
    for (const r of routes(host, fam, "116")) {
      dev = r.dev ?? "";
      ip(host, [`-${fam}`, "route", "del", r.dst, "dev", dev, "table", "116"]);
      ip(host, [`-${fam}`, "route", "add", r.dst, "dev", dev, "proto", proto, "scope", "link"]);
    }
  }
  return dev;
}

t.test("--register-from-main registers pods whose routes are in the main table", async (t) => {
  if (!requireRoot(t)) return;
  for (const [flag, proto] of [[false, "30"], [true, "30"], [true, "3"]] as const) {
    await t.test(`${flag ? "with" : "without"} the flag, main-table routes of protocol ${proto}`, async (t) => {
      const host = withNetns(t, "coiltest-rfm");
      addNodeAddresses(host.name);
      const dir = mkdtempSync(join(tmpdir(), "coild-rfm-"));
      writeFileSync(join(dir, "pools.yaml"), poolDoc("default", { blockSizeBits: 2, subnets: [{ ipv4: "10.100.0.0/24", ipv6: "fd02::/120" }] }));
      const sock = join(dir, "coild.sock");
      let coild = await startCoild(host, dir, []);
      t.teardown(() => stopProcess(coild.child, "SIGKILL"));
      const pod = withNetns(t, "coiltest-rfm-pod");
      const add = await runCoil({ cmd: "ADD", containerId: "c1", netns: pod.path, socket: sock, rpc: "fast" });
      t.equal(add.code, 0, add.stdout);
      t.same(routes(host.name, 4, "119").map((r) => r.dst), ["10.100.0.0/30"], "the pod's block is exported");
      await stopProcess(coild.child, "SIGTERM");
      const dev = moveToMain(host.name, proto);
      t.same(routes(host.name, 4, "116"), [], "no table-116 route left");
      t.ok(routes(host.name, 4, "main").some((r) => r.dst === "10.100.0.0" && r.dev === dev), `10.100.0.0 dev ${dev} proto ${proto} in main`);

      coild = await startCoild(host, dir, flag ? ["--register-from-main"] : []);
      const log = coild.log();
      if (flag) {
        t.match(log, /"msg":"registered pod addresses".*"ipv4":"10\.100\.0\.0".*"ipv6":"fd02::"/, "registered from the main-table routes");
        t.same(routes(host.name, 4, "119").map((r) => r.dst), ["10.100.0.0/30"], "the block stays (its pod is live)");
        // The next pod gets the next address: 10.100.0.0 is taken.
        const pod2 = withNetns(t, "coiltest-rfm-pod");
        const add2 = await runCoil({ cmd: "ADD", containerId: "c2", netns: pod2.path, socket: sock, rpc: "fast" });
        t.equal(add2.code, 0, add2.stdout);
        t.match(add2.stdout, /"address":"10\.100\.0\.1\/32"/, "the recovered address is not handed out again");
      } else {
        t.match(log, /"msg":"failed to register IP"/, "without the flag the pod is not registered (Coil's log line)");
        t.same(routes(host.name, 4, "119"), [], "so its block looked empty and the start-up GC returned it");
      }
      t.notMatch(log, /register-from-main is not implemented/, "no 'not implemented' warning");
      await stopProcess(coild.child, "SIGTERM");
    });
  }
});
