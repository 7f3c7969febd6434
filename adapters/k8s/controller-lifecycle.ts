/**
 * The leader-election and shutdown sequence shared by Coil's controllers (coil-ipam-controller,
 * coil-egress-controller): campaign for a Lease when `--leader-elect` is set (else lead at once),
 * start acting when elected, stop acting the moment leadership ends, and one idempotent shutdown
 * that stops acting, then releases (or not) the Lease, then stops informers and servers and
 * destroys the API clients.
 */
import type { LeaderElectionConfig } from "../common/flags.js";
import type { LeaseCalls } from "./api-calls.js";
import { LeaderElector } from "./leader-elector.js";
import type { Logger } from "./log.js";

/** Why a controller stopped: asked to (`close`), or it lost its Lease and must exit. */
export type ControllerExit = "stopped" | "leader-lost";

/** Options of {@link startControllerLifecycle}. */
export interface ControllerLifecycleOptions {
  /** Leader-election settings: the shared `--leader-elect*` flags (the controller's parsed flags will do). */
  readonly election: LeaderElectionConfig;
  /** The controller's API clients: the Lease goes through `coordination`; `destroy()` ends the shutdown. */
  readonly clients: { readonly coordination: LeaseCalls; destroy(): void };
  /** This candidate's identity. */
  readonly identity: string;
  /** Logger (the elector's too); shutdown logs `stopped` with the reason. */
  readonly log: Logger;
  /**
   * Start acting as leader. `signal` aborts when leadership ends (never without leader election);
   * it may already be aborted by the time an asynchronous start gets going, so check it.
   */
  readonly startLeading: (signal: AbortSignal) => void | Promise<void>;
  /** Stop acting as leader; called when leadership ends and first in shutdown. Must be idempotent. */
  readonly stopLeading: () => Promise<void>;
  /** Told whether this replica leads (`leader_election_master_status`); only with leader election. */
  readonly onLeading?: (lease: string, leading: boolean) => void;
  /** Stopped together after the Lease is handled: informers, metrics/health servers, webhook server. */
  readonly closers: ReadonlyArray<() => Promise<void> | undefined>;
}

/** A running lifecycle. */
export interface ControllerLifecycle {
  /** Resolves once the controller has stopped, with why. */
  readonly done: Promise<ControllerExit>;
  /**
   * Stop (once; later calls return at once): stop acting, stop the elector (releasing the Lease
   * when `release`), run the closers, destroy the clients, log, resolve {@link done}. A lost
   * Lease calls it with `"leader-lost"` and no release.
   */
  readonly shutdown: (exit: ControllerExit, release: boolean) => Promise<void>;
}

/** Start leading (at once, or by campaigning for the Lease) and return the shutdown handle. */
export function startControllerLifecycle(o: ControllerLifecycleOptions): ControllerLifecycle {
  const { election: e, clients, log } = o;
  const elector = e.leaderElect
    ? new LeaderElector({
        coordination: clients.coordination,
        namespace: e.leaderElectNamespace,
        name: e.leaderElectId,
        identity: o.identity,
        leaseDurationMs: e.leaseDurationMs,
        renewDeadlineMs: e.renewDeadlineMs,
        retryPeriodMs: e.retryPeriodMs,
        log,
        ...(o.onLeading === undefined ? {} : { onLeading: (leading: boolean) => o.onLeading?.(e.leaderElectId, leading) }),
      })
    : undefined;

  let closing = false;
  let resolveDone: (exit: ControllerExit) => void = () => undefined;
  const done = new Promise<ControllerExit>((r) => (resolveDone = r));
  const shutdown = async (exit: ControllerExit, release: boolean): Promise<void> => {
    if (closing) return;
    closing = true;
    // Stop acting first (a lost lease must not be followed by more writes), then release.
    await o.stopLeading();
    await elector?.stop({ release });
    await Promise.all(o.closers.map(async (c) => c()));
    clients.destroy();
    log.info("stopped", { reason: exit });
    resolveDone(exit);
  };

  if (elector === undefined) void o.startLeading(new AbortController().signal);
  else {
    const campaign = async (): Promise<void> => {
      const end = await elector.run((signal) => {
        // Leadership ends: stop acting immediately, before anything else.
        signal.addEventListener("abort", () => void o.stopLeading(), { once: true });
        void o.startLeading(signal);
      });
      if (end === "lost") await shutdown("leader-lost", false);
    };
    void campaign();
  }
  return { done, shutdown };
}
