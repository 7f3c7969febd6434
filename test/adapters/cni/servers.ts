/**
 * Test daemons on a temporary UNIX socket, both driven by one {@link FakeCoild}:
 * - a fast-path-only server (one JSON line in, one out, as coild's fast path);
 * - a grpc-js server implementing `pkg.cnirpc.CNI` with the generated service definition and
 *   coild's own `grpc-status-details-bin` encoder (so errors travel exactly as coild sends them).
 */
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from "@grpc/grpc-js";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server as NetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeLine, parseRequestLine, type CniArgsJson, type FastResponse } from "../../../adapters/common/fast-protocol.js";
import { CNIService, type CNIArgs, type GCRequest, type StatusRequest } from "../../../adapters/proto/gen/cni.js";
import { toServiceError } from "../../../adapters/daemon/endpoint/grpc-status.js";
import { cniError } from "../../../lib/cni/index.js";
import type { FakeCoild } from "./fake-coild.js";

/** A running test daemon. */
export interface TestDaemon {
  readonly socket: string;
  close(): Promise<void>;
}

/** A fresh temp dir and a socket path inside it. */
export function tempSocket(): { dir: string; socket: string } {
  const dir = mkdtempSync(join(tmpdir(), "coil-cni-test-"));
  return { dir, socket: join(dir, "coild.sock") };
}

/** Serve the fast path only. Anything that is not a valid request line gets the connection closed. */
export async function startFastServer(coild: FakeCoild): Promise<TestDaemon> {
  const { dir, socket } = tempSocket();
  const server: NetServer = createServer((conn) => {
    let buf = "";
    conn.on("data", (b) => {
      buf += b.toString("utf8");
      const nl = buf.indexOf("\n");
      if (nl < 0) return;
      const req = parseRequestLine(buf.slice(0, nl));
      if ("kind" in req) return void conn.destroy();
      conn.end(encodeLine(coild.handle(req)));
    });
    conn.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return {
    socket,
    close: () => new Promise<void>((resolve) => server.close(() => (rmSync(dir, { recursive: true, force: true }), resolve()))),
  };
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString("base64");

/** A ts-proto `CNIArgs` in the proto3 JSON shape the fake model takes. */
export function argsJson(m: CNIArgs): CniArgsJson {
  return { containerId: m.containerId, netns: m.netns, ifname: m.ifname, args: m.args, path: m.path, stdinData: b64(m.stdinData), ips: m.ips, interfaces: m.interfaces };
}

/** Reply to a grpc-js unary call from a fast-path-shaped response. */
function reply<T>(resp: FastResponse, cb: sendUnaryData<T>, ok: (result: Buffer) => T): void {
  if (resp.ok) return cb(null, ok(Buffer.from(resp.result ?? "", "base64")));
  if (resp.error === undefined) return cb({ code: resp.grpcCode, details: resp.message ?? "" }, null);
  const e = resp.error;
  cb(toServiceError({ grpcCode: resp.grpcCode, message: resp.message ?? e.msg, error: cniError(e.code, e.msg, e.details) }), null);
}

/** Serve `pkg.cnirpc.CNI` with grpc-js. Without Status/GC when `coild.options.hasStatusAndGc === false`. */
export async function startGrpcServer(coild: FakeCoild): Promise<TestDaemon> {
  const { dir, socket } = tempSocket();
  const server = new Server();
  const empty = (): Record<string, never> => ({});
  const attach = (method: "Add" | "Del" | "Check") => (call: ServerUnaryCall<CNIArgs, unknown>, cb: sendUnaryData<unknown>) =>
    reply(coild.handle({ v: 1, method, args: argsJson(call.request) }), cb, method === "Add" ? (result) => ({ result }) : empty);
  const impl: Record<string, unknown> = { add: attach("Add"), del: attach("Del"), check: attach("Check") };
  const { status, gc, ...coilV2 } = CNIService;
  if (coild.options.hasStatusAndGc !== false) {
    impl["status"] = (call: ServerUnaryCall<StatusRequest, unknown>, cb: sendUnaryData<unknown>) =>
      reply(coild.handle({ v: 1, method: "Status", args: { stdinData: b64(call.request.stdinData), path: call.request.path } }), cb, empty);
    impl["gc"] = (call: ServerUnaryCall<GCRequest, unknown>, cb: sendUnaryData<unknown>) =>
      reply(coild.handle({ v: 1, method: "GC", args: { stdinData: b64(call.request.stdinData), path: call.request.path, validAttachments: call.request.validAttachments } }), cb, empty);
  }
  server.addService(coild.options.hasStatusAndGc === false ? coilV2 : { ...coilV2, status, gc }, impl as never);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix:${socket}`, ServerCredentials.createInsecure(), (e) => (e === null ? resolve() : reject(e))),
  );
  return {
    socket,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => (rmSync(dir, { recursive: true, force: true }), resolve()))),
  };
}
