/**
 * The kernel port: what a kernel adapter implements — apply a {@link Changeset}, observe a
 * namespace's {@link NetnsState} and its nftables ruleset — and the values it returns. Types only:
 * the real executor (iproute2, nft, sysctl) and the in-memory FakeKernel of the adapters both
 * implement {@link Kernel}, and code that plans and applies changesets depends on nothing else.
 */
import type { ResultAsync } from "neverthrow";
import type { Changeset } from "./changeset.js";
import type { RenderError } from "./names.js";
import type { NetlinkOp, NetnsRef, Route } from "./netlink.js";
import type { NftChain, NftCommand, NftFamily, NftRule, NftSet, NftTable } from "./nft.js";
import type { NetnsState } from "./state.js";

/** What a successful apply did. */
export interface KernelApplyReport {
  /** Steps run. */
  readonly steps: number;
  /** Netlink ops applied (including sysctls). */
  readonly ops: number;
  /** nft commands applied (each step's commands are one transaction). */
  readonly nftCommands: number;
  /** Processes spawned (0 for an in-memory kernel). */
  readonly processes: number;
  /** Wall time of the whole apply, in milliseconds. */
  readonly durationMs: number;
}

/** An op that has been applied, where, so that it can be reverted. */
export interface AppliedOp {
  /** Index of the step the op was planned in. */
  readonly step: number;
  /** Namespace the op ran in. */
  readonly netns: NetnsRef;
  /** The op as applied (a `sysctl.set` carries the value it replaced). */
  readonly op: NetlinkOp;
}

/** The op (or nft transaction) that failed. */
export type FailedOp =
  | {
      /** A netlink op (or sysctl) failed. */
      readonly kind: "netlink";
      /** Index of its step. */
      readonly step: number;
      /** Index of the op in its step. */
      readonly index: number;
      /** The op. */
      readonly op: NetlinkOp;
    }
  | {
      /** A step's nft transaction failed (as a whole). */
      readonly kind: "nft";
      /** Index of its step. */
      readonly step: number;
      /** The transaction's commands. */
      readonly commands: readonly NftCommand[];
    };

/**
 * Why the kernel refused an op, classified once by the adapter (from the errno it got back, or
 * the text a tool printed for it) so that no caller reads error text:
 * - `exists`: the object to create is there already (`EEXIST`);
 * - `not-found`: the object (or device, namespace) an op names is missing (`ENOENT`, `ENODEV`,
 *   `ESRCH`, `EADDRNOTAVAIL`);
 * - `permission`: not allowed (`EPERM`, `EACCES`);
 * - `busy`: a transient resource shortage (`EBUSY`, `EAGAIN`, `ENOBUFS`);
 * - `invalid`: the request does not fit (`EINVAL`, `ERANGE`, `ENETUNREACH`, `ENETDOWN`);
 * - `timeout`: the tool did not finish in time;
 * - `unavailable`: the tool could not be run at all;
 * - `unknown`: anything else.
 */
export type KernelFailureReason = "exists" | "not-found" | "permission" | "busy" | "invalid" | "timeout" | "unavailable" | "unknown";

/** A namespace path that does not name a namespace. */
export interface InvalidNetns {
  /** Discriminant: `invalid-netns`. */
  readonly kind: "invalid-netns";
  /** The path. */
  readonly path: string;
  /** What is wrong with it. */
  readonly message: string;
}

/** A step's nft transaction is larger than one command line can carry. */
export interface NftTooLarge {
  /** Discriminant: `nft-too-large`. */
  readonly kind: "nft-too-large";
  /** Its size in bytes. */
  readonly bytes: number;
}

/**
 * Why an apply failed. `invalid-changeset`: refused before anything ran (a hostile name, a
 * namespace path that does not exist, an op the renderer cannot express). `apply-failed`: an op
 * failed; everything in `applied` was then reverted in reverse order (`rolledBack` says whether
 * every revert succeeded and every applied op had an inverse). `retryable` is the retry policy
 * as data: true only for transient failures (`busy`, `timeout`, `unavailable`) after a clean
 * rollback.
 */
export type KernelApplyError =
  | {
      /** Discriminant: refused before anything ran. */
      readonly kind: "invalid-changeset";
      /** Index of the offending step. */
      readonly step: number;
      /** Index of the offending op in the step (-1: the step itself). */
      readonly index: number;
      /** What is wrong. */
      readonly cause: RenderError | InvalidNetns | NftTooLarge;
      /** Never retryable: the same changeset is refused again. */
      readonly retryable: false;
    }
  | {
      /** Discriminant: an op failed and what ran before it was reverted. */
      readonly kind: "apply-failed";
      /** The failing op. */
      readonly failedOp: FailedOp;
      /** Why the kernel refused it, classified once by the adapter. */
      readonly reason: KernelFailureReason;
      /** What the tool printed for the failure (for people: logs, error details). */
      readonly stderr: string;
      /** Ops applied before the failure (then reverted). */
      readonly applied: readonly AppliedOp[];
      /** Whether every applied op was reverted. */
      readonly rolledBack: boolean;
      /** stderr of reverts that failed, and applied ops that had no inverse. */
      readonly rollbackProblems: readonly string[];
      /** Whether the same apply may succeed later (a transient `reason` and a clean rollback). */
      readonly retryable: boolean;
    };

/** Why a tool the adapter ran did not succeed. `stderr` is carried whenever the process ran. */
export type KernelCommandError =
  | {
      /** The process could not be started. */
      readonly kind: "spawn-failed";
      /** Its argv. */
      readonly argv: readonly string[];
      /** Why. */
      readonly message: string;
    }
  | {
      /** The process exited non-zero (or was killed). */
      readonly kind: "exit-nonzero";
      /** Its argv. */
      readonly argv: readonly string[];
      /** Exit code, `null` when killed by a signal. */
      readonly code: number | null;
      /** The signal that killed it. */
      readonly signal: string | null;
      /** What it printed on stdout. */
      readonly stdout: string;
      /** What it printed on stderr. */
      readonly stderr: string;
    }
  | {
      /** The process was killed after `timeoutMs`. */
      readonly kind: "timeout";
      /** Its argv. */
      readonly argv: readonly string[];
      /** The limit. */
      readonly timeoutMs: number;
      /** What it printed on stderr. */
      readonly stderr: string;
    }
  | InvalidNetns;

/** A tool's output did not have the shape the adapter's parsers expect. */
export interface KernelOutputError {
  /** Discriminant: `unexpected-output`. */
  readonly kind: "unexpected-output";
  /** Which command output or object was being read, e.g. `ip route[3].dst`. */
  readonly where: string;
  /** What is wrong. */
  readonly message: string;
}

/** Why an observation failed: a command failed, or printed something the parsers refused. */
export type KernelObserveError =
  | {
      /** A command failed. */
      readonly kind: "command-failed";
      /** How. */
      readonly cause: KernelCommandError;
    }
  | {
      /** A command printed something unexpected. */
      readonly kind: "unparsable-output";
      /** What. */
      readonly cause: KernelOutputError;
    }
  | {
      /** A requested sysctl key is malformed. */
      readonly kind: "invalid-sysctl-key";
      /** The key. */
      readonly key: string;
    };

/** Options of {@link Kernel.observe}. */
export interface ObserveOptions {
  /** Sysctl keys (dotted, as `sysctl(8)`) to read into `NetnsState.sysctls`. Default: none. */
  readonly sysctls?: readonly string[];
  /** Per-process timeout in milliseconds (adapter default when absent). */
  readonly timeoutMs?: number;
}

/**
 * What {@link Kernel.observeRoutes} lists: the routes of one table, optionally only those of one
 * protocol (both families).
 */
export interface RouteQuery {
  /** Table number (`254` for main). */
  readonly table: number;
  /** Only routes of this protocol (`proto N`); all protocols when absent. */
  readonly protocol?: number;
}

/** What {@link Kernel.observeNft} lists: one table (the whole ruleset when absent). */
export interface NftQuery {
  /** Table family. */
  readonly family: NftFamily;
  /** Table name. */
  readonly table: string;
}

/** An nftables listing, grouped by object type, in listing order. */
export interface NftListing {
  /** Tables. */
  readonly tables: readonly NftTable[];
  /** Chains. */
  readonly chains: readonly NftChain[];
  /** Sets (with their elements, when listed). */
  readonly sets: readonly NftSet[];
  /** Rules (with their handles). */
  readonly rules: readonly NftRule[];
}

/**
 * A kernel that applies changesets and reports namespace state. Contract: `apply` runs steps in
 * order and, on failure, reverts what it applied before returning the error; an empty changeset
 * is a successful no-op; re-applying a changeset made of idempotent verbs (`route.replace`,
 * `link.set`, `sysctl.set`, nft `add`) succeeds and changes nothing. `observe` of a namespace that
 * does not exist is a `command-failed` error; `observeNft` of a missing table is an empty listing.
 */
export interface Kernel {
  /** Apply `cs` (all or nothing, see the contract). */
  apply(cs: Changeset): ResultAsync<KernelApplyReport, KernelApplyError>;
  /** The state of namespace `ref` (links, addresses, routes of every table, rules, requested sysctls). */
  observe(ref: NetnsRef, opts?: ObserveOptions): ResultAsync<NetnsState, KernelObserveError>;
  /**
   * The routes of one table (and protocol) of namespace `ref`: exactly the routes of
   * `observe(ref).routes` that are in `query.table` (and of `query.protocol`), read without the rest
   * of the namespace (a program that manages one table reads only that). Optional: a kernel without
   * it is read through `observe` (the adapters' `observeTableRoutes` does that).
   */
  observeRoutes?(ref: NetnsRef, query: RouteQuery, opts?: Pick<ObserveOptions, "timeoutMs">): ResultAsync<readonly Route[], KernelObserveError>;
  /** The nftables ruleset (or one table) of namespace `ref`. */
  observeNft(ref: NetnsRef, query?: NftQuery): ResultAsync<NftListing, KernelObserveError>;
}
