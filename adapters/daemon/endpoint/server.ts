/**
 * coild's CNI endpoint: one UNIX socket serving both gRPC (`pkg.cnirpc.CNI`, for Coil's Go `coil`
 * and any gRPC client) and the fast JSON-line protocol of `adapters/common/fast-protocol.ts`.
 *
 * A `net.Server` owns the socket and sniffs the first bytes of each connection: the HTTP/2
 * preface → the connection is injected into the grpc-js server (`createConnectionInjector`, no
 * second socket); `{` → one JSON request line handled in-process. Both paths go through
 * {@link dispatchCall}, so logging, metrics and error mapping are identical.
 *
 * grpc-js and the generated service code (`grpc.ts`) are imported on the first HTTP/2
 * connection, once (one shared promise), so a coild used only over the fast path never loads them.
 */
import { chmod, lstat, rename, rm } from "node:fs/promises";
import { connect, createServer, type Server as NetServer, type Socket } from "node:net";
import { err, ok, type Result } from "neverthrow";
import { cniError, CNI_ERROR, type CniError } from "../../../lib/cni/index.js";
import {
  encodeLine,
  MAX_LINE_BYTES,
  parseRequestLine,
  sniffConnection,
  type FastMethod,
  type FastResponse,
} from "../../common/fast-protocol.js";
import { failureOf, type CallFailure } from "./call-failure.js";
import { CNIArgs, GCRequest, StatusRequest, type AddResponse } from "../../proto/gen/messages/cni.js";
import type { Empty } from "../../proto/gen/messages/google/protobuf/empty.js";
import type { GrpcEndpoint } from "./grpc.js";
import type { Logger } from "../log.js";
import type { DaemonMetrics } from "../metrics.js";

/** The CNI operations, transport independent. A thrown exception becomes INTERNAL. */
export interface CniCallHandlers {
  add(req: CNIArgs): Promise<Result<AddResponse, CniError>>;
  del(req: CNIArgs): Promise<Result<Empty, CniError>>;
  check(req: CNIArgs): Promise<Result<Empty, CniError>>;
  status(req: StatusRequest): Promise<Result<Empty, CniError>>;
  gc(req: GCRequest): Promise<Result<Empty, CniError>>;
}

type Req = CNIArgs | StatusRequest | GCRequest;

/** Coil's access-log fields for a CNIArgs request. */
function requestFields(req: Req): Record<string, string> {
  if (!("containerId" in req)) return {};
  return {
    "grpc.request.pod.name": req.args["K8S_POD_NAME"] ?? "",
    "grpc.request.pod.namespace": req.args["K8S_POD_NAMESPACE"] ?? "",
    "grpc.request.netns": req.netns,
    "grpc.request.ifname": req.ifname,
    "grpc.request.container_id": req.containerId,
  };
}

/** Run one call through the handler with metrics and the access log. */
export async function dispatchCall<T>(
  ctx: { readonly log: Logger; readonly metrics?: DaemonMetrics; readonly now?: () => number },
  method: FastMethod,
  transport: "grpc" | "fast",
  req: Req,
  run: () => Promise<Result<T, CniError>>,
): Promise<Result<T, CallFailure>> {
  const now = ctx.now ?? (() => performance.now());
  const t0 = now();
  let r: Result<T, CniError>;
  try {
    r = await run();
  } catch (e) {
    r = err(cniError(CNI_ERROR.INTERNAL, "internal error", e instanceof Error ? (e.stack ?? e.message) : String(e)));
  }
  const out = r.mapErr(failureOf);
  const code = out.isOk() ? 0 : out.error.grpcCode;
  ctx.metrics?.observeCall(method, code, transport);
  const fields = {
    "grpc.service": "pkg.cnirpc.CNI",
    "grpc.method": method,
    "grpc.code": code,
    "grpc.time_ms": Math.round((now() - t0) * 1000) / 1000,
    transport,
    ...requestFields(req),
    ...(out.isErr() ? { error: out.error.error } : {}),
  };
  if (out.isErr()) ctx.log.warn("finished call", fields);
  else ctx.log.info("finished call", fields);
  return out;
}

/** Options of {@link serveCni}. */
export interface ServeOptions {
  readonly socketPath: string;
  readonly handlers: CniCallHandlers;
  readonly log: Logger;
  readonly metrics?: DaemonMetrics;
}

/** A running endpoint. */
export interface RunningServer {
  /** Stop accepting, finish in-flight calls (grpc graceful shutdown), remove the socket file. */
  close(): Promise<void>;
}

/** Why the endpoint could not start. */
export interface ServeError {
  readonly kind: "socket-in-use" | "socket-not-a-socket" | "listen-failed";
  readonly path: string;
  readonly message: string;
}

function probe(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** Remove a stale socket file; refuse when someone is listening on it or it is not a socket. */
export async function prepareSocketPath(path: string): Promise<Result<void, ServeError>> {
  const st = await lstat(path).catch(() => undefined);
  if (st === undefined) return ok(undefined);
  if (!st.isSocket()) return err({ kind: "socket-not-a-socket", path, message: `${path} exists and is not a socket` });
  if (await probe(path)) return err({ kind: "socket-in-use", path, message: `${path} is in use by a running daemon` });
  await rm(path, { force: true });
  return ok(undefined);
}

/** Decode and run one fast-path request line; the response line to send back. */
export async function handleFastLine(opts: ServeOptions, line: string): Promise<FastResponse> {
  const parsed = parseRequestLine(line);
  if ("kind" in parsed) {
    return { ok: false, grpcCode: 3, error: { code: CNI_ERROR.DECODING_FAILURE, msg: "invalid fast-path request", details: parsed.reason } };
  }
  const h = opts.handlers;
  const toResp = <T>(r: Result<T, CallFailure>, res?: (v: T) => string): FastResponse =>
    r.match(
      (v): FastResponse => (res === undefined ? { ok: true } : { ok: true, result: res(v) }),
      (f): FastResponse => ({ ok: false, grpcCode: f.grpcCode, message: f.message, error: { code: f.error.code, msg: f.error.msg, details: f.error.details } }),
    );
  switch (parsed.method) {
    case "Add": {
      const q = CNIArgs.fromJSON(parsed.args);
      return toResp(await dispatchCall(opts, "Add", "fast", q, () => h.add(q)), (v) => v.result.toString("base64"));
    }
    case "Del": {
      const q = CNIArgs.fromJSON(parsed.args);
      return toResp(await dispatchCall(opts, "Del", "fast", q, () => h.del(q)));
    }
    case "Check": {
      const q = CNIArgs.fromJSON(parsed.args);
      return toResp(await dispatchCall(opts, "Check", "fast", q, () => h.check(q)));
    }
    case "Status": {
      const q = StatusRequest.fromJSON(parsed.args);
      return toResp(await dispatchCall(opts, "Status", "fast", q, () => h.status(q)));
    }
    case "GC": {
      const q = GCRequest.fromJSON(parsed.args);
      return toResp(await dispatchCall(opts, "GC", "fast", q, () => h.gc(q)));
    }
  }
}

function serveFast(opts: ServeOptions, sock: Socket, first: Buffer): void {
  let buf = first;
  const onData = (b: Buffer): void => {
    buf = Buffer.concat([buf, b]);
    tryLine();
  };
  const tryLine = (): void => {
    const nl = buf.indexOf(0x0a);
    if (nl < 0) {
      if (buf.length > MAX_LINE_BYTES) sock.destroy();
      return;
    }
    sock.off("data", onData);
    const line = buf.subarray(0, nl).toString("utf8");
    void handleFastLine(opts, line).then((resp) => sock.end(encodeLine(resp)));
  };
  sock.on("data", onData);
  tryLine();
}

/** A connection that has not sent a complete fast-path request (or the HTTP/2 preface) by then is dropped. */
export const IDLE_TIMEOUT_MS = 70_000;

/**
 * The gRPC endpoint, created on first use: one shared in-flight promise, so concurrent first HTTP/2
 * connections load grpc-js once; a failed load is logged and retried by the next HTTP/2 connection.
 */
class LazyGrpc {
  private pending: Promise<GrpcEndpoint> | undefined;
  private closing = false;

  constructor(private readonly opts: ServeOptions) {}

  /** Hand a sniffed HTTP/2 connection (paused, its bytes unshifted) to the endpoint once it exists. */
  inject(sock: Socket): void {
    if (this.closing) return void sock.destroy();
    this.pending ??= this.load();
    this.pending.then(
      (g) => (this.closing || sock.destroyed ? sock.destroy() : g.inject(sock)),
      () => sock.destroy(),
    );
  }

  /** Refuse new HTTP/2 connections; shut the endpoint down if it was ever started. */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    const g = await this.pending?.catch(() => undefined);
    await g?.close(graceMs);
  }

  private load(): Promise<GrpcEndpoint> {
    const opts = this.opts;
    const loading = import("./grpc.js").then((m) =>
      m.startGrpcEndpoint(opts.handlers, (method, req, run) => dispatchCall(opts, method, "grpc", req, run)),
    );
    loading.catch((e: unknown) => {
      this.pending = undefined;
      opts.log.error("cannot start the gRPC endpoint", { error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    });
    return loading;
  }
}

function onConnection(opts: ServeOptions, grpc: LazyGrpc, sock: Socket): void {
  let buf = Buffer.alloc(0);
  sock.on("error", () => sock.destroy());
  sock.setTimeout(IDLE_TIMEOUT_MS, () => sock.destroy());
  const onData = (b: Buffer): void => {
    buf = Buffer.concat([buf, b]);
    const kind = sniffConnection(buf);
    if (kind === "need-more") return;
    sock.off("data", onData);
    if (kind === "grpc") {
      sock.setTimeout(0); // grpc-js manages its own keepalive
      sock.pause();
      sock.unshift(buf);
      grpc.inject(sock);
    } else if (kind === "fast") {
      serveFast(opts, sock, buf);
    } else {
      sock.destroy();
    }
  };
  sock.on("data", onData);
}

/** How long {@link RunningServer.close} waits for in-flight gRPC calls before forcing the shutdown. */
const GRPC_SHUTDOWN_GRACE_MS = 20_000;

/**
 * Serve on `opts.socketPath` (mode 0600). The socket is bound under a temporary name, chmod-ed,
 * then renamed into place, so it is never reachable with wider permissions.
 */
export async function serveCni(opts: ServeOptions): Promise<Result<RunningServer, ServeError>> {
  const prep = await prepareSocketPath(opts.socketPath);
  if (prep.isErr()) return err(prep.error);
  const grpc = new LazyGrpc(opts);
  const net: NetServer = createServer((s) => onConnection(opts, grpc, s));
  const tmp = `${opts.socketPath}.${process.pid}.tmp`;
  await rm(tmp, { force: true });
  const listened = await new Promise<Error | undefined>((resolve) => {
    net.once("error", resolve);
    net.listen(tmp, () => resolve(undefined));
  });
  if (listened !== undefined) return err({ kind: "listen-failed", path: opts.socketPath, message: listened.message });
  await chmod(tmp, 0o600);
  await rename(tmp, opts.socketPath);
  return ok({
    close: async () => {
      const netClosed = new Promise<void>((resolve) => net.close(() => resolve()));
      await grpc.close(GRPC_SHUTDOWN_GRACE_MS);
      await netClosed;
      await rm(opts.socketPath, { force: true });
    },
  });
}
