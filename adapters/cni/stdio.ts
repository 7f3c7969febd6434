/**
 * Stdin and stdout of the `coil` CNI executable. Under Bun (the compiled executable) they go
 * through Bun's own `Bun.stdin` / `Bun.write`: loading Bun's `node:fs` module costs more CPU at
 * start-up than the rest of a VERSION call (measured in bench/cni-startup.md). Under Node (the
 * `coil.mjs` bundle) `node:fs` is imported lazily.
 */

/** The part of Bun's global this file uses (no `@types/bun` in the project). */
interface BunStdio {
  readonly stdin: { stream(): ReadableStream<Uint8Array> };
  readonly stdout: unknown;
  readonly stderr: unknown;
  write(destination: unknown, data: string): Promise<number>;
}

const bunOf = (): BunStdio | undefined => (globalThis as { Bun?: BunStdio }).Bun;

/** Stdin bytes, or why reading failed. */
export type StdinBytes = Uint8Array | { readonly readError: string };

/** A closed stdin descriptor reads as empty, like Go's io.ReadAll on /dev/null. */
const isClosedFd = (e: unknown): boolean => (e as NodeJS.ErrnoException | undefined)?.code === "EBADF";

async function readViaBun(bun: BunStdio, limit: number): Promise<StdinBytes> {
  const parts: Uint8Array[] = [];
  let n = 0;
  try {
    const reader = bun.stdin.stream().getReader();
    while (n < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      n += value.byteLength;
    }
    // Stop reading at the bound; whatever else the writer sends is not read.
    if (n >= limit) void reader.cancel().catch(() => undefined);
  } catch (e) {
    if (isClosedFd(e) && n === 0) return new Uint8Array(0);
    return { readError: String(e) };
  }
  const out = new Uint8Array(Math.min(n, limit));
  let at = 0;
  for (const p of parts) {
    const take = Math.min(p.byteLength, out.byteLength - at);
    out.set(p.subarray(0, take), at);
    at += take;
    if (at === out.byteLength) break;
  }
  return out;
}

async function readViaNode(limit: number): Promise<StdinBytes> {
  const { readSync } = await import("node:fs");
  const buf = Buffer.allocUnsafe(limit);
  let n = 0;
  try {
    while (n < limit) {
      const got = readSync(0, buf, n, limit - n, null);
      if (got === 0) break;
      n += got;
    }
  } catch (e) {
    if (isClosedFd(e) && n === 0) return new Uint8Array(0);
    return { readError: String(e) };
  }
  return buf.subarray(0, n);
}

/**
 * Read stdin until EOF, but never more than `limit` bytes: a config larger than that is refused
 * anyway (`runCni` answers code 7 for `MAX_NETCONF_BYTES + 1` bytes), and stopping keeps an endless
 * or huge stdin from costing time and memory.
 */
export function readStdin(limit: number): Promise<StdinBytes> {
  const bun = bunOf();
  return bun !== undefined ? readViaBun(bun, limit) : readViaNode(limit);
}

/** Write `text` to stdout (fd 1) or stderr (fd 2) completely; resolves when written. */
export async function writeAll(fd: 1 | 2, text: string): Promise<void> {
  if (text === "") return;
  const bun = bunOf();
  if (bun !== undefined) {
    await bun.write(fd === 1 ? bun.stdout : bun.stderr, text);
    return;
  }
  const { writeSync } = await import("node:fs");
  writeSync(fd, text);
}
