/**
 * Entry point of the `coil` CNI executable (installed as `/opt/cni/bin/coil`): read env and stdin,
 * run, print, exit. Everything else is in `run.ts`.
 */
import { readFileSync, writeSync } from "node:fs";
import { socketClient } from "./client.js";
import { runCni } from "./run.js";

function readStdin(): Uint8Array | { readonly readError: string } {
  try {
    return readFileSync(0);
  } catch (e) {
    // A closed stdin descriptor reads as empty, like Go's io.ReadAll on /dev/null.
    return (e as NodeJS.ErrnoException).code === "EBADF" ? new Uint8Array(0) : { readError: String(e) };
  }
}

void runCni({ env: process.env, stdin: readStdin(), client: socketClient() }).then((out) => {
  if (out.stdout !== "") writeSync(1, out.stdout);
  if (out.stderr !== undefined) writeSync(2, out.stderr);
  process.exit(out.exitCode);
});
