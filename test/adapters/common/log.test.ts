import t from "tap";
import { createJsonLogger } from "../../../adapters/common/log.js";

const at = new Date("2024-01-02T03:04:05.000Z");

function capture(): { lines: Record<string, unknown>[]; log: ReturnType<typeof createJsonLogger> } {
  const lines: Record<string, unknown>[] = [];
  const log = createJsonLogger({ write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>), now: () => at, base: { component: "x" } });
  return { lines, log };
}

t.test("one JSON object per line: level, ts, msg, base, fields; bigints as strings", async (t) => {
  const { lines, log } = capture();
  log.info("hello", { n: 1n << 70n, s: "a" });
  t.same(lines, [{ level: "info", ts: at.toISOString(), msg: "hello", component: "x", n: (1n << 70n).toString(), s: "a" }]);
});

t.test("a field JSON cannot encode is named; the other fields are kept", async (t) => {
  const { lines, log } = capture();
  const cycle: Record<string, unknown> = {};
  cycle["self"] = cycle;
  log.warn("cyclic", { cycle, pool: "default", n: 2n });
  t.same(lines, [{ level: "warn", ts: at.toISOString(), msg: "cyclic", component: "x", cycle: "<unserialisable object>", pool: "default", n: "2" }]);
});

t.test("debug lines only when enabled", async (t) => {
  const out: string[] = [];
  createJsonLogger({ write: (l) => out.push(l) }).debug("quiet");
  createJsonLogger({ write: (l) => out.push(l), debug: true }).debug("loud");
  t.equal(out.length, 1);
  t.match(out[0], /"msg":"loud"/);
});
