/**
 * The runtime-independent half of the gRPC fallback: the request message of each rpc, gRPC's
 * 5-byte message framing, and reading the outcome from the response's headers, trailers and body.
 * The transports are separate: `grpc-client.ts` (`node:http2`, under Bun and Node) and the QuickJS
 * host's HTTP/2 call (`quickjs/client.ts`). No Node.js `Buffer` here (QuickJS has none): the
 * messages come from the portable generated code (`bytes` as `Uint8Array`).
 *
 * Errors are read as grpc-go/grpc-js send them: `grpc-status`, `grpc-message` (percent-encoded) and
 * `grpc-status-details-bin` (a base64 `google.rpc.Status` whose single detail is a
 * `pkg.cnirpc.CNIError`), from the trailers or from a trailers-only response's headers.
 */
import type { FastCniError, FastRequest } from "../common/fast-protocol.js";
import { cniErrorOfStatus, STATUS_DETAILS_KEY } from "../proto/cni-error-status.js";
import { AddResponse, CNIArgs, GCRequest, StatusRequest } from "../proto/gen/portable/cni.js";
import { fromBase64 } from "./base64.js";
import type { RpcOutcome } from "./client.js";

/** The gRPC service name of Coil's CNI protocol. */
export const CNI_SERVICE = "pkg.cnirpc.CNI";

/** gRPC status codes used here. */
const UNKNOWN = 2;
const INTERNAL = 13;
/** gRPC `UNAVAILABLE`: what a transport failure of the gRPC call is reported as. */
export const GRPC_UNAVAILABLE = 14;

/** Connect errors (errno names) that mean coild is not there (→ unreachable); any other is a failed call. */
const CONNECT_FAIL = new Set(["ENOENT", "ECONNREFUSED", "ENOTSOCK", "EACCES", "EPERM", "ENOTDIR"]);

/** The outcome of a gRPC connection that failed with errno `code`, or another transport `message`. */
export function grpcConnectOutcome(socket: string, code: string, message = code): RpcOutcome {
  return CONNECT_FAIL.has(code) ? { kind: "unreachable", message: `cannot connect to ${socket}: ${code}` } : { kind: "rpc-error", grpcCode: GRPC_UNAVAILABLE, message };
}

/** The outcome of a gRPC call that got no answer within `timeoutMs`. */
export const grpcTimeoutOutcome = (socket: string, timeoutMs: number): RpcOutcome => ({ kind: "timeout", message: `no answer from ${socket} within ${timeoutMs} ms` });

/** Response headers or trailers: lower-case names; a repeated header may come as an array. */
export type H2Headers = Readonly<Record<string, string | readonly string[] | undefined>>;

const bytesOf = (b64: string): Uint8Array => fromBase64(b64) ?? new Uint8Array(0);

/** Encode the request message of `req.method` (proto3 JSON form → protobuf binary). */
export function encodeRequest(req: FastRequest): Uint8Array {
  switch (req.method) {
    case "Add":
    case "Del":
    case "Check": {
      const a = req.args;
      return CNIArgs.encode({
        containerId: a.containerId,
        netns: a.netns,
        ifname: a.ifname,
        args: { ...a.args },
        path: a.path,
        stdinData: bytesOf(a.stdinData),
        ips: [...a.ips],
        interfaces: { ...a.interfaces },
      }).finish();
    }
    case "Status":
      return StatusRequest.encode({ stdinData: bytesOf(req.args.stdinData), path: req.args.path }).finish();
    case "GC":
      return GCRequest.encode({
        stdinData: bytesOf(req.args.stdinData),
        path: req.args.path,
        validAttachments: req.args.validAttachments.map((v) => ({ containerId: v.containerId, ifname: v.ifname })),
      }).finish();
  }
}

/** Wrap a message in a gRPC length-prefixed frame (uncompressed). */
export function frame(msg: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + msg.length);
  new DataView(out.buffer).setUint32(1, msg.length);
  out.set(msg, 5);
  return out;
}

/** The first complete message of a gRPC response body, or an error text. */
export function unframe(body: Uint8Array): Uint8Array | string {
  if (body.length === 0) return new Uint8Array(0);
  if (body.length < 5) return "truncated gRPC frame";
  if (body[0] !== 0) return "compressed gRPC frame not supported";
  const len = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(1);
  return body.length < 5 + len ? "truncated gRPC frame" : body.subarray(5, 5 + len);
}

/** The single `CNIError` detail of a `grpc-status-details-bin` value, if it is exactly that. */
export function decodeCniErrorDetail(bin: string): FastCniError | undefined {
  // grpc-go sends it unpadded (RawStdEncoding); pad before decoding.
  const bytes = fromBase64(bin + "===".slice(0, (4 - (bin.length % 4)) % 4));
  return bytes === undefined ? undefined : cniErrorOfStatus(bytes);
}

function header(h: H2Headers, name: string): string | undefined {
  const v = h[name];
  return typeof v === "string" ? v : v?.[0];
}

function decodeMessage(m: string): string {
  try {
    return decodeURIComponent(m);
  } catch {
    return m;
  }
}

/** Build the outcome from response headers (with `:status`), trailers and body. */
export function outcomeOf(req: FastRequest, headers: H2Headers, trailers: H2Headers, body: Uint8Array): RpcOutcome {
  const st = header(trailers, "grpc-status") ?? header(headers, "grpc-status");
  const httpStatus = Number(header(headers, ":status") ?? 0);
  if (st === undefined) {
    const code = httpStatus === 200 ? UNKNOWN : GRPC_UNAVAILABLE;
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

/** The `grpc-timeout` header value for a deadline of `timeoutMs` (milliseconds, at least 1). */
export const grpcTimeout = (timeoutMs: number): string => `${Math.max(1, Math.ceil(timeoutMs))}m`;

/** The request path of `method`. */
export const grpcPath = (req: FastRequest): string => `/${CNI_SERVICE}/${req.method}`;
