/**
 * The gRPC fallback's transport under Bun and Node: one unary call to `pkg.cnirpc.CNI/<Method>` over
 * `node:http2` on the UNIX socket (no grpc-js, which would cost 40-100 ms of start-up). The messages,
 * the framing and the reading of the outcome are `grpc-wire.ts`, shared with the QuickJS build.
 * Loaded with a dynamic `import()` by `client.ts`, and `node:http2` and `node:net` are imported
 * dynamically too (a bundler hoists a static import of a built-in to the top of the single output
 * file, which would load it on every start), so the fast path never pays for them.
 */
import type { IncomingHttpHeaders } from "node:http2";
import type { FastRequest } from "../common/fast-protocol.js";
import type { RpcOutcome } from "./client.js";
import { encodeRequest, frame, GRPC_UNAVAILABLE, grpcConnectOutcome, grpcPath, grpcTimeout, grpcTimeoutOutcome, outcomeOf } from "./grpc-wire.js";

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
    const timer = setTimeout(() => finish(grpcTimeoutOutcome(socket, timeoutMs)), timeoutMs);
    session.on("error", (e: NodeJS.ErrnoException) => finish(grpcConnectOutcome(socket, e.code ?? "", e.message)));
    const stream = session.request({
      [constants.HTTP2_HEADER_METHOD]: "POST",
      [constants.HTTP2_HEADER_PATH]: grpcPath(req),
      [constants.HTTP2_HEADER_CONTENT_TYPE]: "application/grpc",
      te: "trailers",
      "grpc-timeout": grpcTimeout(timeoutMs),
    });
    stream.on("response", (h) => (headers = h));
    stream.on("trailers", (h: IncomingHttpHeaders) => {
      trailers = h;
    });
    stream.on("data", (b: Buffer) => chunks.push(b));
    stream.on("end", () => finish(outcomeOf(req, headers, trailers, Buffer.concat(chunks))));
    stream.on("error", (e: Error) => finish({ kind: "rpc-error", grpcCode: GRPC_UNAVAILABLE, message: e.message }));
    stream.on("close", () => finish(outcomeOf(req, headers, trailers, Buffer.concat(chunks))));
    stream.end(frame(encodeRequest(req)));
  });
}
