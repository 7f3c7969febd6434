import { ok } from "neverthrow";
import type { Changeset, Step } from "./changeset.js";
import { batchLine } from "./names.js";
import type { NetlinkOp, NetnsRef } from "./netlink.js";
import { nftCommandText } from "./nft-text.js";
import { ipArgv, type RenderContext } from "./render-ip.js";

/** Options of {@link explain}. */
export interface ExplainOptions {
  /**
   * How the host namespace is named when a veth peer goes to the host from another namespace.
   * Default `/proc/1/ns/net`.
   */
  readonly hostNetnsPath?: string;
}

/** Single-quote a word for a POSIX shell. */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

function previousNote(op: NetlinkOp): string {
  return op.kind === "sysctl.set" && op.previous !== undefined ? `  # previous: ${op.previous}` : "";
}

function netnsHeader(ns: NetnsRef): string {
  return ns.kind === "host" ? "# netns host" : `# netns ${ns.path}`;
}

/** The command line equivalent to one netlink op, or a `# invalid …` comment when it cannot be rendered. */
export function explainOp(op: NetlinkOp, ctx: RenderContext = {}): string {
  const r = ipArgv(op, ctx).andThen((rendered) =>
    rendered.kind === "sysctl"
      ? ok(`sysctl -w ${rendered.key}=${rendered.value}${previousNote(op)}`)
      : batchLine(rendered.args).map((line) => `ip ${rendered.family === 6 ? "-6 " : ""}${line}`),
  );
  return r.match(
    (line) => line,
    (e) => `# invalid ${op.kind}: ${JSON.stringify(e)}`,
  );
}

function explainStep(s: Step, opts: ExplainOptions): string[] {
  const ctx: RenderContext = { netns: s.netns, hostNetnsPath: opts.hostNetnsPath ?? "/proc/1/ns/net" };
  const lines = [netnsHeader(s.netns), ...s.netlink.map((op) => explainOp(op, ctx))];
  if (s.nft.length > 0) {
    lines.push(`nft -j ${shellQuote(JSON.stringify({ nftables: s.nft }))}`);
    for (const cmd of s.nft) lines.push(`#   nft ${nftCommandText(cmd)}`);
  }
  return lines;
}

/**
 * The changeset as the equivalent commands, one per line, grouped under a `# netns …` header per
 * step: each netlink op as `ip …` (`ip -6 …` for IPv6 addresses, routes, rules and FoU ports),
 * each sysctl as `sysctl -w key=value`, and a step's nft commands as the one `nft -j '<json>'`
 * transaction that is executed, followed by each command as readable nft(8) text in a comment.
 * The output is deterministic (it depends only on the changeset), so it serves golden tests.
 * An op that fails validation is shown as a `# invalid …` comment instead of a command.
 */
export function explain(cs: Changeset, opts: ExplainOptions = {}): string {
  if (cs.steps.length === 0) return "# nothing to do\n";
  return `${cs.steps.flatMap((s) => explainStep(s, opts)).join("\n")}\n`;
}
