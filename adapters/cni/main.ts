/**
 * Entry point of the `coil` CNI executable (installed as `/opt/cni/bin/coil`): read env and stdin,
 * run, print, exit. Everything else is in `run.ts`. Start-up loads only what a CNI call needs:
 * stdin/stdout through `stdio.ts` (no `node:fs` under Bun), the by-hand texts (`flags.ts`) only
 * when `CNI_COMMAND` is unset, gRPC only when the fast path is refused (`client.ts`).
 */
import { MAX_NETCONF_BYTES } from "../../lib/cni/index.js";
import { socketClient } from "./client.js";
import { runCni } from "./run.js";
import { readStdin, writeAll } from "./stdio.js";

async function main(): Promise<never> {
  // Run by hand (no CNI_COMMAND): about line / --help / --version, stdin not read (skel's order).
  if ((process.env["CNI_COMMAND"] ?? "") === "") {
    const { runByHand } = await import("./flags.js");
    const byHand = runByHand(process.env, process.argv.slice(2));
    if (byHand !== undefined) {
      await writeAll(1, byHand.stdout);
      await writeAll(2, byHand.stderr);
      process.exit(byHand.exitCode);
    }
  }
  const out = await runCni({ env: process.env, stdin: await readStdin(MAX_NETCONF_BYTES + 1), client: socketClient() });
  await writeAll(1, out.stdout);
  if (out.stderr !== undefined) await writeAll(2, out.stderr);
  process.exit(out.exitCode);
}
void main();
