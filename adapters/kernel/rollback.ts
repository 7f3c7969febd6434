/**
 * The one rollback path: revert applied ops in reverse order with their inverses (lib
 * `invert`), grouped into `ip -force -batch -` runs per namespace so that one failed revert
 * does not stop the others. Problems are collected, never thrown.
 */
import type { Result } from "neverthrow";
import { invertOp, netnsKey, sameNetns, type InvertError, type NetlinkOp, type NetnsRef, type NftCommand } from "../../lib/changeset/index.js";
import { groupOps, ipBatchArgv } from "./ip-batch.js";
import type { AppliedOp } from "./kernel.js";
import { runInNetns } from "./run.js";
import { writeSysctl } from "./sysctl.js";

/** The ops that undo `op`, or why it cannot be undone (the lib's `invertOp`). */
export type InvertFn = (op: NetlinkOp) => Result<NetlinkOp[], InvertError>;

/** Options of {@link rollback}. */
export interface RollbackOptions {
  readonly hostNetnsPath: string;
  /** Default: the lib's `invertOp`. */
  readonly invert?: InvertFn;
  readonly timeoutMs?: number;
}

/** Outcome of a rollback: an empty `problems` list means everything was reverted. */
export interface RollbackResult {
  readonly reverted: number;
  readonly problems: readonly string[];
}

interface Run {
  readonly step: number;
  readonly netns: NetnsRef;
  readonly ops: NetlinkOp[];
}

/** A committed nft transaction of step `step` and the commands that undo it (see `nftUndo`). */
export interface NftRevert {
  readonly step: number;
  readonly netns: NetnsRef;
  /** Undefined when the undo could not be computed (the reason is in `problem`). */
  readonly commands: readonly NftCommand[] | undefined;
  readonly problem?: string;
}

/** `netnsKey/name` of every link that the applied ops created (both ends of a veth). */
function createdLinks(applied: readonly AppliedOp[]): Set<string> {
  const out = new Set<string>();
  for (const a of applied) {
    if (a.op.kind === "link.add-veth") out.add(`${netnsKey(a.op.peer.netns)}/${a.op.peer.name}`);
    if (a.op.kind.startsWith("link.add-")) out.add(`${netnsKey(a.netns)}/${(a.op as { name: string }).name}`);
  }
  return out;
}

/** The device an op acts on, when deleting that device undoes the op (attributes, addresses, routes through it). */
function opDevice(op: NetlinkOp): string | undefined {
  switch (op.kind) {
    case "link.set":
      return op.name;
    case "addr.add":
      return op.dev;
    case "route.add":
    case "route.replace":
      return op.route.dev;
    default:
      return undefined;
  }
}

/**
 * Inverse ops of `applied`, newest first, in runs of one namespace. Ops on a link that the same
 * apply created are not inverted one by one: deleting the link (its creation's inverse) undoes
 * them, as the kernel drops a link's addresses and routes with it.
 */
export function inverseRuns(applied: readonly AppliedOp[], invert: InvertFn = invertOp): { runs: Run[]; missing: string[] } {
  const created = createdLinks(applied);
  const runs: Run[] = [];
  const missing: string[] = [];
  for (const a of [...applied].reverse()) {
    const dev = opDevice(a.op);
    if (dev !== undefined && created.has(`${netnsKey(a.netns)}/${dev}`)) continue;
    const r = invert(a.op);
    if (r.isErr()) {
      missing.push(`no inverse for ${a.op.kind} (step ${a.step}): ${r.error.kind === "not-invertible" ? r.error.reason : r.error.kind}`);
      continue;
    }
    const last = runs.at(-1);
    if (last !== undefined && last.step === a.step && sameNetns(last.netns, a.netns)) last.ops.push(...r.value);
    else runs.push({ step: a.step, netns: a.netns, ops: [...r.value] });
  }
  return { runs, missing };
}

/**
 * Revert `applied` (oldest first, as recorded) and the committed nft transactions, newest step
 * first; inside a step the nft transaction is undone before the netlink ops (it ran after them).
 */
export async function rollback(applied: readonly AppliedOp[], opts: RollbackOptions, nft: readonly NftRevert[] = []): Promise<RollbackResult> {
  const { runs, missing } = inverseRuns(applied, opts.invert ?? invertOp);
  const problems = [...missing];
  let reverted = 0;
  const t = opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {};
  const steps = [...new Set([...runs.map((r) => r.step), ...nft.map((n) => n.step)])].sort((a, b) => b - a);
  for (const s of steps) {
    for (const n of nft.filter((x) => x.step === s)) {
      if (n.commands === undefined) problems.push(n.problem ?? `nft transaction of step ${s} was not reverted`);
      else if (n.commands.length > 0) {
        const res = await runInNetns(n.netns, ["nft", "-j", JSON.stringify({ nftables: n.commands })], t);
        if (res.isOk()) reverted += 1;
        else problems.push(`nft revert of step ${s} failed: ${res.error.kind === "exit-nonzero" ? res.error.stderr.trim() : res.error.kind}`);
      }
    }
    const r = await revertRuns(runs.filter((x) => x.step === s), opts, t);
    reverted += r.reverted;
    problems.push(...r.problems);
  }
  return { reverted, problems };
}

async function revertRuns(runs: readonly Run[], opts: RollbackOptions, t: { timeoutMs?: number }): Promise<RollbackResult> {
  const problems: string[] = [];
  let reverted = 0;
  for (const r of runs) {
    const groups = groupOps(r.ops, { netns: r.netns, hostNetnsPath: opts.hostNetnsPath });
    if (groups.isErr()) {
      problems.push(`cannot render inverse ${groups.error.op.kind}: ${JSON.stringify(groups.error.cause)}`);
      continue;
    }
    for (const g of groups.value) {
      const res =
        g.kind === "ip-batch"
          ? await runInNetns(r.netns, ipBatchArgv(g.family, { force: true }), { ...t, input: `${g.lines.join("\n")}\n` })
          : await writeSysctl(r.netns, g.write, t);
      if (res.isOk()) reverted += g.kind === "ip-batch" ? g.ops.length : 1;
      else problems.push(`revert failed: ${res.error.kind === "exit-nonzero" ? res.error.stderr.trim() : res.error.kind}`);
    }
  }
  return { reverted, problems };
}
