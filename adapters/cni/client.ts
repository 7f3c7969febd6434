/**
 * The port `run.ts` calls coild through, and the real implementation: the fast path
 * (`fast-client.ts`) first, falling back to gRPC (`grpc-client.ts`, loaded lazily) when the server
 * does not speak it. See `adapters/common/fast-protocol.ts` for the protocol.
 */
import type { FastCniError, FastRequest } from "../common/fast-protocol.js";
import { callFast } from "./fast-client.js";
import { clientOver } from "./fallback.js";

/** How to reach coild: `auto` (fast path, gRPC fallback), or forced `fast` / `grpc`. */
export type RpcMode = "auto" | "fast" | "grpc";

/** One call to coild. */
export interface RpcCall {
  /** The UNIX socket path (netconf `socket`). */
  readonly socket: string;
  /** Protocol selection. */
  readonly mode: RpcMode;
  /** The rpc and its request (proto3 JSON form, as on the fast path). */
  readonly request: FastRequest;
  /** Deadline for the whole call, in milliseconds. */
  readonly timeoutMs: number;
}

/** The outcome of one call; transport failures are values, never thrown. */
export type RpcOutcome =
  | { readonly kind: "ok"; readonly result?: Uint8Array }
  | { readonly kind: "rpc-error"; readonly grpcCode: number; readonly message: string; readonly error?: FastCniError }
  | { readonly kind: "unreachable"; readonly message: string }
  | { readonly kind: "timeout"; readonly message: string };

/** The port: something that performs {@link RpcCall}s (the real socket client or a test fake). */
export interface CniClient {
  /** Perform one call. Must resolve, never reject. */
  call(call: RpcCall): Promise<RpcOutcome>;
}

/** Which protocol actually answered the last call (for logs and tests). */
export type AnsweredBy = "fast" | "grpc";

/** The real client over a UNIX socket. `onAnswer` reports which protocol answered. */
export function socketClient(options: { readonly onAnswer?: (by: AnsweredBy) => void } = {}): CniClient {
  return clientOver(
    {
      fast: (c) => callFast(c.socket, c.request, c.timeoutMs),
      grpc: async (c, left) => (await import("./grpc-client.js")).callGrpc(c.socket, c.request, left),
    },
    options,
  );
}
