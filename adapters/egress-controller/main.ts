/** coil-egress-controller entry point: parse flags, wire real dependencies (webhook included), run until SIGTERM/SIGINT. */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { createJsonLogger, formatKubeConfigError, loadKubeConfig } from "../k8s/index.js";
import { configOrExit } from "../common/flags.js";
import { EGRESS_CONTROLLER, parseEgressControllerFlags } from "./flags.js";
import { runEgressController } from "./run.js";
import { makeStartEgressWebhook } from "./webhook-start.js";

const flags = configOrExit(EGRESS_CONTROLLER, parseEgressControllerFlags(process.argv.slice(2)));
const log = createJsonLogger({ write: (l) => process.stderr.write(l), ...flags.log, name: "coil-egress-controller" });
const loaded = loadKubeConfig({ env: process.env, ...(flags.kubeconfig === undefined ? {} : { kubeconfig: flags.kubeconfig }) });
if (loaded.isErr()) {
  log.error("startup failed", { error: formatKubeConfigError(loaded.error) });
  process.exit(1);
}
const running = await runEgressController(flags, {
  kc: loaded.value,
  log,
  identity: `${hostname()}_${randomUUID()}`,
  env: process.env,
  startWebhook: makeStartEgressWebhook(),
});
if (running.isErr()) {
  log.error("startup failed", { error: running.error.message });
  process.exit(1);
}
const stop = (): void => void running.value.close().then(() => process.exit(0));
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
void running.value.done.then((exit) => {
  if (exit === "leader-lost") process.exit(1);
});
