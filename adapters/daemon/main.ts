/** coild entry point: parse flags, wire real dependencies, run until SIGTERM/SIGINT. */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { statSync } from "node:fs";
import { realKernel } from "../kernel/real-kernel.js";
import { useSpawner } from "../kernel/run.js";
import { Spawner, spawnerPath } from "../kernel/spawner.js";
import { configOrExit } from "../common/flags.js";
import { COILD, parseCoildFlags } from "./flags.js";
import { detectHostMtu, detectNodeIps } from "./node/host-facts.js";
import { createLogger } from "./log.js";
import { NETNS_LOCK_NAME } from "./node-lock.js";
import { formatCoildStartError, startCoild } from "./run.js";

const flags = configOrExit(COILD, parseCoildFlags(process.argv.slice(2)));
const log = createLogger({ write: (l) => process.stderr.write(l), ...flags.log, name: "coild" });
const detectMtu = async (): Promise<number | undefined> => {
  const d = await detectHostMtu();
  if (d.mtu === undefined) log.warn("MTU detection failed; veths get the kernel default", { error: d.error });
  return d.mtu;
};
const isFile = (p: string): boolean => {
  try {
    return statSync(p, { throwIfNoEntry: false })?.isFile() === true;
  } catch {
    return false; // e.g. EACCES on a directory on the way: not usable
  }
};
const spawner = spawnerPath(flags.spawner, process.argv[1], isFile);
if (spawner !== undefined) {
  const s = new Spawner(spawner);
  // A spawner that cannot run a command would fail every pod: find out now (it runs itself).
  const probe = await s.run([spawner, "--version"], { timeoutMs: 10_000 });
  if (probe.isErr()) {
    log.error("startup failed", { error: `--spawner ${spawner}: ${JSON.stringify(probe.error)}`, reason: "spawner-unusable" });
    process.exit(1);
  }
  useSpawner(s);
}
const kernel = realKernel();
const deps = { env: process.env, hostname, kernel, log, randomHex: () => randomBytes(4).toString("hex"), detectNodeIps, detectMtu, netnsLockName: NETNS_LOCK_NAME };
const running = await startCoild(flags, deps);
if (running.isErr()) {
  log.error("startup failed", { error: formatCoildStartError(running.error), reason: running.error.kind });
  process.exit(1);
}
// After start-up: a failed start prints exactly one line.
log.info("commands start through", { spawner: spawner ?? "node" });
const stop = (): void => void running.value.close().then(() => process.exit(0));
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
