/**
 * The kernel port: what the real executor/observer and {@link FakeKernel} both implement, and
 * the values they return. Adapters depend on this interface, tests run one shared suite
 * (test/helpers/executor-conformance.ts) against every implementation.
 */
import type { ResultAsync } from "neverthrow";
import type { Changeset, NetlinkOp, NetnsRef, NetnsState, NftCommand, RenderError } from "../../lib/changeset/index.js";
import type { ObserveError, ObserveOptions, NftQuery } from "./observer.js";
import type { NftListing } from "./parse-nft.js";

/** What a successful apply did. */
export interface ApplyReport {
  readonly steps: number;
  /** Netlink ops applied (including sysctls). */
  readonly ops: number;
  /** nft commands applied (each step's commands are one transaction). */
  readonly nftCommands: number;
  /** Processes spawned (0 for the fake). */
  readonly processes: number;
  /** Wall time of the whole apply, in milliseconds. */
  readonly durationMs: number;
}

/** An op that has been applied, where, so that it can be reverted. */
export interface AppliedOp {
  readonly step: number;
  readonly netns: NetnsRef;
  readonly op: NetlinkOp;
}

/** The op (or nft transaction) that failed. */
export type FailedOp =
  | { readonly kind: "netlink"; readonly step: number; readonly index: number; readonly op: NetlinkOp }
  | { readonly kind: "nft"; readonly step: number; readonly commands: readonly NftCommand[] };

/**
 * Why an apply failed. `invalid-changeset`: refused before anything ran (a hostile name, a
 * namespace path that does not exist, an op the renderer cannot express). `apply-failed`: an op
 * failed; everything in `applied` was then reverted in reverse order (`rolledBack` says whether
 * every revert succeeded and every applied op had an inverse). `retryable` is the retry policy
 * as data: true only for transient failures (timeouts, busy resources) after a clean rollback.
 */
export type ApplyError =
  | {
      readonly kind: "invalid-changeset";
      readonly step: number;
      readonly index: number;
      readonly cause: RenderError | { readonly kind: "invalid-netns"; readonly path: string; readonly message: string } | { readonly kind: "nft-too-large"; readonly bytes: number };
      readonly retryable: false;
    }
  | {
      readonly kind: "apply-failed";
      readonly failedOp: FailedOp;
      readonly stderr: string;
      readonly applied: readonly AppliedOp[];
      readonly rolledBack: boolean;
      /** stderr of reverts that failed, and applied ops that had no inverse. */
      readonly rollbackProblems: readonly string[];
      readonly retryable: boolean;
    };

/**
 * A kernel that applies changesets and reports namespace state. Contract: `apply` runs steps
 * in order and, on failure, reverts what it applied before returning the error; an empty
 * changeset is a successful no-op; re-applying a changeset made of idempotent verbs
 * (`route.replace`, `link.set`, `sysctl.set`, nft `add`) succeeds and changes nothing.
 */
export interface Kernel {
  apply(cs: Changeset): ResultAsync<ApplyReport, ApplyError>;
  observe(ref: NetnsRef, opts?: ObserveOptions): ResultAsync<NetnsState, ObserveError>;
  observeNft(ref: NetnsRef, query?: NftQuery): ResultAsync<NftListing, ObserveError>;
}
