import t from "tap";
import {
  CNI_ERROR,
  MAX_ERROR_DETAILS_CHARS,
  MAX_ERROR_MSG_CHARS,
  MAX_QUOTED_CHARS,
  MAX_QUOTED_ITEMS,
  boundText,
  cniError,
  cniErrorJson,
  quoteList,
  quoteValue,
} from "../../../lib/cni/index.js";

t.test("quoteValue: JSON-quoted, short values whole, long ones cut with their size", async (t) => {
  t.equal(quoteValue("eth0"), '"eth0"');
  t.equal(quoteValue("a\u0000\nb"), '"a\\u0000\\nb"', "control characters visible");
  t.equal(quoteValue("x".repeat(MAX_QUOTED_CHARS)), JSON.stringify("x".repeat(MAX_QUOTED_CHARS)), "exactly the limit: whole");
  const q = quoteValue("x".repeat(100_000));
  t.equal(q, `${JSON.stringify("x".repeat(MAX_QUOTED_CHARS))}… (100000 bytes)`);
  t.equal(quoteValue("é".repeat(1000)), `${JSON.stringify("é".repeat(MAX_QUOTED_CHARS))}… (2000 bytes)`, "size in UTF-8 bytes");
  const pair = quoteValue("a".repeat(MAX_QUOTED_CHARS - 1) + "😀" + "b".repeat(10));
  t.equal(pair, `${JSON.stringify("a".repeat(MAX_QUOTED_CHARS - 1))}… (269 bytes)`, "a surrogate pair is never split");
  t.equal(quoteValue("abcdef", 3), '"abc"… (6 bytes)', "custom limit");
  t.ok(quoteValue("\u0001".repeat(1_000_000)).length < MAX_QUOTED_CHARS * 6 + 40, "escaping cannot grow it unboundedly");
});

t.test("quoteList: at most MAX_QUOTED_ITEMS items, each bounded", async (t) => {
  t.equal(quoteList(["FOO=bar", "a"]), JSON.stringify(["FOO=bar", "a"]), "short lists print as JSON.stringify");
  t.equal(quoteList([]), "[]");
  const many = Array.from({ length: 10_000 }, (_, i) => `K${i}=${"v".repeat(1000)}`);
  const q = quoteList(many);
  t.match(q, /,… \(10000 in all\)\]$/);
  t.equal(q.split('"… (').length - 1, MAX_QUOTED_ITEMS, "every shown item cut");
  t.ok(q.length < MAX_QUOTED_ITEMS * (MAX_QUOTED_CHARS + 30) + 40, `bounded (${q.length} chars)`);
});

t.test("boundText", async (t) => {
  t.equal(boundText("short", 10), "short");
  t.equal(boundText("0123456789abc", 10), "0123456789… (13 bytes)");
});

t.test("cniErrorJson bounds msg and details whatever built them (e.g. a daemon's answer)", async (t) => {
  const e = cniErrorJson(cniError(CNI_ERROR.INTERNAL, "m".repeat(100_000), "d".repeat(1_000_000)), "1.0.0");
  t.equal(e.msg, `${"m".repeat(MAX_ERROR_MSG_CHARS)}… (100000 bytes)`);
  t.equal(e.details, `${"d".repeat(MAX_ERROR_DETAILS_CHARS)}… (1000000 bytes)`);
  t.same(cniErrorJson(cniError(7, "m", "d"), "1.1.0"), { cniVersion: "1.1.0", code: 7, msg: "m", details: "d" }, "short texts unchanged");
  t.same(cniErrorJson(cniError(7, "m"), "1.1.0"), { cniVersion: "1.1.0", code: 7, msg: "m" }, "empty details left out");
});
