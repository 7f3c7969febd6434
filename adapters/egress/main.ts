/** coil-egress entry point: parse env and flags, wire real dependencies, run until SIGTERM/SIGINT. */
import { createJsonLogger, formatKubeConfigError, loadKubeConfig } from "../k8s/index.js";
import { configOrExit } from "../common/flags.js";
import { EGRESS, parseEgressFlags } from "./flags.js";
import { runEgress } from "./run.js";

const flags = configOrExit(EGRESS, parseEgressFlags(process.argv.slice(2), process.env));
const log = createJsonLogger({ write: (l) => process.stderr.write(l), ...flags.log, name: "coil-egress" });
const loaded = loadKubeConfig({ env: process.env, ...(flags.kubeconfig === undefined ? {} : { kubeconfig: flags.kubeconfig }) });
if (loaded.isErr()) {
  log.error("startup failed", { error: formatKubeConfigError(loaded.error) });
  process.exit(1);
}
const running = await runEgress(flags, { kc: loaded.value, log });
if (running.isErr()) {
  log.error("startup failed", { error: running.error.message });
  process.exit(1);
}
const stop = (): void => void running.value.close().then(() => process.exit(0));
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
