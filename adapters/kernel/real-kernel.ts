/**
 * The real {@link Kernel}: the executor and the observer bound to one set of options.
 */
import { applyChangeset, type ExecutorOptions } from "./executor.js";
import { IP_SESSION_ARGV, IpSession } from "./ip-session.js";
import type { Kernel } from "./kernel.js";
import { observeNetns, observeNft, observeRoutes } from "./observer.js";

/**
 * A {@link Kernel} that spawns `ip`, `sysctl` and `nft` (through `nsenter` for namespace paths);
 * `ip` lines for its own namespace go to one long-lived {@link IpSession} unless `ipSession: false`,
 * and so do its own namespace's route queries (`observeRoutes`; IPv6 ones to a second, `ip -6`,
 * co-process started at the first such query).
 */
export function realKernel(opts: Omit<ExecutorOptions, "ipSession"> & { readonly ipSession?: IpSession | false } = {}): Kernel {
  const { ipSession, ...rest } = opts;
  const session = ipSession === false ? undefined : (ipSession ?? new IpSession());
  const session6 = session === undefined ? undefined : new IpSession(["ip", "-6", ...IP_SESSION_ARGV.slice(1)], { lanes: 1 });
  const exec: ExecutorOptions = { ...rest, ...(session !== undefined ? { ipSession: session } : {}) };
  const timeout = (o: { readonly timeoutMs?: number } | undefined): { timeoutMs?: number } => {
    const t = o?.timeoutMs ?? opts.timeoutMs;
    return t !== undefined ? { timeoutMs: t } : {};
  };
  return {
    apply: (cs) => applyChangeset(cs, exec),
    observe: (ref, o) => observeNetns(ref, { ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}), ...o }),
    observeRoutes: (ref, q, o) =>
      observeRoutes(ref, q, { ...timeout(o), ...(session !== undefined ? { session4: session } : {}), ...(session6 !== undefined ? { session6 } : {}) }),
    observeNft: (ref, q) => observeNft(ref, q),
  };
}
