/**
 * The pieces the QuickJS build needs because QuickJS has no `Buffer`, `TextEncoder` or
 * `TextDecoder`: base64 and UTF-8 checked against Node's own on random and edge inputs, and the
 * mapping of the host's transport results to call outcomes (the same outcomes the socket clients
 * give; `executable.test.ts` runs the built `coil-qjs` against real daemons).
 */
import t from "tap";
import fc from "fast-check";
import { fromBase64, toBase64 } from "../../../adapters/cni/base64.js";
import { fastOutcomeOf, grpcOutcomeOf, hostClient } from "../../../adapters/cni/quickjs/client.js";
import type { CoilHost, HostH2, HostLine } from "../../../adapters/cni/quickjs/host.js";
import { decodeUtf8Lossy, encodeUtf8, installTextEncoding } from "../../../adapters/cni/quickjs/text-encoding.js";
import { encodeCniErrorStatus } from "../../../adapters/proto/cni-error-status.js";
import { encodeLine, type FastRequest } from "../../../adapters/common/fast-protocol.js";
import { encodeRequest, frame } from "../../../adapters/cni/grpc-wire.js";
import { CNIArgs } from "../../../adapters/proto/gen/messages/cni.js";

t.test("base64 matches Buffer both ways", async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
      const text = toBase64(b);
      t.equal(text, Buffer.from(b).toString("base64"));
      t.same(Buffer.from(fromBase64(text) ?? []), Buffer.from(b));
    }),
    { numRuns: 500 },
  );
  const big = new Uint8Array(100_000).map((_, i) => (i * 7919) % 256);
  t.equal(toBase64(big), Buffer.from(big).toString("base64"), "longer than one string run");
  for (const bad of ["a", "abc", "ab=c", "a===", "ab$d", "YQ=\u00e9", "YR==", "YWJ=", "=AAA"]) t.equal(fromBase64(bad), undefined, JSON.stringify(bad));
  t.same(fromBase64(""), new Uint8Array(0));
});

t.test("UTF-8 encoding and decoding match Node's TextEncoder/TextDecoder", async (t) => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 60 }), (s) => {
      t.same(Buffer.from(encodeUtf8(s)), Buffer.from(new TextEncoder().encode(s)));
    }),
    { numRuns: 500 },
  );
  t.same(Buffer.from(encodeUtf8("a\ud800b")), Buffer.from(new TextEncoder().encode("a\ud800b")), "lone surrogate → U+FFFD");
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), (b) => {
      const strict = new TextDecoder("utf-8", { fatal: true });
      let want: string | undefined;
      try {
        want = strict.decode(b);
      } catch {
        want = undefined;
      }
      if (want !== undefined) t.equal(decodeUtf8Lossy(b), want);
      else t.ok(decodeUtf8Lossy(b).includes("\ufffd"));
    }),
    { numRuns: 500 },
  );
});

t.test("installTextEncoding keeps an existing implementation", async (t) => {
  const before = [globalThis.TextEncoder, globalThis.TextDecoder];
  installTextEncoding();
  t.same([globalThis.TextEncoder, globalThis.TextDecoder], before);
});

const socket = "/run/coild.sock";
const add: FastRequest = {
  v: 1,
  method: "Add",
  args: { containerId: "c1", netns: "/run/netns/x", ifname: "eth0", args: { K8S_POD_NAME: "p" }, path: "", stdinData: toBase64(encodeUtf8('{"a":1}')), ips: ["10.0.0.1"], interfaces: { eth0: true } },
};
const b64 = (s: string): string => Buffer.from(s).toString("base64");

t.test("fast-path host results → outcomes", async (t) => {
  const cases: [HostLine, unknown][] = [
    [{ connectError: "ENOENT" }, { kind: "unreachable", message: `cannot connect to ${socket}: ENOENT` }],
    [{ data: b64('{"ok":true}\n'), end: "newline" }, { kind: "ok" }],
    [{ data: b64(`{"ok":true,"result":"${b64("r")}"}\n`), end: "newline" }, { kind: "ok", result: new Uint8Array([0x72]) }],
    [{ data: b64('{"ok":false,"grpcCode":13,"error":{"code":7,"msg":"m","details":"d"}}\n'), end: "newline" }, { kind: "rpc-error", grpcCode: 13, message: "m", error: { code: 7, msg: "m", details: "d" } }],
    [{ data: Buffer.from([0, 0, 0x12]).toString("base64"), end: "other" }, { kind: "not-fast", reason: "first byte 0x0" }],
    [{ data: "", end: "eof" }, { kind: "not-fast", reason: "closed without a response line" }],
    [{ data: "", end: "error", error: "ECONNRESET" }, { kind: "not-fast", reason: "connection error ECONNRESET" }],
    [{ data: "", end: "timeout" }, { kind: "timeout", message: `no answer from ${socket} within 500 ms` }],
    [{ data: "", end: "limit" }, { kind: "not-fast", reason: "response line too long" }],
    [{ data: b64(`{"ok":true,"result":"${b64("r")}","x":"\u00e9"}\n`), end: "newline" }, { kind: "ok", result: new Uint8Array([0x72]) }],
  ];
  for (const [r, want] of cases) t.same(fastOutcomeOf(socket, 500, r), want, JSON.stringify(r));
  const bad = Buffer.concat([Buffer.from('{"ok":false,"grpcCode":13,"message":"a'), Buffer.from([0xff]), Buffer.from('"}\n')]);
  t.same(fastOutcomeOf(socket, 500, { data: bad.toString("base64"), end: "newline" }), { kind: "rpc-error", grpcCode: 13, message: "a\ufffd" }, "invalid UTF-8 read leniently, as Buffer.toString does");
});

t.test("gRPC host results → outcomes", async (t) => {
  const status = Buffer.from(encodeCniErrorStatus(14, "busy", { code: 11, msg: "busy", details: "d" })).toString("base64").replace(/=+$/, "");
  const cases: [HostH2, unknown][] = [
    [{ connectError: "ECONNREFUSED" }, { kind: "unreachable", message: `cannot connect to ${socket}: ECONNREFUSED` }],
    [{ connectError: "EAGAIN" }, { kind: "rpc-error", grpcCode: 14, message: "EAGAIN" }],
    [{ timeout: true }, { kind: "timeout", message: `no answer from ${socket} within 500 ms` }],
    [{ error: "stream reset" }, { kind: "rpc-error", grpcCode: 14, message: "stream reset" }],
    [{ status: 200, headers: { "grpc-status": "12", "grpc-message": "unknown%20method" }, trailers: {}, body: "" }, { kind: "rpc-error", grpcCode: 12, message: "unknown method" }],
    [{ status: 200, headers: {}, trailers: { "grpc-status": "14", "grpc-message": "busy", "grpc-status-details-bin": status }, body: "" }, { kind: "rpc-error", grpcCode: 14, message: "busy", error: { code: 11, msg: "busy", details: "d" } }],
    [{ status: 200, headers: {}, trailers: { "grpc-status": "0" }, body: Buffer.from(frame(new Uint8Array([0x0a, 0x01, 0x78]))).toString("base64") }, { kind: "ok", result: new Uint8Array([0x78]) }],
    [{ status: 502, headers: {}, trailers: {}, body: "" }, { kind: "rpc-error", grpcCode: 14, message: "no grpc-status (HTTP 502)" }],
  ];
  for (const [r, want] of cases) t.same(grpcOutcomeOf(socket, add, 500, r), want, JSON.stringify(r));
});

t.test("the portable request encoding equals the Node one (what coild decodes)", async (t) => {
  t.same(Buffer.from(encodeRequest(add)), Buffer.from(CNIArgs.encode(CNIArgs.fromJSON(add.args)).finish()));
});

t.test("hostClient: fast path first, gRPC on not-fast, forced modes", async (t) => {
  const calls: string[] = [];
  const host = (line: HostLine, h2: HostH2): CoilHost =>
    ({
      line: (s: string, l: string, ms: number, max: number) => (calls.push(`line ${s} ${l === encodeLine(add) ? "req" : "?"} ${ms} ${max > 0}`), line),
      h2: (s: string, path: string, body: string, ms: number, to: string) => (calls.push(`h2 ${s} ${path} ${body === toBase64(frame(encodeRequest(add)))} ${ms <= 500} ${to}`), h2),
    }) as unknown as CoilHost;
  const ok200: HostH2 = { status: 200, headers: {}, trailers: { "grpc-status": "0" }, body: "" };
  const by: string[] = [];
  const c = (line: HostLine, mode: "auto" | "fast" | "grpc") => hostClient(host(line, ok200), { now: () => 0, onAnswer: (b) => by.push(b) }).call({ socket, mode, request: add, timeoutMs: 500 });
  t.same(await c({ data: b64('{"ok":true}\n'), end: "newline" }, "auto"), { kind: "ok" });
  t.same(await c({ data: "AA==", end: "other" }, "auto"), { kind: "ok", result: new Uint8Array(0) }, "an empty AddResponse");
  t.match(await c({ data: "AA==", end: "other" }, "fast"), { kind: "rpc-error", grpcCode: 14, message: /does not speak the fast protocol: first byte 0x0/ });
  t.same(await c({ connectError: "ENOENT" }, "grpc"), { kind: "ok", result: new Uint8Array(0) });
  t.same(by, ["fast", "grpc", "grpc"]);
  t.same(calls, [`line ${socket} req 500 true`, `line ${socket} req 500 true`, `h2 ${socket} /pkg.cnirpc.CNI/Add true true 500m`, `line ${socket} req 500 true`, `h2 ${socket} /pkg.cnirpc.CNI/Add true true 500m`]);
});
