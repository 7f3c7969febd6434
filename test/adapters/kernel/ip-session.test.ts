// The long-lived `ip -j -N -d -batch -` co-process: per-call `ip -batch` semantics (stop at the
// first failed line, renumbered stderr), lines written at once, queries, serialised calls, restart
// after close, timeout.
import t from "tap";
import { execFileSync } from "node:child_process";
import { IP_SESSION_ARGV, IpSession } from "../../../adapters/kernel/ip-session.js";
import { requireRoot, withNetns } from "../../helpers/netns.js";

const inNs = (path: string, argv: readonly string[] = IP_SESSION_ARGV): string[] => ["nsenter", `--net=${path}`, "--", ...argv];
const links = (ns: string): string[] =>
  (JSON.parse(execFileSync("ip", ["-n", ns, "-j", "link", "show"]).toString()) as { ifname: string }[]).map((l) => l.ifname).sort();

t.test("lines run in order; the first failure stops the call and is renumbered", async (t) => {
  if (!requireRoot(t)) return;
  const ns = withNetns(t);
  const s = new IpSession(inNs(ns.path));
  t.teardown(() => s.close());
  (await s.run(["link add name va1 type veth peer name vb1", "link set va1 up"]))._unsafeUnwrap();
  t.same(links(ns.name), ["lo", "va1", "vb1"]);
  const r = await s.run(["link add name va2 type veth peer name vb2", "link del nosuch0", "link add name va3 type veth peer name vb3"]);
  t.ok(r.isErr());
  if (r.isErr() && r.error.kind === "exit-nonzero") {
    t.match(r.error.stderr, /Cannot find device "nosuch0"\nCommand failed -:2\n$/, "stderr of the failed line, numbered as the caller's line 2");
  }
  t.same(links(ns.name), ["lo", "va1", "va2", "vb1", "vb2"], "line 1 applied, line 3 never run");
  (await s.run(["link del va2"]))._unsafeUnwrap();
  t.same(links(ns.name), ["lo", "va1", "vb1"], "the session keeps working after a failure");
});

t.test("run() takes change lines only: a line that could print the marker's output never reaches ip", async (t) => {
  if (!requireRoot(t)) return;
  const ns = withNetns(t);
  const s = new IpSession(inNs(ns.path), { lanes: 1 });
  t.teardown(() => s.close());
  // `link show dev lo` prints what the marker prints. Before, the call ended at that output and
  // reported success although its line 2 failed; the next call then ended at the stale marker
  // and reported line 2's failure as its own, before its own line ran.
  for (const read of ["link show dev lo", "addr show dev lo", "link show", "link", "route get 127.0.0.1", "", "link list"]) {
    const r = await s.run(["link add name ve1 type veth peer name vf1", read, "link del nosuch0"]);
    t.match(r, { error: { kind: "spawn-failed", message: `line 2 ${JSON.stringify(read)} is not a change command` } }, `refused: ${JSON.stringify(read)}`);
  }
  t.same(links(ns.name), ["lo"], "nothing of a refused call ran");
  const r = await s.run(["link add name ve2 type veth peer name vf2"]);
  t.ok(r.isOk(), "the next call reports its own result");
  t.same(links(ns.name), ["lo", "ve2", "vf2"], "and its line ran");
  const bad = await s.run(["link del nosuch0"]);
  t.match(bad, { error: { kind: "exit-nonzero", stderr: /Cannot find device "nosuch0"\nCommand failed -:1\n$/ } }, "a failing change line fails its own call");
  const q = await s.query(["link show dev lo", "addr show dev lo"]);
  t.equal(q._unsafeUnwrap().length, 2, "reads go to query(), which counts their output lines");
});

t.test("concurrent calls are serialised; close() and the next call restart the co-process", async (t) => {
  if (!requireRoot(t)) return;
  const ns = withNetns(t);
  const s = new IpSession(inNs(ns.path));
  t.teardown(() => s.close());
  const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => s.run([`link add name vc${i} type veth peer name vd${i}`, `link set vc${i} up`])));
  t.ok(rs.every((r) => r.isOk()), "20 concurrent calls succeed");
  t.equal(links(ns.name).length, 41);
  s.close();
  (await s.run(["link del vc0"]))._unsafeUnwrap();
  t.equal(links(ns.name).length, 39, "a new co-process after close()");
});

t.test("a co-process that does not answer times out and is replaced", async (t) => {
  const s = new IpSession(["sh", "-c", "cat >/dev/null"]);
  t.teardown(() => s.close());
  const r = await s.run(["link set lo up"], { timeoutMs: 200 });
  t.match(r, { error: { kind: "timeout", timeoutMs: 200 } });
  const r2 = await s.run(["link set lo up"], { timeoutMs: 200 });
  t.match(r2, { error: { kind: "timeout" } }, "a fresh co-process (still silent) after the kill");
});

t.test("a co-process that exits fails the call", async (t) => {
  const s = new IpSession(["sh", "-c", "exit 3"]);
  const r = await s.run(["link set lo up"], { timeoutMs: 5000 });
  t.match(r, { error: { kind: "exit-nonzero", stderr: /exited/ } });
});

t.test("a stalled lane does not hold up calls on the other lane", async (t) => {
  // A fake `ip`: answers every marker line at once, but goes silent on a line "stall".
  const script = 'while read l; do [ "$l" = "link set stall" ] && exec cat >/dev/null; [ "$l" = "link show dev lo" ] && echo \'[{"ifindex":1,"ifname":"lo"}]\'; done';
  const s = new IpSession(["sh", "-c", script], { lanes: 2 });
  t.teardown(() => s.close());
  const stalled = s.run(["link set stall"], { timeoutMs: 20_000 });
  const t0 = performance.now();
  const r = await s.run(["link set ok"], { timeoutMs: 3000 });
  t.ok(r.isOk(), "the other lane answered");
  t.ok(performance.now() - t0 < 15_000, "without waiting for the stalled call's 20 s timeout");
  t.match(await stalled, { error: { kind: "timeout" } });
});

t.test("many lines in one call run in order; a failure in the middle stops there, later calls run on a new co-process", async (t) => {
  if (!requireRoot(t)) return;
  const ns = withNetns(t);
  const s = new IpSession(inNs(ns.path));
  t.teardown(() => s.close());
  const routes = (): string[] =>
    (JSON.parse(execFileSync("ip", ["-n", ns.name, "-j", "route", "show", "table", "119"]).toString() || "[]") as { dst: string }[]).map((r) => r.dst);
  const line = (i: number, verb = "replace"): string => `route ${verb} 10.${100 + (i >> 8)}.${i & 255}.0/24 dev lo table 119 proto 30`;
  (await s.run(Array.from({ length: 2000 }, (_, i) => line(i))))._unsafeUnwrap();
  t.equal(routes().length, 2000, "2000 lines of one call applied");
  const r = await s.run([line(0, "del"), line(1, "del"), "route del 10.99.0.0/24 dev lo table 119", line(2, "del")]);
  t.match(r, { error: { kind: "exit-nonzero", stderr: /Command failed -:3\n/ } }, "line 3 failed and is named as the call's line 3");
  t.equal(routes().length, 1998, "lines 1-2 applied, line 4 never run");
  t.ok(routes().includes("10.100.2.0/24"));
  const q = await s.query(["route show table 119 proto 30", "route show table 200"]);
  const [a, b] = q._unsafeUnwrap();
  t.equal((JSON.parse(a ?? "") as unknown[]).length, 1998, "one JSON line per query line (IPv4: no family flag)");
  t.same(JSON.parse(b ?? ""), [], "a table that does not exist is empty, not an error");
});

t.test("queries of both families through -4 and -6 co-processes", async (t) => {
  if (!requireRoot(t)) return;
  const ns = withNetns(t);
  execFileSync("ip", ["-n", ns.name, "route", "add", "10.1.0.0/24", "dev", "lo", "table", "119", "proto", "30"]);
  execFileSync("ip", ["-n", ns.name, "-6", "route", "add", "fd00::/64", "dev", "lo", "table", "119", "proto", "30"]);
  const s4 = new IpSession(inNs(ns.path));
  const s6 = new IpSession(inNs(ns.path, ["ip", "-6", ...IP_SESSION_ARGV.slice(1)]), { lanes: 1 });
  t.teardown(() => (s4.close(), s6.close()));
  const dsts = async (s: IpSession): Promise<string[]> => (JSON.parse((await s.query(["route show table 119"]))._unsafeUnwrap()[0] ?? "") as { dst: string }[]).map((r) => r.dst);
  t.same(await dsts(s4), ["10.1.0.0/24"]);
  t.same(await dsts(s6), ["fd00::/64"]);
});
