/** coil-ipam-controller entry point: parse flags, wire real dependencies (webhook included), run until SIGTERM/SIGINT. */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { createJsonLogger, formatKubeConfigError, loadKubeConfig } from "../k8s/index.js";
import { parseIpamControllerFlags, usage } from "./flags.js";
import { runIpamController } from "./run.js";
import { makeStartIpamWebhook } from "./webhook-start.js";

const flags = parseIpamControllerFlags(process.argv.slice(2));
if (flags.isErr() || flags.value === "help") {
  process.stderr.write(flags.isErr() ? `coil-ipam-controller: ${flags.error.message}\n${usage()}` : usage());
  process.exit(flags.isErr() ? 2 : 0);
}
const log = createJsonLogger({ write: (l) => process.stderr.write(l), debug: flags.value.debug, base: { logger: "coil-ipam-controller" } });
const loaded = loadKubeConfig({ env: process.env, ...(flags.value.kubeconfig === undefined ? {} : { kubeconfig: flags.value.kubeconfig }) });
if (loaded.isErr()) {
  log.error("startup failed", { error: formatKubeConfigError(loaded.error) });
  process.exit(1);
}
const kc = loaded.value;
const running = await runIpamController(flags.value, { kc, log, identity: `${hostname()}_${randomUUID()}`, startWebhook: makeStartIpamWebhook() });
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
