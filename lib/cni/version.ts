/**
 * CNI spec versions: the supported set, comparison, negotiation, the VERSION result and the
 * per-verb minimum versions.
 */
import { err, ok, type Result } from "neverthrow";
import { CNI_ERROR, cniError, quoteList, quoteValue, type CniError } from "./errors.js";

/**
 * The CNI error for a configuration whose version cannot be served: code 1 with libcni's message
 * `incompatible CNI versions`; `details` says what was offered and what is supported.
 */
export function incompatibleVersions(details: string): CniError {
  return cniError(CNI_ERROR.INCOMPATIBLE_CNI_VERSION, "incompatible CNI versions", details);
}

/** Spec versions this plugin speaks, oldest first. */
export const SUPPORTED_VERSIONS = ["0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const;

/** A supported spec version. */
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];

/** The newest supported spec version: the form results are built in ("current"). */
export const CURRENT_VERSION: CniVersion = "1.1.0";

/** The VERSION command's output. */
export interface VersionResult {
  /** The version the caller asked about (echoed), or {@link CURRENT_VERSION}. */
  readonly cniVersion: string;
  /** Every version the plugin supports. */
  readonly supportedVersions: readonly CniVersion[];
}

/** True when `v` is one of {@link SUPPORTED_VERSIONS}. */
export function isSupportedVersion(v: unknown): v is CniVersion {
  return typeof v === "string" && (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/**
 * Parse `MAJOR[.MINOR[.PATCH]]` (decimal, as libcni's `version.ParseVersion`). Errors are code 6,
 * as skel reports an unparsable config version.
 */
export function parseVersion(v: string): Result<readonly [number, number, number], CniError> {
  if (!/^\d{1,9}(\.\d{1,9}){0,2}$/.test(v)) {
    return err(cniError(CNI_ERROR.DECODING_FAILURE, `invalid version ${quoteValue(v)}`));
  }
  const [a = 0, b = 0, c = 0] = v.split(".").map(Number);
  return ok([a, b, c] as const);
}

/** Compare two versions: negative, zero or positive. Errors if either does not parse. */
export function compareVersions(a: string, b: string): Result<number, CniError> {
  return parseVersion(a).andThen((x) =>
    parseVersion(b).map((y) => x[0] - y[0] || x[1] - y[1] || x[2] - y[2]),
  );
}

/** Input of {@link negotiateVersion}: the network config's version keys. */
export interface VersionOffer {
  /** The config's `cniVersion`. */
  readonly cniVersion: string;
  /** The config's optional `cniVersions` list (spec 1.1.0). */
  readonly cniVersions?: readonly string[];
}

/**
 * Pick the version a runtime uses with this plugin: the highest of `cniVersion` ∪ `cniVersions`
 * that `supported` contains (spec 1.1.0 "cniVersions"). Entries that do not parse are ignored.
 * No common version → code 1 "incompatible CNI versions".
 */
export function negotiateVersion(
  offer: VersionOffer,
  supported: readonly string[] = SUPPORTED_VERSIONS,
): Result<string, CniError> {
  const candidates = [offer.cniVersion, ...(offer.cniVersions ?? [])].filter((v) => supported.includes(v));
  let best: string | undefined;
  for (const v of candidates) {
    const c = best === undefined ? ok(1) : compareVersions(v, best);
    if (c.isOk() && c.value > 0) best = v;
  }
  if (best !== undefined) return ok(best);
  const offered = [offer.cniVersion, ...(offer.cniVersions ?? [])];
  return err(incompatibleVersions(`config offers ${quoteList(offered)}, plugin supports ${JSON.stringify(supported)}`));
}

/**
 * The VERSION output. The spec says to echo the input `cniVersion`; when it is missing or not a
 * version string, {@link CURRENT_VERSION} is reported (libcni always reports its current one).
 */
export function versionResult(requested?: string): VersionResult {
  const echo = requested !== undefined && parseVersion(requested).isOk() ? requested : CURRENT_VERSION;
  return { cniVersion: echo, supportedVersions: [...SUPPORTED_VERSIONS] };
}

/** The CNI verbs that need a minimum config version. */
export type GatedCommand = "CHECK" | "GC" | "STATUS";

/** Minimum config `cniVersion` per verb: CHECK since 0.4.0, GC and STATUS since 1.1.0. */
export const MIN_VERSION_FOR: Readonly<Record<GatedCommand, string>> = {
  CHECK: "0.4.0",
  GC: "1.1.0",
  STATUS: "1.1.0",
};

/**
 * Refuse a verb the config version does not allow. Code 1 (incompatible CNI version), with skel's
 * message "config version does not allow CHECK" (likewise GC, STATUS): the config is valid, only its
 * version is too old, so code 2 (unsupported field) does not fit. Other verbs always pass.
 */
export function checkCommandVersion(command: string, configVersion: string): Result<void, CniError> {
  if (command !== "CHECK" && command !== "GC" && command !== "STATUS") return ok(undefined);
  return compareVersions(configVersion, MIN_VERSION_FOR[command]).andThen((c) =>
    c >= 0
      ? ok(undefined)
      : err(
          cniError(
            CNI_ERROR.INCOMPATIBLE_CNI_VERSION,
            `config version does not allow ${command}`,
            `${command} needs cniVersion >= ${MIN_VERSION_FOR[command]}, config is ${quoteValue(configVersion)}`,
          ),
        ),
  );
}
