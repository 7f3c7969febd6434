import t from "tap";
import {
  HTTP2_PREFACE,
  encodeLine,
  parseRequestLine,
  parseResponseLine,
  sniffConnection,
  type FastRequest,
  type FastResponse,
} from "../../../adapters/common/fast-protocol.js";

t.test("sniffConnection", async (t) => {
  const cases: [string, Uint8Array, string][] = [
    ["empty", new Uint8Array(0), "need-more"],
    ["json", Buffer.from('{"v":1'), "fast"],
    ["full preface", Buffer.from(HTTP2_PREFACE), "grpc"],
    ["preface prefix of 3", Buffer.from("PRI"), "grpc"],
    ["preface prefix of 2", Buffer.from("PR"), "need-more"],
    ["http/1", Buffer.from("GET / HTTP/1.1\r\n"), "unknown"],
    ["near-preface", Buffer.from("PRX * HTTP/2.0"), "unknown"],
  ];
  for (const [name, bytes, want] of cases) t.equal(sniffConnection(bytes), want, name);
});

t.test("response lines round-trip and bad ones are rejected", async (t) => {
  const good: FastResponse[] = [
    { ok: true },
    { ok: true, result: Buffer.from("{}").toString("base64") },
    { ok: false, grpcCode: 13, message: "x", error: { code: 999, msg: "failed to get pod", details: "d" } },
    { ok: false, grpcCode: 12, message: "unknown method" },
  ];
  for (const r of good) {
    const line = encodeLine(r);
    t.ok(line.endsWith("\n") && !line.slice(0, -1).includes("\n"), "one line");
    t.same(parseResponseLine(line.trimEnd()), r);
  }
  const bad = ["", "\u0000\u0000\u0004", "[]", '{"ok":"yes"}', '{"ok":true,"result":5}', '{"ok":false}', '{"ok":false,"grpcCode":1.5}', '{"ok":false,"grpcCode":2,"error":{"code":"x"}}'];
  for (const line of bad) t.match(parseResponseLine(line), { kind: "fast-decode" }, JSON.stringify(line));
  t.same(parseResponseLine('{"ok":false,"grpcCode":13,"error":{"code":7,"msg":"m"}}'), { ok: false, grpcCode: 13, error: { code: 7, msg: "m", details: "" } }, "details default to empty");
});

t.test("request envelope", async (t) => {
  const req: FastRequest = { v: 1, method: "Status", args: { stdinData: "e30=", path: "/opt/cni/bin" } };
  t.same(parseRequestLine(encodeLine(req).trimEnd()), req);
  const bad = ['{"v":2,"method":"Add","args":{}}', '{"v":1,"method":"Frob","args":{}}', '{"v":1,"method":"Add","args":[]}', "PRI * HTTP/2.0", "null"];
  for (const line of bad) t.match(parseRequestLine(line), { kind: "fast-decode" }, line);
});
