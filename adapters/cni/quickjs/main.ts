/**
 * Entry point of the QuickJS build of the `coil` CNI executable (`dist/bin/coil-qjs`, installed as
 * `/opt/cni/bin/coil` by the image): the same `runCni` and by-hand texts as the Bun build
 * (`../main.ts`), with the process reached through the Go host's functions (`host.ts`) instead of
 * Bun's or Node's globals. Bundled by esbuild as one script and compiled to QuickJS bytecode at build
 * time (scripts/build-cni.sh --qjs).
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

async function main(host: CoilHost): Promise<never> {
  const env = host.env();
  // Run by hand (no CNI_COMMAND): about line / --help / --version, stdin not read (skel's order).
  const byHand = runByHand(env, host.argv());
  if (byHand !== undefined) {
    if (byHand.stdout !== "") host.write(1, byHand.stdout);
    if (byHand.stderr !== "") host.write(2, byHand.stderr);
    return host.exit(byHand.exitCode);
  }
  const out = await runCni({ env, stdin: stdinOf(host), client: hostClient(host) });
  if (out.stdout !== "") host.write(1, out.stdout);
  if (out.stderr !== undefined && out.stderr !== "") host.write(2, out.stderr);
  return host.exit(out.exitCode);
}

const host = coilHost();
if (host === undefined) throw new Error("coil-qjs: not running in its QuickJS host (adapters/cni/quickjs/host)");
void main(host);
