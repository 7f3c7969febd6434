/**
 * The fast-path client: one JSON request line over the UNIX socket, one JSON response line back
 * (protocol in `adapters/common/fast-protocol.ts`). Under Bun it uses `Bun.connect` (measured
 * cheaper to start than `node:net`); under Node it uses `node:net`, imported lazily so the Bun
 * binary never loads it.
 */
import { encodeLine, MAX_LINE_BYTES, type FastRequest } from "../common/fast-protocol.js";
import { CLOSED_OUTCOME, TOO_LONG_OUTCOME, notJsonOutcome, outcomeOfLine, socketErrorOutcome, timeoutOutcome, type FastOutcome } from "./fast-outcome.js";

export { outcomeOfLine, type FastOutcome } from "./fast-outcome.js";

/** Socket-independent state of one call: collects the response line, settles once. */
class Exchange {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private done = false;
  private readonly timer: ReturnType<typeof setTimeout>;

  constructor(
    private readonly socket: string,
    timeoutMs: number,
    private readonly resolve: (o: FastOutcome) => void,
    private readonly close: () => void,
  ) {
    this.timer = setTimeout(() => this.finish(timeoutOutcome(socket, timeoutMs)), timeoutMs);
  }

  finish(o: FastOutcome): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.close();
    this.resolve(o);
  }

  data(b: Buffer): void {
    if (this.size === 0 && b[0] !== 0x7b) return this.finish(notJsonOutcome(b[0] ?? 0));
    this.chunks.push(b);
    this.size += b.length;
    const nl = b.indexOf(0x0a);
    if (nl >= 0) return this.finish(outcomeOfLine(Buffer.concat(this.chunks).toString("utf8", 0, this.size - b.length + nl)));
    if (this.size > MAX_LINE_BYTES) this.finish(TOO_LONG_OUTCOME);
  }

  closed(): void {
    this.finish(CLOSED_OUTCOME);
  }

  failed(connected: boolean, e: NodeJS.ErrnoException): void {
    this.finish(socketErrorOutcome(this.socket, connected, e.code ?? e.message));
  }
}

/**
 * The part of Bun's socket API used here (no `@types/bun` dependency). Unlike `node:net`, Bun's
 * `write` does not queue: it returns how many bytes the kernel took (possibly fewer than given),
 * and `drain` is called when the socket can take more.
 */
interface BunSocket {
  write(data: Uint8Array): number;
  end(): void;
}
interface BunConnect {
  connect(o: {
    unix: string;
    socket: {
      open(s: BunSocket): void;
      data(s: BunSocket, d: Uint8Array): void;
      drain(s: BunSocket): void;
      close(s: BunSocket): void;
      error(s: BunSocket, e: Error): void;
    };
  }): Promise<BunSocket>;
}

/**
 * Write all of `bytes` to a Bun socket: what `write` did not take is written again from `drain`.
 * (Writing once and ignoring the count sent only the first ~200 KiB of a large request line, so
 * coild never saw its newline and the call hung until the deadline.)
 */
function bunWriter(bytes: Uint8Array): (s: BunSocket) => void {
  let sent = 0;
  return (s) => {
    while (sent < bytes.length) {
      const n = s.write(bytes.subarray(sent));
      if (n <= 0) return;
      sent += n;
    }
  };
}

function viaBun(bun: BunConnect, socket: string, line: string, timeoutMs: number): Promise<FastOutcome> {
  return new Promise((resolve) => {
    let sock: BunSocket | undefined;
    const x = new Exchange(socket, timeoutMs, resolve, () => sock?.end());
    const writeMore = bunWriter(Buffer.from(line, "utf8"));
    const handlers = {
      open: (s: BunSocket) => ((sock = s), writeMore(s)),
      drain: (s: BunSocket) => writeMore(s),
      data: (_s: BunSocket, d: Uint8Array) => x.data(Buffer.from(d.buffer, d.byteOffset, d.byteLength)),
      close: () => x.closed(),
      error: (_s: BunSocket, e: Error) => x.failed(true, e),
    };
    bun.connect({ unix: socket, socket: handlers }).catch((e: NodeJS.ErrnoException) => x.failed(false, e));
  });
}

async function viaNode(socket: string, line: string, timeoutMs: number): Promise<FastOutcome> {
  const { createConnection } = await import("node:net");
  return new Promise((resolve) => {
    let connected = false;
    const conn = createConnection({ path: socket });
    const x = new Exchange(socket, timeoutMs, resolve, () => conn.destroy());
    conn.on("connect", () => ((connected = true), conn.write(line)));
    conn.on("data", (b: Buffer) => x.data(b));
    conn.on("error", (e: NodeJS.ErrnoException) => x.failed(connected, e));
    conn.on("close", () => x.closed());
  });
}

/**
 * Send `request` to the fast path at `socket`. Resolves (never rejects) with the outcome:
 * `unreachable` when the connect fails, `timeout` after `timeoutMs`, `not-fast` when the first
 * byte is not `{`, the line is not a valid response, or the server closes without a full line.
 * `runtime` selects the socket API (default: `Bun.connect` when running under Bun).
 */
export function callFast(socket: string, request: FastRequest, timeoutMs: number, runtime: "auto" | "node" = "auto"): Promise<FastOutcome> {
  const bun = (globalThis as { Bun?: BunConnect }).Bun;
  const line = encodeLine(request);
  return bun !== undefined && runtime === "auto" ? viaBun(bun, socket, line, timeoutMs) : viaNode(socket, line, timeoutMs);
}
