import t from "tap";
import { connect } from "node:net";
import { mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { credentials, Server as GrpcJsServer, type ServiceError } from "@grpc/grpc-js";
import { err, ok } from "neverthrow";
import { cniError } from "../../../../lib/cni/index.js";
import { CNIArgs, CNIClient } from "../../../../adapters/proto/gen/cni.js";
import { serveCni, type CniCallHandlers } from "../../../../adapters/daemon/endpoint/server.js";
import { cniErrorFromServiceError } from "../../../../adapters/daemon/endpoint/grpc-status.js";
import { NULL_LOGGER, createLogger } from "../../../../adapters/daemon/log.js";
import { createDaemonMetrics } from "../../../../adapters/daemon/metrics.js";
import { encodeLine, parseResponseLine } from "../../../../adapters/common/fast-protocol.js";
import { sourceChildEnv } from "../../../helpers/child-env.js";

const handlers: CniCallHandlers = {
  add: async (q) => (q.containerId === "bad" ? err(cniError(11, "try later", "no block")) : ok({ result: Buffer.from(JSON.stringify({ id: q.containerId, ns: q.args["K8S_POD_NAMESPACE"] })) })),
  del: async () => ok({}),
  check: async (q) => (q.containerId === "gone" ? err(cniError(999, "check failed", "not found")) : ok({})),
  status: async () => err(cniError(50, "pool exhausted")),
  gc: async (q) => (q.validAttachments.length === 1 ? ok({}) : err(cniError(999, "x"))),
  
};

const args = (id: string) => CNIArgs.fromPartial({ containerId: id, netns: "/run/netns/x", ifname: "eth0", args: { K8S_POD_NAMESPACE: "ns1", K8S_POD_NAME: "p" } });

function call<T>(fn: (cb: (e: ServiceError | null, v: T) => void) => void): Promise<{ e: ServiceError | null; v: T }> {
  return new Promise((resolve) => fn((e, v) => resolve({ e, v })));
}

function fastCall(path: string, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    let out = "";
    s.on("data", (b) => (out += b.toString()));
    s.on("end", () => resolve(out));
    s.on("error", reject);
    s.write(line);
  });
}

t.test("gRPC and fast path on one socket", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "coild-srv-"));
  const path = join(dir, "coild.sock");
  const metrics = createDaemonMetrics();
  const lines: string[] = [];
  const srv = (await serveCni({ socketPath: path, handlers, log: createLogger({ write: (l) => lines.push(l) }), metrics }))._unsafeUnwrap();
  t.equal(statSync(path).mode & 0o777, 0o600, "socket mode 0600");
  const client = new CNIClient(`unix:${path}`, credentials.createInsecure());
  const a = await call<{ result: Buffer }>((cb) => client.add(args("c1"), cb));
  t.equal(a.e, null);
  t.same(JSON.parse(a.v.result.toString()), { id: "c1", ns: "ns1" });
  const b = await call((cb) => client.add(args("bad"), cb));
  t.equal(b.e?.code, 14, "TRY_AGAIN_LATER → UNAVAILABLE");
  t.same(b.e && cniErrorFromServiceError(b.e), { kind: "cni-error", code: 11, msg: "try later", details: "no block" }, "CNIError detail round trip");
  const c = await call((cb) => client.check(args("gone"), cb));
  t.equal(c.e?.code, 13);
  t.equal(c.e?.details, "check failed");
  const s = await call((cb) => client.status({ stdinData: Buffer.from("{}"), path: "" }, cb));
  t.equal(s.e && cniErrorFromServiceError(s.e)?.code, 50);
  const g = await call((cb) => client.gc({ stdinData: Buffer.alloc(0), path: "", validAttachments: [{ containerId: "a", ifname: "eth0" }] }, cb));
  t.equal(g.e, null);

  const f1 = parseResponseLine((await fastCall(path, encodeLine({ v: 1, method: "Add", args: CNIArgs.toJSON(args("c2")) as never }))).trimEnd());
  t.same(f1, { ok: true, result: Buffer.from(JSON.stringify({ id: "c2", ns: "ns1" })).toString("base64") });
  const f2 = parseResponseLine((await fastCall(path, encodeLine({ v: 1, method: "Add", args: CNIArgs.toJSON(args("bad")) as never }))).trimEnd());
  t.same(f2, { ok: false, grpcCode: 14, message: "try later", error: { code: 11, msg: "try later", details: "no block" } });
  const f3 = parseResponseLine((await fastCall(path, "{\"v\":9}\n")).trimEnd());
  t.match(f3, { ok: false, error: { code: 6 } });
  const f4 = await fastCall(path, "GET / HTTP/1.1\r\n\r\n");
  t.equal(f4, "", "unknown protocol: connection closed");

  const text = await metrics.registry.metrics();
  t.match(text, /grpc_server_handled_total\{grpc_type="unary",grpc_service="pkg.cnirpc.CNI",grpc_method="Add",grpc_code="OK"\} 2/);
  t.match(text, /grpc_server_handled_total\{[^}]*grpc_method="Add",grpc_code="Unavailable"\} 2/);
  t.match(text, /grpc_server_handled_total\{[^}]*grpc_method="Del",grpc_code="OK"\} 0/, "initialised");
  const log = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l["grpc.request.container_id"] === "c1");
  t.match(log, { msg: "finished call", "grpc.method": "Add", "grpc.code": 0, "grpc.request.pod.namespace": "ns1", "grpc.request.netns": "/run/netns/x", "grpc.request.ifname": "eth0" });

  // A second daemon on the same live socket is refused.
  const second = await serveCni({ socketPath: path, handlers, log: NULL_LOGGER });
  t.equal(second.isErr() && second.error.kind, "socket-in-use");
  client.close();
  await srv.close();
  // A stale socket (nobody listening) is replaced; a regular file is refused.
  const again = (await serveCni({ socketPath: path, handlers, log: NULL_LOGGER }))._unsafeUnwrap();
  await again.close();
  const file = join(dir, "plain");
  writeFileSync(file, "x");
  const bad = await serveCni({ socketPath: file, handlers, log: NULL_LOGGER });
  t.equal(bad.isErr() && bad.error.kind, "socket-not-a-socket");
});

t.test("concurrent first gRPC connections start one grpc-js server", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "coild-srv-"));
  const path = join(dir, "coild.sock");
  const proto = GrpcJsServer.prototype;
  // Saved to be called back with the server instance as `this` (original.apply(this, a) below).
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const original = proto.createConnectionInjector;
  let injectors = 0;
  proto.createConnectionInjector = function (this: GrpcJsServer, ...a: Parameters<typeof original>) {
    injectors += 1;
    return original.apply(this, a);
  };
  t.teardown(() => {
    proto.createConnectionInjector = original;
  });
  const srv = (await serveCni({ socketPath: path, handlers, log: NULL_LOGGER }))._unsafeUnwrap();
  t.equal(injectors, 0, "no grpc-js server before the first HTTP/2 connection");
  const clients = Array.from({ length: 6 }, () => new CNIClient(`unix:${path}`, credentials.createInsecure()));
  const res = await Promise.all(clients.map((c, i) => call<{ result: Buffer }>((cb) => c.add(args(`k${i}`), cb))));
  t.same(res.map((r) => r.e), res.map(() => null), "every concurrent first call answered");
  t.same(res.map((r) => (JSON.parse(r.v.result.toString()) as { id: string }).id), clients.map((_, i) => `k${i}`));
  t.equal(injectors, 1, "one grpc-js server for all of them");
  for (const c of clients) c.close();
  await srv.close();
});

// Run in a fresh process: this test file itself loads grpc-js for its clients.
const LAZY_SCRIPT = `
import { createRequire } from "node:module";
import { connect as h2 } from "node:http2";
import { connect } from "node:net";
import { ok } from "${import.meta.resolve("neverthrow")}";
import { serveCni } from "${new URL("../../../../adapters/daemon/endpoint/server.js", import.meta.url).pathname}";
import { NULL_LOGGER } from "${new URL("../../../../adapters/daemon/log.js", import.meta.url).pathname}";
import { createDaemonMetrics } from "${new URL("../../../../adapters/daemon/metrics.js", import.meta.url).pathname}";
const require = createRequire(import.meta.url);
const grpcLoaded = () => Object.keys(require.cache).some((k) => k.includes("@grpc/grpc-js"));
const path = process.argv[2];
const metrics = createDaemonMetrics();
const srv = (await serveCni({ socketPath: path, handlers: { del: async () => ok({}) }, log: NULL_LOGGER, metrics }))._unsafeUnwrap();
const out = { atStart: grpcLoaded(), initialised: (await metrics.registry.metrics()).includes('grpc_method="GC",grpc_code="Unauthenticated"} 0') };
const fast = await new Promise((resolve, reject) => {
  const s = connect(path);
  let o = "";
  s.on("data", (b) => (o += b));
  s.on("end", () => resolve(o.trim()));
  s.on("error", reject);
  s.write('{"v":1,"method":"Del","args":{"containerId":"a"}}\\n');
});
out.fast = fast;
out.afterFast = grpcLoaded();
// 4 raw HTTP/2 gRPC calls (node:http2, not grpc-js) opened at once.
const grpcDel = () => new Promise((resolve, reject) => {
  const c = h2("http://localhost", { createConnection: () => connect(path) });
  const req = c.request({ ":method": "POST", ":path": "/pkg.cnirpc.CNI/Del", "content-type": "application/grpc", te: "trailers" });
  req.on("trailers", (h) => resolve(h["grpc-status"]));
  req.on("error", reject);
  req.on("close", () => c.close());
  req.resume();
  req.end(Buffer.from([0, 0, 0, 0, 0]));
});
out.grpc = await Promise.all([grpcDel(), grpcDel(), grpcDel(), grpcDel()]);
out.afterGrpc = grpcLoaded();
await srv.close();
process.stdout.write(JSON.stringify(out));
`;

t.test("grpc-js is loaded on the first HTTP/2 connection, not at start nor by the fast path", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "coild-lazy-"));
  const script = join(dir, "lazy.mts");
  writeFileSync(script, LAZY_SCRIPT);
  const out = JSON.parse(execFileSync(process.execPath, ["--import", "tsx", script, join(dir, "coild.sock")], { encoding: "utf8", timeout: 60_000, env: sourceChildEnv() })) as Record<string, unknown>;
  t.same(out, {
    atStart: false,
    initialised: true,
    fast: '{"ok":true}',
    afterFast: false,
    grpc: ["0", "0", "0", "0"],
    afterGrpc: true,
  });
});
