/**
 * iptables rules for Coil's `iptables` backend (the NAT server's MASQUERADE/INVALID-drop rules, the
 * NAT client's CONNMARK rules), through the `iptables`/`ip6tables` argv (never a shell): `-C` to
 * check, `-A` to append (Coil's AppendUnique), `-D` to delete (Coil's DeleteIfExists). `-w` waits
 * for the xtables lock. Namespaces are entered with `nsenter` like every other command here.
 */
import { err, ok, type Result } from "neverthrow";
import type { NetnsRef } from "../../lib/changeset/index.js";
import type { Family } from "../../lib/net/index.js";
import type { IptablesRule } from "../../lib/plan/index.js";
import { runInNetns, type ExecError } from "./run.js";

const bin = (f: Family): string => (f === 4 ? "iptables" : "ip6tables");
const argv = (r: IptablesRule, verb: "-C" | "-A" | "-D"): string[] => [bin(r.family), "-w", "5", "-t", r.table, verb, r.chain, ...r.spec];

async function exists(ref: NetnsRef, r: IptablesRule): Promise<Result<boolean, ExecError>> {
  const c = await runInNetns(ref, argv(r, "-C"));
  if (c.isOk()) return ok(true);
  // iptables -C exits 1 when the rule is absent; 2+ is a usage or kernel error.
  return c.error.kind === "exit-nonzero" && c.error.code === 1 ? ok(false) : err(c.error);
}

/** Append each rule that is not there yet (idempotent). */
export async function ensureIptablesRules(ref: NetnsRef, rules: readonly IptablesRule[]): Promise<Result<number, ExecError>> {
  let added = 0;
  for (const r of rules) {
    const e = await exists(ref, r);
    if (e.isErr()) return err(e.error);
    if (e.value) continue;
    const a = await runInNetns(ref, argv(r, "-A"));
    if (a.isErr()) return err(a.error);
    added++;
  }
  return ok(added);
}

/** Delete each rule that is there (absent rules are fine). */
export async function deleteIptablesRules(ref: NetnsRef, rules: readonly IptablesRule[]): Promise<Result<number, ExecError>> {
  let deleted = 0;
  for (const r of rules) {
    const e = await exists(ref, r);
    if (e.isErr()) return err(e.error);
    if (!e.value) continue;
    const d = await runInNetns(ref, argv(r, "-D"));
    if (d.isErr()) return err(d.error);
    deleted++;
  }
  return ok(deleted);
}
