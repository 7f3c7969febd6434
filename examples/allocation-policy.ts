/**
 * Allocation policy, shown with numbers: how many nodes a pool serves at several block sizes,
 * and a churn simulation showing that a freed address is not handed out again at once — and that
 * Coil's cursor still hands it back once it wraps, which the reuse quarantine (beyond Coil, pool
 * annotation `coil-ts.cybozu.com/reuse-quarantine`) prevents.
 *
 * Run: npx tsx examples/allocation-policy.ts
 */
import { BlockAllocator, NodeIpam, blockName, poolMaxBlocks, poolPolicy, type AddressPoolSpec } from "../lib/ipam/index.js";

const SUBNET = "10.100.0.0/16";

function nodesServed(bits: number, podsPerNode: number): { blocks: bigint; perNode: number; nodes: bigint } {
  const spec: AddressPoolSpec = { blockSizeBits: bits, subnets: [{ ipv4: SUBNET }] };
  const blocks = poolMaxBlocks(spec).match(
    (n) => n,
    () => 0n,
  );
  const perNode = Math.ceil(podsPerNode / 2 ** bits);
  return { blocks, perNode, nodes: blocks / BigInt(perNode) };
}

console.log(`Pool ${SUBNET}: nodes served (each node owns whole blocks)`);
console.log("bits | addrs/block | blocks | blocks/node@30 | nodes@30 | blocks/node@110 | nodes@110");
for (const bits of [3, 5, 6, 8]) {
  const a = nodesServed(bits, 30);
  const b = nodesServed(bits, 110);
  console.log(
    `${String(bits).padStart(4)} | ${String(2 ** bits).padStart(11)} | ${String(a.blocks).padStart(6)} | ` +
      `${String(a.perNode).padStart(14)} | ${String(a.nodes).padStart(8)} | ${String(b.perNode).padStart(15)} | ${String(b.nodes).padStart(9)}`,
  );
}

// Churn: one node, pool with 8-address blocks, ~6 pods alive, one pod replaced per step.
const spec: AddressPoolSpec = { blockSizeBits: 3, subnets: [{ ipv4: "10.100.0.0/24" }] };
const controller = BlockAllocator.create(spec)._unsafeUnwrap();
const node = new NodeIpam();
// The same churn on a node whose pool has a 2 s reuse quarantine; one step per second.
const QUARANTINE = "2s";
const qController = BlockAllocator.create(spec)._unsafeUnwrap();
const qNode = new NodeIpam();
const policy = poolPolicy(spec, { "coil-ts.cybozu.com/reuse-quarantine": QUARANTINE })._unsafeUnwrap();
qNode.setPoolPolicy("default", policy);
const freedAt = new Map<string, number>();
let seed = 42;
const rand = (n: number): number => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed % n;
};

function start(id: string, n = node, c = controller, now?: number): string {
  for (;;) {
    const r = n.allocate({ pool: "default", containerId: id, ifname: "eth0", ...(now === undefined ? {} : { now }) });
    if (r.isOk()) return r.value.ipv4 ?? "";
    const b = c.allocateBlock()._unsafeUnwrap();
    n.addBlock({ name: blockName("default", b.index), pool: "default", ...b })._unsafeUnwrap();
  }
}

const alive: string[] = [];
for (let i = 0; i < 6; i++) {
  alive.push(`pod${i}`);
  start(`pod${i}`);
  start(`pod${i}`, qNode, qController, 0);
}
let quarantineReuse = 0;
let quarantineImmediate = 0;
let next = 6;
let immediateReuse = 0;
let naiveReuse = 0;
const naiveUsed = new Set<number>(node.allocations().map((a) => Number(a.ipv4?.split(".")[3])));
console.log("\nChurn (block size 8, 6 pods alive; delete one, start one):");
for (let step = 1; step <= 12; step++) {
  const victim = alive.splice(rand(alive.length), 1)[0] ?? "";
  const freedIp = node.allocation(victim, "eth0")?.ipv4 ?? "";
  node.free(victim, "eth0");
  const now = step * 1000;
  const qFreed = qNode.allocation(victim, "eth0")?.ipv4 ?? "";
  qNode.free(victim, "eth0", now);
  freedAt.set(qFreed, now);
  const id = `pod${next++}`;
  alive.push(id);
  const got = start(id);
  if (got === freedIp) immediateReuse++;
  const qGot = start(id, qNode, qController, now);
  const age = freedAt.has(qGot) ? now - (freedAt.get(qGot) ?? 0) : undefined;
  if (age !== undefined && age < policy.quarantineMs) quarantineReuse++;
  if (qGot === qFreed) quarantineImmediate++;
  // Baseline: "lowest free offset" (what a naive allocator does) over the same events.
  const freedOff = Number(freedIp.split(".")[3]);
  naiveUsed.delete(freedOff);
  let low = 0;
  while (naiveUsed.has(low)) low++;
  naiveUsed.add(low);
  if (low === freedOff) naiveReuse++;
  const qText = `${qGot}${age === undefined ? " (never used)" : ` (freed ${age / 1000} s ago)`}`;
  console.log(`step ${String(step).padStart(2)}: freed ${freedIp.padEnd(12)} -> ${id.padEnd(6)} got ${got.padEnd(12)} | quarantine ${QUARANTINE}: freed ${qFreed.padEnd(12)} got ${qText}`);
}
console.log(`immediate reuse: coil=${immediateReuse} lowest-free=${naiveReuse} quarantine=${quarantineImmediate}`);
console.log(`reuse within the ${QUARANTINE} quarantine: ${quarantineReuse}`);
console.log(
  "Coil's cursor takes the first free offset after the last one handed out, so a freed address comes back\n" +
    "next only when the cursor has wrapped and it is the first free one; lowest-free reuses it almost always.\n" +
    `With coil-ts.cybozu.com/reuse-quarantine: ${QUARANTINE}, an address freed less than ${QUARANTINE} ago is handed out only when\n` +
    "nothing else in the node's blocks of the pool is free (then the one freed longest ago).",
);
