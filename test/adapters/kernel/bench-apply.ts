// Latency of the real executor and observer (root; not a tap test). Run:
//   node --import tsx test/adapters/kernel/bench-apply.ts [runs]
// Each run: two fresh namespaces (ip netns add, not timed), apply the conformance suite's
// pod-setup changeset (3 steps, 15 ops), observe both namespaces, apply a teardown changeset
// (delete the veth and the vxlan), then delete the namespaces. Prints medians and p90s.
// spawnFloor: one `nsenter --net=… ip -batch -` with a single `link show lo`, the cost of one process.
import { execFileSync } from "node:child_process";
import { performance } from "node:perf_hooks";
import { randomBytes } from "node:crypto";
import { netnsPath } from "../../../lib/changeset/index.js";
import { realKernel } from "../../../adapters/kernel/real-kernel.js";
import { runInNetns } from "../../../adapters/kernel/run.js";
import { podSetup } from "../../helpers/executor-conformance.js";

const runs = Number(process.argv[2] ?? 20);
const k = realKernel();
const samples: Record<string, number[]> = { apply: [], applyProcesses: [], observe: [], observeNft: [], teardown: [], spawnFloor: [] };
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? NaN;

for (let i = 0; i < runs + 2; i++) {
  const names = [0, 1].map(() => `coilbench-${randomBytes(4).toString("hex")}`);
  for (const n of names) execFileSync("ip", ["netns", "add", n]);
  try {
    const [h, p] = names.map((n) => netnsPath(`/var/run/netns/${n}`));
    if (h === undefined || p === undefined) throw new Error("unreachable");
    const r = await k.apply(podSetup(h, p));
    if (r.isErr()) throw new Error(JSON.stringify(r.error));
    let t0 = performance.now();
    const o = await k.observe(h, { sysctls: ["net.ipv4.ip_forward"] });
    const observeMs = performance.now() - t0;
    if (o.isErr()) throw new Error(JSON.stringify(o.error));
    t0 = performance.now();
    const nft = await k.observeNft(h);
    const nftMs = performance.now() - t0;
    if (nft.isErr()) throw new Error(JSON.stringify(nft.error));
    t0 = performance.now();
    const floor = await runInNetns(h, ["ip", "-batch", "-"], { input: "link show lo\n" });
    const floorMs = performance.now() - t0;
    if (floor.isErr()) throw new Error(JSON.stringify(floor.error));
    const td = await k.apply({ steps: [{ netns: h, netlink: [{ kind: "link.del", name: "veth-ct1" }, { kind: "link.del", name: "vx-test" }], nft: [] }] });
    if (td.isErr()) throw new Error(JSON.stringify(td.error));
    if (i >= 2) { // two warm-up runs
      samples["apply"]?.push(r.value.durationMs);
      samples["applyProcesses"]?.push(r.value.processes);
      samples["observe"]?.push(observeMs);
      samples["observeNft"]?.push(nftMs);
      samples["teardown"]?.push(td.value.durationMs);
      samples["spawnFloor"]?.push(floorMs);
    }
  } finally {
    for (const n of names) execFileSync("ip", ["netns", "del", n]);
  }
}
for (const [name, xs] of Object.entries(samples)) {
  console.log(`${name.padEnd(15)} n=${xs.length} median=${quantile(xs, 0.5).toFixed(1)} p90=${quantile(xs, 0.9).toFixed(1)} min=${Math.min(...xs).toFixed(1)}`);
}
