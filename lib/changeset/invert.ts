import { err, ok, Result } from "neverthrow";
import { assertNever, type Changeset, type Step } from "./changeset.js";
import type { NetlinkOp } from "./netlink.js";
import type { NftCommand, NftObject } from "./nft.js";

/** Why an op or command has no inverse. */
export type InvertError = InvertNetlinkError | InvertNftError;

/** A netlink op whose inverse cannot be computed (e.g. `link.set` or `sysctl.set` without the previous value). */
export interface InvertNetlinkError {
  /** Discriminant: `not-invertible`. */
  readonly kind: "not-invertible";
  /** The op that cannot be undone. */
  readonly op: NetlinkOp;
  /** Why, e.g. which previous value is missing. */
  readonly reason: string;
}

/** An nftables command whose inverse cannot be computed (e.g. `flush`, whose removed contents are unknown). */
export interface InvertNftError {
  /** Discriminant: `nft-not-invertible`. */
  readonly kind: "nft-not-invertible";
  /** The command that cannot be undone. */
  readonly command: NftCommand;
  /** Why. */
  readonly reason: string;
}

const no = (op: NetlinkOp, reason: string): Result<NetlinkOp[], InvertError> => err({ kind: "not-invertible", op, reason });

/**
 * The ops that undo `op`, assuming `op` succeeded and changed the state (an op that found its
 * object already present, such as a `route.replace` of an identical route, must not be undone):
 * link creations → `link.del`; `addr.add` ↔ `addr.del`; `route.add`/`route.replace` → `route.del`,
 * `route.del` → `route.add`; `rule.add` ↔ `rule.del`; `fou.add` → `fou.del`; `sysctl.set` with
 * `previous` → setting `previous` back. Not invertible (the previous values are unknown):
 * `link.set`, `link.del`, `fou.del`, `sysctl.set` without `previous`.
 * Exactness caveats (kernel semantics, reproduced by the model): `rule.del` removes the first
 * rule matching the given selectors, so undoing a `rule.add` whose selectors are a subset of an
 * earlier rule's removes that earlier rule; `route.del`/`rule.del` are undone exactly only when
 * they name the stored object completely.
 */
export function invertOp(op: NetlinkOp): Result<NetlinkOp[], InvertError> {
  switch (op.kind) {
    case "link.add-veth":
    case "link.add-vxlan":
    case "link.add-tunnel":
    case "link.add-dummy":
      return ok([{ kind: "link.del", name: op.name }]);
    case "link.set":
      return no(op, "previous link attributes are unknown");
    case "link.del":
      return no(op, "a deleted link cannot be recreated from its name");
    case "fou.add":
      return ok([{ kind: "fou.del", family: op.family, port: op.port }]);
    case "fou.del":
      return no(op, "the port's ipproto is unknown");
    case "addr.add":
      return ok([{ kind: "addr.del", dev: op.dev, cidr: op.cidr }]);
    case "addr.del":
      return ok([{ kind: "addr.add", dev: op.dev, cidr: op.cidr }]);
    case "route.add":
    case "route.replace":
      return ok([{ kind: "route.del", route: op.route }]);
    case "route.del":
      return ok([{ kind: "route.add", route: op.route }]);
    case "rule.add":
      return ok([{ kind: "rule.del", rule: op.rule }]);
    case "rule.del":
      return ok([{ kind: "rule.add", rule: op.rule }]);
    case "sysctl.set":
      if (op.previous === undefined) return no(op, "previous value is unknown");
      return ok([{ kind: "sysctl.set", key: op.key, value: op.previous, previous: op.value }]);
    default:
      return assertNever(op);
  }
}

function invertObject(o: NftObject, cmd: NftCommand): Result<NftCommand, InvertError> {
  if ("rule" in o) {
    if (o.rule.handle === undefined) return err({ kind: "nft-not-invertible", command: cmd, reason: "the new rule's handle is unknown" });
    return ok({ delete: { rule: o.rule } });
  }
  return ok({ delete: o });
}

/**
 * The command that undoes an nft command, assuming it created its object: `add`/`create` of a
 * table, chain, set or element → `delete` of it (a rule only when its `handle` is known). `insert`,
 * `replace`, `delete` and `flush` are not invertible.
 */
export function invertNftCommand(cmd: NftCommand): Result<NftCommand, InvertError> {
  if ("add" in cmd) return invertObject(cmd.add, cmd);
  if ("create" in cmd) return invertObject(cmd.create, cmd);
  return err({ kind: "nft-not-invertible", command: cmd, reason: "previous contents are unknown" });
}

function invertStep(s: Step): Result<Step[], InvertError> {
  const nft = Result.combine(s.nft.map(invertNftCommand)).map((xs) => xs.reverse());
  const netlink = Result.combine(s.netlink.map(invertOp)).map((xs) => xs.reverse().flat());
  return nft.andThen((n) => netlink.map((l) => {
    const out: Step[] = [];
    // The forward step ran netlink then nft, so the rollback undoes nft first.
    if (n.length > 0) out.push({ netns: s.netns, netlink: [], nft: n });
    if (l.length > 0) out.push({ netns: s.netns, netlink: l, nft: [] });
    return out;
  }));
}

/**
 * The rollback of a whole changeset: the inverse of every step in reverse order, each step's ops
 * reversed (its nft transaction undone before its netlink ops). Fails on the first op or command
 * without an inverse.
 */
export function invertChangeset(cs: Changeset): Result<Changeset, InvertError> {
  return Result.combine(cs.steps.map(invertStep)).map((steps) => ({ steps: steps.reverse().flat() }));
}
