/** coild entry point: parse flags, wire real dependencies, run until SIGTERM/SIGINT. */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { realKernel } from "../kernel/real-kernel.js";
import { parseCoildFlags, usage } from "./flags.js";
import { detectHostMtu, detectNodeIps } from "./node/host-facts.js";
import { createLogger } from "./log.js";
import { NETNS_LOCK_NAME } from "./node-lock.js";
import { formatCoildStartError, runCoild } from "./run.js";

const flags = parseCoildFlags(process.argv.slice(2));
if (flags.isErr() || flags.value === "help") {
  process.stderr.write(flags.isErr() ? `coild: ${flags.error.message}\n${usage()}` : usage());
  process.exit(flags.isErr() ? 2 : 0);
}
const log = createLogger({ write: (l) => process.stderr.write(l), debug: flags.value.debug });
const detectMtu = async (): Promise<number | undefined> => {
  const d = await detectHostMtu();
  if (d.mtu === undefined) log.warn("MTU detection failed; veths get the kernel default", { error: d.error });
  return d.mtu;
};
const kernel = realKernel();
const deps = { env: process.env, hostname, kernel, log, randomHex: () => randomBytes(4).toString("hex"), detectNodeIps, detectMtu, netnsLockName: NETNS_LOCK_NAME };
const running = await runCoild(flags.value, deps);
if (running.isErr()) {
  log.error("startup failed", { error: formatCoildStartError(running.error), reason: running.error.kind });
  process.exit(1);
}
const stop = (): void => void running.value.close().then(() => process.exit(0));
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
