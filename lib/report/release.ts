/**
 * `coilctl ipam release --from-report`: reading the findings of a saved report, the order in
 * which they are released, and the re-check of each one against a fresh snapshot (so that
 * nothing that became live since the report is released).
 */
import { err, ok, type Result } from "neverthrow";
import { LEAK_CATEGORIES, type Finding, type LeakCategory, type LeakReport, type ReleaseAction } from "./check.js";
import type { ClusterSnapshot } from "./snapshot.js";

/** What to do with one reported finding now. */
export type Recheck = RecheckRelease | RecheckSkip | RecheckReportOnly;

/** Still the same finding: release it. */
export interface RecheckRelease {
  /** Discriminant. */
  readonly kind: "release";
}

/**
 * Not released: `gone` — the object or attachment no longer exists (nothing left to release);
 * `live` — it exists but is no longer a finding (a pod holds it now, a request was answered…);
 * `refused` — still a finding, but releasing it now is not safe or not possible.
 */
export interface RecheckSkip {
  /** Discriminant. */
  readonly kind: "gone" | "live" | "refused";
  /** Why, in words. */
  readonly reason: string;
}

/** The report names it for information only (no release action). */
export interface RecheckReportOnly {
  /** Discriminant. */
  readonly kind: "report-only";
}

/** Why a report file was refused. */
export interface ReportFileError {
  /** Discriminant. */
  readonly kind: "invalid-report";
  /** JSON path of the offending value. */
  readonly where: string;
  /** What is wrong. */
  readonly message: string;
}

type Obj = Readonly<Record<string, unknown>>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const bad = (where: string, message: string): ReportFileError => ({ kind: "invalid-report", where, message });
const isStr = (v: unknown): v is string => typeof v === "string";

function parseAction(v: unknown, w: string): Result<ReleaseAction | null, ReportFileError> {
  if (v === null) return ok(null);
  if (!isObj(v)) return err(bad(w, "not an object or null"));
  const need = (keys: readonly string[]): ReportFileError | undefined => {
    const missing = keys.find((k) => !isStr(v[k]) || v[k] === "");
    return missing === undefined ? undefined : bad(`${w}.${missing}`, "not a non-empty string");
  };
  switch (v["kind"]) {
    case "delete-block":
    case "delete-block-request": {
      const e = need(["name", "uid"]);
      return e === undefined ? ok({ kind: v["kind"], name: v["name"] as string, uid: v["uid"] as string }) : err(e);
    }
    case "free-address": {
      const e = need(["node", "containerId", "ifname"]);
      return e === undefined ? ok({ kind: "free-address", node: v["node"] as string, containerId: v["containerId"] as string, ifname: v["ifname"] as string }) : err(e);
    }
    default:
      return err(bad(`${w}.kind`, `unknown action ${JSON.stringify(v["kind"])}`));
  }
}

/** The findings of a decoded `coilctl ipam check -o json` report (its `findings` array). */
export function parseReportFindings(v: unknown): Result<Finding[], ReportFileError> {
  if (!isObj(v) || !Array.isArray(v["findings"])) return err(bad("$.findings", "not an array (is this a `coilctl ipam check -o json` report?)"));
  const out: Finding[] = [];
  for (const [i, f] of (v["findings"] as unknown[]).entries()) {
    const w = `$.findings[${i}]`;
    if (!isObj(f)) return err(bad(w, "not an object"));
    const category = f["category"];
    if (!LEAK_CATEGORIES.includes(category as LeakCategory)) return err(bad(`${w}.category`, `unknown category ${JSON.stringify(category)}`));
    if (!isStr(f["subject"])) return err(bad(`${w}.subject`, "not a string"));
    const addresses = Array.isArray(f["addresses"]) ? (f["addresses"] as unknown[]) : [];
    if (!addresses.every(isStr)) return err(bad(`${w}.addresses`, "not an array of strings"));
    const action = parseAction(f["action"] ?? null, `${w}.action`);
    if (action.isErr()) return err(action.error);
    out.push({
      category: category as LeakCategory,
      subject: f["subject"],
      node: isStr(f["node"]) ? f["node"] : null,
      pool: isStr(f["pool"]) ? f["pool"] : null,
      addresses: addresses,
      evidence: isStr(f["evidence"]) ? f["evidence"] : "",
      action: action.value,
    });
  }
  return ok(out);
}

const PHASE: Record<ReleaseAction["kind"], number> = { "free-address": 0, "delete-block-request": 1, "delete-block": 2 };

/**
 * The releasable findings in the order they are released: addresses first (a CNI DEL of a node's
 * last address in a block makes coild return the block itself), then BlockRequests, then blocks.
 */
export function releaseOrder(findings: readonly Finding[]): Finding[] {
  return findings.filter((f) => f.action !== null).sort((a, b) => PHASE[a.action?.kind ?? "delete-block"] - PHASE[b.action?.kind ?? "delete-block"]);
}

const sameAction = (a: ReleaseAction, b: ReleaseAction | null): boolean => {
  if (b === null || a.kind !== b.kind) return false;
  if (a.kind === "free-address" && b.kind === "free-address") return a.node === b.node && a.containerId === b.containerId && a.ifname === b.ifname;
  return a.kind !== "free-address" && b.kind !== "free-address" && a.name === b.name && a.uid === b.uid;
};

/**
 * Re-evaluate a reported finding against `fresh` (a snapshot taken now) and `freshReport`
 * ({@link checkLeaks} of it, with the same grace period). It is released only when the fresh report
 * has the same finding for the same object (same UID, or same node and attachment); a block still
 * holding coild addresses, or whose node's coild view cannot be read, is refused (deleting it would
 * let another node take a block this node still routes).
 */
export function recheckFinding(f: Finding, fresh: ClusterSnapshot, freshReport: LeakReport): Recheck {
  const a = f.action;
  if (a === null) return { kind: "report-only" };
  const same = freshReport.findings.find((x) => x.category === f.category && sameAction(a, x.action));
  switch (a.kind) {
    case "delete-block": {
      const b = fresh.blocks.find((x) => x.name === a.name);
      if (b === undefined) return { kind: "gone", reason: `AddressBlock ${a.name} no longer exists` };
      if (b.uid !== a.uid) return { kind: "gone", reason: `AddressBlock ${a.name} was deleted and created again (another UID)` };
      if (same === undefined) return { kind: "live", reason: `AddressBlock ${a.name} is no longer a ${f.category} finding` };
      if (f.category !== "block-without-pods" || b.node === undefined) return { kind: "release" };
      const v = fresh.views.find((x) => x.node === b.node);
      if (v === undefined || "error" in v) return { kind: "refused", reason: `coild's view of ${b.node} cannot be read${v === undefined ? "" : ` (${v.error})`}: it may still route the block` };
      const held = v.view.addresses.filter((x) => x.block === a.name).length;
      if (held > 0) return { kind: "refused", reason: `coild on ${b.node} still holds ${held} address(es) of it: release those (address-of-missing-pod) first` };
      return { kind: "release" };
    }
    case "delete-block-request": {
      const r = fresh.blockRequests.find((x) => x.name === a.name);
      if (r === undefined) return { kind: "gone", reason: `BlockRequest ${a.name} no longer exists` };
      if (r.uid !== a.uid) return { kind: "gone", reason: `BlockRequest ${a.name} was deleted and created again (another UID)` };
      return same === undefined ? { kind: "live", reason: `BlockRequest ${a.name} is no longer stale` } : { kind: "release" };
    }
    case "free-address": {
      const v = fresh.views.find((x) => x.node === a.node);
      if (v === undefined || "error" in v) return { kind: "refused", reason: `coild's view of ${a.node} cannot be read${v === undefined ? "" : ` (${v.error})`}` };
      const held = v.view.addresses.find((x) => x.containerId === a.containerId && x.ifname === a.ifname);
      if (held === undefined) return { kind: "gone", reason: `coild on ${a.node} no longer holds ${a.containerId}:${a.ifname}` };
      if (same !== undefined) return { kind: "release" };
      const waiting = freshReport.deferredNodes.find((d) => d.node === a.node);
      const ips = [held.ipv4, held.ipv6].filter((x) => x !== null).join(", ");
      return { kind: "live", reason: waiting === undefined ? `a live pod on ${a.node} now has ${ips}` : `pod ${waiting.pod} on ${a.node} is new and has no address yet: it may hold ${ips}` };
    }
  }
}
