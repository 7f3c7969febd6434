/**
 * coilctl's commands over injected dependencies: each takes the configuration and answers what to
 * print and the exit code (main.ts prints and exits). Tables are aligned columns; `-o json` is the
 * same data as JSON (`ipam check -o json` is the report file `ipam release` reads).
 */
import { readFile } from "node:fs/promises";
import { checkLeaks, addressRows, blockRows, parseReportFindings, utilisation, type ClusterSnapshot, type LeakReport } from "../../lib/report/index.js";
import type { CoilClient } from "../k8s/index.js";
import type { CoreV1Api } from "@kubernetes/client-node";
import type { CoilctlConfig } from "./flags.js";
import { API_ONLY_REASON, readSnapshot, type ReadError } from "./cluster.js";
import { completionScript } from "./completion.js";
import { NO_PROGRESS, type Progress } from "./progress.js";
import { releaseFindings, type ReleaseItem } from "./release.js";

/** Exit codes. */
export const EXIT = {
  /** Done; `ipam check`: nothing leaks; `ipam release`: every item released or gone. */
  ok: 0,
  /** `ipam check`: something leaks; `ipam release`: some item not released. */
  leaks: 1,
  /** A node's coild view could not be read (and nothing leaks), or an API read failed, or the report file is unusable. */
  incomplete: 3,
} as const;

/** What to print and the exit code. */
export interface CommandOutcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Everything coilctl touches. */
export interface CoilctlDeps {
  readonly core: CoreV1Api;
  readonly coil: CoilClient;
  /** The clock, ms since the epoch. */
  readonly now: () => number;
  /** Progress of the long phases (stderr); default none. */
  readonly progress?: Progress;
}

/** Aligned columns; `-` for null. */
export function table(headers: readonly string[], rows: readonly (readonly (string | number | null)[])[]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === null ? "-" : String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  return `${cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ")).join("\n")}\n`;
}

const json = (v: unknown): string => `${JSON.stringify(v, null, 2)}\n`;
const readFailed = (e: ReadError): CommandOutcome => ({ code: EXIT.incomplete, stdout: "", stderr: `coilctl: ${e.what}: ${e.cause.message}\n` });

/** One note for `--api-only` (instead of a warning per node). */
const apiOnlyNote = (nodes: number): string => `coilctl: note: --api-only: no node's coild view was read (${nodes} node(s)); coild's address counts are unknown\n`;

/** The `uncheckedNodes` warning lines (stderr). */
function uncheckedText(c: CoilctlConfig, s: ClusterSnapshot): string {
  if (c.apiOnly) return apiOnlyNote(s.views.length);
  return s.views.flatMap((v) => ("error" in v ? [`coilctl: warning: node ${v.node}: ${v.error}\n`] : [])).join("");
}

function pools(c: CoilctlConfig, s: ClusterSnapshot): CommandOutcome {
  const u = utilisation(s);
  if (u.isErr()) return { code: EXIT.incomplete, stdout: "", stderr: `coilctl: ${u.error.where}: ${u.error.message}\n` };
  if (c.output === "json") return { code: EXIT.ok, stdout: json(u.value), stderr: uncheckedText(c, s) };
  const p = table(
    ["POOL", "BLOCK SIZE", "BLOCKS USED", "BLOCKS FREE", "ADDRESSES USED", "FREE IN BLOCKS", "UNASSIGNED"],
    u.value.pools.map((x) => [x.pool, x.blockSize, x.blocksUsed, x.blocksFree, x.addressesUsed, x.addressesFreeInBlocks, x.addressesUnassigned]),
  );
  const n = table(["NODE", "POOL", "BLOCKS", "ADDRESSES USED"], u.value.nodes.map((x) => [x.node === "" ? "(no node label)" : x.node, x.pool, x.blocks, x.addressesUsed]));
  return { code: EXIT.ok, stdout: `${p}\n${n}`, stderr: uncheckedText(c, s) };
}

function blocks(c: CoilctlConfig, s: ClusterSnapshot): CommandOutcome {
  const rows = blockRows(s, c.node);
  if (c.output === "json") return { code: EXIT.ok, stdout: json(rows), stderr: uncheckedText(c, s) };
  return { code: EXIT.ok, stdout: table(["NODE", "POOL", "BLOCK", "IPV4", "IPV6", "USED", "SIZE"], rows.map((b) => [b.node, b.pool, b.name, b.ipv4, b.ipv6, b.used, b.size])), stderr: uncheckedText(c, s) };
}

function addresses(c: CoilctlConfig, s: ClusterSnapshot): CommandOutcome {
  const rows = addressRows(s, c.node);
  if (c.output === "json") return { code: EXIT.ok, stdout: json(rows), stderr: uncheckedText(c, s) };
  return {
    code: EXIT.ok,
    stdout: table(
      ["NODE", "POOL", "BLOCK", "IPV4", "IPV6", "CONTAINER", "IFNAME", "HOST VETH", "POD", "COILD POD"],
      rows.map((a) => [a.node, a.pool, a.block, a.ipv4, a.ipv6, a.containerId, a.ifname, a.hostVeth, a.pod, a.coildPod]),
    ),
    stderr: uncheckedText(c, s),
  };
}

/** The JSON report of `ipam check -o json` (what `ipam release --from-report` reads). */
export function reportJson(r: LeakReport): unknown {
  return { checkedAt: new Date(r.checkedAtMs).toISOString(), ...r };
}

function check(c: CoilctlConfig, s: ClusterSnapshot, now: number): CommandOutcome {
  const r = checkLeaks(s, { nowMs: now, gracePeriodMs: c.gracePeriodMs });
  if (r.isErr()) return { code: EXIT.incomplete, stdout: "", stderr: `coilctl: ${r.error.where}: ${r.error.message}\n` };
  const rep = r.value;
  const code = rep.findings.length > 0 ? EXIT.leaks : rep.uncheckedNodes.length > 0 ? EXIT.incomplete : EXIT.ok;
  const apiOnly = c.apiOnly && rep.uncheckedNodes.every((u) => u.error === API_ONLY_REASON);
  const warnings = [
    ...(apiOnly
      ? [`coilctl: note: --api-only: no node's coild view was read, so coild's addresses were not checked on any of ${rep.uncheckedNodes.length} node(s) (uncheckedNodes)\n`]
      : rep.uncheckedNodes.map((u) => `coilctl: warning: node ${u.node} not checked for leaked addresses: ${u.error}\n`)),
    ...rep.deferredNodes.map((d) => `coilctl: note: node ${d.node} not judged: new pod ${d.pod} has no address yet (run again later)\n`),
  ].join("");
  if (c.output === "json") return { code, stdout: json(reportJson(rep)), stderr: warnings };
  const rows = rep.findings.map((f) => [f.category, f.subject, f.node, f.addresses.join(",") || null, f.action === null ? "report only" : f.action.kind, f.evidence]);
  const counts = Object.entries(rep.counts).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(", ");
  const summary = rep.findings.length === 0 ? "no leak found\n" : `${rep.findings.length} finding(s): ${counts}\n`;
  return { code, stdout: `${rows.length > 0 ? `${table(["CATEGORY", "SUBJECT", "NODE", "ADDRESSES", "RELEASE", "EVIDENCE"], rows)}\n` : ""}${summary}`, stderr: warnings };
}

async function release(c: CoilctlConfig, d: CoilctlDeps, snapshot: () => Promise<Awaited<ReturnType<typeof readSnapshot>>>): Promise<CommandOutcome> {
  const path = c.fromReport ?? "";
  let decoded: unknown;
  try {
    decoded = JSON.parse(await readFile(path, "utf8"));
  } catch (e) {
    return { code: EXIT.incomplete, stdout: "", stderr: `coilctl: --from-report ${path}: ${e instanceof Error ? e.message : String(e)}\n` };
  }
  const findings = parseReportFindings(decoded);
  if (findings.isErr()) return { code: EXIT.incomplete, stdout: "", stderr: `coilctl: --from-report ${path}: ${findings.error.where}: ${findings.error.message}\n` };
  const grace = (decoded as { gracePeriodMs?: unknown }).gracePeriodMs;
  const items = await releaseFindings(
    {
      coil: d.coil,
      snapshot,
      now: d.now,
      gracePeriodMs: typeof grace === "number" && grace >= 0 ? grace : c.gracePeriodMs,
      localNode: c.node,
      socket: c.socket,
      ...(d.progress === undefined ? {} : { progress: d.progress }),
    },
    findings.value,
  );
  if (items.isErr()) return readFailed(items.error);
  const notDone = items.value.filter((i) => i.outcome === "skipped" || i.outcome === "failed");
  const code = notDone.length === 0 ? EXIT.ok : EXIT.leaks;
  if (c.output === "json") return { code, stdout: json({ items: items.value }), stderr: "" };
  const count = (o: ReleaseItem["outcome"]): number => items.value.filter((i) => i.outcome === o).length;
  const summary = `released ${count("released")}, already gone ${count("gone")}, skipped ${count("skipped")}, failed ${count("failed")}, report only ${count("report-only")}\n`;
  return { code, stdout: `${table(["OUTCOME", "CATEGORY", "SUBJECT", "REASON"], items.value.map((i) => [i.outcome, i.category, i.subject, i.reason ?? null]))}\n${summary}`, stderr: "" };
}

/** `coilctl completion <shell>`: the script, no cluster access. */
export function runCompletion(c: CoilctlConfig): CommandOutcome {
  return c.shell === undefined ? { code: 2, stdout: "", stderr: "coilctl: completion needs a shell\n" } : { code: EXIT.ok, stdout: completionScript(c.shell), stderr: "" };
}

/** Run one command (progress, if any, is closed before this resolves). */
export async function runCoilctl(c: CoilctlConfig, d: CoilctlDeps, opts: { readonly concurrency?: number } = {}): Promise<CommandOutcome> {
  try {
    return await runCommand(c, d, opts);
  } finally {
    d.progress?.close();
  }
}

async function runCommand(c: CoilctlConfig, d: CoilctlDeps, opts: { readonly concurrency?: number }): Promise<CommandOutcome> {
  if (c.command === "completion") return runCompletion(c);
  const access = {
    core: d.core,
    coil: d.coil,
    coildPort: c.coildPort,
    nodeTimeoutMs: c.nodeTimeoutMs,
    apiOnly: c.apiOnly,
    progress: d.progress ?? NO_PROGRESS,
    ...(opts.concurrency === undefined ? {} : { concurrency: opts.concurrency }),
  };
  const onlyNode = c.node;
  const snapshotAll = (): ReturnType<typeof readSnapshot> => readSnapshot(access);
  if (c.command === "ipam-release") return release(c, d, snapshotAll);
  const s = await readSnapshot(access, (c.command === "blocks" || c.command === "addresses") && onlyNode !== undefined ? (n) => n === onlyNode : undefined);
  if (s.isErr()) return readFailed(s.error);
  switch (c.command) {
    case "pools":
      return pools(c, s.value);
    case "blocks":
      return blocks(c, s.value);
    case "addresses":
      return addresses(c, s.value);
    case "ipam-check":
      return check(c, s.value, d.now());
  }
}
