/**
 * FakeKernel: the {@link Kernel} interface over the lib's pure state model (knftables `Fake`
 * style). It validates changesets with the same renderer as the real executor, applies ops one by
 * one with the model, reverts with the same inverse ops on failure, and can `dump()` its state.
 * Fault injection makes the N-th op of the next apply fail, to exercise rollback.
 */
import { err, errAsync, ok, okAsync, type Result, type ResultAsync } from "neverthrow";
import {
  applyChangeset as modelApply,
  EMPTY_NETNS_STATE,
  invertOp,
  netnsKey,
  type Changeset,
  type NetlinkOp,
  type NetnsRef,
  type NetnsState,
  type NftRuleset,
  type Route,
  type RouteQuery,
} from "../../lib/changeset/index.js";
import { isTransient, reasonOfErrno, reasonOfText } from "./failure.js";
import { groupOps } from "./ip-batch.js";
import type { AppliedOp, ApplyError, ApplyReport, FailedOp, Kernel, KernelFailureReason } from "./kernel.js";
import { routeInQuery, type NftQuery, type ObserveError, type ObserveOptions } from "./observer.js";
import type { NftListing } from "./parse-nft.js";
import { inverseRuns } from "./rollback.js";

/** Sysctls every new fake namespace starts with (the kernel defaults of a fresh netns). */
export const FAKE_SYSCTL_DEFAULTS: Readonly<Record<string, string>> = {
  "net.ipv4.ip_forward": "0",
  "net.ipv6.conf.all.forwarding": "0",
  "net.ipv4.conf.all.rp_filter": "0",
};

const LOOPBACK_STATE: NetnsState = {
  ...EMPTY_NETNS_STATE,
  links: [{ name: "lo", kind: "loopback", up: true, mtu: 65536, index: 1 }],
  sysctls: FAKE_SYSCTL_DEFAULTS,
};

/**
 * A fault to inject: the `op`-th (1-based) netlink op of the next apply fails with `stderr`. Its
 * reason is `errno`'s when given, else what the real kernel adapter reads from that text (so
 * `RTNETLINK answers: File exists` is `exists` here as there).
 */
export interface Fault {
  /** Which netlink op of the next apply fails (1-based, counted over all steps). */
  readonly op: number;
  /** What the failure prints (default `injected fault`). */
  readonly stderr?: string;
  /** The errno the kernel would return (`EEXIST`, `ENODEV`, …). */
  readonly errno?: string;
}

/** A model failure: its text, as the fake's `stderr`, and its classified reason. */
interface ModelFailure {
  readonly text: string;
  readonly reason: KernelFailureReason;
}

type States = Readonly<Record<string, NetnsState>>;

/** A namespace's ruleset before an nft transaction. */
interface NftSnapshot {
  readonly key: string;
  readonly ruleset: NftRuleset | undefined;
}

/** An in-memory kernel of several namespaces. */
export class FakeKernel implements Kernel {
  private states: States = {};
  private fault: Fault | undefined;

  /** Create namespace `ref` (default state: `lo` up, default sysctls). */
  addNetns(ref: NetnsRef, initial: NetnsState = LOOPBACK_STATE): void {
    this.states = { ...this.states, [netnsKey(ref)]: initial };
  }

  /** Delete namespace `ref` (its links go with it). */
  removeNetns(ref: NetnsRef): void {
    const { [netnsKey(ref)]: _gone, ...rest } = this.states;
    this.states = rest;
  }

  /** Make the `fault.op`-th netlink op of the next apply fail. */
  injectFault(fault: Fault): void {
    this.fault = fault;
  }

  /** Every namespace's modelled state, keyed by `host` or path (plain JSON). */
  dump(): States {
    return structuredClone(this.states);
  }

  /** Apply a changeset; same validation, failure and rollback contract as the real executor. */
  apply(cs: Changeset): ResultAsync<ApplyReport, ApplyError> {
    const fault = this.fault;
    this.fault = undefined;
    const invalid = this.validate(cs);
    if (invalid !== undefined) return errAsync(invalid);
    const applied: AppliedOp[] = [];
    const nftCommitted: NftSnapshot[] = [];
    let count = 0;
    for (const [si, step] of cs.steps.entries()) {
      for (const [oi, op0] of step.netlink.entries()) {
        count += 1;
        const op = this.withPrevious(step.netns, op0);
        const failedOp: FailedOp = { kind: "netlink", step: si, index: oi, op: op0 };
        if (fault !== undefined && fault.op === count) return errAsync(this.fail(failedOp, injected(fault), applied, nftCommitted));
        const r = this.applyOne({ steps: [{ netns: step.netns, netlink: [op], nft: [] }] });
        if (r.isErr()) return errAsync(this.fail(failedOp, r.error, applied, nftCommitted));
        applied.push({ step: si, netns: step.netns, op });
      }
      if (step.nft.length > 0) {
        const before: NftSnapshot = { key: netnsKey(step.netns), ruleset: this.states[netnsKey(step.netns)]?.nft };
        const r = this.applyOne({ steps: [{ netns: step.netns, netlink: [], nft: step.nft }] });
        if (r.isErr()) return errAsync(this.fail({ kind: "nft", step: si, commands: step.nft }, r.error, applied, nftCommitted));
        nftCommitted.push(before);
      }
    }
    const nft = cs.steps.reduce((n, s) => n + s.nft.length, 0);
    return okAsync({ steps: cs.steps.length, ops: applied.length, nftCommands: nft, processes: 0, durationMs: 0 });
  }

  /** The modelled state of `ref` without nft/FoU parts, with only the requested sysctls. */
  observe(ref: NetnsRef, opts: ObserveOptions = {}): ResultAsync<NetnsState, ObserveError> {
    const s = this.states[netnsKey(ref)];
    if (s === undefined) return errAsync(missingNetns(ref));
    const sysctls: Record<string, string> = {};
    for (const k of opts.sysctls ?? []) {
      const v = s.sysctls[k];
      if (v === undefined) {
        return errAsync({ kind: "command-failed", cause: { kind: "exit-nonzero", argv: ["sysctl", "-n", k], code: 255, signal: null, stdout: "", stderr: `sysctl: cannot stat /proc/sys/${k.replaceAll(".", "/")}: No such file or directory\n` } });
      }
      sysctls[k] = v;
    }
    return okAsync({ links: s.links, addrs: s.addrs, routes: s.routes, rules: s.rules, sysctls });
  }

  /** The modelled routes of one table (and protocol) of `ref`. */
  observeRoutes(ref: NetnsRef, query: RouteQuery): ResultAsync<readonly Route[], ObserveError> {
    const s = this.states[netnsKey(ref)];
    if (s === undefined) return errAsync(missingNetns(ref));
    return okAsync(s.routes.filter((r) => routeInQuery(r, query)));
  }

  /** The modelled ruleset (or one table) of `ref`, in the shape the real observer returns. */
  observeNft(ref: NetnsRef, query?: NftQuery): ResultAsync<NftListing, ObserveError> {
    const s = this.states[netnsKey(ref)];
    if (s === undefined) return errAsync(missingNetns(ref));
    return okAsync(listing(s.nft ?? { tables: [] }, query));
  }

  private validate(cs: Changeset): ApplyError | undefined {
    for (const [si, step] of cs.steps.entries()) {
      if (this.states[netnsKey(step.netns)] === undefined && step.netns.kind === "path") {
        return { kind: "invalid-changeset", step: si, index: -1, cause: { kind: "invalid-netns", path: step.netns.path, message: "no such namespace" }, retryable: false };
      }
      const g = groupOps(step.netlink, { netns: step.netns, hostNetnsPath: "/proc/1/ns/net" });
      if (g.isErr()) return { kind: "invalid-changeset", step: si, index: g.error.index, cause: g.error.cause, retryable: false };
    }
    return undefined;
  }

  private withPrevious(ref: NetnsRef, op: NetlinkOp): NetlinkOp {
    if (op.kind !== "sysctl.set" || op.previous !== undefined) return op;
    const prev = this.states[netnsKey(ref)]?.sysctls[op.key];
    return prev === undefined ? op : { ...op, previous: prev };
  }

  private applyOne(cs: Changeset): Result<void, ModelFailure> {
    const r = modelApply(this.states, cs);
    if (r.isErr()) {
      const cause = r.error.cause;
      return err({ text: JSON.stringify(cause), reason: cause.kind === "netns-not-found" ? "not-found" : reasonOfErrno(cause.errno) });
    }
    this.states = r.value;
    return ok(undefined);
  }

  private fail(failedOp: FailedOp, failure: ModelFailure, applied: readonly AppliedOp[], nftCommitted: readonly NftSnapshot[]): ApplyError {
    const { runs, missing } = inverseRuns(applied, invertOp);
    const problems = [...missing];
    for (const run of runs) {
      for (const op of run.ops) {
        const r = this.applyOne({ steps: [{ netns: run.netns, netlink: [op], nft: [] }] });
        if (r.isErr()) problems.push(`revert failed: ${r.error.text}`);
      }
    }
    // The real executor deletes exactly what each committed transaction created; here the
    // ruleset from before the transaction is put back (newest first, so the oldest wins).
    for (const snap of [...nftCommitted].reverse()) {
      const cur = this.states[snap.key];
      if (cur === undefined) continue;
      const { nft: _drop, ...rest } = cur;
      this.states = { ...this.states, [snap.key]: snap.ruleset === undefined ? rest : { ...rest, nft: snap.ruleset } };
    }
    const rolledBack = problems.length === 0;
    return {
      kind: "apply-failed",
      failedOp,
      reason: failure.reason,
      stderr: failure.text,
      applied: [...applied],
      rolledBack,
      rollbackProblems: problems,
      retryable: isTransient(failure.reason) && rolledBack,
    };
  }
}

function injected(f: Fault): ModelFailure {
  const text = f.stderr ?? "injected fault";
  return { text, reason: f.errno !== undefined ? reasonOfErrno(f.errno) : reasonOfText(text) };
}

function missingNetns(ref: NetnsRef): ObserveError {
  return { kind: "command-failed", cause: { kind: "invalid-netns", path: netnsKey(ref), message: "no such namespace" } };
}

function listing(rs: NftRuleset, query?: NftQuery): NftListing {
  const tables = rs.tables.filter((t) => query === undefined || (t.family === query.family && t.name === query.table));
  return {
    tables: tables.map((t) => ({ family: t.family, name: t.name })),
    chains: tables.flatMap((t) => t.chains.map((c) => c.def)),
    sets: tables.flatMap((t) => t.sets.map((s) => ({ family: t.family, table: t.name, name: s.name, type: s.type, ...(s.elem.length > 0 ? { elem: s.elem } : {}) }))),
    rules: tables.flatMap((t) => t.chains.flatMap((c) => c.rules)),
  };
}
