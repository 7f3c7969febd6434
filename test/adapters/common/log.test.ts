import t from "tap";
import { createJsonLogger, encodeTime, named, SILENT_LOGGER, type JsonLoggerOptions, type TimeEncoding } from "../../../adapters/common/log.js";

const at = new Date("2024-01-02T03:04:05.000Z");

function capture(opts: Partial<JsonLoggerOptions> = {}): { lines: Record<string, unknown>[]; raw: string[]; log: ReturnType<typeof createJsonLogger> } {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const log = createJsonLogger({
    write: (l) => {
      raw.push(l);
      if ((opts.encoder ?? "json") === "json") lines.push(JSON.parse(l) as Record<string, unknown>);
    },
    now: () => at,
    utcOffsetMinutes: 0,
    base: { component: "x" },
    ...opts,
  });
  return { lines, raw, log };
}

t.test("one JSON object per line: level, ts, msg, base, fields; bigints as strings", async (t) => {
  const { lines, log } = capture();
  log.info("hello", { n: 1n << 70n, s: "a" });
  t.same(lines, [{ level: "info", ts: "2024-01-02T03:04:05Z", msg: "hello", component: "x", n: (1n << 70n).toString(), s: "a" }]);
});

t.test("a field JSON cannot encode is named; the other fields are kept", async (t) => {
  const { lines, log } = capture();
  const cycle: Record<string, unknown> = {};
  cycle["self"] = cycle;
  log.warn("cyclic", { cycle, pool: "default", n: 2n });
  t.same(lines, [{ level: "warn", ts: "2024-01-02T03:04:05Z", msg: "cyclic", component: "x", cycle: "<unserialisable object>", pool: "default", n: "2" }]);
});

t.test("debug lines only when enabled", async (t) => {
  const out: string[] = [];
  createJsonLogger({ write: (l) => out.push(l) }).debug("quiet");
  createJsonLogger({ write: (l) => out.push(l), debug: true }).debug("loud");
  t.equal(out.length, 1);
  t.match(out[0], /"msg":"loud"/);
});

t.test("zap's production keys in zap's order: level, ts, logger, msg, fields, stacktrace", async (t) => {
  const { raw, log } = capture({ name: "coild", base: {}, stacktraceLevel: 2 });
  log.info("serving CNI", { socket: "/run/coild.sock", skipped: undefined });
  log.error("boom", { error: "x" });
  t.equal(raw[0], '{"level":"info","ts":"2024-01-02T03:04:05Z","logger":"coild","msg":"serving CNI","socket":"/run/coild.sock"}\n');
  const e = JSON.parse(raw[1] ?? "") as Record<string, unknown>;
  t.same(Object.keys(e), ["level", "ts", "logger", "msg", "error", "stacktrace"]);
  t.match(e["stacktrace"], /log\.test\.ts/, "the stack starts at the logging call");
  t.notMatch(e["stacktrace"], /adapters\/common\/log\.ts/, "the logger's own frames are dropped");
});

t.test("named loggers are dotted as zap's Named; unnamed ones take the name; others are returned as they are", async (t) => {
  const { lines, log } = capture({ name: "coild", base: {} });
  named(named(log, "egress"), "nat").info("a");
  named(createJsonLogger({ write: (l) => void lines.push(JSON.parse(l) as Record<string, unknown>), now: () => at, utcOffsetMinutes: 0 }), "gc").info("b");
  t.same(
    lines.map((l) => [l["logger"], l["msg"]]),
    [
      ["coild.egress.nat", "a"],
      ["gc", "b"],
    ],
  );
  t.equal(named(SILENT_LOGGER, "x"), SILENT_LOGGER);
});

t.test("levels: --zap-log-level=error keeps errors only; integers are debug levels", async (t) => {
  const { lines, log } = capture({ level: 2 });
  log.debug("d");
  log.info("i");
  log.warn("w");
  log.error("e");
  t.same(lines.map((l) => l["level"]), ["error"]);
  const verbose = capture({ level: -3 });
  verbose.log.debug("d");
  t.same(verbose.lines.map((l) => l["level"]), ["debug"]);
});

t.test("console encoder: tab-separated time, LEVEL, logger, msg, spaced JSON fields; stack on the next lines", async (t) => {
  const { raw, log } = capture({ encoder: "console", name: "coil-router", base: {}, stacktraceLevel: 1 });
  log.info("synced routes", { routes: 3, node: "n1" });
  log.info("no fields");
  log.warn("slow");
  t.equal(raw[0], '2024-01-02T03:04:05Z\tINFO\tcoil-router\tsynced routes\t{"routes": 3, "node": "n1"}\n');
  t.equal(raw[1], "2024-01-02T03:04:05Z\tINFO\tcoil-router\tno fields\n");
  t.match(raw[2], /^2024-01-02T03:04:05Z\tWARN\tcoil-router\tslow\n\S.*log\.test\.ts/);
});

t.test("time encodings are zap's", async (t) => {
  const d = new Date("2024-01-02T03:04:05.120Z");
  const cases: Array<[TimeEncoding, number, string]> = [
    ["epoch", 0, "1704164645.12"],
    ["millis", 0, "1704164645120"],
    ["nanos", 0, "1704164645120000000"],
    ["iso8601", 0, '"2024-01-02T03:04:05.120Z"'],
    ["iso8601", 540, '"2024-01-02T12:04:05.120+0900"'],
    ["rfc3339", 0, '"2024-01-02T03:04:05Z"'],
    ["rfc3339", -330, '"2024-01-01T21:34:05-05:30"'],
    ["rfc3339nano", 0, '"2024-01-02T03:04:05.12Z"'],
    ["rfc3339nano", 60, '"2024-01-02T04:04:05.12+01:00"'],
  ];
  for (const [enc, offset, want] of cases) t.equal(encodeTime(d, enc, offset), want, `${enc} at UTC${offset >= 0 ? "+" : ""}${offset}m`);
  t.equal(encodeTime(at, "rfc3339nano", 0), '"2024-01-02T03:04:05Z"', "no fraction on a whole second");
  for (const enc of ["epoch", "millis", "nanos", "iso8601", "rfc3339", "rfc3339nano"] as const) {
    const { lines, log } = capture({ timeEncoding: enc });
    log.info("x");
    t.same(lines[0]?.["ts"], JSON.parse(encodeTime(at, enc, 0)), `a JSON line carries ts as ${enc}`);
  }
  const local = encodeTime(d, "rfc3339");
  t.equal(new Date(JSON.parse(local) as string).getTime(), new Date("2024-01-02T03:04:05Z").getTime(), "the default zone is the local one and names its offset");
});
