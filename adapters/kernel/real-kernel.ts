/**
 * The real {@link Kernel}: the executor and the observer bound to one set of options.
 */
import { applyChangeset, type ExecutorOptions } from "./executor.js";
import { IpSession } from "./ip-session.js";
import type { Kernel } from "./kernel.js";
import { observeNetns, observeNft } from "./observer.js";

/**
 * A {@link Kernel} that spawns `ip`, `sysctl` and `nft` (through `nsenter` for namespace paths);
 * `ip` lines for its own namespace go to one long-lived {@link IpSession} unless `ipSession: false`.
 */
export function realKernel(opts: Omit<ExecutorOptions, "ipSession"> & { readonly ipSession?: IpSession | false } = {}): Kernel {
  const { ipSession, ...rest } = opts;
  const session = ipSession === false ? undefined : (ipSession ?? new IpSession());
  const exec: ExecutorOptions = { ...rest, ...(session !== undefined ? { ipSession: session } : {}) };
  return {
    apply: (cs) => applyChangeset(cs, exec),
    observe: (ref, o) => observeNetns(ref, { ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}), ...o }),
    observeNft: (ref, q) => observeNft(ref, q),
  };
}
