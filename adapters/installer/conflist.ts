/**
 * Checks on CNI network configuration lists: the one to install must be valid JSON naming `coil` as
 * its first plugin (or, egress-only, after the first), and other conflists are recognised as Coil's when any plugin has type `coil`.
 */
import { err, ok, type Result } from "neverthrow";
import { isSupportedVersion, SUPPORTED_VERSIONS } from "../../lib/cni/index.js";

/** Why a conflist was refused. */
export interface InvalidNetconfError {
  readonly kind: "invalid-netconf";
  readonly reason: string;
}

/** The fields of a validated conflist the installer looks at. */
export interface ValidConflist {
  readonly cniVersion: string;
  readonly name: string;
  readonly pluginTypes: readonly string[];
}

const invalid = (reason: string): Result<never, InvalidNetconfError> => err({ kind: "invalid-netconf", reason });

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Validate the conflist to install: a JSON object with a supported `cniVersion`, a non-empty
 * `name`, and a non-empty `plugins` array of objects with string `type`s, the first being `coil`
 * (Coil must run first when IPAM is enabled, spec §7.1). `chained` (egress-only mode): coil must be
 * there but not first, after the plugin that makes the pod network.
 */
export function validateConflist(text: string, o: { readonly chained?: boolean } = {}): Result<ValidConflist, InvalidNetconfError> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return invalid(`not JSON: ${(e as Error).message}`);
  }
  if (!isRecord(doc)) return invalid("not a JSON object");
  const { cniVersion, name, plugins } = doc;
  if (!isSupportedVersion(cniVersion)) {
    return invalid(`cniVersion ${JSON.stringify(cniVersion)} is not one of ${SUPPORTED_VERSIONS.join(", ")}`);
  }
  if (typeof name !== "string" || name === "") return invalid("name must be a non-empty string");
  if (!Array.isArray(plugins) || plugins.length === 0) return invalid("plugins must be a non-empty array");
  const types: string[] = [];
  for (const [i, p] of plugins.entries()) {
    if (!isRecord(p) || typeof p["type"] !== "string" || p["type"] === "") {
      return invalid(`plugins[${i}] must be an object with a non-empty string type`);
    }
    types.push(p["type"]);
  }
  if (o.chained === true) {
    if (types[0] === "coil" || !types.includes("coil")) return invalid(`COIL_CHAINED=true: coil must come after the first plugin (the one that makes the pod network), got ${JSON.stringify(types)}`);
  } else if (types[0] !== "coil") {
    return invalid(`the first plugin must be coil, got ${JSON.stringify(types[0])}`);
  }
  return ok({ cniVersion, name, pluginTypes: types });
}

/** True when `text` is a JSON conflist any of whose plugins has type `coil`; false for anything else. */
export function conflistNamesCoil(text: string): boolean {
  try {
    const doc: unknown = JSON.parse(text);
    return isRecord(doc) && Array.isArray(doc["plugins"]) && doc["plugins"].some((p) => isRecord(p) && p["type"] === "coil");
  } catch {
    return false;
  }
}
