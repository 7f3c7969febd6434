/**
 * The real {@link Kernel}: the executor and the observer bound to one set of options.
 */
import { applyChangeset, type ExecutorOptions } from "./executor.js";
import type { Kernel } from "./kernel.js";
import { observeNetns, observeNft } from "./observer.js";

/** A {@link Kernel} that spawns `ip`, `sysctl` and `nft` (through `nsenter` for namespace paths). */
export function realKernel(opts: ExecutorOptions = {}): Kernel {
  return {
    apply: (cs) => applyChangeset(cs, opts),
    observe: (ref, o) => observeNetns(ref, { ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}), ...o }),
    observeNft: (ref, q) => observeNft(ref, q),
  };
}
