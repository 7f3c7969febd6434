import t from "tap";
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { BLOCKS_FILE, LocalBlockStore } from "../../../../adapters/daemon/store/local.js";
import { parsePools } from "../../../../adapters/daemon/store/pools-file.js";
import { REAL_FS_OPS, type AtomicFsOps } from "../../../../adapters/common/atomic-file.js";
import { waitFor } from "../../../helpers/wait.js";
import { sourceChildEnv } from "../../../helpers/child-env.js";

const poolDoc = (name: string, spec: unknown): string =>
  JSON.stringify({ apiVersion: "coil.cybozu.com/v2", kind: "AddressPool", metadata: { name }, spec });

const POOLS = `${poolDoc("default", { blockSizeBits: 1, subnets: [{ ipv4: "10.2.0.0/29", ipv6: "fd02::200/125" }, { ipv4: "10.3.0.0/30", ipv6: "fd02::300/126" }] })}
---
${poolDoc("v4", { blockSizeBits: 2, subnets: [{ ipv4: "10.4.0.0/29" }] })}
`;

const tmp = (): string => mkdtempSync(join(tmpdir(), "coild-store-"));
const pools = () => parsePools(POOLS, "pools.yaml")._unsafeUnwrap();

t.test("pools file: YAML stream and JSON array, with defaults", async (t) => {
  const y = pools();
  t.same(y.map((p) => [p.name, p.spec.blockSizeBits, p.maxBlocks]), [["default", 1, 6n], ["v4", 2, 2n]]);
  const j = parsePools(`[${poolDoc("a", { subnets: [{ ipv4: "10.0.0.0/24" }] })}]`, "p.json")._unsafeUnwrap();
  t.same(j.map((p) => [p.name, p.spec.blockSizeBits, p.maxBlocks]), [["a", 5, 8n]], "blockSizeBits defaults to 5");
});

t.test("pools file: errors name the pool and the field", async (t) => {
  const cases = [
    { name: "too narrow", text: poolDoc("p1", { blockSizeBits: 4, subnets: [{ ipv4: "10.0.0.0/30" }] }), want: /pool "p1".*spec\.subnets\[0\].*too narrow/ },
    { name: "bad family", text: poolDoc("p2", { subnets: [{ ipv4: "fd00::/64" }] }), want: /pool "p2".*spec\.subnets\[0\]/ },
    { name: "no subnets", text: poolDoc("p3", { subnets: [] }), want: /pool "p3".*spec\.subnets/ },
    { name: "kind", text: JSON.stringify({ apiVersion: "coil.cybozu.com/v2", kind: "Pod", metadata: { name: "x" }, spec: {} }), want: /kind/ },
    { name: "bad name", text: poolDoc("Bad:Name", { subnets: [{ ipv4: "10.0.0.0/24" }] }), want: /metadata\.name/ },
    { name: "duplicate", text: `${poolDoc("d", { subnets: [{ ipv4: "10.0.0.0/24" }] })}\n---\n${poolDoc("d", { subnets: [{ ipv4: "10.1.0.0/24" }] })}`, want: /"d": defined more than once/ },
    { name: "empty", text: "", want: /no AddressPool/ },
    { name: "yaml syntax", text: "a: [", want: /document 0/ },
  ];
  for (const c of cases) {
    const r = parsePools(c.text, "f");
    t.ok(r.isErr(), c.name);
    if (r.isErr()) t.match(r.error.problems.join("\n"), c.want, c.name);
  }
});

t.test("acquire lowest free block, release, reuse, exhaustion, persistence", async (t) => {
  const dir = tmp();
  const s = (await LocalBlockStore.open({ pools: pools(), stateDir: dir }))._unsafeUnwrap();
  const got: string[] = [];
  for (let i = 0; i < 6; i++) {
    const b = (await s.acquireBlock("default", i % 2 === 0 ? "n1" : "n2"))._unsafeUnwrap();
    got.push(`${b.name} ${b.ipv4} ${b.ipv6}`);
  }
  t.same(got.slice(0, 2), ["default-0 10.2.0.0/31 fd02::200/127", "default-1 10.2.0.2/31 fd02::202/127"]);
  t.equal(got[4], "default-4 10.3.0.0/31 fd02::300/127");
  const ex = await s.acquireBlock("default", "n1");
  t.equal(ex.isErr() && ex.error.kind, "pool-exhausted");
  const nf = await s.acquireBlock("nope", "n1");
  t.equal(nf.isErr() && nf.error.kind, "pool-not-found");
  t.same((await s.listBlocks("n1"))._unsafeUnwrap().map((b) => b.name), ["default-0", "default-2", "default-4"]);
  (await s.releaseBlock("default", "n2", "default-1"))._unsafeUnwrap();
  (await s.releaseBlock("default", "n2", "default-1"))._unsafeUnwrap(); // idempotent
  t.equal((await s.listPools())._unsafeUnwrap().find((p) => p.name === "default")?.allocatedBlocks, 5);
  const s2 = (await LocalBlockStore.open({ pools: pools(), stateDir: dir }))._unsafeUnwrap();
  t.same((await s2.listBlocks("n2"))._unsafeUnwrap().map((b) => b.name), ["default-3", "default-5"], "reloaded from disk");
  t.equal((await s2.acquireBlock("default", "n3"))._unsafeUnwrap().name, "default-1", "released block is reused first");
});

t.test("concurrent acquires are serialised: distinct blocks", async (t) => {
  const s = (await LocalBlockStore.open({ pools: pools(), stateDir: tmp() }))._unsafeUnwrap();
  const rs = await Promise.all(Array.from({ length: 8 }, () => s.acquireBlock("default", "n1")));
  const names = rs.flatMap((r) => (r.isOk() ? [r.value.name] : []));
  t.equal(new Set(names).size, 6);
  t.equal(rs.filter((r) => r.isErr()).length, 2);
});

t.test("crash between temp write and rename leaves the previous state valid", async (t) => {
  const dir = tmp();
  const s = (await LocalBlockStore.open({ pools: pools(), stateDir: dir }))._unsafeUnwrap();
  (await s.acquireBlock("v4", "n1"))._unsafeUnwrap();
  const before = readFileSync(join(dir, BLOCKS_FILE), "utf8");
  // The "crash": the temp file is written and synced, then the process dies before rename.
  let left = "";
  const crashing: AtomicFsOps = {
    ...REAL_FS_OPS,
    writeSynced: async (p, d) => {
      await REAL_FS_OPS.writeSynced(p, d);
      left = p;
    },
    rename: () => Promise.reject(new Error("simulated crash")),
  };
  const s2 = (await LocalBlockStore.open({ pools: pools(), stateDir: dir, fsOps: crashing }))._unsafeUnwrap();
  const r = await s2.acquireBlock("v4", "n1");
  t.ok(r.isErr(), "the acquire fails: nothing handed out");
  t.equal(readFileSync(join(dir, BLOCKS_FILE), "utf8"), before, "target file unchanged");
  writeFileSync(left, "{ half written"); // a crash leaves the temp behind, possibly torn
  const s3 = (await LocalBlockStore.open({ pools: pools(), stateDir: dir }))._unsafeUnwrap();
  t.same((await s3.listBlocks("n1"))._unsafeUnwrap().map((b) => b.name), ["v4-0"]);
  t.same(readdirSync(dir), [BLOCKS_FILE], "stale temp removed at open");
  t.equal((await s3.acquireBlock("v4", "n1"))._unsafeUnwrap().name, "v4-1");
});

t.test("a state file that no longer matches the pools is a startup error", async (t) => {
  const dir = tmp();
  const s = (await LocalBlockStore.open({ pools: pools(), stateDir: dir }))._unsafeUnwrap();
  (await s.acquireBlock("v4", "n1"))._unsafeUnwrap();
  const changed = parsePools(poolDoc("v4", { blockSizeBits: 2, subnets: [{ ipv4: "10.9.0.0/29" }] }), "p")._unsafeUnwrap();
  const r = await LocalBlockStore.open({ pools: changed, stateDir: dir });
  t.ok(r.isErr());
  if (r.isErr()) t.match(r.error, { kind: "store-state-invalid", message: /v4-0.*changed incompatibly/ });
});

t.test("SIGKILL during churn: every reported block is durable, none twice", async (t) => {
  const dir = tmp();
  const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("fixtures/store-churn.ts", import.meta.url)), dir], {
    stdio: ["ignore", "pipe", "inherit"],
    env: sourceChildEnv(),
  });
  let out = "";
  child.stdout.on("data", (b: Buffer) => {
    out += b.toString();
  });
  await waitFor("60 blocks reported by the churning child", () => (out.match(/\n/g) ?? []).length > 60, {
    timeoutMs: 60_000,
    intervalMs: 5,
    describe: () => `${(out.match(/\n/g) ?? []).length} lines`,
    abortIf: () => (child.exitCode !== null || child.signalCode !== null ? `the child exited (${String(child.exitCode ?? child.signalCode)})` : undefined),
  });
  child.kill("SIGKILL");
  await new Promise((r) => child.on("close", r));
  const reported = out.split("\n").filter((l) => l.startsWith("big-"));
  const s = (await LocalBlockStore.open({ pools: parsePools(JSON.stringify([{ apiVersion: "coil.cybozu.com/v2", kind: "AddressPool", metadata: { name: "big" }, spec: { blockSizeBits: 0, subnets: [{ ipv4: "10.0.0.0/16" }] } }]), "p")._unsafeUnwrap(), stateDir: dir }))._unsafeUnwrap();
  const persisted = (await s.listBlocks("node1"))._unsafeUnwrap().map((b) => b.name);
  t.ok(reported.length >= 60, `${reported.length} blocks reported before the kill`);
  t.ok(reported.every((n) => persisted.includes(n)), "every reported block is on disk");
  t.equal(new Set(persisted).size, persisted.length, "no block recorded twice");
  t.ok(persisted.length - reported.length <= 1, "at most the in-flight block is on disk unreported");
  const next = (await s.acquireBlock("big", "node1"))._unsafeUnwrap();
  t.notOk(persisted.includes(next.name), `next block ${next.name} is new`);
});
