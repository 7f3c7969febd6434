/**
 * Export of the node's blocks to routing table 119 (Coil §3.3, §5.1): the table holds exactly the
 * block CIDRs the node owns (`dev lo proto 30`), for coil-router and BGP speakers to announce.
 *
 * The block set lives in {@link NodeState}; it tells this module when the set changed
 * ({@link RouteExport.blocksChanged}) and asks for a sync. Syncs are serialised and coalesced.
 */
import { err, ok, type Result } from "neverthrow";
import { HOST_NETNS, type KernelObserveError } from "../../../lib/changeset/index.js";
import type { Cidr } from "../../../lib/net/index.js";
import { planRouteExport, type PlanError } from "../../../lib/plan/index.js";
import type { ApplyError, Kernel } from "../../kernel/kernel.js";
import { observeTableRoutes } from "../../kernel/observe-routes.js";
import { KeyedMutex } from "../../common/key-mutex.js";
import type { Logger } from "../log.js";

/** Options of {@link RouteExport}. */
export interface RouteExportOptions {
  readonly kernel: Kernel;
  readonly log: Logger;
  /** `--export-table-id` (119). */
  readonly table: number;
  /** `--protocol-id` (30). */
  readonly protocol: number;
  /** The node's block CIDRs now (read at each sync). */
  readonly blocks: () => readonly Cidr[];
}

/** Why a sync of the export table failed: the host could not be observed, planned or changed. */
export type ExportError =
  | { readonly kind: "observe-failed"; readonly cause: KernelObserveError }
  | { readonly kind: "plan-failed"; readonly cause: PlanError }
  | { readonly kind: "apply-failed"; readonly cause: ApplyError };

/** See the module comment. */
export class RouteExport {
  readonly #o: RouteExportOptions;
  readonly #lock = new KeyedMutex();
  #wanted = 0;
  #done = 0;
  /** Bumped whenever the node's block set changes; the table is current when a sync of it succeeded. */
  #blocksGen = 0;
  #exportedGen = 0;
  /** Set by {@link clear}: a sync still in flight (a GC at shutdown) must not put the routes back. */
  #cleared = false;
  /** The last failure, cleared by a successful sync (STATUS reports 51 while set). */
  lastError: ExportError | undefined;

  constructor(opts: RouteExportOptions) {
    this.#o = opts;
  }

  /** Record that the node's block set changed (a new, adopted or returned block). */
  blocksChanged(): void {
    this.#blocksGen += 1;
  }

  /** Whether the table lags the block set: a change since the last successful sync (or that sync failed). */
  get behind(): boolean {
    return this.#exportedGen < this.#blocksGen;
  }

  /**
   * Make the table hold exactly the node's block CIDRs. Concurrent calls coalesce: a call returns
   * once a sync that started after it was requested has finished.
   */
  async sync(): Promise<Result<void, ExportError>> {
    this.#wanted += 1;
    const gen = this.#wanted;
    return this.#lock.run("export", async () => {
      if (this.#done >= gen || this.#cleared) return ok(undefined);
      const target = this.#wanted;
      const blocksGen = this.#blocksGen;
      const r = await this.#once();
      if (r.isOk()) {
        this.#done = target;
        this.#exportedGen = Math.max(this.#exportedGen, blocksGen);
        this.lastError = undefined;
      } else {
        this.lastError = r.error;
        this.#o.log.error("route export failed", { table: this.#o.table, error: r.error });
      }
      return r;
    });
  }

  /**
   * Empty the table of the node's routes (Coil's `Sync(nil)`, used by `--clear-routes-on-shutdown`
   * when the Node object is gone). Final: later syncs do nothing (coild is stopping).
   */
  clear(): Promise<Result<void, ExportError>> {
    this.#cleared = true;
    return this.#lock.run("export", () => this.#once([]));
  }

  async #once(blocks: readonly Cidr[] = this.#o.blocks()): Promise<Result<void, ExportError>> {
    // Only the export table is read (not the whole namespace): it is all the plan looks at.
    const observed = await observeTableRoutes(this.#o.kernel, HOST_NETNS, { table: this.#o.table });
    if (observed.isErr()) return err({ kind: "observe-failed", cause: observed.error });
    const plan = planRouteExport({
      blocks,
      observed: observed.value,
      table: this.#o.table,
      protocol: this.#o.protocol,
    });
    if (plan.isErr()) return err({ kind: "plan-failed", cause: plan.error });
    if (plan.value.steps.every((st) => st.netlink.length === 0 && st.nft.length === 0)) return ok(undefined);
    const applied = await this.#o.kernel.apply(plan.value);
    return applied.isErr() ? err({ kind: "apply-failed", cause: applied.error }) : ok(undefined);
  }
}
