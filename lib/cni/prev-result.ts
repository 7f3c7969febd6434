/**
 * `prevResult` handling for chained plugins: parse it with libcni's version rules, and extract what
 * Coil sends to coild (`CNIArgs.ips`, `CNIArgs.interfaces`).
 */
import { err, ok, type Result } from "neverthrow";
import { cidrAddress, ipFamily, type Ip } from "../net/index.js";
import { CNI_ERROR, cniError, type CniError } from "./errors.js";
import { parseResult, type CniResult } from "./result.js";
import type { CniVersion } from "./version.js";

/** True for the 1.x result family (no `ips[].version`), false for 0.3.x/0.4.0. */
export function isV1Family(v: string): boolean {
  return v.startsWith("1.");
}

/**
 * Parse `prevResult` for a config of version `configVersion`. As libcni's `ParsePrevResult`, a
 * missing `cniVersion` inside prevResult means the config's version, and the result must belong to
 * the same family as the config (0.3.x/0.4.0 vs 1.x). The returned result is in current form; print
 * it back with `convertResult(result, configVersion)` to pass it through unchanged.
 * Errors: code 6 "failed to parse prevResult".
 */
export function parsePrevResult(raw: unknown, configVersion: CniVersion): Result<CniResult, CniError> {
  return parseResult(raw, { defaultVersion: configVersion })
    .mapErr((e) => cniError(CNI_ERROR.DECODING_FAILURE, "failed to parse prevResult", e.details))
    .andThen((r) =>
      isV1Family(r.cniVersion) === isV1Family(configVersion)
        ? ok(r)
        : err(
            cniError(
              CNI_ERROR.DECODING_FAILURE,
              "failed to parse prevResult",
              `prevResult version ${JSON.stringify(r.cniVersion)} does not match config version ${JSON.stringify(configVersion)}`,
            ),
          ),
    );
}

/** What Coil's CNI executable forwards from prevResult to coild. */
export interface PrevResultSummary {
  /** Addresses without prefix length, in result order (`CNIArgs.ips`). */
  readonly ips: readonly Ip[];
  /** Interface name → whether it has a sandbox (`CNIArgs.interfaces`). */
  readonly interfaces: Readonly<Record<string, boolean>>;
}

/** Summarise a prevResult as Coil's `makeCNIArgs` does. */
export function prevResultSummary(r: CniResult): PrevResultSummary {
  return {
    ips: r.ips.map((ip) => cidrAddress(ip.address)),
    interfaces: Object.fromEntries(r.interfaces.map((i) => [i.name, (i.sandbox ?? "") !== ""])),
  };
}

/** A chained pod's addresses: at most one per family. */
export interface ChainedPodAddresses {
  /** The first IPv4 address in prevResult, if any. */
  readonly ipv4?: Ip;
  /** The first IPv6 address in prevResult, if any. */
  readonly ipv6?: Ip;
}

/**
 * The pod's addresses in a chained call, as Coil's egress-only coild takes them from prevResult:
 * the first IPv4 and the first IPv6 address (Coil's `getPodIPs`, without its slip that makes a
 * second IPv4 address the "IPv6" one when no IPv6 address came first).
 */
export function chainedPodAddresses(s: PrevResultSummary): ChainedPodAddresses {
  const ipv4 = s.ips.find((ip) => ipFamily(ip) === 4);
  const ipv6 = s.ips.find((ip) => ipFamily(ip) === 6);
  return { ...(ipv4 === undefined ? {} : { ipv4 }), ...(ipv6 === undefined ? {} : { ipv6 }) };
}

/** prevResult's interfaces without a sandbox (the host side, e.g. ptp's host veth), in prevResult order. */
export function chainedHostInterfaces(s: PrevResultSummary): string[] {
  return Object.entries(s.interfaces).flatMap(([name, sandbox]) => (sandbox ? [] : [name]));
}
