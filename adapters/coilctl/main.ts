/** coilctl entry point: parse the command line, build the API clients, run one command, print, exit. */
import { configOrExit } from "../common/flags.js";
import { coilClient, formatKubeConfigError, loadKubeConfig, makeClients } from "../k8s/index.js";
import { coilctlHelpProgram, parseCoilctlArgv } from "./flags.js";
import { progressReporter } from "./progress.js";
import { EXIT, runCoilctl, runCompletion } from "./run.js";

const argv = process.argv.slice(2);
const config = configOrExit(coilctlHelpProgram(argv), parseCoilctlArgv(argv));
if (config.command === "completion") {
  const out = runCompletion(config);
  process.stdout.write(out.stdout);
  process.stderr.write(out.stderr);
  process.exit(out.code);
}
const loaded = loadKubeConfig({ env: process.env, ...(config.kubeconfig === undefined ? {} : { kubeconfig: config.kubeconfig }) });
if (loaded.isErr()) {
  process.stderr.write(`coilctl: ${formatKubeConfigError(loaded.error)}\n`);
  process.exit(EXIT.incomplete);
}
const clients = makeClients(loaded.value);
const showProgress = config.progress === "on" || (config.progress === "auto" && process.stderr.isTTY);
const progress = showProgress ? progressReporter({ write: (s) => void process.stderr.write(s), isTTY: process.stderr.isTTY === true }, { now: () => performance.now() }) : undefined;
const out = await runCoilctl(config, { core: clients.core, coil: coilClient(clients.custom), now: () => Date.now(), ...(progress === undefined ? {} : { progress }) });
clients.destroy();
process.stdout.write(out.stdout);
process.stderr.write(out.stderr);
process.exitCode = out.code;
