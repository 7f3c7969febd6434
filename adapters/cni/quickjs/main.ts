/**
 * Entry point of the QuickJS build of the `coil` CNI executable (`dist/bin/coil-qjs`, installed as
 * `/opt/cni/bin/coil` by the image): the same `runCni` and by-hand texts as the Bun build
 * (`../main.ts`), with the process reached through the Go host's functions (`host.ts`) instead of
 * Bun's or Node's globals. Bundled by esbuild as one script and compiled to QuickJS bytecode at build
 * time (scripts/build-cni.sh --qjs-only).
 */
import { installTextEncoding } from "./text-encoding.js";
import { MAX_NETCONF_BYTES } from "../../../lib/cni/index.js";
import { runByHand } from "../flags.js";
import { runCni } from "../run.js";
import { fromBase64 } from "../base64.js";
import { hostClient } from "./client.js";
import { coilHost, type CoilHost } from "./host.js";

installTextEncoding();

function stdinOf(host: CoilHost): Uint8Array | { readonly readError: string } {
  const r = host.stdin(MAX_NETCONF_BYTES + 1);
  if ("error" in r) return { readError: r.error };
  return fromBase64(r.data) ?? { readError: "host: stdin is not base64" };
}

/**
 * Print and exit. A result that cannot be written fails the call (exit 1, the reason on stderr), as
 * the Bun build's rejected write does: an ADD must not exit 0 without its result.
 */
function finish(host: CoilHost, out: { readonly stdout: string; readonly stderr?: string | undefined; readonly exitCode: number }): never {
  const failed = out.stdout === "" ? null : host.write(1, out.stdout);
  if (out.stderr !== undefined && out.stderr !== "") host.write(2, out.stderr);
  if (typeof failed === "string") {
    host.write(2, `coil: writing the result to stdout failed: ${failed}\n`);
    return host.exit(1);
  }
  return host.exit(out.exitCode);
}

async function main(host: CoilHost): Promise<never> {
  const env = host.env();
  // Run by hand (no CNI_COMMAND): about line / --help / --version, stdin not read (skel's order).
  const byHand = runByHand(env, host.argv());
  if (byHand !== undefined) return finish(host, byHand);
  return finish(host, await runCni({ env, stdin: stdinOf(host), client: hostClient(host) }));
}

const host = coilHost();
if (host === undefined) throw new Error("coil-qjs: not running in its QuickJS host (adapters/cni/quickjs/host)");
// A rejection is no exception for the host's job loop: print it here, or its cause is lost.
main(host).catch((e: unknown) => {
  host.write(2, `coil: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  host.exit(1);
});
