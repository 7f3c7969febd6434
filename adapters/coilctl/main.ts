/** coilctl entry point: parse the command line, build the API clients, run one command, print, exit. */
import { configOrExit } from "../common/flags.js";
import { coilClient, formatKubeConfigError, loadKubeConfig, makeClients } from "../k8s/index.js";
import { COILCTL, parseCoilctlArgv } from "./flags.js";
import { EXIT, runCoilctl } from "./run.js";

const config = configOrExit(COILCTL, parseCoilctlArgv(process.argv.slice(2)));
const loaded = loadKubeConfig({ env: process.env, ...(config.kubeconfig === undefined ? {} : { kubeconfig: config.kubeconfig }) });
if (loaded.isErr()) {
  process.stderr.write(`coilctl: ${formatKubeConfigError(loaded.error)}\n`);
  process.exit(EXIT.incomplete);
}
const clients = makeClients(loaded.value);
const out = await runCoilctl(config, { core: clients.core, coil: coilClient(clients.custom), now: () => Date.now() });
clients.destroy();
process.stdout.write(out.stdout);
process.stderr.write(out.stderr);
process.exitCode = out.code;
