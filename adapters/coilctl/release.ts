/**
 * `coilctl ipam release --from-report FILE`: the findings of the report, in release order
 * (addresses, BlockRequests, blocks), each re-checked against a fresh snapshot taken before its
 * phase (lib/report's `recheckFinding`) and released only when it is still the same leak.
 * Addresses are freed by a CNI DEL on this node's coild socket (fast protocol), blocks and
 * BlockRequests deleted with their reported UID as a precondition.
 */
import { connect } from "node:net";
import { err, ok, type Result } from "neverthrow";
import { checkLeaks, recheckFinding, releaseOrder, type ClusterSnapshot, type Finding, type ReleaseAction } from "../../lib/report/index.js";
import { encodeLine, parseResponseLine } from "../common/fast-protocol.js";
import type { CoilClient } from "../k8s/index.js";
import { deleteBlock, deleteBlockRequest, type ReadError } from "./cluster.js";
import { NO_PROGRESS, type Progress } from "./progress.js";

/** What happened to one finding. */
export interface ReleaseItem {
  readonly category: Finding["category"];
  readonly subject: string;
  /** `released`, `gone` (nothing left), `skipped` (live now, or refused), `failed` (the release call failed), `report-only`. */
  readonly outcome: "released" | "gone" | "skipped" | "failed" | "report-only";
  /** Why (for every outcome but `released`). */
  readonly reason?: string;
}

/** Dependencies of {@link releaseFindings}. */
export interface ReleaseDeps {
  readonly coil: CoilClient;
  /** A fresh snapshot. */
  readonly snapshot: () => Promise<Result<ClusterSnapshot, ReadError>>;
  /** "now", ms. */
  readonly now: () => number;
  /** The grace period of the re-check (the report's). */
  readonly gracePeriodMs: number;
  /** The node coilctl runs on (`--node`): only its addresses can be freed. */
  readonly localNode: string | undefined;
  /** coild's socket on this node. */
  readonly socket: string;
  /** Progress of each phase (`releasing addresses: 3/10`); default none. */
  readonly progress?: Progress;
}

/** The progress phase of each release action. */
const PHASE: Readonly<Record<ReleaseAction["kind"], string>> = {
  "free-address": "releasing addresses",
  "delete-block-request": "releasing BlockRequests",
  "delete-block": "releasing AddressBlocks",
};

/** A CNI DEL of `containerId:ifname` on coild's socket (netns unknown: empty, as CNI allows for DEL). */
export function cniDel(socket: string, containerId: string, ifname: string, timeoutMs = 30_000): Promise<Result<void, string>> {
  const line = encodeLine({ v: 1, method: "Del", args: { containerId, netns: "", ifname, args: {}, path: "", stdinData: "", ips: [], interfaces: {} } });
  return new Promise((resolve) => {
    const s = connect(socket);
    let out = "";
    const done = (r: Result<void, string>): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done(err(`no answer from ${socket} within ${timeoutMs} ms`)), timeoutMs);
    s.on("data", (b: Buffer) => (out += b.toString()));
    s.on("end", () => {
      const r = parseResponseLine(out.trim());
      if ("kind" in r) return done(err(`coild's answer on ${socket} is not a fast-protocol line (${r.reason})`));
      if (r.ok) return done(ok(undefined));
      done(err(r.error === undefined ? (r.message ?? `gRPC code ${r.grpcCode}`) : `CNI error ${r.error.code}: ${r.error.msg}${r.error.details === "" ? "" : ` (${r.error.details})`}`));
    });
    s.on("error", (e) => done(err(`${socket}: ${e.message}`)));
    s.write(line);
  });
}

async function act(d: ReleaseDeps, a: ReleaseAction): Promise<{ outcome: ReleaseItem["outcome"]; reason?: string }> {
  switch (a.kind) {
    case "free-address": {
      const r = await cniDel(d.socket, a.containerId, a.ifname);
      return r.isOk() ? { outcome: "released" } : { outcome: "failed", reason: `CNI DEL: ${r.error}` };
    }
    case "delete-block":
    case "delete-block-request": {
      const r = a.kind === "delete-block" ? await deleteBlock(d.coil, a.name, a.uid) : await deleteBlockRequest(d.coil, a.name, a.uid);
      if (r.isErr()) return { outcome: "failed", reason: r.error.message };
      if (r.value === "deleted") return { outcome: "released" };
      return { outcome: "gone", reason: r.value === "gone" ? "deleted meanwhile" : "the name belongs to another object now (another UID)" };
    }
  }
}

/** Release what `findings` name (see the module comment); fails only when a snapshot cannot be taken. */
export async function releaseFindings(d: ReleaseDeps, findings: readonly Finding[]): Promise<Result<ReleaseItem[], ReadError>> {
  const items: ReleaseItem[] = findings.filter((f) => f.action === null).map((f) => ({ category: f.category, subject: f.subject, outcome: "report-only" as const, reason: "report only: nothing to release" }));
  let phase: string | undefined;
  let fresh: ClusterSnapshot | undefined;
  let report: ReturnType<typeof checkLeaks> | undefined;
  const progress = d.progress ?? NO_PROGRESS;
  const total = new Map<string, number>();
  const done = new Map<string, number>();
  for (const f of findings) if (f.action !== null) total.set(f.action.kind, (total.get(f.action.kind) ?? 0) + 1);
  const step = (kind: ReleaseAction["kind"]): void => {
    const n = (done.get(kind) ?? 0) + 1;
    done.set(kind, n);
    progress.update(PHASE[kind], n, total.get(kind));
    if (n === total.get(kind)) progress.end(PHASE[kind]);
  };
  for (const f of releaseOrder(findings)) {
    const a = f.action;
    if (a === null) continue;
    const item = (outcome: ReleaseItem["outcome"], reason?: string): ReleaseItem => {
      step(a.kind);
      return { category: f.category, subject: f.subject, outcome, ...(reason === undefined ? {} : { reason }) };
    };
    if (a.kind === "free-address" && a.node !== d.localNode) {
      items.push(item("skipped", `on node ${a.node}: run the release there, with --node ${a.node} (addresses are freed through that node's coild socket)`));
      continue;
    }
    if (phase !== a.kind || fresh === undefined || report === undefined) {
      const s = await d.snapshot();
      if (s.isErr()) return err(s.error);
      fresh = s.value;
      phase = a.kind;
      // One check per fresh snapshot (not per item: a phase of thousands of items would re-check the whole cluster each time).
      report = checkLeaks(fresh, { nowMs: d.now(), gracePeriodMs: d.gracePeriodMs });
    }
    if (report.isErr()) {
      items.push(item("failed", `${report.error.where}: ${report.error.message}`));
      continue;
    }
    const r = recheckFinding(f, fresh, report.value);
    if (r.kind === "report-only") continue;
    if (r.kind === "gone") items.push(item("gone", r.reason));
    else if (r.kind === "live" || r.kind === "refused") items.push(item("skipped", r.reason));
    else {
      const acted = await act(d, a);
      items.push(item(acted.outcome, acted.reason));
    }
  }
  return ok(items);
}
