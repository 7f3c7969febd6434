/**
 * Entry point of the `coil` CNI executable (installed as `/opt/cni/bin/coil`): read env and stdin,
 * run, print, exit. Everything else is in `run.ts`.
 */
import { readSync, writeSync } from "node:fs";
import { MAX_NETCONF_BYTES } from "../../lib/cni/index.js";
import { socketClient } from "./client.js";
import { runCni } from "./run.js";

/**
 * Read stdin until EOF, but never more than `limit` bytes: a config larger than that is refused
 * anyway (`runCni` answers code 7 for `MAX_NETCONF_BYTES + 1` bytes), and stopping keeps an endless
 * or huge stdin from costing time and memory.
 */
function readStdin(limit: number): Uint8Array | { readonly readError: string } {
  const buf = Buffer.allocUnsafe(limit);
  let n = 0;
  try {
    while (n < limit) {
      const got = readSync(0, buf, n, limit - n, null);
      if (got === 0) break;
      n += got;
    }
  } catch (e) {
    // A closed stdin descriptor reads as empty, like Go's io.ReadAll on /dev/null.
    if ((e as NodeJS.ErrnoException).code === "EBADF" && n === 0) return new Uint8Array(0);
    return { readError: String(e) };
  }
  return buf.subarray(0, n);
}

async function main(): Promise<never> {
  const out = await runCni({ env: process.env, stdin: readStdin(MAX_NETCONF_BYTES + 1), client: socketClient() });
  if (out.stdout !== "") writeSync(1, out.stdout);
  if (out.stderr !== undefined) writeSync(2, out.stderr);
  process.exit(out.exitCode);
}
void main();
