/** coil-router entry point: parse env and flags, wire real dependencies, run until SIGTERM/SIGINT. */
import { createJsonLogger, formatKubeConfigError, loadKubeConfig } from "../k8s/index.js";
import { configOrExit } from "../common/flags.js";
import { ROUTER, parseRouterFlags } from "./flags.js";
import { runRouter } from "./run.js";

const flags = configOrExit(ROUTER, parseRouterFlags(process.argv.slice(2), process.env));
const log = createJsonLogger({ write: (l) => process.stderr.write(l), ...flags.log, name: "coil-router" });
const loaded = loadKubeConfig({ env: process.env, ...(flags.kubeconfig === undefined ? {} : { kubeconfig: flags.kubeconfig }) });
if (loaded.isErr()) {
  log.error("startup failed", { error: formatKubeConfigError(loaded.error) });
  process.exit(1);
}
const kc = loaded.value;
const running = await runRouter(flags, { kc, log });
if (running.isErr()) {
  log.error("startup failed", { error: running.error.message });
  process.exit(1);
}
const stop = (): void => void running.value.close().then(() => process.exit(0));
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
