/**
 * coild's node IPAM gauges as scraped from `/metrics`: `coil_node_allocated_addresses{pool}` and
 * `coil_node_blocks{pool}` follow every ADD (also into a block with room, the usual case), every
 * DEL, and recovery after a restart, in every pool.
 */
import t from "tap";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { netnsPath } from "../../../lib/changeset/index.js";
import { encodeLine } from "../../../adapters/common/fast-protocol.js";
import { runCoild, type RunningCoild } from "../../../adapters/daemon/run.js";
import { connect } from "node:net";
import { inProcessCoild, poolDoc } from "./harness.js";

function call(sock: string, method: "Add" | "Del", id: string, ns: string): Promise<{ ok: boolean }> {
  const args = { containerId: id, netns: `/run/netns/${id}`, ifname: "eth0", args: { K8S_POD_NAMESPACE: ns, K8S_POD_NAME: id }, path: "", stdinData: "", ips: [], interfaces: {} };
  return new Promise((resolve, reject) => {
    const s = connect(sock);
    let out = "";
    s.on("data", (b: Buffer) => (out += b.toString()));
    s.on("end", () => resolve(JSON.parse(out) as { ok: boolean }));
    s.on("error", reject);
    s.write(encodeLine({ v: 1, method, args }));
  });
}

t.test("coil_node_allocated_addresses and coil_node_blocks follow every allocation, free and recovery", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "coild-metrics-"));
  writeFileSync(
    join(dir, "pools.yaml"),
    [poolDoc("default", { blockSizeBits: 3, subnets: [{ ipv4: "10.2.0.0/24" }] }), poolDoc("other", { blockSizeBits: 1, subnets: [{ ipv4: "10.3.0.0/24" }] })].join("\n---\n"),
  );
  writeFileSync(join(dir, "ns.yaml"), "team-b: other\n");
  const sock = join(dir, "coild.sock");
  const { flags, kernel, deps } = inProcessCoild(dir, [`--namespace-pools=${join(dir, "ns.yaml")}`]);
  let running: RunningCoild = (await runCoild(flags, deps))._unsafeUnwrap();
  t.teardown(() => running.close());
  const gauges = async (): Promise<string> => {
    const text = await (await fetch(`http://127.0.0.1:${running.metricsPort ?? 0}/metrics`)).text();
    return text
      .split("\n")
      .filter((l) => /^coil_node_(allocated_addresses|blocks)\{/.test(l))
      .sort()
      .join("\n");
  };
  const expect = (d: [number, number], o: [number, number]): string =>
    [`coil_node_allocated_addresses{pool="default"} ${d[0]}`, `coil_node_allocated_addresses{pool="other"} ${o[0]}`, `coil_node_blocks{pool="default"} ${d[1]}`, `coil_node_blocks{pool="other"} ${o[1]}`]
      .join("\n");
  const add = async (id: string, ns: string): Promise<void> => {
    kernel.addNetns(netnsPath(`/run/netns/${id}`));
    t.match(await call(sock, "Add", id, ns), { ok: true }, `ADD ${id}`);
  };
  const del = async (id: string, ns: string): Promise<void> => void t.match(await call(sock, "Del", id, ns), { ok: true }, `DEL ${id}`);

  for (let i = 0; i < 3; i++) await add(`o${i}`, "team-b");
  for (let i = 0; i < 5; i++) await add(`d${i}`, "default");
  t.equal(await gauges(), expect([5, 1], [3, 2]), "5 pods in one block of default, 3 pods in two blocks of other");
  await del("d0", "default");
  await del("d1", "default");
  await del("o0", "team-b");
  t.equal(await gauges(), expect([3, 1], [2, 2]), "frees lower the gauge");
  await running.close();

  running = (await runCoild(flags, deps))._unsafeUnwrap();
  t.equal(await gauges(), expect([3, 1], [2, 2]), "recovery after a restart");
  await add("d5", "default");
  t.equal(await gauges(), expect([4, 1], [2, 2]), "an ADD after the restart");
  await del("o1", "team-b");
  await del("o2", "team-b");
  await running.node.settled(); // the emptied blocks are returned after the DELs answered
  t.equal(await gauges(), expect([4, 1], [0, 0]), "the last pods of a pool gone: 0 addresses, its blocks returned");
});
