/**
 * The `coil` CNI executable's definition (environment, stdin) and what it prints when run by hand:
 * without `CNI_COMMAND` it prints an about line and the CNI versions it supports on stderr and exits
 * 0, as Coil's (skel.PluginMainFuncs with `coil <version>`) does, without reading stdin;
 * `coil --version` and `coil --help` (still without `CNI_COMMAND`) print the version and the help.
 */
import { SUPPORTED_VERSIONS } from "../../lib/cni/index.js";
import { defineProgram, parseProgramArgv, renderHelp, versionText } from "../common/flags.js";
import { BUILD_INFO } from "../common/version.js";

/** The CNI executable's definition: `--help` and docs/programs/coil.md use it. */
export const COIL_CNI = defineProgram({
  name: "coil",
  summary: "CNI plugin of Coil",
  description: `coil is the CNI plugin of Coil, installed as /opt/cni/bin/coil by coil-installer.

The container runtime runs it with CNI_COMMAND and the other CNI_* variables set and
the network configuration on stdin (its "socket" key names coild's socket, default
/run/coild.sock); coil passes the request to coild and prints coild's answer.
Run without CNI_COMMAND it prints its version and the CNI versions it supports.`,
  usage: "[--help | --version]   (CNI: CNI_COMMAND=… coil < netconf.json)",
  flags: [],
  env: [
    { name: "CNI_COMMAND", description: "ADD, DEL, CHECK, GC, STATUS or VERSION; unset: print the about line" },
    { name: "CNI_CONTAINERID", description: "container ID (ADD, DEL, CHECK)" },
    { name: "CNI_NETNS", description: "path of the container's network namespace (ADD, CHECK)" },
    { name: "CNI_IFNAME", description: "interface name inside the container (ADD, DEL, CHECK)" },
    { name: "CNI_ARGS", description: "extra arguments (K8S_POD_NAMESPACE, K8S_POD_NAME, …)" },
    { name: "CNI_PATH", description: "plugin search path (ADD, DEL, CHECK, GC, STATUS)" },
  ],
  ports: [],
});

/** The about text Coil's `coil` prints without CNI_COMMAND (skel's about string and version line). */
export function aboutText(): string {
  return `coil ${BUILD_INFO.version} (commit ${BUILD_INFO.commit})\nCNI protocol versions supported: ${SUPPORTED_VERSIONS.join(", ")}\n`;
}

/** What to print when run by hand. */
export interface ByHandOutput {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
}

/**
 * The output when `CNI_COMMAND` is unset or empty (run by hand), else `undefined` (a CNI call).
 * `--help` / `--version` print those; anything else prints the about text, as skel ignores arguments.
 */
export function runByHand(env: Readonly<Record<string, string | undefined>>, argv: readonly string[]): ByHandOutput | undefined {
  if ((env["CNI_COMMAND"] ?? "") !== "") return undefined;
  const parsed = parseProgramArgv(COIL_CNI, argv);
  const request = parsed.isOk() ? parsed.value.request : undefined;
  if (request === "help") return { stdout: renderHelp(COIL_CNI), stderr: "", exitCode: 0 };
  if (request === "version") return { stdout: versionText(COIL_CNI.name), stderr: "", exitCode: 0 };
  return { stdout: "", stderr: aboutText(), exitCode: 0 };
}
