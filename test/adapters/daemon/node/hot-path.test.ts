// coild's hot path over the fake kernel: ADD/DEL do not observe the host (the host veth index
// answers), table 119 is synced only when the block set changes, and every unusual case takes
// the full observe → plan → apply path (stale link with the same alias, name collision, a link
// deleted behind coild's back, a failed apply).
import t from "tap";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HOST_NETNS, netnsPath, type Changeset, type NetnsState } from "../../../../lib/changeset/index.js";
import type { Ip } from "../../../../lib/net/index.js";
import { FakeKernel } from "../../../../adapters/kernel/fake-kernel.js";
import type { Kernel } from "../../../../adapters/kernel/kernel.js";
import { CNIArgs } from "../../../../adapters/proto/gen/cni.js";
import { cniOperations, poolForNamespace } from "../../../../adapters/daemon/node/cni.js";
import { cniDeps } from "../../../../adapters/daemon/node/cni-deps.js";
import { wireHandlers } from "../../../../adapters/daemon/endpoint/cni-calls.js";
import type { CniCallHandlers } from "../../../../adapters/daemon/endpoint/server.js";
import { HostLinkIndex } from "../../../../adapters/daemon/node/host-links.js";
import { NULL_LOGGER } from "../../../../adapters/daemon/log.js";
import { NodeState } from "../../../../adapters/daemon/node/state.js";
import { parsePools } from "../../../../adapters/daemon/store/pools-file.js";
import { formatRecoveryError, recoverNodeState } from "../../../../adapters/daemon/node/recovery.js";
import { LocalBlockStore } from "../../../../adapters/daemon/store/local.js";
import { poolDoc } from "../harness.js";
import type { BlockStore } from "../../../../lib/ipam/index.js";
import { ResultAsync } from "neverthrow";

const POOL = poolDoc("default", { blockSizeBits: 3, subnets: [{ ipv4: "10.2.0.0/24", ipv6: "fd02::/120" }] });

interface Rig {
  readonly fake: FakeKernel;
  readonly node: NodeState;
  readonly store: BlockStore;
  readonly handlers: CniCallHandlers;
  readonly hostObserves: () => number;
  readonly exportApplies: () => number;
  readonly names: string[];
}

async function rig(opts: {
  names?: string[];
  seed?: (fake: FakeKernel) => Promise<void>;
  storeRelease?: () => Promise<void>;
  /** Runs after the store's block list is taken and before it is answered. */
  storeList?: () => Promise<void>;
  /** Runs after the store gave a block to the node and before the answer reaches it. */
  storeAcquire?: () => Promise<void>;
  /** The pools file (default {@link POOL}). */
  pools?: string;
} = {}): Promise<Rig> {
  const fake = new FakeKernel();
  fake.addNetns(HOST_NETNS);
  await opts.seed?.(fake);
  let hostObserves = 0;
  let exportApplies = 0;
  const touches119 = (cs: Changeset): boolean => cs.steps.some((s) => s.netlink.some((op) => "route" in op && op.route.table === 119));
  const kernel: Kernel = {
    apply: (cs) => {
      if (touches119(cs)) exportApplies += 1;
      return fake.apply(cs);
    },
    observe: (ref, o) => {
      if (ref.kind === "host") hostObserves += 1;
      return fake.observe(ref, o);
    },
    observeNft: (ref, q) => fake.observeNft(ref, q),
  };
  const local = (await LocalBlockStore.open({ pools: parsePools(opts.pools ?? POOL, "pools")._unsafeUnwrap(), stateDir: mkdtempSync(join(tmpdir(), "coild-hot-")) }))._unsafeUnwrap();
  const gate = opts.storeRelease;
  const listGate = opts.storeList;
  const acquireGate = opts.storeAcquire;
  const store: BlockStore = gate === undefined && listGate === undefined && acquireGate === undefined ? local : {
    acquireBlock: (...a) => {
      if (acquireGate === undefined) return local.acquireBlock(...a);
      const got = local.acquireBlock(...a); // the block is the node's in the store now; the answer comes after the gate
      return new ResultAsync((async () => {
        const r = await got;
        await acquireGate();
        return r;
      })());
    },
    listBlocks: (...a) => {
      if (listGate === undefined) return local.listBlocks(...a);
      const listed = local.listBlocks(...a); // taken now, answered after the gate
      return new ResultAsync((async () => {
        await listGate();
        return await listed;
      })());
    },
    listPools: () => local.listPools(),
    releaseBlock: (...a) => gate === undefined ? local.releaseBlock(...a) : new ResultAsync(gate().then(() => local.releaseBlock(...a))),
  };
  const node = new NodeState({ node: "n1", store, kernel, log: NULL_LOGGER, exportTable: 119, protocol: 30 });
  const hostLinks = new HostLinkIndex();
  const rec = await recoverNodeState({ node, kernel, log: NULL_LOGGER, podTable: 116, hostLinks });
  if (rec.isErr()) throw new Error(formatRecoveryError(rec.error));
  const names = [...(opts.names ?? [])];
  let seq = 0;
  const handlers = wireHandlers(cniOperations(cniDeps({
    node, kernel, log: NULL_LOGGER, hostIPv4: "10.20.30.41" as Ip, hostIPv6: "fd10::41" as Ip, mtu: 1450, podTable: 116, protocol: 30,
    compatCalico: false, poolFor: poolForNamespace({}), isReady: () => true, hostLinks,
    randomHex: () => names.shift() ?? (++seq).toString(16).padStart(8, "0"),
  })));
  return { fake, node, store, handlers, hostObserves: () => hostObserves, exportApplies: () => exportApplies, names };
}

function pod(r: Rig, id: string): CNIArgs {
  const path = `/run/netns/${id}`;
  if (r.fake.dump()[path] === undefined) r.fake.addNetns(netnsPath(path));
  return CNIArgs.fromPartial({ containerId: id, netns: path, ifname: "eth0", args: { K8S_POD_NAMESPACE: "default", K8S_POD_NAME: id } });
}

const host = (r: Rig): NetnsState => r.fake.dump()["host"] as NetnsState;
const vethOf = (res: Buffer): string => (JSON.parse(res.toString()) as { interfaces: { name: string }[] }).interfaces[1]?.name ?? "";

t.test("ADD and DEL observe nothing on the host; table 119 is synced only when the block set changes", async (t) => {
  const r = await rig();
  const base = r.hostObserves();
  const exp0 = r.exportApplies();
  const qs = Array.from({ length: 8 }, (_, i) => pod(r, `c${i}`)); // exactly one /29 block
  for (const q of qs) (await r.handlers.add(q))._unsafeUnwrap();
  t.equal(r.hostObserves() - base, 1, "one host observation for 8 ADDs: the export sync of the first block");
  t.equal(r.exportApplies() - exp0, 1, "table 119 written once");
  t.same(host(r).routes.filter((x) => x.table === 119).map((x) => x.dst).sort(), ["10.2.0.0/29", "fd02::/125"]);
  for (const q of qs.slice(0, 7)) (await r.handlers.del(q))._unsafeUnwrap();
  t.equal(r.hostObserves() - base, 1, "DELs that leave the block in use observe nothing");
  (await r.handlers.del(qs[7] as CNIArgs))._unsafeUnwrap();
  await r.node.settled(); // the empty block is returned after the DEL answered
  t.equal(r.exportApplies() - exp0, 2, "the last DEL returns the block and syncs table 119");
  t.same(host(r).routes.filter((x) => x.table === 119 || x.table === 116), []);
  t.same(host(r).links.map((l) => l.name), ["lo"], "no host veth left");
});

t.test("a stale host link with the same alias is cleaned up (Coil's garbage cleanup)", async (t) => {
  const r = await rig({
    seed: async (fake) => {
      for (const n of ["1", "2"]) {
        fake.addNetns(netnsPath(`/run/netns/old${n}`));
        (await fake.apply({ steps: [{ netns: HOST_NETNS, netlink: [
          { kind: "link.add-veth", name: `vethstale${n}`, peer: { name: "eth0", netns: netnsPath(`/run/netns/old${n}`) } },
          { kind: "link.set", name: `vethstale${n}`, alias: "COIL:default:c1:eth0" },
        ], nft: [] }] }))._unsafeUnwrap();
      }
    },
  });
  const res = (await r.handlers.add(pod(r, "c1")))._unsafeUnwrap();
  const coil = host(r).links.filter((l) => l.alias === "COIL:default:c1:eth0").map((l) => l.name);
  t.same(coil, [vethOf(res.result)], "one link carries the alias: the result's veth");
  t.ok(["vethstale1", "vethstale2"].includes(vethOf(res.result)), "the first stale name is reused (recreated), the other deleted");
  const podLinks = (id: string): string[] => (r.fake.dump()[`/run/netns/${id}`]?.links ?? []).map((l) => l.name);
  t.same([podLinks("old1"), podLinks("old2")], [["lo"], ["lo"]], "the stale peers are gone");
  t.ok(podLinks("c1").includes("eth0"), "the pod got its eth0");
  (await r.handlers.del(pod(r, "c1")))._unsafeUnwrap();
  t.same(host(r).links.map((l) => l.name), ["lo"]);
});

t.test("a veth name already used by a non-Coil link: the ADD still succeeds with another name", async (t) => {
  const r = await rig({
    names: ["0000beef", "0000cafe"],
    seed: async (fake) => {
      (await fake.apply({ steps: [{ netns: HOST_NETNS, netlink: [{ kind: "link.add-veth", name: "veth0000beef", peer: { name: "peerx", netns: HOST_NETNS } }], nft: [] }] }))._unsafeUnwrap();
    },
  });
  const res = (await r.handlers.add(pod(r, "c1")))._unsafeUnwrap();
  t.equal(vethOf(res.result), "veth0000cafe");
  t.ok(host(r).links.some((l) => l.name === "veth0000beef"), "the foreign link is untouched");
});

t.test("a host veth deleted behind coild's back: DEL still succeeds and frees the address", async (t) => {
  const r = await rig();
  const q = pod(r, "c1");
  const veth = vethOf((await r.handlers.add(q))._unsafeUnwrap().result);
  (await r.fake.apply({ steps: [{ netns: HOST_NETNS, netlink: [{ kind: "link.del", name: veth }], nft: [] }] }))._unsafeUnwrap();
  (await r.handlers.del(q))._unsafeUnwrap();
  await r.node.settled();
  t.same(host(r).routes.filter((x) => x.table === 119), [], "address freed, empty block returned");
  (await r.handlers.del(q))._unsafeUnwrap();
  t.pass("second DEL succeeds");
});

t.test("a failed apply marks the index dirty: the next ADD observes the host again", async (t) => {
  const r = await rig();
  (await r.handlers.add(pod(r, "c0")))._unsafeUnwrap();
  const base = r.hostObserves();
  r.fake.injectFault({ op: 3, stderr: "RTNETLINK answers: No buffer space available" });
  t.ok((await r.handlers.add(pod(r, "c1"))).isErr(), "ADD fails");
  (await r.handlers.add(pod(r, "c2")))._unsafeUnwrap();
  t.equal(r.hostObserves() - base, 1, "one refresh after the failure");
  (await r.handlers.add(pod(r, "c3")))._unsafeUnwrap();
  t.equal(r.hostObserves() - base, 1, "then clean again");
  t.same(host(r).links.map((l) => l.name).length, 4, "lo + c0, c2, c3 veths; nothing of c1 left");
});

t.test("DEL answers before the empty block is returned; an ADD meanwhile waits for the return, then gets a block; settled() waits for the return", async (t) => {
  let release: () => void = () => undefined;
  let releases = 0;
  const stalled = new Promise<void>((r) => (release = r));
  const r = await rig({
    storeRelease: async () => {
      releases += 1;
      await stalled;
    },
  });
  const q1 = pod(r, "c1");
  (await r.handlers.add(q1))._unsafeUnwrap();
  // The store's release never finishes until `release()`: a DEL that waited for it would hang here.
  (await r.handlers.del(q1))._unsafeUnwrap();
  t.equal(releases, 1, "the block return started");
  t.same(host(r).links.map((l) => l.name), ["lo"], "the host side is gone when DEL answers");
  t.equal(r.node.ipam.allocations().length, 0, "the address is free when DEL answers");
  let settled = false;
  const done = r.node.settled().then(() => (settled = true));
  const q2 = pod(r, "c2");
  const add = r.handlers.add(q2); // waits for the pool's lock held by the stalled return
  release();
  await done;
  t.ok(settled, "settled() resolves once the return finished");
  (await add)._unsafeUnwrap();
  t.equal(r.node.ipam.blocks().length, 1, "the ADD got a block");
  t.same(host(r).routes.filter((x) => x.table === 119).map((x) => x.dst).sort(), ["10.2.0.0/29", "fd02::/125"], "table 119 holds the block the ADD got (the returned one, lowest free, taken again)");
  t.equal(releases, 1, "no second return");
});

/** The allocator's blocks and the store's blocks of the node, by name: they must agree once all is settled. */
async function blockSets(r: Rig): Promise<{ allocator: string[]; store: string[] }> {
  const stored = (await r.store.listBlocks("n1"))._unsafeUnwrap();
  return { allocator: r.node.ipam.blocks().map((b) => b.name).sort(), store: stored.map((b) => b.name).sort() };
}

t.test("a GC while a DEL's block return is in flight does not take the block back (an ADD could take an address of a returned block)", async (t) => {
  let release: () => void = () => undefined;
  const stalled = new Promise<void>((r) => (release = r));
  let listed: () => void = () => undefined;
  const listTaken = new Promise<void>((r) => (listed = r));
  let watchList = false;
  const r = await rig({
    storeRelease: () => stalled,
    storeList: () => {
      if (watchList) listed();
      return Promise.resolve();
    },
  });
  const q1 = pod(r, "c1");
  (await r.handlers.add(q1))._unsafeUnwrap();
  (await r.handlers.del(q1))._unsafeUnwrap(); // the block's return stalls in the store
  watchList = true;
  const adopted = r.node.adoptStoreBlocks(); // the GC's first step, while the store still lists the block
  await listTaken; // the list holds the block; adding waits for the pool's lock, held by the return
  release();
  (await adopted)._unsafeUnwrap();
  t.same(r.node.ipam.blocks(), [], "the block being returned is not taken back");
  const add = r.handlers.add(pod(r, "c2"));
  (await add)._unsafeUnwrap();
  await r.node.settled();
  (await r.node.gcBlocks())._unsafeUnwrap();
  const sets = await blockSets(r);
  t.equal(sets.allocator.length, 1, "c2's block");
  t.same(sets.allocator, sets.store, "every block the node allocates from is the node's in the store");
});

t.test("a GC whose block list was taken before a DEL's return started does not take the block back", async (t) => {
  let release: () => void = () => undefined;
  const stalled = new Promise<void>((r) => (release = r));
  let answerList: () => void = () => undefined;
  let listed: () => void = () => undefined;
  const listTaken = new Promise<void>((r) => (listed = r));
  let gateList = false;
  const r = await rig({
    storeRelease: () => stalled,
    storeList: async () => {
      if (!gateList) return;
      listed();
      await new Promise<void>((r) => (answerList = r));
    },
  });
  const q1 = pod(r, "c1");
  (await r.handlers.add(q1))._unsafeUnwrap();
  gateList = true;
  const adopted = r.node.adoptStoreBlocks(); // lists the block, answer held back
  await listTaken;
  gateList = false;
  (await r.handlers.del(q1))._unsafeUnwrap(); // the block's return starts and stalls in the store
  answerList(); // adding waits for the pool's lock, held by the return
  release();
  (await adopted)._unsafeUnwrap();
  t.same(r.node.ipam.blocks(), [], "the block being returned is not taken back from the older list");
  const add = r.handlers.add(pod(r, "c2"));
  (await add)._unsafeUnwrap();
  await r.node.settled();
  const sets = await blockSets(r);
  t.equal(sets.allocator.length, 1, "c2's block");
  t.same(sets.allocator, sets.store, "every block the node allocates from is the node's in the store");
});

t.test("a GC while an ADD is obtaining a block does not hand that block to another ADD (one address per block)", async (t) => {
  // Seen in bench/coild-export.ts (blockSizeBits 0, the 5-minute GC during 1,000 ADDs): the GC listed
  // the block an ADD was obtaining and added it to the allocator; another ADD took its only address
  // without waiting for the pool's lock, and the ADD that had obtained the block failed with
  // "no free address in the blocks of pool default".
  let acquiring: () => void = () => undefined;
  const atGate = new Promise<void>((r) => (acquiring = r));
  let answer: () => void = () => undefined;
  const answered = new Promise<void>((r) => (answer = r));
  let gated = true;
  let listAnswered: () => void = () => undefined;
  const listedNow = new Promise<void>((r) => (listAnswered = r));
  const r = await rig({
    pools: poolDoc("default", { blockSizeBits: 0, subnets: [{ ipv4: "10.2.0.0/24", ipv6: "fd02::/120" }] }),
    storeAcquire: async () => {
      if (!gated) return;
      gated = false;
      acquiring();
      await answered;
    },
    storeList: () => {
      listAnswered();
      return Promise.resolve();
    },
  });
  const first = r.handlers.add(pod(r, "c1")); // takes block default-0 in the store; its answer is held back
  await atGate;
  const gc = r.node.gcBlocks(); // lists default-0
  await listedNow;
  await new Promise((done) => setImmediate(done)); // one turn: the GC adds what it may add now
  const second = r.handlers.add(pod(r, "c2"));
  answer();
  const [a1, a2, g] = await Promise.all([first, second, gc]);
  t.ok(a1.isOk(), `the ADD that obtained default-0 got an address: ${a1.isErr() ? JSON.stringify(a1.error) : "ok"}`);
  t.ok(a2.isOk(), "the other ADD got one too");
  t.same(g.isOk() ? g.value.released : g.error, [], "the GC returned nothing");
  await r.node.settled();
  const addrs = r.node.ipam.allocations().map((x) => `${x.block} ${x.ipv4 ?? ""}`).sort();
  t.same(addrs, ["default-0 10.2.0.0", "default-1 10.2.0.1"], "one block each");
  const sets = await blockSets(r);
  t.same(sets.allocator, sets.store, "every block the node allocates from is the node's in the store");
});

t.test("settled() also waits for a GC returning a block (coild's stop must not close the store under it)", async (t) => {
  let release: () => void = () => undefined;
  const stalled = new Promise<void>((r) => (release = r));
  let gate = false;
  const r = await rig({ storeRelease: () => (gate ? stalled : Promise.resolve()) });
  (await r.store.acquireBlock("default", "n1"))._unsafeUnwrap(); // a block of n1 the allocator does not have: the GC returns it
  gate = true;
  let gcDone = false;
  const gc = r.node.gcBlocks().then((x) => {
    gcDone = true;
    return x;
  });
  const settledAfterGc = r.node.settled().then(() => gcDone);
  release();
  t.ok(await settledAfterGc, "settled() resolved only once the GC had finished");
  t.same((await gc)._unsafeUnwrap().released, ["default-0"]);
});

t.test("a block return that throws (a bug) is logged, not an unhandled rejection; settled() still resolves", async (t) => {
  const r = await rig({ storeRelease: () => Promise.reject(new Error("store exploded")) });
  const q = pod(r, "c1");
  (await r.handlers.add(q))._unsafeUnwrap();
  (await r.handlers.del(q))._unsafeUnwrap();
  await r.node.settled();
  t.equal(r.node.ipam.allocations().length, 0, "the address is free");
  t.same(host(r).links.map((l) => l.name), ["lo"], "the host side is gone");
});
