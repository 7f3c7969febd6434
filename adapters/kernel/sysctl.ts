/**
 * Sysctl reads and writes for the executor. In the executor's own namespace they go straight to
 * `/proc/sys/<path>` (no process: `/proc/sys/net` shows the namespace of the process that opens
 * it); in another namespace they run `sysctl` through `nsenter`.
 */
import { readFile, writeFile } from "node:fs/promises";
import { err, ok, ResultAsync, type Result } from "neverthrow";
import type { NetnsRef, SysctlWrite } from "../../lib/changeset/index.js";
import { runInNetns, type ExecError } from "./run.js";

/** Timeout options shared with {@link runInNetns}. */
export interface SysctlIoOptions {
  readonly timeoutMs?: number;
}

/** The error value of a failed `/proc/sys` access, in the executor's {@link ExecError} shape. */
function procError(path: string, e: unknown): ExecError {
  return { kind: "exit-nonzero", argv: [`/proc/sys/${path}`], code: null, signal: null, stdout: "", stderr: e instanceof Error ? e.message : String(e) };
}

async function procIo<T>(path: string, io: () => Promise<T>): Promise<Result<T, ExecError>> {
  try {
    return ok(await io());
  } catch (e) {
    return err(procError(path, e));
  }
}

/** Whether this ref is handled in-process (the executor's own namespace). */
const inProcess = (netns: NetnsRef): boolean => netns.kind === "host";

/** Read the current value of `write.path` (trailing newline removed). Returns the value and whether a process ran. */
export function readSysctl(netns: NetnsRef, write: SysctlWrite, opts: SysctlIoOptions = {}): ResultAsync<{ value: string; processes: number }, ExecError> {
  if (inProcess(netns)) {
    return new ResultAsync(procIo(write.path, () => readFile(`/proc/sys/${write.path}`, "utf8"))).map((v) => ({ value: v.replace(/\n$/, ""), processes: 0 }));
  }
  return runInNetns(netns, ["sysctl", "-n", "--", write.path], opts).map((o) => ({ value: o.stdout.replace(/\n$/, ""), processes: 1 }));
}

/** Write `write.value` to `write.path`. Returns how many processes ran (0 or 1). */
export function writeSysctl(netns: NetnsRef, write: SysctlWrite, opts: SysctlIoOptions = {}): ResultAsync<number, ExecError> {
  if (inProcess(netns)) return new ResultAsync(procIo(write.path, () => writeFile(`/proc/sys/${write.path}`, write.value))).map(() => 0);
  return runInNetns(netns, ["sysctl", "-q", "-w", "--", `${write.path}=${write.value}`], opts).map(() => 1);
}
