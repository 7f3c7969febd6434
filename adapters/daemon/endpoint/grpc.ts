/**
 * coild's gRPC side (`pkg.cnirpc.CNI` on grpc-js). `server.ts` imports this module dynamically on
 * the first connection that sniffs as HTTP/2, so grpc-js and the generated service code stay
 * unloaded while only the fast JSON-line path is used (the `coil` executable's normal path).
 */
import type { Socket } from "node:net";
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from "@grpc/grpc-js";
import type { Result } from "neverthrow";
import type { CniError } from "../../../lib/cni/index.js";
import type { FastMethod } from "../../common/fast-protocol.js";
import type { CallFailure } from "./call-failure.js";
import { CNIService, type CNIArgs, type GCRequest, type StatusRequest } from "../../proto/gen/cni.js";
import { toServiceError } from "./grpc-status.js";
import type { CniCallHandlers } from "./server.js";

/** Runs one call with metrics and the access log (`dispatchCall` of `server.ts`, transport "grpc"). */
export type GrpcDispatch = <T>(
  method: FastMethod,
  req: CNIArgs | StatusRequest | GCRequest,
  run: () => Promise<Result<T, CniError>>,
) => Promise<Result<T, CallFailure>>;

/** A running grpc-js server fed with connections accepted elsewhere. */
export interface GrpcEndpoint {
  /** Hand over a connection whose unread bytes start with the HTTP/2 preface. */
  inject(sock: Socket): void;
  /** Graceful shutdown (in-flight calls finish; forced after `graceMs`), then drop the injector. */
  close(graceMs: number): Promise<void>;
}

function serviceImpl(handlers: CniCallHandlers, dispatch: GrpcDispatch) {
  const unary =
    <Q extends CNIArgs | StatusRequest | GCRequest, R>(method: FastMethod, fn: (q: Q) => Promise<Result<R, CniError>>) =>
    (call: ServerUnaryCall<Q, R>, cb: sendUnaryData<R>): void => {
      void dispatch(method, call.request, () => fn(call.request)).then((r) =>
        r.match(
          (v) => cb(null, v),
          (f) => cb(toServiceError(f)),
        ),
      );
    };
  const h = handlers;
  return {
    add: unary("Add", (q: CNIArgs) => h.add(q)),
    del: unary("Del", (q: CNIArgs) => h.del(q)),
    check: unary("Check", (q: CNIArgs) => h.check(q)),
    status: unary("Status", (q: StatusRequest) => h.status(q)),
    gc: unary("GC", (q: GCRequest) => h.gc(q)),
  };
}

/** Create the grpc-js server with the CNI service and its connection injector (no socket of its own). */
export function startGrpcEndpoint(handlers: CniCallHandlers, dispatch: GrpcDispatch): GrpcEndpoint {
  const grpc = new Server();
  grpc.addService(CNIService, serviceImpl(handlers, dispatch));
  const injector = grpc.createConnectionInjector(ServerCredentials.createInsecure());
  return {
    inject: (sock) => injector.injectConnection(sock),
    close: async (graceMs) => {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          grpc.forceShutdown();
          resolve();
        }, graceMs);
        grpc.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      injector.destroy();
    },
  };
}
