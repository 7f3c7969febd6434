/** coil-installer entry point (init container of coild): install the CNI binary and conflist, exit. */
import { configOrExit } from "../common/flags.js";
import { INSTALLER, parseInstallerArgv } from "./flags.js";
import { DEFAULT_SETTLE_MS, describeInstallerError, runInstaller } from "./run.js";

configOrExit(INSTALLER, parseInstallerArgv(process.argv.slice(2)));

const result = await runInstaller({
  env: process.env,
  settleMs: DEFAULT_SETTLE_MS,
  log: (line) => process.stderr.write(`coil-installer: ${line}\n`),
});
if (result.isErr()) {
  process.stderr.write(`coil-installer: ${describeInstallerError(result.error)}\n`);
  process.exit(1);
}
