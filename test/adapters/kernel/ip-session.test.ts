// The long-lived `ip -force -batch -` co-process: per-call `ip -batch` semantics (stop at the
// first failed line, renumbered stderr), serialised calls, restart after close, timeout.
import t from "tap";
import { execFileSync } from "node:child_process";
import { IpSession } from "../../../adapters/kernel/ip-session.js";
import { requireRoot, withNetns } from "../../helpers/netns.js";

const links = (ns: string): string[] =>
  (JSON.parse(execFileSync("ip", ["-n", ns, "-j", "link", "show"]).toString()) as { ifname: string }[]).map((l) => l.ifname).sort();

t.test("lines run in order; the first failure stops the call and is renumbered", async (t) => {
  if (!requireRoot(t)) return;
  const ns = withNetns(t);
  const s = new IpSession(["nsenter", `--net=${ns.path}`, "--", "ip", "-force", "-batch", "-"]);
  t.teardown(() => s.close());
  (await s.run(["link add name va1 type veth peer name vb1", "link set va1 up"]))._unsafeUnwrap();
  t.same(links(ns.name), ["lo", "va1", "vb1"]);
  const r = await s.run(["link add name va2 type veth peer name vb2", "link del nosuch0", "link add name va3 type veth peer name vb3"]);
  t.ok(r.isErr());
  if (r.isErr() && r.error.kind === "exit-nonzero") {
    t.match(r.error.stderr, /Cannot find device "nosuch0"\nCommand failed -:2\n$/, "stderr of the failed line, numbered as the caller's line 2");
    t.notMatch(r.error.stderr, /coilmark/, "marker output removed");
  }
  t.same(links(ns.name), ["lo", "va1", "va2", "vb1", "vb2"], "line 1 applied, line 3 never sent");
  (await s.run(["link del va2"]))._unsafeUnwrap();
  t.same(links(ns.name), ["lo", "va1", "vb1"], "the session keeps working after a failure");
});

t.test("concurrent calls are serialised; close() and the next call restart the co-process", async (t) => {
  if (!requireRoot(t)) return;
  const ns = withNetns(t);
  const s = new IpSession(["nsenter", `--net=${ns.path}`, "--", "ip", "-force", "-batch", "-"]);
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
  const r = await s.run(["link show"], { timeoutMs: 200 });
  t.match(r, { error: { kind: "timeout", timeoutMs: 200 } });
  const r2 = await s.run(["link show"], { timeoutMs: 200 });
  t.match(r2, { error: { kind: "timeout" } }, "a fresh co-process (still silent) after the kill");
});

t.test("a co-process that exits fails the call", async (t) => {
  const s = new IpSession(["sh", "-c", "exit 3"]);
  const r = await s.run(["link show"], { timeoutMs: 5000 });
  t.match(r, { error: { kind: "exit-nonzero", stderr: /exited/ } });
});

t.test("a stalled lane does not hold up calls on the other lane", async (t) => {
  // A fake `ip`: answers every marker line at once, but goes silent on a line "stall".
  const script = 'n=0; while read l; do n=$((n+1)); [ "$l" = stall ] && exec cat >/dev/null; [ "$l" = -coilmark ] && echo "Command failed -:$n" >&2; done';
  const s = new IpSession(["sh", "-c", script], { lanes: 2 });
  t.teardown(() => s.close());
  const stalled = s.run(["stall"], { timeoutMs: 20_000 });
  const t0 = performance.now();
  const r = await s.run(["ok"], { timeoutMs: 3000 });
  t.ok(r.isOk(), "the other lane answered");
  t.ok(performance.now() - t0 < 15_000, "without waiting for the stalled call's 20 s timeout");
  t.match(await stalled, { error: { kind: "timeout" } });
});
