import t from "tap";
import { createJsonLogger, encodeTime, named, preciseClock, SILENT_LOGGER, type JsonLoggerOptions, type TimeEncoding } from "../../../adapters/common/log.js";

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
  const ns = 1704164645_123456789n; // 2024-01-02T03:04:05.123456789Z
  const nsCases: Array<[TimeEncoding, string]> = [
    ["epoch", String(Number(ns) / 1e9)],
    ["millis", "1704164645123.4568"],
    ["nanos", "1704164645123456789"],
    ["iso8601", '"2024-01-02T03:04:05.123Z"'],
    ["rfc3339", '"2024-01-02T03:04:05Z"'],
    ["rfc3339nano", '"2024-01-02T03:04:05.123456789Z"'],
  ];
  for (const [enc, want] of nsCases) t.equal(encodeTime(ns, enc, 0), want, `${enc} of a nanosecond time`);
  t.equal(encodeTime(1704164645_000001000n, "rfc3339nano", 0), '"2024-01-02T03:04:05.000001Z"', "a microsecond past the second");
  t.equal(encodeTime(-1n, "rfc3339nano", 0), '"1969-12-31T23:59:59.999999999Z"', "before 1970 the fraction counts forward from the earlier second");
  const local = encodeTime(d, "rfc3339");
  t.equal(new Date(JSON.parse(local) as string).getTime(), new Date("2024-01-02T03:04:05Z").getTime(), "the default zone is the local one and names its offset");
});

t.test("the default clock has sub-millisecond resolution and stays within Date.now()'s millisecond", async (t) => {
  const clock = preciseClock();
  const samples: Array<[number, bigint, number]> = [];
  for (let i = 0; i < 2000; i++) {
    const before = Date.now();
    const v = clock();
    samples.push([before, v, Date.now()]);
  }
  let backwards = 0;
  let outside = 0;
  for (let i = 0; i < samples.length; i++) {
    const [before, v, after] = samples[i] as [number, bigint, number];
    if (v < BigInt(before) * 1_000_000n || v >= BigInt(after + 1) * 1_000_000n) outside++;
    if (i > 0 && v < (samples[i - 1] as [number, bigint, number])[1]) backwards++;
  }
  t.equal(outside, 0, "every time falls within the milliseconds Date.now() gave around it");
  t.equal(backwards, 0, "never goes back (the wall clock did not step)");
  t.ok(samples.some(([, v]) => v % 1_000_000n !== 0n), "times carry fractions of a millisecond");
  const lines: string[] = [];
  const log = createJsonLogger({ write: (l) => lines.push(l), timeEncoding: "nanos" });
  for (let i = 0; i < 50; i++) log.info("x");
  const stamps = lines.map((l) => BigInt(/"ts":(\d+)/.exec(l)?.[1] ?? "0")); // from the text: a 19-digit number is past a double's precision
  t.ok(stamps.some((s) => s % 1_000_000n !== 0n), "a logger without a clock writes sub-millisecond times");
});
