/**
 * coil-installer's command line: like Coil's, only cobra's `--help` and `--version`; everything else is
 * the environment (Coil's variables and defaults, read by `parseInstallerEnv` in config.ts).
 */
import type { Result } from "neverthrow";
import { defineProgram, parseProgramArgv, type FlagError } from "../common/flags.js";
import { INSTALLER_DEFAULTS } from "./config.js";

/** coil-installer's definition: its parser, `--help` and docs/programs/coil-installer.md use it. */
export const INSTALLER = defineProgram({
  name: "coil-installer",
  summary: "install coil CNI binary and configuration files",
  description: `coil-installer setup coil on each node by installing CNI binary and config files.

It runs as an init container of coild: it copies COIL_PATH into CNI_BIN_DIR, writes the
network configuration (CNI_NETCONF, or the file CNI_NETCONF_FILE) as CNI_ETC_DIR/CNI_CONF_NAME,
then waits 6 seconds so that kubelet sees the configuration before coild starts.`,
  flags: [],
  env: [
    { name: "CNI_CONF_NAME", description: "file name of the network configuration written into CNI_ETC_DIR (a .conflist)", default: INSTALLER_DEFAULTS.CNI_CONF_NAME },
    { name: "CNI_ETC_DIR", description: "the host's CNI configuration directory, as mounted in the container", default: INSTALLER_DEFAULTS.CNI_ETC_DIR },
    { name: "CNI_BIN_DIR", description: "the host's CNI binary directory, as mounted in the container", default: INSTALLER_DEFAULTS.CNI_BIN_DIR },
    { name: "COIL_PATH", description: "the coil CNI executable to install", default: INSTALLER_DEFAULTS.COIL_PATH },
    { name: "CNI_NETCONF", description: "the network configuration list (JSON) to install; wins over CNI_NETCONF_FILE" },
    { name: "CNI_NETCONF_FILE", description: "file holding the network configuration list, when CNI_NETCONF is empty" },
    { name: "COIL_CHAINED", description: "true: coil runs chained after the plugin that makes the pod network (coild --enable-ipam=false), so the conflist must name coil after its first plugin", default: "false" },
  ],
  ports: [],
});

/** Parse argv: `help`, `version`, or nothing to configure (the configuration is the environment). */
export function parseInstallerArgv(argv: readonly string[]): Result<"help" | "version" | "install", FlagError> {
  return parseProgramArgv(INSTALLER, argv).map((v) => v.request ?? "install");
}


