/**
 * The real executor: applies a {@link Changeset} to the kernel. Every op is rendered and
 * validated before anything runs; then, step by step, netlink ops go through `ip -batch -` (one
 * process per run of same-family lines, in op order), sysctls through `/proc/sys` in the
 * executor's own namespace (`sysctl -w` elsewhere), and the step's nft commands as ONE
 * `nft -j '<json>'` transaction. Namespaces are entered by spawning through `nsenter --net=<path>`.
 * A step that only creates veths peered into the next step's namespace runs inside that step's
 * batch (see fuse.ts), so a pod set-up costs two `ip` processes — one with an {@link IpSession}
 * (the host lines go to the long-lived co-process). On failure, everything applied is reverted in reverse order;
 * an nft transaction followed by later steps is bracketed by two `nft -j list ruleset` so that
 * exactly the objects it created can be deleted (see `nftUndo`).
 */
import { performance } from "node:perf_hooks";
import { err, ok, Result, ResultAsync } from "neverthrow";
import type { Changeset, NetlinkOp, NetnsRef, NftCommand } from "../../lib/changeset/index.js";
import { failedBatchLine, groupOps, ipBatchArgv, type OpGroup } from "./ip-batch.js";
import type { AppliedOp, ApplyError, ApplyReport, FailedOp } from "./kernel.js";
import { isTransient, reasonOfExecError } from "./failure.js";
import { fuseGroups, isVethStepTo } from "./fuse.js";
import type { IpSession } from "./ip-session.js";
import { nftUndo } from "./nft-undo.js";
import { observeNft, type ObserveError } from "./observer.js";
import type { NftListing } from "./parse-nft.js";
import { rollback, type InvertFn, type NftRevert } from "./rollback.js";
import { runInNetns, validateNetnsPath, type ExecError } from "./run.js";
import { readSysctl, writeSysctl } from "./sysctl.js";

/** Options of {@link applyChangeset}. */
export interface ExecutorOptions {
  /** A path naming the executor's own namespace from inside others (veth peers sent to the host). Default `/proc/<pid>/ns/net`. */
  readonly hostNetnsPath?: string;
  /** Per-process timeout in milliseconds. Default 30 000. */
  readonly timeoutMs?: number;
  /** Inverse of an op, for rollback. Default: the lib's `invert`. */
  readonly invert?: InvertFn;
  /** Run the executor's own-namespace `ip -batch` lines (no family flag) through this co-process instead of a new process each. */
  readonly ipSession?: IpSession;
}

/** Largest nft JSON passed as one argument (the kernel's MAX_ARG_STRLEN is 128 KiB). */
export const NFT_ARG_MAX = 128 * 1024 - 1;

/** A validated step, ready to run: its op groups and its nft transaction as JSON text. */
export interface PlannedStep {
  readonly index: number;
  readonly netns: NetnsRef;
  readonly groups: readonly OpGroup[];
  readonly nft: readonly NftCommand[];
  readonly nftJson: string | undefined;
  /** The step's netlink ops as planned. */
  readonly ops: readonly NetlinkOp[];
}

type Invalid = Extract<ApplyError, { kind: "invalid-changeset" }>;

function planStep(index: number, s: Changeset["steps"][number], hostNetnsPath: string): Result<PlannedStep, Invalid> {
  if (s.netns.kind === "path") {
    const p = validateNetnsPath(s.netns.path);
    if (p.isErr() && p.error.kind === "invalid-netns") {
      return err({ kind: "invalid-changeset", step: index, index: -1, cause: p.error, retryable: false });
    }
  }
  const groups = groupOps(s.netlink, { netns: s.netns, hostNetnsPath });
  if (groups.isErr()) return err({ kind: "invalid-changeset", step: index, index: groups.error.index, cause: groups.error.cause, retryable: false });
  const nftJson = s.nft.length > 0 ? JSON.stringify({ nftables: s.nft }) : undefined;
  if (nftJson !== undefined && Buffer.byteLength(nftJson) > NFT_ARG_MAX) {
    return err({ kind: "invalid-changeset", step: index, index: -1, cause: { kind: "nft-too-large", bytes: Buffer.byteLength(nftJson) }, retryable: false });
  }
  return ok({ index, netns: s.netns, groups: groups.value, nft: s.nft, nftJson, ops: s.netlink });
}

/**
 * Fuse a pod step that only creates veths peered into the next step's namespace into that step
 * (see fuse.ts): one `ip -batch` process instead of two.
 */
export function fuseSteps(steps: readonly PlannedStep[], hostNetnsPath: string): Result<PlannedStep[], Invalid> {
  const out: PlannedStep[] = [];
  for (let i = 0; i < steps.length; i++) {
    const a = steps[i];
    const b = steps[i + 1];
    if (a === undefined) continue;
    if (b === undefined || !isVethStepTo(a, b.netns)) {
      out.push(a);
      continue;
    }
    const fused = fuseGroups(a, b, hostNetnsPath);
    if (fused.isErr()) return err({ kind: "invalid-changeset", step: a.index, index: fused.error.index, cause: fused.error.cause, retryable: false });
    out.push({ ...b, groups: fused.value });
    i += 1;
  }
  return ok(out);
}

/** Render and validate every step (then fuse where possible, see {@link fuseSteps}); nothing runs when this fails. */
export function planChangeset(cs: Changeset, hostNetnsPath: string): Result<PlannedStep[], Invalid> {
  return Result.combine(cs.steps.map((s, i) => planStep(i, s, hostNetnsPath))).andThen((steps) => fuseSteps(steps, hostNetnsPath));
}

interface Failure {
  readonly failedOp: FailedOp;
  readonly cause: ExecError;
}

interface RunState {
  readonly applied: AppliedOp[];
  /** Committed nft transactions and how to undo them. */
  readonly nftReverts: NftRevert[];
  readonly lastStep: number;
  processes: number;
  readonly timeoutMs: number | undefined;
  readonly session: IpSession | undefined;
}

function stderrOf(e: ExecError): string {
  switch (e.kind) {
    case "exit-nonzero":
    case "timeout":
      return e.stderr;
    case "spawn-failed":
    case "invalid-netns":
      return e.message;
  }
}

function run(st: RunState, netns: NetnsRef, argv: readonly string[], input?: string) {
  st.processes += 1;
  return runInNetns(netns, argv, {
    ...(input !== undefined ? { input } : {}),
    ...(st.timeoutMs !== undefined ? { timeoutMs: st.timeoutMs } : {}),
  });
}

async function runBatch(st: RunState, step: PlannedStep, g: Extract<OpGroup, { kind: "ip-batch" }>): Promise<Failure | undefined> {
  const r =
    st.session !== undefined && step.netns.kind === "host" && g.family === null
      ? await st.session.run(g.lines, st.timeoutMs !== undefined ? { timeoutMs: st.timeoutMs } : {})
      : await run(st, step.netns, ipBatchArgv(g.family), `${g.lines.join("\n")}\n`);
  const record = (o: (typeof g.ops)[number]): number => st.applied.push({ step: o.origin?.step ?? step.index, netns: o.origin?.netns ?? step.netns, op: o.op });
  if (r.isOk()) {
    g.ops.forEach(record);
    return undefined;
  }
  // `ip -batch` stops at the first failing line and names it; lines before it were applied.
  const line = r.error.kind === "exit-nonzero" ? failedBatchLine(r.error.stderr) : undefined;
  const failedAt = line !== undefined && line >= 1 && line <= g.ops.length ? line - 1 : 0;
  g.ops.slice(0, failedAt).forEach(record);
  const failed = g.ops[failedAt] ?? g.ops[0];
  if (failed === undefined) return undefined;
  return { failedOp: { kind: "netlink", step: failed.origin?.step ?? step.index, index: failed.index, op: failed.op }, cause: r.error };
}

async function runSysctl(st: RunState, step: PlannedStep, g: Extract<OpGroup, { kind: "sysctl" }>): Promise<Failure | undefined> {
  const failedOp: FailedOp = { kind: "netlink", step: step.index, index: g.op.index, op: g.op.op };
  let op: NetlinkOp = g.op.op;
  const t = st.timeoutMs !== undefined ? { timeoutMs: st.timeoutMs } : {};
  if (op.kind === "sysctl.set" && op.previous === undefined) {
    // Read the value first so that the write can be reverted.
    const prev = await readSysctl(step.netns, g.write, t);
    if (prev.isErr()) return { failedOp, cause: prev.error };
    st.processes += prev.value.processes;
    op = { ...op, previous: prev.value.value };
  }
  const w = await writeSysctl(step.netns, g.write, t);
  if (w.isErr()) return { failedOp, cause: w.error };
  st.processes += w.value;
  st.applied.push({ step: step.index, netns: step.netns, op });
  return undefined;
}

async function runStep(st: RunState, step: PlannedStep): Promise<Failure | undefined> {
  for (const g of step.groups) {
    const f = g.kind === "ip-batch" ? await runBatch(st, step, g) : await runSysctl(st, step, g);
    if (f !== undefined) return f;
  }
  if (step.nftJson === undefined) return undefined;
  // A later step may fail: list the ruleset around the commit to know what to delete then.
  const later = step.index < st.lastStep;
  const before = later ? await listNft(st, step.netns) : undefined;
  const r = await run(st, step.netns, ["nft", "-j", step.nftJson]);
  if (r.isErr()) return { failedOp: { kind: "nft", step: step.index, commands: step.nft }, cause: r.error };
  if (before !== undefined) st.nftReverts.push(revertFor(step, before, await listNft(st, step.netns)));
  return undefined;
}

async function listNft(st: RunState, netns: NetnsRef): Promise<Result<NftListing, ObserveError>> {
  st.processes += 1;
  return observeNft(netns);
}

function revertFor(step: PlannedStep, before: Result<NftListing, ObserveError>, after: Result<NftListing, ObserveError>): NftRevert {
  if (before.isErr() || after.isErr()) {
    const e = before.isErr() ? before.error : after.isErr() ? after.error : undefined;
    return { step: step.index, netns: step.netns, commands: undefined, problem: `nft transaction of step ${step.index} cannot be reverted: ${JSON.stringify(e)}` };
  }
  const undo = nftUndo(before.value, after.value);
  const lost = undo.lost.map((l) => `nft step ${step.index} removed ${l}, which a rollback cannot restore`);
  return { step: step.index, netns: step.netns, commands: undo.commands, ...(lost.length > 0 ? { problem: lost.join("; ") } : {}) };
}

async function applyPlanned(steps: readonly PlannedStep[], opts: ExecutorOptions): Promise<Result<ApplyReport, ApplyError>> {
  const started = performance.now();
  const st: RunState = { applied: [], nftReverts: [], lastStep: steps.at(-1)?.index ?? -1, processes: 0, timeoutMs: opts.timeoutMs, session: opts.ipSession };
  for (const step of steps) {
    const f = await runStep(st, step);
    if (f === undefined) continue;
    const rb = await rollback(
      st.applied,
      {
        hostNetnsPath: opts.hostNetnsPath ?? defaultHostNetnsPath(),
        ...(opts.invert !== undefined ? { invert: opts.invert } : {}),
        ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      },
      st.nftReverts,
    );
    const problems = [...rb.problems, ...st.nftReverts.flatMap((n) => (n.commands !== undefined && n.problem !== undefined ? [n.problem] : []))];
    const reason = reasonOfExecError(f.cause);
    return err({
      kind: "apply-failed",
      failedOp: f.failedOp,
      reason,
      stderr: stderrOf(f.cause),
      applied: [...st.applied],
      rolledBack: problems.length === 0,
      rollbackProblems: problems,
      retryable: isTransient(reason) && problems.length === 0,
    });
  }
  return ok({
    steps: steps.length,
    ops: st.applied.length,
    nftCommands: steps.reduce((n, s) => n + s.nft.length, 0),
    processes: st.processes,
    durationMs: performance.now() - started,
  });
}

/** The executor's own namespace as a path other processes can open. */
export function defaultHostNetnsPath(): string {
  return `/proc/${process.pid}/ns/net`;
}

/**
 * Apply a changeset to the kernel. Invalid changesets are refused before anything runs
 * (`invalid-changeset`); a failing op reverts every op applied before it, in reverse order, and
 * returns `apply-failed` with the failing op, the classified reason, its stderr and what was applied.
 */
export function applyChangeset(cs: Changeset, opts: ExecutorOptions = {}): ResultAsync<ApplyReport, ApplyError> {
  const planned = planChangeset(cs, opts.hostNetnsPath ?? defaultHostNetnsPath());
  if (planned.isErr()) return new ResultAsync(Promise.resolve(err(planned.error)));
  return new ResultAsync(applyPlanned(planned.value, opts));
}
