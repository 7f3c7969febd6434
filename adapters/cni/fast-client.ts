/**
 * The fast-path client: one JSON request line over the UNIX socket, one JSON response line back
 * (protocol in `adapters/common/fast-protocol.ts`). Uses only `node:net`, so it costs almost no
 * start-up time under Bun.
 */
import { createConnection } from "node:net";
import { encodeLine, MAX_LINE_BYTES, parseResponseLine, type FastRequest } from "../common/fast-protocol.js";
import type { RpcOutcome } from "./client.js";

/** {@link RpcOutcome}, or `not-fast`: the server answered with something else (try gRPC). */
export type FastOutcome = RpcOutcome | { readonly kind: "not-fast"; readonly reason: string };

/** Turn one response line into an outcome. */
export function outcomeOfLine(line: string): FastOutcome {
  const r = parseResponseLine(line);
  if ("kind" in r) return { kind: "not-fast", reason: r.reason };
  if (r.ok) return r.result === undefined ? { kind: "ok" } : { kind: "ok", result: Buffer.from(r.result, "base64") };
  const message = r.message ?? r.error?.msg ?? "";
  return r.error === undefined
    ? { kind: "rpc-error", grpcCode: r.grpcCode, message }
    : { kind: "rpc-error", grpcCode: r.grpcCode, message, error: r.error };
}

/**
 * Send `request` to the fast path at `socket`. Resolves (never rejects) with the outcome:
 * `unreachable` when the connect fails, `timeout` after `timeoutMs`, `not-fast` when the first
 * byte is not `{`, the line is not a valid response, or the server closes without a full line.
 */
export function callFast(socket: string, request: FastRequest, timeoutMs: number): Promise<FastOutcome> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let connected = false;
    let done = false;
    const conn = createConnection({ path: socket });
    const finish = (o: FastOutcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      conn.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => finish({ kind: "timeout", message: `no answer from ${socket} within ${timeoutMs} ms` }), timeoutMs);
    conn.on("connect", () => {
      connected = true;
      conn.write(encodeLine(request));
    });
    conn.on("data", (b: Buffer) => {
      if (size === 0 && b[0] !== 0x7b) return finish({ kind: "not-fast", reason: `first byte 0x${(b[0] ?? 0).toString(16)}` });
      chunks.push(b);
      size += b.length;
      const nl = b.indexOf(0x0a);
      if (nl >= 0) return finish(outcomeOfLine(Buffer.concat(chunks).toString("utf8", 0, size - b.length + nl)));
      if (size > MAX_LINE_BYTES) finish({ kind: "not-fast", reason: "response line too long" });
    });
    conn.on("error", (e: NodeJS.ErrnoException) =>
      finish(
        connected
          ? { kind: "not-fast", reason: `connection error ${e.code ?? e.message}` }
          : { kind: "unreachable", message: `cannot connect to ${socket}: ${e.code ?? e.message}` },
      ),
    );
    conn.on("close", () => finish({ kind: "not-fast", reason: "closed without a response line" }));
  });
}
