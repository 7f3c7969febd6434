/**
 * IPAM micro-benchmarks (a script, not a test):
 *   node --import tsx bench/ipam.ts
 * Prints a table and writes bench/RESULTS-ipam.md.
 */
import { writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { performance } from "node:perf_hooks";
import { AddressAllocator, BlockAllocator, NodeIpam, blockName } from "../lib/ipam/index.js";

const RUNS = 5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

/** Median over RUNS of ops/s for `ops` operations done by `body`. */
function throughput(ops: number, setup: () => () => void): number {
  const rates: number[] = [];
  for (let r = 0; r < RUNS + 1; r++) {
    const body = setup();
    const t0 = performance.now();
    body();
    const ms = performance.now() - t0;
    if (r > 0) rates.push(ops / (ms / 1000)); // run 0 is warm-up
  }
  return median(rates);
}

/** Median over RUNS of milliseconds taken by `body`. */
function timeMs(setup: () => () => void): number {
  const ts: number[] = [];
  for (let r = 0; r < RUNS + 1; r++) {
    const body = setup();
    const t0 = performance.now();
    body();
    if (r > 0) ts.push(performance.now() - t0);
  }
  return median(ts);
}

function inBlock(block: { ipv4?: string; ipv6?: string }, n: number): () => void {
  const a = AddressAllocator.create(block)._unsafeUnwrap();
  for (let i = 0; i < 16; i++) a.allocate()._unsafeUnwrap(); // half full
  let victim = 0;
  return () => {
    for (let i = 0; i < n; i++) {
      const r = a.allocate();
      if (r.isErr()) throw new Error("full");
      a.free(victim);
      victim = r.value.index;
    }
  };
}

function nodeChurn(dual: boolean, n: number): () => void {
  const ipam = new NodeIpam();
  for (let b = 0; b < 4; b++) {
    ipam.addBlock({
      name: blockName("default", b),
      pool: "default",
      index: b,
      ipv4: `10.2.0.${b * 32}/27`,
      ...(dual ? { ipv6: `fd02::${(b * 32).toString(16)}/123` } : {}),
    })._unsafeUnwrap();
  }
  for (let i = 0; i < 64; i++) ipam.allocate({ pool: "default", containerId: `warm${i}`, ifname: "eth0" })._unsafeUnwrap();
  let oldest = 0;
  return () => {
    for (let i = 0; i < n; i++) {
      const r = ipam.allocate({ pool: "default", containerId: `c${i}`, ifname: "eth0" });
      if (r.isErr()) throw new Error(r.error.kind);
      if (i >= 64) ipam.free(`c${oldest++}`, "eth0");
      else ipam.free(`warm${i}`, "eth0");
    }
  };
}

function carveAll(spec: { blockSizeBits: number; subnets: { ipv4?: string; ipv6?: string }[] }): () => void {
  const a = BlockAllocator.create(spec)._unsafeUnwrap();
  return () => {
    let count = 0;
    while (a.allocateBlock().isOk()) count++;
    if (count !== 65536) throw new Error(`carved ${count}`);
  };
}

function rebuild65536(): () => void {
  const a = BlockAllocator.create({ blockSizeBits: 0, subnets: [{ ipv4: "10.0.0.0/16" }] })._unsafeUnwrap();
  const idx = Array.from({ length: 65536 }, (_, i) => i);
  return () => {
    a.rebuild(idx);
    if (a.nextIndex().isOk()) throw new Error("not full");
  };
}

const N = 200_000;
const rows: [string, string][] = [
  ["in-block allocator, v4 /27: allocate+free pairs/s", fmt(throughput(N, () => inBlock({ ipv4: "10.2.0.0/27" }, N)))],
  ["in-block allocator, dual /27+/123: allocate+free pairs/s", fmt(throughput(N, () => inBlock({ ipv4: "10.2.0.0/27", ipv6: "fd02::/123" }, N)))],
  ["node allocator, v4, 4 blocks: allocate+free pairs/s", fmt(throughput(N, () => nodeChurn(false, N)))],
  ["node allocator, dual, 4 blocks: allocate+free pairs/s", fmt(throughput(N, () => nodeChurn(true, N)))],
  ["pool 65,536 blocks (v4 /16, bits 0): allocate + carve all, ms", timeMs(() => carveAll({ blockSizeBits: 0, subnets: [{ ipv4: "10.0.0.0/16" }] })).toFixed(1)],
  [
    "pool 65,536 blocks (dual /16 + /112, bits 0): allocate + carve all, ms",
    timeMs(() => carveAll({ blockSizeBits: 0, subnets: [{ ipv4: "10.0.0.0/16", ipv6: "fd02::/112" }] })).toFixed(1),
  ],
  ["pool 65,536 blocks: rebuild from 65,536 observed indexes, ms", timeMs(rebuild65536).toFixed(2)],
];

function fmt(x: number): string {
  return Math.round(x).toLocaleString("en-US");
}

const width = Math.max(...rows.map(([k]) => k.length));
console.log(`${"measure".padEnd(width)} | value`);
console.log(`${"-".repeat(width)}-|------------`);
for (const [k, v] of rows) console.log(`${k.padEnd(width)} | ${v}`);

const cpu = cpus();
const date = new Date().toISOString();
const md = `# IPAM benchmark results

- Date: ${date}
- Command: \`node --import tsx bench/ipam.ts\` (from the repository root)
- Machine: ${cpu.length} cores (${cpu[0]?.model ?? "unknown CPU"}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, shared with other jobs
- Load average at the end of the run: ${loadavg().map((x) => x.toFixed(1)).join(" / ")} (1/5/15 min): other jobs were running, so treat figures as lower bounds
- Node ${process.version}, run through tsx (no build step)
- Method: each figure is the median of ${RUNS} runs after one warm-up run; throughput rows do ${N.toLocaleString("en-US")} allocate+free pairs per run.
  In-block rows keep the block half full (16 of 32) and free the previously allocated offset after each allocation.
  Node rows keep 64 pods alive over 4 blocks of 32 and replace the oldest pod each step.
  IPv6 addresses are formatted through \`ipaddr.js\` (RFC 5952), which dominates the dual-stack rows.
  Carving rows allocate every block of the pool through \`BlockAllocator.allocateBlock\` (lowest free index + CIDR computation).

| measure | value |
|---|---|
${rows.map(([k, v]) => `| ${k} | ${v} |`).join("\n")}
`;
writeFileSync(new URL("./RESULTS-ipam.md", import.meta.url), md);
console.log("\nwrote bench/RESULTS-ipam.md");
