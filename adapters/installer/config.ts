/**
 * coil-installer's configuration: Coil's environment variables (§1.8) with the same names and
 * defaults. Nothing here touches the filesystem.
 */
import { err, ok, type Result } from "neverthrow";

/** Where and what to install. */
export interface InstallerConfig {
  /** File name of the conflist inside {@link etcDir} (`CNI_CONF_NAME`). */
  readonly confName: string;
  /** The host's CNI configuration directory as mounted in the container (`CNI_ETC_DIR`). */
  readonly etcDir: string;
  /** The host's CNI binary directory as mounted in the container (`CNI_BIN_DIR`). */
  readonly binDir: string;
  /** The `coil` CNI executable inside the image (`COIL_PATH`). */
  readonly coilPath: string;
  /** Conflist text given inline (`CNI_NETCONF`); wins over {@link netconfFile} when non-empty. */
  readonly netconf: string | undefined;
  /** Path of a file holding the conflist (`CNI_NETCONF_FILE`). */
  readonly netconfFile: string | undefined;
  /**
   * `COIL_CHAINED` (ours): coil runs chained after the plugin that makes the pod network (coild's
   * egress-only mode, `--enable-ipam=false`), so the conflist must name coil after its first plugin.
   */
  readonly chained: boolean;
}

/** Coil's defaults. */
export const INSTALLER_DEFAULTS = {
  CNI_CONF_NAME: "10-coil.conflist",
  CNI_ETC_DIR: "/host/etc/cni/net.d",
  CNI_BIN_DIR: "/host/opt/cni/bin",
  COIL_PATH: "/usr/local/coil/coil",
} as const;

/** The name the CNI executable gets in {@link InstallerConfig.binDir}. */
export const COIL_BINARY_NAME = "coil";

/** A configuration the installer refuses before doing anything. */
export type InvalidConfNameError =
  | { readonly kind: "invalid-conf-name"; readonly name: string; readonly reason: string }
  | { readonly kind: "invalid-chained"; readonly value: string };

/**
 * Read the installer's environment. Empty variables count as unset (as viper does). The conf name
 * must be a plain file name ending in `.conflist` (libcni reads `.conflist` files as plugin lists).
 */
export function parseInstallerEnv(env: Readonly<Record<string, string | undefined>>): Result<InstallerConfig, InvalidConfNameError> {
  const get = (k: string): string | undefined => (env[k] === undefined || env[k] === "" ? undefined : env[k]);
  const confName = get("CNI_CONF_NAME") ?? INSTALLER_DEFAULTS.CNI_CONF_NAME;
  if (confName.includes("/") || confName === "." || confName === "..") {
    return err({ kind: "invalid-conf-name", name: confName, reason: "must be a file name, not a path" });
  }
  if (!confName.endsWith(".conflist")) {
    return err({ kind: "invalid-conf-name", name: confName, reason: "must end in .conflist" });
  }
  const chained = get("COIL_CHAINED") ?? "false";
  if (chained !== "true" && chained !== "false") return err({ kind: "invalid-chained", value: chained });
  return ok({
    chained: chained === "true",
    confName,
    etcDir: get("CNI_ETC_DIR") ?? INSTALLER_DEFAULTS.CNI_ETC_DIR,
    binDir: get("CNI_BIN_DIR") ?? INSTALLER_DEFAULTS.CNI_BIN_DIR,
    coilPath: get("COIL_PATH") ?? INSTALLER_DEFAULTS.COIL_PATH,
    netconf: get("CNI_NETCONF"),
    netconfFile: get("CNI_NETCONF_FILE"),
  });
}
