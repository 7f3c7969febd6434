import type { NetlinkOp, NetnsRef } from "./netlink.js";
import type { NftCommand } from "./nft.js";

/**
 * One unit of work in one network namespace: netlink ops in order, then the nftables commands
 * as a single atomic transaction.
 */
export interface Step {
  /** The namespace every op of the step runs in. */
  readonly netns: NetnsRef;
  /** Netlink ops, applied in order; the first failure stops the step. */
  readonly netlink: readonly NetlinkOp[];
  /** nftables commands, applied after the netlink ops as one `nft -j` transaction (all or nothing). */
  readonly nft: readonly NftCommand[];
}

/**
 * A declarative changeset: plain, JSON-serialisable data describing kernel changes, applied step
 * by step. An empty changeset (no steps) means "nothing to do".
 */
export interface Changeset {
  /** The steps, applied in order. */
  readonly steps: readonly Step[];
}

/** The host network namespace. */
export const HOST_NETNS: NetnsRef = { kind: "host" };

/** A namespace reference for a namespace file path. */
export function netnsPath(path: string): NetnsRef {
  return { kind: "path", path };
}

/** Build a step; omitted parts are empty. */
export function step(netns: NetnsRef, netlink: readonly NetlinkOp[] = [], nft: readonly NftCommand[] = []): Step {
  return { netns, netlink, nft };
}

/** Concatenate changesets, dropping steps that have no ops, and merging adjacent steps of one namespace. */
export function concatChangesets(...parts: readonly Changeset[]): Changeset {
  const out: Step[] = [];
  for (const s of parts.flatMap((p) => p.steps)) {
    if (s.netlink.length === 0 && s.nft.length === 0) continue;
    const last = out[out.length - 1];
    if (last !== undefined && sameNetns(last.netns, s.netns)) {
      out[out.length - 1] = { netns: last.netns, netlink: [...last.netlink, ...s.netlink], nft: [...last.nft, ...s.nft] };
    } else {
      out.push(s);
    }
  }
  return { steps: out };
}

/** Whether two namespace references name the same namespace. */
export function sameNetns(a: NetnsRef, b: NetnsRef): boolean {
  return a.kind === "host" ? b.kind === "host" : b.kind === "path" && a.path === b.path;
}

/** Whether a changeset has nothing to do. */
export function isEmptyChangeset(cs: Changeset): boolean {
  return cs.steps.every((s) => s.netlink.length === 0 && s.nft.length === 0);
}

/** Exhaustiveness guard for `switch` statements over `kind`. */
export function assertNever(x: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(x)}`);
}
