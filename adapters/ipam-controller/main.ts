/** coil-ipam-controller entry point: parse flags, wire real dependencies (webhook included), run until SIGTERM/SIGINT. */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { createJsonLogger } from "../k8s/index.js";
import { formatKubeConfigError, loadApiConnection } from "../k8s/kubeconfig.js";
import { configOrExit } from "../common/flags.js";
import { IPAM_CONTROLLER, parseIpamControllerFlags } from "./flags.js";
import { runIpamController } from "./run.js";
import { makeStartIpamWebhook } from "./webhook-start.js";

const flags = configOrExit(IPAM_CONTROLLER, parseIpamControllerFlags(process.argv.slice(2)));
const log = createJsonLogger({ write: (l) => process.stderr.write(l), ...flags.log, name: "coil-ipam-controller" });
const loaded = loadApiConnection({ env: process.env, ...(flags.kubeconfig === undefined ? {} : { kubeconfig: flags.kubeconfig }) });
if (loaded.isErr()) {
  log.error("startup failed", { error: formatKubeConfigError(loaded.error) });
  process.exit(1);
}
const kc = loaded.value;
const running = await runIpamController(flags, { kc, log, identity: `${hostname()}_${randomUUID()}`, startWebhook: makeStartIpamWebhook() });
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
