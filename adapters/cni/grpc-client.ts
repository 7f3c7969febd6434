/**
 * The gRPC fallback: one unary call to `pkg.cnirpc.CNI/<Method>` over `node:http2` on the UNIX
 * socket, with hand-made 5-byte length-prefixed frames and the messages-only ts-proto code (no
 * grpc-js, which would cost 40-100 ms of start-up). Loaded with a dynamic `import()` by
 * `client.ts`, and `node:http2` and `node:net` are imported dynamically too (a bundler hoists a
 * static import of a built-in to the top of the single output file, which would load it on every
 * start), so the fast path never pays for them.
 *
 * Errors are read as grpc-go/grpc-js send them: `grpc-status`, `grpc-message` (percent-encoded) and
 * `grpc-status-details-bin` (a base64 `google.rpc.Status` whose single detail is a
 * `pkg.cnirpc.CNIError`), from the trailers or from a trailers-only response's headers.
 */
import type { IncomingHttpHeaders } from "node:http2";
import type { FastCniError, FastRequest } from "../common/fast-protocol.js";
import { cniErrorOfStatus, STATUS_DETAILS_KEY } from "../proto/cni-error-status.js";
import { AddResponse, CNIArgs, GCRequest, StatusRequest } from "../proto/gen/messages/cni.js";
import type { RpcOutcome } from "./client.js";

/** The gRPC service name of Coil's CNI protocol. */
export const CNI_SERVICE = "pkg.cnirpc.CNI";

/** gRPC status codes used here. */
const UNKNOWN = 2;
const UNAVAILABLE = 14;
const INTERNAL = 13;

/** Encode the request message of `req.method` (proto3 JSON form → protobuf binary). */
export function encodeRequest(req: FastRequest): Uint8Array {
  switch (req.method) {
    case "Add":
    case "Del":
    case "Check":
      return CNIArgs.encode(CNIArgs.fromJSON(req.args)).finish();
    case "Status":
      return StatusRequest.encode(StatusRequest.fromJSON(req.args)).finish();
    case "GC":
      return GCRequest.encode(GCRequest.fromJSON(req.args)).finish();
  }
}

/** Wrap a message in a gRPC length-prefixed frame (uncompressed). */
export function frame(msg: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + msg.length);
  out.writeUInt32BE(msg.length, 1);
  out.set(msg, 5);
  return out;
}

/** The first complete message of a gRPC response body, or an error text. */
export function unframe(body: Buffer): Uint8Array | string {
  if (body.length === 0) return new Uint8Array(0);
  if (body.length < 5) return "truncated gRPC frame";
  if (body[0] !== 0) return "compressed gRPC frame not supported";
  const len = body.readUInt32BE(1);
  return body.length < 5 + len ? "truncated gRPC frame" : body.subarray(5, 5 + len);
}

/** The single `CNIError` detail of a `grpc-status-details-bin` value, if it is exactly that. */
export function decodeCniErrorDetail(bin: string): FastCniError | undefined {
  return cniErrorOfStatus(Buffer.from(bin, "base64"));
}

function header(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

function decodeMessage(m: string): string {
  try {
    return decodeURIComponent(m);
  } catch {
    return m;
  }
}

/** Build the outcome from response headers, trailers and body. */
export function outcomeOf(req: FastRequest, headers: IncomingHttpHeaders, trailers: IncomingHttpHeaders, body: Buffer): RpcOutcome {
  const st = header(trailers, "grpc-status") ?? header(headers, "grpc-status");
  const httpStatus = Number(header(headers, ":status") ?? 0);
  if (st === undefined) {
    const code = httpStatus === 200 ? UNKNOWN : UNAVAILABLE;
    return { kind: "rpc-error", grpcCode: code, message: `no grpc-status (HTTP ${httpStatus})` };
  }
  const code = Number(st);
  const message = decodeMessage(header(trailers, "grpc-message") ?? header(headers, "grpc-message") ?? "");
  if (code !== 0) {
    const bin = header(trailers, STATUS_DETAILS_KEY) ?? header(headers, STATUS_DETAILS_KEY);
    const error = bin === undefined ? undefined : decodeCniErrorDetail(bin);
    return error === undefined ? { kind: "rpc-error", grpcCode: code, message } : { kind: "rpc-error", grpcCode: code, message, error };
  }
  const msg = unframe(body);
  if (typeof msg === "string") return { kind: "rpc-error", grpcCode: INTERNAL, message: msg };
  if (req.method !== "Add") return { kind: "ok" };
  try {
    return { kind: "ok", result: AddResponse.decode(msg).result };
  } catch (e) {
    return { kind: "rpc-error", grpcCode: INTERNAL, message: `cannot decode AddResponse: ${String(e)}` };
  }
}

const CONNECT_FAIL = new Set(["ENOENT", "ECONNREFUSED", "ENOTSOCK", "EACCES", "EPERM", "ENOTDIR"]);

/** One unary call; resolves (never rejects). */
export async function callGrpc(socket: string, req: FastRequest, timeoutMs: number): Promise<RpcOutcome> {
  const [{ connect, constants }, { createConnection }] = await Promise.all([import("node:http2"), import("node:net")]);
  return new Promise((resolve) => {
    let done = false;
    let headers: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    const session = connect("http://localhost", { createConnection: () => createConnection({ path: socket }) });
    const finish = (o: RpcOutcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      session.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => finish({ kind: "timeout", message: `no answer from ${socket} within ${timeoutMs} ms` }), timeoutMs);
    session.on("error", (e: NodeJS.ErrnoException) =>
      finish(CONNECT_FAIL.has(e.code ?? "") ? { kind: "unreachable", message: `cannot connect to ${socket}: ${e.code}` } : { kind: "rpc-error", grpcCode: UNAVAILABLE, message: e.message }),
    );
    const stream = session.request({
      [constants.HTTP2_HEADER_METHOD]: "POST",
      [constants.HTTP2_HEADER_PATH]: `/${CNI_SERVICE}/${req.method}`,
      [constants.HTTP2_HEADER_CONTENT_TYPE]: "application/grpc",
      te: "trailers",
      "grpc-timeout": `${Math.max(1, Math.ceil(timeoutMs))}m`,
    });
    stream.on("response", (h) => (headers = h));
    stream.on("trailers", (h: IncomingHttpHeaders) => {
      trailers = h;
    });
    stream.on("data", (b: Buffer) => chunks.push(b));
    stream.on("end", () => finish(outcomeOf(req, headers, trailers, Buffer.concat(chunks))));
    stream.on("error", (e: Error) => finish({ kind: "rpc-error", grpcCode: UNAVAILABLE, message: e.message }));
    stream.on("close", () => finish(outcomeOf(req, headers, trailers, Buffer.concat(chunks))));
    stream.end(frame(encodeRequest(req)));
  });
}
