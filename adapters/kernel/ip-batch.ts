/**
 * Turning a step's netlink ops into processes: ops rendered by the lib renderer (`ipArgv`) are
 * grouped, in order, into runs of one `ip -batch -` family (see {@link batchFamily}), and
 * each sysctl write stands alone. A failed batch names its line on stderr (`Command failed -:N`).
 */
import { err, ok, type Result } from "neverthrow";
import {
  batchLine,
  ipArgv,
  type NetlinkOp,
  type NetnsRef,
  type RenderContext,
  type RenderError,
  type SysctlWrite,
} from "../../lib/changeset/index.js";
import { cidrPrefix, type Family } from "../../lib/net/index.js";

/** One netlink op with its rendering. */
export interface RenderedNetlinkOp {
  readonly op: NetlinkOp;
  /** Index of the op inside its step. */
  readonly index: number;
  /** When the executor runs the op in another step's process (see fuse.ts): the step and namespace it was planned in. */
  readonly origin?: { readonly step: number; readonly netns: NetnsRef };
}

/** A run of consecutive ops sent to one process. */
export type OpGroup =
  | { readonly kind: "ip-batch"; readonly family: 6 | null; readonly lines: readonly string[]; readonly ops: readonly RenderedNetlinkOp[] }
  | { readonly kind: "sysctl"; readonly write: SysctlWrite; readonly op: RenderedNetlinkOp };

/** An op that could not be rendered, with its position. */
export interface RenderFailure {
  readonly index: number;
  readonly op: NetlinkOp;
  readonly cause: RenderError;
}

/**
 * The `-batch` family a rendered line really needs. Plain `ip -batch -` (no `-4`/`-6`) infers
 * IPv6 from the address of `address add|del` and from the prefix or gateway of `route …`, and
 * defaults to IPv4 otherwise, so only IPv6 lines with nothing to infer from (`ip rule`, a default
 * route without a gateway, FoU) need an `ip -6` batch. Verified on iproute2 6.1: a `rule add from
 * fd00::/64 …` line in a plain batch fails with "Invalid source address".
 */
export function batchFamily(op: NetlinkOp, rendered: Family | null): 6 | null {
  if (rendered !== 6) return null;
  switch (op.kind) {
    case "addr.add":
    case "addr.del":
      return null;
    case "route.add":
    case "route.replace":
    case "route.del":
      return cidrPrefix(op.route.dst) !== 0 || op.route.via !== undefined ? null : 6;
    default:
      return 6;
  }
}

/**
 * Render `ops` (of one step running in `netns`) and group them in order: consecutive `ip` lines
 * with the same {@link batchFamily} share one batch; the order of ops is never changed.
 */
export function groupOps(ops: readonly NetlinkOp[], ctx: RenderContext): Result<OpGroup[], RenderFailure> {
  const groups: OpGroup[] = [];
  // The open batch's arrays grow in place (a copy per op made a 10,000-route batch quadratic).
  let open: { readonly family: 6 | null; readonly lines: string[]; readonly ops: RenderedNetlinkOp[] } | undefined;
  for (const [index, op] of ops.entries()) {
    const r = ipArgv(op, ctx);
    if (r.isErr()) return err({ index, op, cause: r.error });
    const rendered = r.value;
    if (rendered.kind === "sysctl") {
      groups.push({ kind: "sysctl", write: rendered, op: { op, index } });
      open = undefined;
      continue;
    }
    const line = batchLine(rendered.args);
    if (line.isErr()) return err({ index, op, cause: line.error });
    const family = batchFamily(op, rendered.family);
    if (open !== undefined && open.family === family) {
      open.lines.push(line.value);
      open.ops.push({ op, index });
    } else {
      open = { family, lines: [line.value], ops: [{ op, index }] };
      groups.push({ kind: "ip-batch", ...open });
    }
  }
  return ok(groups);
}

/** argv of an `ip` batch of `family` reading lines from stdin; `force` keeps going after an error. */
export function ipBatchArgv(family: Family | null, opts: { readonly force?: boolean } = {}): string[] {
  return ["ip", ...(family === 6 ? ["-6"] : family === 4 ? ["-4"] : []), ...(opts.force === true ? ["-force"] : []), "-batch", "-"];
}

/**
 * The 1-based line number of the failed command in `ip -batch -` stderr (`Command failed -:N`),
 * or undefined when stderr does not say.
 */
export function failedBatchLine(stderr: string): number | undefined {
  const m = /Command failed -:(\d+)/.exec(stderr);
  return m?.[1] !== undefined ? Number(m[1]) : undefined;
}

/** Render context for a step in `netns`; `hostNetnsPath` names the executor's own namespace. */
export function renderContext(netns: NetnsRef, hostNetnsPath: string): RenderContext {
  return { netns, hostNetnsPath };
}
