import { parseCidr, parseIp, type Cidr, type Ip } from "../../../lib/net/index.js";
import { applyChangeset } from "../../../lib/changeset/index.js";
import type { Changeset, NetlinkOp, NetnsState, NftRule } from "../../../lib/changeset/index.js";

/** Parse an address (test input is trusted). */
export const ip = (s: string): Ip => parseIp(s)._unsafeUnwrap();
/** Parse a CIDR (test input is trusted). */
export const cidr = (s: string): Cidr => parseCidr(s)._unsafeUnwrap();

/** All netlink ops of a changeset, flattened. */
export function allOps(cs: Changeset): NetlinkOp[] {
  return cs.steps.flatMap((s) => [...s.netlink]);
}

/** Op kinds of a changeset in order. */
export function opKinds(cs: Changeset): string[] {
  return allOps(cs).map((o) => o.kind);
}

/**
 * Apply a changeset to per-namespace states (key `host` or the netns path) with lib/changeset's
 * kernel model. The model refusing an op (a missing link, an existing route, ...) fails the test.
 */
export function applyModel(states: Readonly<Record<string, NetnsState>>, cs: Changeset): Record<string, NetnsState> {
  const r = applyChangeset(states, cs);
  if (r.isErr()) throw new Error(`model refused the changeset: ${JSON.stringify(r.error.cause)} at step ${r.error.step} op ${String(r.error.op)}`);
  return { ...r.value };
}

/** The nft rules a changeset adds (to feed back as `observedNft`). */
export function addedNftRules(cs: Changeset): NftRule[] {
  return cs.steps.flatMap((s) => s.nft.flatMap((c) => ("add" in c && "rule" in c.add ? [c.add.rule] : [])));
}
