/**
 * Step fusion: how the executor runs a pod set-up with the fewest processes, without changing
 * the changeset format or its meaning.
 *
 * A step in a pod namespace `P` that only creates veths whose peer goes to namespace `H` (the
 * host, usually), followed by a step in `H`, is run as ONE `ip -batch` in `H`: each veth is created
 * from the `H` side
 * (`link add name <peer> type veth peer name <name> netns <P>` — the same pair, the same ends in
 * the same namespaces), followed by the host step's lines. The ops keep their origin (step `i`,
 * namespace `P`) for the apply report and for rollback.
 *
 * In that fused step, a sysctl write on a per-link key (`net.ipv4|6.conf.<dev>.*`) of an `H` end
 * created there runs after the step's `ip` lines instead of between them, so the lines stay one
 * process (in the executor's own namespace the write itself is in-process). This is
 * unobservable: a veth has no carrier until its peer is up, and the peer lives in `P`, which this
 * step cannot touch (a step is one namespace), so no packet (router advertisement included) can
 * reach the `H` end before the write.
 */
import { err, ok, type Result } from "neverthrow";
import { sameNetns, type NetlinkOp, type NetnsRef } from "../../lib/changeset/index.js";
import { groupOps, type OpGroup, type RenderFailure } from "./ip-batch.js";

/** The part of a planned step fusion needs (see `PlannedStep` in executor.ts). */
export interface FusibleStep {
  readonly index: number;
  readonly netns: NetnsRef;
  readonly groups: readonly OpGroup[];
  readonly nft: readonly unknown[];
  /** The step's ops as planned. */
  readonly ops: readonly NetlinkOp[];
}

type VethOp = Extract<NetlinkOp, { kind: "link.add-veth" }>;

/** Whether step `s` (in another namespace than `target`) only creates veths whose peer goes to `target`. */
export function isVethStepTo(s: FusibleStep, target: NetnsRef): boolean {
  return !sameNetns(s.netns, target) && s.nft.length === 0 && s.ops.length > 0 &&
    s.ops.every((op) => op.kind === "link.add-veth" && sameNetns(op.peer.netns, target));
}

/** The same veth pair, created from the host: `<peer>` here, `<name>` sent to the pod namespace. */
function mirrored(op: VethOp, pod: NetnsRef): VethOp {
  return { kind: "link.add-veth", name: op.peer.name, ...(op.mtu !== undefined ? { mtu: op.mtu } : {}), peer: { name: op.name, netns: pod } };
}

/** The interface a per-link sysctl path (`net/ipv6/conf/<dev>/…`) names, if any. */
export function sysctlDevice(path: string): string | undefined {
  const s = path.split("/");
  return s.length >= 5 && s[0] === "net" && (s[1] === "ipv4" || s[1] === "ipv6") && s[2] === "conf" ? s[3] : undefined;
}

/** Merge consecutive `ip-batch` groups of the same family (order unchanged). */
export function mergeBatches(groups: readonly OpGroup[]): OpGroup[] {
  const out: OpGroup[] = [];
  for (const g of groups) {
    const last = out.at(-1);
    if (g.kind === "ip-batch" && last?.kind === "ip-batch" && last.family === g.family) {
      out[out.length - 1] = { ...last, lines: [...last.lines, ...g.lines], ops: [...last.ops, ...g.ops] };
    } else out.push(g);
  }
  return out;
}

/**
 * The groups of `host` preceded by the veth creations of `pod`, run from the host side, with
 * sysctl writes on the created host ends moved after the `ip` lines.
 */
export function fuseGroups(pod: FusibleStep, host: FusibleStep, hostNetnsPath: string): Result<OpGroup[], RenderFailure> {
  const vethOps = pod.ops as readonly VethOp[];
  const hoisted = groupOps(vethOps.map((op) => mirrored(op, pod.netns)), { netns: host.netns, hostNetnsPath });
  if (hoisted.isErr()) return err({ ...hoisted.error, op: vethOps[hoisted.error.index] ?? hoisted.error.op });
  const origin = { step: pod.index, netns: pod.netns };
  const tagged = hoisted.value.map((g): OpGroup =>
    g.kind === "ip-batch" ? { ...g, ops: g.ops.map((o) => ({ op: vethOps[o.index] ?? o.op, index: o.index, origin })) } : g,
  );
  const created = new Set(vethOps.map((op) => op.peer.name));
  const deferred = host.groups.filter((g) => g.kind === "sysctl" && created.has(sysctlDevice(g.write.path) ?? ""));
  const rest = host.groups.filter((g) => !deferred.includes(g));
  return ok(mergeBatches([...tagged, ...rest, ...deferred]));
}
