/**
 * The protocol choice of every `coil` build, apart from the transports: the fast path first, gRPC
 * when the server does not speak it (Coil's Go coild), or one of them forced by the netconf's
 * `rpc` key. `client.ts` (Bun and Node sockets) and `quickjs/client.ts` (the QuickJS host's
 * transports) both build their {@link CniClient} with {@link clientOver}, so both answer alike.
 */
import type { AnsweredBy, CniClient, RpcCall, RpcOutcome } from "./client.js";
import type { FastOutcome } from "./fast-outcome.js";
import { GRPC_UNAVAILABLE } from "./grpc-wire.js";

/** The two transports of one build. */
export interface Transports {
  /** One fast-path exchange within `call.timeoutMs`. */
  fast(call: RpcCall): Promise<FastOutcome>;
  /** One gRPC call within `timeoutMs` (what is left of the call's deadline). */
  grpc(call: RpcCall, timeoutMs: number): Promise<RpcOutcome>;
}

/** Options of {@link clientOver}. */
export interface ClientOptions {
  /** Told which protocol answered (for logs and tests). */
  readonly onAnswer?: (by: AnsweredBy) => void;
  /** The clock, in ms (default `Date.now`). */
  readonly now?: () => number;
}

/** A {@link CniClient} over `transports`. */
export function clientOver(transports: Transports, options: ClientOptions = {}): CniClient {
  const now = options.now ?? Date.now;
  const tell = (by: AnsweredBy, o: RpcOutcome): RpcOutcome => {
    options.onAnswer?.(by);
    return o;
  };
  return {
    async call(c: RpcCall): Promise<RpcOutcome> {
      const started = now();
      if (c.mode !== "grpc") {
        const fast = await transports.fast(c);
        if (fast.kind !== "not-fast") return tell("fast", fast);
        if (c.mode === "fast") {
          return { kind: "rpc-error", grpcCode: GRPC_UNAVAILABLE, message: `coild at ${c.socket} does not speak the fast protocol: ${fast.reason}` };
        }
      }
      const left = Math.max(1, c.timeoutMs - (now() - started));
      return tell("grpc", await transports.grpc(c, left));
    },
  };
}
