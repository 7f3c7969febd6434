/**
 * coil-installer (init container of coild): install the `coil` CNI executable and the CNI
 * conflist on the host, then wait for kubelet to notice. Same environment and defaults as Coil's
 * `coil-installer` (spec §1.8), with these deliberate differences:
 *
 * - the conflist is validated first (JSON, supported `cniVersion`, `coil` first plugin); an invalid
 *   one is refused before anything is written;
 * - the binary is installed first, the conflist second, so kubelet never sees a conflist whose
 *   plugin binary is missing; both are written atomically (temp + fsync + rename);
 * - Coil deletes every file whose name contains "conflist"; here only other conflists that
 *   themselves use a `coil` plugin (earlier Coil installs under another name) are removed, after
 *   the new one is in place. Unrelated CNI configurations are left alone.
 */
import { constants as fsConstants, promises as fsp } from "node:fs";
import { join } from "node:path";
import { err, ok, type Result } from "neverthrow";
import { COIL_BINARY_NAME, parseInstallerEnv, type InstallerConfig, type InvalidConfNameError } from "./config.js";
import { conflistNamesCoil, validateConflist, type InvalidNetconfError } from "./conflist.js";
import { replaceFile, syncDir, type AtomicSource } from "../common/atomic-file.js";
import { assertNever } from "../../lib/changeset/index.js";

/** Everything that can stop the installer. */
export type InstallerError =
  | InvalidConfNameError
  | InvalidNetconfError
  | { readonly kind: "netconf-missing" }
  | { readonly kind: "netconf-unreadable"; readonly path: string; readonly message: string }
  | { readonly kind: "coil-binary-unreadable"; readonly path: string; readonly message: string }
  | { readonly kind: "install-failed"; readonly step: "binary" | "conflist"; readonly path: string; readonly message: string };

/** What was done. */
export interface InstallReport {
  readonly binaryPath: string;
  readonly conflistPath: string;
  /** Other Coil conflists removed from the configuration directory (full paths). */
  readonly removed: readonly string[];
}

/** Dependencies of {@link runInstaller}. */
export interface InstallerDeps {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Wait after installing (Coil: 6 s, kubelet re-reads CNI configuration every 5 s). */
  readonly settleMs: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly log?: (line: string) => void;
}

/** Default settle time, as Coil. */
export const DEFAULT_SETTLE_MS = 6000;

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

async function readNetconf(cfg: InstallerConfig): Promise<Result<string, InstallerError>> {
  if (cfg.netconf !== undefined) return ok(cfg.netconf);
  if (cfg.netconfFile === undefined) return err({ kind: "netconf-missing" });
  try {
    return ok(await fsp.readFile(cfg.netconfFile, "utf8"));
  } catch (e) {
    return err({ kind: "netconf-unreadable", path: cfg.netconfFile, message: message(e) });
  }
}

async function checkBinary(path: string): Promise<Result<void, InstallerError>> {
  try {
    const st = await fsp.stat(path);
    if (!st.isFile()) return err({ kind: "coil-binary-unreadable", path, message: "not a regular file" });
    await fsp.access(path, fsConstants.R_OK);
    return ok(undefined);
  } catch (e) {
    return err({ kind: "coil-binary-unreadable", path, message: message(e) });
  }
}

/** Remove conflists other than `keep` whose name contains "conflist" and whose plugins include coil. */
async function removeOtherCoilConflists(dir: string, keep: string): Promise<string[]> {
  const removed: string[] = [];
  for (const entry of await fsp.readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory() || entry.name === keep || !entry.name.includes("conflist") || entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    const text = await fsp.readFile(path, "utf8").catch(() => "");
    if (!conflistNamesCoil(text)) continue;
    await fsp.rm(path, { force: true });
    removed.push(path);
  }
  if (removed.length > 0) await syncDir(dir);
  return removed;
}

/** Install `source` as `path` atomically and durably (temp + fsync + rename + fsync dir); its path. */
async function installFileAtomic(path: string, source: AtomicSource, mode: number): Promise<string> {
  await replaceFile(path, source, { mode });
  return path;
}

async function install(step: "binary" | "conflist", dir: string, run: () => Promise<string>): Promise<Result<string, InstallerError>> {
  try {
    await fsp.mkdir(dir, { recursive: true, mode: 0o755 });
    return ok(await run());
  } catch (e) {
    return err({ kind: "install-failed", step, path: dir, message: message(e) });
  }
}

/** Run the installer (see the module comment for the order of steps). */
export async function runInstaller(deps: InstallerDeps): Promise<Result<InstallReport, InstallerError>> {
  const log = deps.log ?? ((): void => undefined);
  const cfg = parseInstallerEnv(deps.env);
  if (cfg.isErr()) return err(cfg.error);
  const { etcDir, binDir, confName, coilPath } = cfg.value;
  const text = await readNetconf(cfg.value);
  if (text.isErr()) return err(text.error);
  const conflist = validateConflist(text.value, { chained: cfg.value.chained });
  if (conflist.isErr()) return err(conflist.error);
  const bin = await checkBinary(coilPath);
  if (bin.isErr()) return err(bin.error);

  const source = { kind: "copy", from: coilPath } as const;
  const binaryPath = await install("binary", binDir, () => installFileAtomic(join(binDir, COIL_BINARY_NAME), source, 0o755));
  if (binaryPath.isErr()) return err(binaryPath.error);
  log(`installed ${binaryPath.value}`);
  const conflistPath = await install("conflist", etcDir, () => installFileAtomic(join(etcDir, confName), text.value, 0o644));
  if (conflistPath.isErr()) return err(conflistPath.error);
  log(`installed ${conflistPath.value} (${conflist.value.pluginTypes.join(", ")})`);
  let removed: string[];
  try {
    removed = await removeOtherCoilConflists(etcDir, confName);
  } catch (e) {
    return err({ kind: "install-failed", step: "conflist", path: etcDir, message: `removing old Coil conflists: ${message(e)}` });
  }
  for (const r of removed) log(`removed old Coil conflist ${r}`);
  if (deps.settleMs > 0) await (deps.sleep ?? ((ms) => new Promise<void>((r) => setTimeout(r, ms))))(deps.settleMs);
  return ok({ binaryPath: binaryPath.value, conflistPath: conflistPath.value, removed });
}

/** One-line human text for an installer error. */
export function describeInstallerError(e: InstallerError): string {
  switch (e.kind) {
    case "invalid-conf-name":
      return `CNI_CONF_NAME ${JSON.stringify(e.name)} ${e.reason}`;
    case "invalid-chained":
      return `COIL_CHAINED ${JSON.stringify(e.value)} must be true or false`;
    case "invalid-netconf":
      return `invalid CNI network configuration: ${e.reason}`;
    case "netconf-missing":
      return "neither CNI_NETCONF nor CNI_NETCONF_FILE is set";
    case "netconf-unreadable":
      return `cannot read CNI_NETCONF_FILE ${e.path}: ${e.message}`;
    case "coil-binary-unreadable":
      return `cannot read COIL_PATH ${e.path}: ${e.message}`;
    case "install-failed":
      return `installing the ${e.step} into ${e.path} failed: ${e.message}`;
    default:
      return assertNever(e);
  }
}
