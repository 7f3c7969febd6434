// NodeState refuses pools whose address families the node has no address of, before it takes an
// address or requests a block: a single-stack node and a dual-stack pool (new block, or a block
// left from an earlier configuration), and a store that cannot say what the pool needs.
import t from "tap";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { err, ok } from "neverthrow";
import { HOST_NETNS } from "../../../../lib/changeset/index.js";
import { poolFamilies, type BlockStore } from "../../../../lib/ipam/index.js";
import type { Family } from "../../../../lib/net/index.js";
import { FakeKernel } from "../../../../adapters/kernel/fake-kernel.js";
import { NULL_LOGGER } from "../../../../adapters/daemon/log.js";
import { familyUnavailable, NodeState, type NodeFamilies } from "../../../../adapters/daemon/node/state.js";
import { parsePools } from "../../../../adapters/daemon/store/pools-file.js";
import { LocalBlockStore } from "../../../../adapters/daemon/store/local.js";
import { poolDoc } from "../harness.js";

const POOLS = parsePools(
  [poolDoc("default", { blockSizeBits: 2, subnets: [{ ipv4: "10.2.0.0/28" }] }), poolDoc("ds", { blockSizeBits: 2, subnets: [{ ipv4: "10.3.0.0/28", ipv6: "fd03::/124" }] })].join("\n---\n"),
  "pools",
)._unsafeUnwrap();

function families(have: readonly Family[]): NodeFamilies {
  return {
    have,
    ofPool: (pool) => {
      const p = POOLS.find((x) => x.name === pool);
      return Promise.resolve(ok(p === undefined ? undefined : poolFamilies(p.spec)));
    },
  };
}

function nodeState(store: BlockStore, fam?: NodeFamilies): NodeState {
  const kernel = new FakeKernel();
  kernel.addNetns(HOST_NETNS);
  return new NodeState({ node: "node1", store, kernel, log: NULL_LOGGER, exportTable: 119, protocol: 30, ...(fam === undefined ? {} : { families: fam }) });
}

const blocksFile = (dir: string): unknown => {
  try {
    return (JSON.parse(readFileSync(join(dir, "blocks.json"), "utf8")) as { blocks: unknown[] }).blocks;
  } catch {
    return [];
  }
};

t.test("familyUnavailable names the pool, the node and the missing families", async (t) => {
  t.equal(familyUnavailable("p", "n", [4, 6], [4, 6]), undefined);
  t.equal(familyUnavailable("p", "n", [4], [4]), undefined);
  t.match(familyUnavailable("p", "n", [4, 6, 6], [4]), { kind: "family-unavailable", pool: "p", missing: [6], message: "pool p needs IPv6 addresses but node n has no IPv6 node address" });
  t.match(familyUnavailable("p", "n", [6, 4], []), { missing: [4, 6], message: /needs IPv4 and IPv6 addresses/ });
});

t.test("an IPv4-only node: a dual-stack pool is refused before a block is requested", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "coild-fam-"));
  const store = (await LocalBlockStore.open({ pools: POOLS, stateDir: dir }))._unsafeUnwrap();
  const node = nodeState(store, families([4]));
  const r = await node.allocate({ pool: "ds", containerId: "c1", ifname: "eth0" });
  t.match(r._unsafeUnwrapErr(), { kind: "family-unavailable", pool: "ds", missing: [6] });
  t.same(blocksFile(dir), [], "no block recorded in blocks.json");
  t.same(node.ipam.blocks(), [], "no block, no allocation");
  t.equal(node.ipam.allocations().length, 0);
  t.ok((await node.allocate({ pool: "default", containerId: "c2", ifname: "eth0" })).isOk(), "an IPv4 pool is served");
  t.ok((await node.allocate({ pool: "unknown", containerId: "c3", ifname: "eth0" }))._unsafeUnwrapErr().kind === "store", "an unknown pool is left to the store (pool-not-found)");
});

t.test("a dual-stack block left from an earlier configuration is not used by an IPv4-only node", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "coild-fam-"));
  const store = (await LocalBlockStore.open({ pools: POOLS, stateDir: dir }))._unsafeUnwrap();
  const before = nodeState(store, families([4, 6]));
  t.ok((await before.allocate({ pool: "ds", containerId: "c1", ifname: "eth0" })).isOk(), "served while the node had both families");
  const recorded = blocksFile(dir);
  const after = nodeState(store, families([4]));
  t.equal((await after.adoptStoreBlocks())._unsafeUnwrap(), 1, "the block is adopted");
  const r = await after.allocate({ pool: "ds", containerId: "c2", ifname: "eth0" });
  t.match(r._unsafeUnwrapErr(), { kind: "family-unavailable", pool: "ds", missing: [6] });
  t.equal(after.ipam.allocations().length, 0, "no address taken");
  t.same(blocksFile(dir), recorded, "the block stays recorded (not churned)");
});

t.test("a store that cannot say what the pool needs: a store error, no block requested", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "coild-fam-"));
  const store = (await LocalBlockStore.open({ pools: POOLS, stateDir: dir }))._unsafeUnwrap();
  let acquired = 0;
  const counting: BlockStore = {
    listPools: () => store.listPools(),
    acquireBlock: (p, n) => {
      acquired += 1;
      return store.acquireBlock(p, n);
    },
    releaseBlock: (p, n, b) => store.releaseBlock(p, n, b),
    listBlocks: (n) => store.listBlocks(n),
  };
  const node = nodeState(counting, { have: [4], ofPool: () => Promise.resolve(err({ kind: "store-io" as const, message: "API server unreachable" })) });
  const r = await node.allocate({ pool: "ds", containerId: "c1", ifname: "eth0" });
  t.match(r._unsafeUnwrapErr(), { kind: "store", cause: { kind: "store-io", message: "API server unreachable" } });
  t.equal(acquired, 0, "no block requested");
});
