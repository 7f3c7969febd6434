import t from "tap";
import { parseDuration } from "../../../lib/util/index.js";

// Go's own table (src/time/time_test.go, parseDurationTests), in nanoseconds.
const GO_VALID: readonly (readonly [string, bigint])[] = [
  ["0", 0n],
  ["5s", 5_000_000_000n],
  ["30s", 30_000_000_000n],
  ["1478s", 1_478_000_000_000n],
  ["-5s", -5_000_000_000n],
  ["+5s", 5_000_000_000n],
  ["-0", 0n],
  ["+0", 0n],
  ["5.0s", 5_000_000_000n],
  ["5.6s", 5_600_000_000n],
  ["5.s", 5_000_000_000n],
  [".5s", 500_000_000n],
  ["1.0s", 1_000_000_000n],
  ["1.00s", 1_000_000_000n],
  ["1.004s", 1_004_000_000n],
  ["1.0040s", 1_004_000_000n],
  ["100.00100s", 100_001_000_000n],
  ["10ns", 10n],
  ["11us", 11_000n],
  ["12\u00b5s", 12_000n],
  ["12\u03bcs", 12_000n],
  ["13ms", 13_000_000n],
  ["14s", 14_000_000_000n],
  ["15m", 900_000_000_000n],
  ["16h", 57_600_000_000_000n],
  ["3h30m", 12_600_000_000_000n],
  ["10.5s4m", 250_500_000_000n],
  ["-2m3.4s", -123_400_000_000n],
  ["1h2m3s4ms5us6ns", 3_723_004_005_006n],
  ["39h9m14.425s", 140_954_425_000_000n],
  ["52763797000ns", 52_763_797_000n],
  ["0.3333333333333333333h", 1_200_000_000_000n],
  ["9007199254740993ns", 9_007_199_254_740_993n],
  ["9223372036854775807ns", (1n << 63n) - 1n],
  ["9223372036854775.807us", (1n << 63n) - 1n],
  ["9223372036s854ms775us807ns", (1n << 63n) - 1n],
  ["-9223372036854775808ns", -(1n << 63n)],
  ["-9223372036854775.808us", -(1n << 63n)],
  ["-9223372036s854ms775us808ns", -(1n << 63n)],
  ["-2562047h47m16.854775808s", -(1n << 63n)],
  ["0.100000000000000000000h", 360_000_000_000n],
  ["0.830103483285477580700h", 2_988_372_539_827n],
];

// Go's parseDurationErrorTests, and the message Go gives (without its "time: " prefix).
const GO_INVALID: readonly (readonly [string, string])[] = [
  ["", 'invalid duration ""'],
  ["3", 'missing unit in duration "3"'],
  ["-", 'invalid duration "-"'],
  ["s", 'invalid duration "s"'],
  [".", 'invalid duration "."'],
  ["-.", 'invalid duration "-."'],
  [".s", 'invalid duration ".s"'],
  ["+.s", 'invalid duration "+.s"'],
  ["1d", 'unknown unit "d" in duration "1d"'],
  ["\uFFFD", 'invalid duration "\uFFFD"'],
  ["9223372036854775810ns", 'invalid duration "9223372036854775810ns"'],
  ["9223372036854775808ns", 'invalid duration "9223372036854775808ns"'],
  ["-9223372036854775809ns", 'invalid duration "-9223372036854775809ns"'],
  ["9223372036854776us", 'invalid duration "9223372036854776us"'],
  ["3000000h", 'invalid duration "3000000h"'],
  ["9223372036854775.808us", 'invalid duration "9223372036854775.808us"'],
  ["9223372036854ms775us808ns", 'invalid duration "9223372036854ms775us808ns"'],
  // Not in Go's table, refused by Go all the same.
  ["00", 'missing unit in duration "00"'],
  ["1h 30m", 'unknown unit "h " in duration "1h 30m"'],
  [" 5s", 'invalid duration " 5s"'],
  ["5s ", 'unknown unit "s " in duration "5s "'],
  ["1.5.s", 'missing unit in duration "1.5.s"'],
  ["--1s", 'invalid duration "--1s"'],
  ["1H", 'unknown unit "H" in duration "1H"'],
];

t.test("parseDuration accepts Go's table, in milliseconds", async (t) => {
  for (const [text, ns] of GO_VALID) {
    const r = parseDuration(text);
    t.ok(r.isOk(), `${JSON.stringify(text)} parses`);
    t.equal(r.unwrapOr(NaN), ns === 0n ? 0 : Number(ns) / 1e6, `${JSON.stringify(text)} = ${ns} ns`);
  }
  t.ok(Object.is(parseDuration("-0s").unwrapOr(NaN), 0), "-0s is 0, not -0");
});

t.test("parseDuration: the values flags and annotations use, exactly", async (t) => {
  for (const [text, ms] of [["5m0s", 300_000], ["1h0m0s", 3_600_000], ["10m0s", 600_000], ["90s", 90_000], ["500ms", 500], ["1.5s", 1_500], ["300us", 0.3], ["-1s", -1_000], ["2h45m", 9_900_000]] as const) {
    t.equal(parseDuration(text)._unsafeUnwrap(), ms, text);
  }
});

t.test("parseDuration refuses what Go refuses, in Go's words", async (t) => {
  for (const [text, message] of GO_INVALID) {
    t.same(parseDuration(text)._unsafeUnwrapErr(), { kind: "invalid-duration", value: text, message }, JSON.stringify(text));
  }
});
