/**
 * Lease-based leader election (`coordination.k8s.io/v1` Lease), following client-go's
 * leaderelection: acquire when the lease is free, ours, or not renewed for its duration as
 * observed locally; renew every retry period; give up leadership when no renewal succeeded within
 * the renew deadline. Every write carries the read resourceVersion, so two candidates never both
 * win one round. Defaults are controller-runtime's: lease 15 s, renew deadline 10 s, retry 2 s.
 *
 * No request may outlive the renew deadline (client-go runs each renewal under a context with the
 * renew deadline; controller-runtime gives the election's client a timeout of max(1 s, renew
 * deadline / 2)): every Lease request is bounded by both, so a leader whose API connection hangs
 * gives up its leadership when the deadline passes — before its Lease can expire and another
 * candidate take it — instead of acting on while a renewal waits for an answer.
 */
import type { V1Lease } from "@kubernetes/client-node";
import { err, type Result } from "neverthrow";
import type { LeaseCalls } from "./api-calls.js";
import { sleep } from "./backoff.js";
import { k8sCall, type K8sError } from "./errors.js";
import { SILENT_LOGGER, type Logger } from "./log.js";

/**
 * Lease calls whose requests can be cancelled: `withSignal(signal)` gives calls that abort their
 * request when `signal` fires (rest-apis.ts' `RestCoordinationV1Api`). The elector gives up on a
 * call at its bound either way; with these the hung request is also closed, not left behind.
 */
export interface CancellableLeaseCalls extends LeaseCalls {
  /** The same calls, each aborted when `signal` fires. */
  withSignal(signal: AbortSignal): LeaseCalls;
}

/** Options of {@link LeaderElector}. */
export interface LeaderElectorOptions {
  /** Leases client (client-node's `CoordinationV1Api` or rest-apis.ts'). */
  readonly coordination: LeaseCalls | CancellableLeaseCalls;
  /** Lease namespace, e.g. `kube-system`. */
  readonly namespace: string;
  /** Lease name, e.g. `coil-ipam-leader`. */
  readonly name: string;
  /** This candidate's identity (unique per process, e.g. `<hostname>_<random>`). */
  readonly identity: string;
  /** How long others wait after the last observed renewal. Default 15 000 ms. */
  readonly leaseDurationMs?: number;
  /**
   * The leader gives up when it could not renew for this long. Default 10 000 ms. Each Lease request
   * is bounded by max(1 s, this / 2) and, while leading, by what remains of this deadline.
   */
  readonly renewDeadlineMs?: number;
  /** Interval between attempts. Default 2 000 ms. */
  readonly retryPeriodMs?: number;
  /** Clear the holder on {@link LeaderElector.stop} so another candidate takes over at once. Default true. */
  readonly releaseOnStop?: boolean;
  /** Wall clock of the times written into the Lease (`acquireTime`, `renewTime`); deadlines use the monotonic clock. */
  readonly now?: () => Date;
  /** Logger. */
  readonly log?: Logger;
  /**
   * Told whether this candidate leads: `false` at construction, `true` when elected, `false` when
   * leadership ends (client-go's `leaderOn`/`leaderOff`, i.e. `leader_election_master_status`).
   */
  readonly onLeading?: (leading: boolean) => void;
}

/** How {@link LeaderElector.run} ended. */
export type ElectionEnd = "stopped" | "lost";

interface Observed {
  readonly record: string;
  /** When it was seen ({@link monotonicMs}). */
  readonly at: number;
}

/**
 * The clock of every deadline and of a Lease's local expiry: monotonic, as client-go's, so that a
 * wall clock stepped back cannot keep a leader acting past its renew deadline, nor one stepped
 * forward let a follower take a Lease still held. Wall time is only written into the Lease.
 */
function monotonicMs(): number {
  return performance.now();
}

/** Format a Kubernetes MicroTime (RFC 3339 with exactly 6 fractional digits). */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** One candidate in a Lease-based election. */
export class LeaderElector {
  readonly #o: LeaderElectorOptions;
  readonly #stop = new AbortController();
  #observed: Observed | undefined;
  #leading = false;
  #running: Promise<ElectionEnd> | undefined;

  /** @param o - see {@link LeaderElectorOptions}. */
  constructor(o: LeaderElectorOptions) {
    this.#o = o;
    o.onLeading?.(false);
  }

  get #leaseMs(): number {
    return this.#o.leaseDurationMs ?? 15_000;
  }
  get #renewMs(): number {
    return this.#o.renewDeadlineMs ?? 10_000;
  }
  get #retryMs(): number {
    return this.#o.retryPeriodMs ?? 2_000;
  }
  #now(): Date {
    return this.#o.now?.() ?? new Date();
  }
  #log(): Logger {
    return this.#o.log ?? SILENT_LOGGER;
  }

  /** Whether this candidate currently believes it leads. */
  get isLeader(): boolean {
    return this.#leading;
  }

  /**
   * Campaign until elected, call `onStartedLeading` with a signal that aborts when leadership
   * ends, renew until stopped or lost. Resolves `"lost"` when a renewal deadline passed (the
   * caller should stop acting at once; controller-runtime exits the process) or `"stopped"`.
   */
  run(onStartedLeading: (signal: AbortSignal) => void): Promise<ElectionEnd> {
    this.#running ??= this.#campaign(onStartedLeading);
    return this.#running;
  }

  /** controller-runtime's timeout of the election's client: max(1 s, renew deadline / 2). */
  get #requestMs(): number {
    return Math.max(1_000, this.#renewMs / 2);
  }

  /**
   * One Lease request, given up at max(1 s, renew deadline / 2), at `deadline` ({@link monotonicMs})
   * when sooner, or on stop (unless `untilStop` is false: the release after it): the answer, or a
   * `timeout` (`aborted` on stop) error. The request itself is aborted too when the calls can be
   * cancelled.
   */
  async #call<T>(deadline: number, f: (api: LeaseCalls) => Promise<T>, untilStop = true): Promise<Result<T, K8sError>> {
    const ms = Math.min(this.#requestMs, deadline - monotonicMs());
    if (ms <= 0) return err({ kind: "timeout", status: 0, message: "the renew deadline has passed" });
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(Object.assign(new Error(`no answer to a Lease request within ${Math.round(ms)} ms`), { kind: "timeout" })), ms);
    const stop = this.#stop.signal;
    const onStop = (): void => ac.abort(Object.assign(new Error("leader election stopped"), { kind: "aborted" }));
    if (untilStop && stop.aborted) onStop();
    else if (untilStop) stop.addEventListener("abort", onStop, { once: true });
    const api = this.#o.coordination;
    const calls = "withSignal" in api ? api.withSignal(ac.signal) : api;
    try {
      return await k8sCall(() => {
        if (ac.signal.aborted) return Promise.reject(ac.signal.reason as Error);
        // Given up at the bound even when the call itself does not honour the signal.
        const given = new Promise<never>((_, reject) => ac.signal.addEventListener("abort", () => reject(ac.signal.reason as Error), { once: true }));
        return Promise.race([f(calls), given]);
      });
    } finally {
      clearTimeout(timer);
      stop.removeEventListener("abort", onStop);
      ac.abort();
    }
  }

  async #campaign(onStartedLeading: (signal: AbortSignal) => void): Promise<ElectionEnd> {
    const stop = this.#stop.signal;
    while (!stop.aborted && !(await this.#tryAcquireOrRenew(Number.POSITIVE_INFINITY))) {
      await sleep(this.#retryMs * (1 + Math.random() * 0.2), stop);
    }
    if (stop.aborted) return "stopped";
    this.#leading = true;
    this.#o.onLeading?.(true);
    this.#log().info("became leader", { lease: `${this.#o.namespace}/${this.#o.name}`, identity: this.#o.identity });
    const leadership = new AbortController();
    onStartedLeading(leadership.signal);
    const end = await this.#renewLoop();
    this.#leading = false;
    this.#o.onLeading?.(false);
    leadership.abort();
    if (end === "lost") this.#log().error("leader election lost", { lease: this.#o.name, identity: this.#o.identity });
    return end;
  }

  async #renewLoop(): Promise<ElectionEnd> {
    const stop = this.#stop.signal;
    for (;;) {
      const deadline = monotonicMs() + this.#renewMs;
      let renewed = false;
      while (!stop.aborted && monotonicMs() < deadline) {
        // Bounded by the deadline: a hung renewal cannot keep this leader acting past it.
        if (await this.#tryAcquireOrRenew(deadline)) {
          renewed = true;
          break;
        }
        await sleep(Math.min(this.#retryMs, Math.max(0, deadline - monotonicMs())), stop);
      }
      if (stop.aborted) return "stopped";
      if (!renewed) return "lost";
      await sleep(this.#retryMs, stop);
      if (stop.aborted) return "stopped";
    }
  }

  /**
   * Stop campaigning/renewing; release the lease if leading and `release` (default:
   * `releaseOnStop`). `release: false` leaves the lease to expire, as a crash would.
   */
  async stop(opts: { readonly release?: boolean } = {}): Promise<void> {
    const wasLeading = this.#leading;
    this.#stop.abort();
    await this.#running;
    if (wasLeading && (opts.release ?? this.#o.releaseOnStop !== false)) await this.#release();
  }

  #spec(lease: V1Lease | undefined): NonNullable<V1Lease["spec"]> {
    return lease?.spec ?? {};
  }

  /** One round of client-go's `tryAcquireOrRenew`; every request given up by `deadline` ({@link monotonicMs}). */
  async #tryAcquireOrRenew(deadline: number): Promise<boolean> {
    const { namespace, name, identity } = this.#o;
    const now = this.#now();
    const seconds = Math.max(1, Math.ceil(this.#leaseMs / 1000));
    const got = await this.#call(deadline, (api) => api.readNamespacedLease({ name, namespace }));
    if (got.isErr()) {
      if (got.error.kind !== "not-found") return false;
      const spec = { holderIdentity: identity, leaseDurationSeconds: seconds, acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 };
      const created = await this.#call(deadline, (api) => api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec: spec as never } }));
      if (created.isErr()) return false;
      this.#observe(created.value);
      return true;
    }
    const lease = got.value;
    const old = this.#spec(lease);
    // Observed when the answer came (client-go's setObservedRecord), not when the GET was sent: a slow
    // GET must not make the holder's lease look older than it is.
    if (this.#observed?.record !== JSON.stringify(old)) this.#observe(lease);
    const holder = old.holderIdentity ?? "";
    const validFor = (old.leaseDurationSeconds ?? 0) * 1000;
    if (holder !== "" && holder !== identity && (this.#observed?.at ?? Number.NEGATIVE_INFINITY) + validFor > monotonicMs()) return false;
    const mine = holder === identity;
    const spec = {
      holderIdentity: identity,
      leaseDurationSeconds: seconds,
      acquireTime: mine && old.acquireTime !== undefined ? (old.acquireTime as unknown as string) : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: (old.leaseTransitions ?? 0) + (mine ? 0 : 1),
    };
    const body = { ...lease, spec: spec as never };
    const updated = await this.#call(deadline, (api) => api.replaceNamespacedLease({ name, namespace, body }));
    if (updated.isErr()) return false;
    this.#observe(updated.value);
    return true;
  }

  /** Note `lease` as seen now (the monotonic clock: a stepped wall clock must not move its expiry). */
  #observe(lease: V1Lease): void {
    this.#observed = { record: JSON.stringify(this.#spec(lease)), at: monotonicMs() };
  }

  /** Clear the holder (client-go's `release`, bounded by the renew deadline as there). */
  async #release(): Promise<void> {
    const { namespace, name, identity } = this.#o;
    const deadline = monotonicMs() + this.#renewMs;
    const bounded = <T>(f: (a: LeaseCalls) => Promise<T>): Promise<Result<T, K8sError>> => this.#call(deadline, f, false);
    const got = await bounded((a) => a.readNamespacedLease({ name, namespace }));
    if (got.isErr() || got.value.spec?.holderIdentity !== identity) return;
    const now = microTime(this.#now());
    const spec = { ...got.value.spec, holderIdentity: "", leaseDurationSeconds: 1, acquireTime: now, renewTime: now };
    const r = await bounded((a) => a.replaceNamespacedLease({ name, namespace, body: { ...got.value, spec: spec as never } }));
    if (r.isErr()) this.#log().warn("failed to release lease", { error: r.error });
    else this.#log().info("released lease", { lease: name, identity });
  }
}
