/**
 * Static addresses at ADD (beyond Coil, docs/static-addresses.md): the pod annotation
 * `coil-ts.cybozu.com/static-ip` read from the Pod, and a Pod reader that lets the readers of one
 * ADD (the NAT hook, static addresses) share one GET. Coil reads the Pod at every ADD too.
 */
import { err, ok, type Result } from "neverthrow";
import type { PodRef } from "../../../lib/cni/index.js";
import { ANNOTATION_STATIC_IP } from "../../../lib/constants.js";
import { parseStaticIps } from "../../../lib/ipam/index.js";
import type { Ip } from "../../../lib/net/index.js";

/** What ADD reads of a Pod. */
export interface PodView {
  /** `metadata.annotations`. */
  readonly annotations: Readonly<Record<string, string>>;
  /** `spec.hostNetwork`. */
  readonly hostNetwork: boolean;
  /** `metadata.uid`. */
  readonly uid?: string;
}

/** GET a Pod: its view, undefined when it does not exist, or why it could not be read. */
export type PodRead = (pod: PodRef) => Promise<Result<PodView | undefined, string>>;

/**
 * A {@link PodRead} whose answers are shared for `ttlMs` (default 1 s) per pod, in flight too, so
 * the readers of one ADD cost one GET. `now` is injectable for tests.
 */
export function sharedPodReader(get: PodRead, ttlMs = 1000, now: () => number = Date.now): PodRead {
  const memo = new Map<string, { readonly at: number; readonly answer: Promise<Result<PodView | undefined, string>> }>();
  return (pod) => {
    const t = now();
    for (const [k, v] of memo) if (t - v.at >= ttlMs) memo.delete(k);
    const key = `${pod.namespace}/${pod.name}`;
    const hit = memo.get(key);
    if (hit !== undefined) return hit.answer;
    const answer = get(pod);
    memo.set(key, { at: t, answer });
    // A failed read is not kept: the next reader tries again.
    void answer.then((r) => {
      if (r.isErr() && memo.get(key)?.answer === answer) memo.delete(key);
    });
    return answer;
  };
}

/** Why the static address of a pod could not be read. */
export interface StaticAddressError {
  /** For people. */
  readonly message: string;
  /** Whether a retry can help (the Pod could not be read). */
  readonly retryable: boolean;
}

/** The static address(es) a pod asks for; undefined when it asks for none. */
export type StaticAddressOf = (pod: PodRef) => Promise<Result<{ readonly ipv4?: Ip; readonly ipv6?: Ip } | undefined, StaticAddressError>>;

/** {@link StaticAddressOf} over a Pod reader: the annotation parsed, a bad value refused with the pod and the key named. */
export function staticAddressOf(readPod: PodRead): StaticAddressOf {
  return async (pod) => {
    if (pod.namespace === "" || pod.name === "") return ok(undefined);
    const p = await readPod(pod);
    if (p.isErr()) return err({ message: `failed to get pod ${pod.namespace}/${pod.name}: ${p.error}`, retryable: true });
    const text = p.value?.annotations[ANNOTATION_STATIC_IP];
    if (text === undefined) return ok(undefined);
    return parseStaticIps(text).mapErr((e) => ({ message: `pod ${pod.namespace}/${pod.name}: annotation ${ANNOTATION_STATIC_IP}: ${e.message}`, retryable: false }));
  };
}
