/** coil-egress entry point: parse env and flags, wire real dependencies, run until SIGTERM/SIGINT. */
import { createJsonLogger, formatKubeConfigError, loadKubeConfig } from "../k8s/index.js";
import { parseEgressFlags, usage } from "./flags.js";
import { runEgress } from "./run.js";

const flags = parseEgressFlags(process.argv.slice(2), process.env);
if (flags.isErr() || flags.value === "help") {
  process.stderr.write(flags.isErr() ? `coil-egress: ${flags.error.message}\n${usage()}` : usage());
  process.exit(flags.isErr() ? 2 : 0);
}
const log = createJsonLogger({ write: (l) => process.stderr.write(l), debug: flags.value.debug, base: { logger: "coil-egress" } });
const loaded = loadKubeConfig({ env: process.env, ...(flags.value.kubeconfig === undefined ? {} : { kubeconfig: flags.value.kubeconfig }) });
if (loaded.isErr()) {
  log.error("startup failed", { error: formatKubeConfigError(loaded.error) });
  process.exit(1);
}
const running = await runEgress(flags.value, { kc: loaded.value, log });
if (running.isErr()) {
  log.error("startup failed", { error: running.error.message });
  process.exit(1);
}
const stop = (): void => void running.value.close().then(() => process.exit(0));
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
