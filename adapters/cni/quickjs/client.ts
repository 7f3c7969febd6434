/**
 * The {@link CniClient} of the QuickJS build: the same protocol choice as `socketClient` (the fast
 * path first, gRPC when the server does not speak it, or one of them forced), with the host's two
 * synchronous transports instead of sockets. The outcome texts are the ones `fast-client.ts` and
 * `grpc-wire.ts` give, so both builds answer alike.
 */
import { decodeUtf8 } from "../../../lib/cni/index.js";
import { encodeLine, MAX_LINE_BYTES, type FastRequest } from "../../common/fast-protocol.js";
import { fromBase64, toBase64 } from "../base64.js";
import type { AnsweredBy, CniClient, RpcCall, RpcOutcome } from "../client.js";
import { CLOSED_OUTCOME, TOO_LONG_OUTCOME, notJsonOutcome, outcomeOfLine, socketErrorOutcome, timeoutOutcome, type FastOutcome } from "../fast-outcome.js";
import { encodeRequest, frame, grpcPath, grpcTimeout, outcomeOf } from "../grpc-wire.js";
import type { CoilHost, HostH2, HostLine } from "./host.js";

/** gRPC `UNAVAILABLE`. */
const UNAVAILABLE = 14;

/** The fast-path outcome of one host exchange. */
export function fastOutcomeOf(socket: string, timeoutMs: number, r: HostLine): FastOutcome {
  if ("connectError" in r) return socketErrorOutcome(socket, false, r.connectError);
  const data = fromBase64(r.data) ?? new Uint8Array(0);
  switch (r.end) {
    case "other":
      return notJsonOutcome(data[0] ?? 0);
    case "limit":
      return TOO_LONG_OUTCOME;
    case "timeout":
      return timeoutOutcome(socket, timeoutMs);
    case "error":
      return socketErrorOutcome(socket, true, r.error ?? "unknown");
    case "eof":
      return CLOSED_OUTCOME;
    case "newline": {
      const line = decodeUtf8(data.subarray(0, data.length - 1));
      return line === undefined ? { kind: "not-fast", reason: "response line is not UTF-8" } : outcomeOfLine(line);
    }
  }
}

/** The gRPC outcome of one host HTTP/2 exchange. */
export function grpcOutcomeOf(socket: string, req: FastRequest, timeoutMs: number, r: HostH2): RpcOutcome {
  if ("connectError" in r) return { kind: "unreachable", message: `cannot connect to ${socket}: ${r.connectError}` };
  if ("timeout" in r) return { kind: "timeout", message: `no answer from ${socket} within ${timeoutMs} ms` };
  if ("error" in r) return { kind: "rpc-error", grpcCode: UNAVAILABLE, message: r.error };
  return outcomeOf(req, { ...r.headers, ":status": String(r.status) }, r.trailers, fromBase64(r.body) ?? new Uint8Array(0));
}

/** The client over the host's transports. `onAnswer` reports which protocol answered. */
export function hostClient(host: CoilHost, options: { readonly onAnswer?: (by: AnsweredBy) => void; readonly now?: () => number } = {}): CniClient {
  const now = options.now ?? Date.now;
  const tell = (by: AnsweredBy, o: RpcOutcome): RpcOutcome => {
    options.onAnswer?.(by);
    return o;
  };
  return {
    call(c: RpcCall): Promise<RpcOutcome> {
      const started = now();
      if (c.mode !== "grpc") {
        const fast = fastOutcomeOf(c.socket, c.timeoutMs, host.line(c.socket, encodeLine(c.request), c.timeoutMs, MAX_LINE_BYTES));
        if (fast.kind !== "not-fast") return Promise.resolve(tell("fast", fast));
        if (c.mode === "fast") {
          return Promise.resolve({ kind: "rpc-error", grpcCode: UNAVAILABLE, message: `coild at ${c.socket} does not speak the fast protocol: ${fast.reason}` });
        }
      }
      const left = Math.max(1, c.timeoutMs - (now() - started));
      const body = toBase64(frame(encodeRequest(c.request)));
      return Promise.resolve(tell("grpc", grpcOutcomeOf(c.socket, c.request, left, host.h2(c.socket, grpcPath(c.request), body, left, grpcTimeout(left)))));
    },
  };
}
