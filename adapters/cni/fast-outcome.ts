/**
 * Reading the fast path's answer (protocol in `adapters/common/fast-protocol.ts`), apart from the
 * socket code: `fast-client.ts` (Bun and Node sockets) and the QuickJS build's client
 * (`quickjs/client.ts`) turn what they read into the same outcomes.
 */
import { parseResponseLine } from "../common/fast-protocol.js";
import { fromBase64 } from "./base64.js";
import type { RpcOutcome } from "./client.js";

/** {@link RpcOutcome}, or `not-fast`: the server answered with something else (try gRPC). */
export type FastOutcome = RpcOutcome | { readonly kind: "not-fast"; readonly reason: string };

/** Turn one response line into an outcome. */
export function outcomeOfLine(line: string): FastOutcome {
  const r = parseResponseLine(line);
  if ("kind" in r) return { kind: "not-fast", reason: r.reason };
  if (r.ok) {
    if (r.result === undefined) return { kind: "ok" };
    const result = fromBase64(r.result);
    return result === undefined ? { kind: "rpc-error", grpcCode: 13, message: "fast-path result is not base64" } : { kind: "ok", result };
  }
  const message = r.message ?? r.error?.msg ?? "";
  return r.error === undefined
    ? { kind: "rpc-error", grpcCode: r.grpcCode, message }
    : { kind: "rpc-error", grpcCode: r.grpcCode, message, error: r.error };
}

/** The outcome when no answer came within the deadline. */
export const timeoutOutcome = (socket: string, timeoutMs: number): FastOutcome => ({ kind: "timeout", message: `no answer from ${socket} within ${timeoutMs} ms` });

/**
 * The outcome of a socket error: before the connection was made, coild is unreachable; after it,
 * the server is taken for one that does not speak the fast path. `why` is the errno's name.
 */
export const socketErrorOutcome = (socket: string, connected: boolean, why: string): FastOutcome =>
  connected ? { kind: "not-fast", reason: `connection error ${why}` } : { kind: "unreachable", message: `cannot connect to ${socket}: ${why}` };

/** The outcome when the server's first byte is not `{`. */
export const notJsonOutcome = (first: number): FastOutcome => ({ kind: "not-fast", reason: `first byte 0x${first.toString(16)}` });

/** The outcome when the server closed before a full line. */
export const CLOSED_OUTCOME: FastOutcome = { kind: "not-fast", reason: "closed without a response line" };

/** The outcome when the response line exceeds the protocol's `MAX_LINE_BYTES`. */
export const TOO_LONG_OUTCOME: FastOutcome = { kind: "not-fast", reason: "response line too long" };
