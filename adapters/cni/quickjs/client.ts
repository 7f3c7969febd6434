/**
 * The {@link CniClient} of the QuickJS build: the same protocol choice as `socketClient`
 * (`../fallback.ts`), with the host's two synchronous transports instead of sockets. The outcome
 * texts are the ones `fast-outcome.ts` and `grpc-wire.ts` give, so both builds answer alike.
 */
import { encodeLine, MAX_LINE_BYTES, type FastRequest } from "../../common/fast-protocol.js";
import { fromBase64, toBase64 } from "../base64.js";
import type { CniClient, RpcOutcome } from "../client.js";
import { clientOver, type ClientOptions } from "../fallback.js";
import { CLOSED_OUTCOME, TOO_LONG_OUTCOME, notJsonOutcome, outcomeOfLine, socketErrorOutcome, timeoutOutcome, type FastOutcome } from "../fast-outcome.js";
import { encodeRequest, frame, GRPC_UNAVAILABLE, grpcConnectOutcome, grpcPath, grpcTimeout, grpcTimeoutOutcome, outcomeOf } from "../grpc-wire.js";
import type { CoilHost, HostH2, HostLine } from "./host.js";
import { decodeUtf8Lossy } from "./text-encoding.js";

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
    case "newline":
      // Lenient, as the Bun/Node client's Buffer.toString: invalid UTF-8 becomes U+FFFD.
      return outcomeOfLine(decodeUtf8Lossy(data.subarray(0, data.length - 1)));
  }
}

/** The gRPC outcome of one host HTTP/2 exchange. */
export function grpcOutcomeOf(socket: string, req: FastRequest, timeoutMs: number, r: HostH2): RpcOutcome {
  if ("connectError" in r) return grpcConnectOutcome(socket, r.connectError);
  if ("timeout" in r) return grpcTimeoutOutcome(socket, timeoutMs);
  if ("error" in r) return { kind: "rpc-error", grpcCode: GRPC_UNAVAILABLE, message: r.error };
  return outcomeOf(req, { ...r.headers, ":status": String(r.status) }, r.trailers, fromBase64(r.body) ?? new Uint8Array(0));
}

/** The client over the host's transports. `onAnswer` reports which protocol answered. */
export function hostClient(host: CoilHost, options: ClientOptions = {}): CniClient {
  return clientOver(
    {
      fast: (c) => Promise.resolve(fastOutcomeOf(c.socket, c.timeoutMs, host.line(c.socket, encodeLine(c.request), c.timeoutMs, MAX_LINE_BYTES))),
      grpc: (c, left) => {
        const body = toBase64(frame(encodeRequest(c.request)));
        return Promise.resolve(grpcOutcomeOf(c.socket, c.request, left, host.h2(c.socket, grpcPath(c.request), body, left, grpcTimeout(left))));
      },
    },
    options,
  );
}
