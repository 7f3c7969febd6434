/**
 * Parsing `CNI_ARGS` (`K=V;K2=V2`), with libcni `types.LoadArgs` semantics for the keys Coil reads.
 */
import { err, ok, type Result } from "neverthrow";
import { CNI_ERROR, cniError, quoteList, quoteValue, type CniError } from "./errors.js";
import { isDns1123Label, isDns1123Subdomain } from "../net/index.js";
import { validateContainerId } from "./names.js";

/** The `CNI_ARGS` keys this module knows (Coil's `PluginEnvArgs` plus `K8S_POD_UID`). */
export const KNOWN_CNI_ARGS = [
  "IgnoreUnknown",
  "K8S_POD_NAMESPACE",
  "K8S_POD_NAME",
  "K8S_POD_INFRA_CONTAINER_ID",
  "K8S_POD_UID",
] as const;

/** Parsed `CNI_ARGS`. Absent keys are `""` (Go's zero value), as Coil sends them to coild. */
export interface CniArgs {
  /** `IgnoreUnknown` (`1`/`true`/`0`/`false`, case-insensitive). */
  readonly ignoreUnknown: boolean;
  /** `K8S_POD_NAMESPACE`. */
  readonly podNamespace: string;
  /** `K8S_POD_NAME`. */
  readonly podName: string;
  /** `K8S_POD_INFRA_CONTAINER_ID`. */
  readonly podInfraContainerId: string;
  /** `K8S_POD_UID`. */
  readonly podUid: string;
  /** Every pair as given (later duplicates win), including unknown ones. */
  readonly pairs: Readonly<Record<string, string>>;
}

const loadError = (details: string): CniError =>
  cniError(CNI_ERROR.INVALID_ENVIRONMENT_VARIABLES, "failed to load CNI_ARGS", details);

function parseBool(pair: string, value: string): Result<boolean, CniError> {
  const v = value.toLowerCase();
  if (v === "1" || v === "true") return ok(true);
  if (v === "0" || v === "false") return ok(false);
  return err(loadError(`ARGS: error parsing value of pair ${quoteValue(pair)}: boolean unmarshal error: invalid input ${quoteValue(v)}`));
}

/**
 * Check the pod keys `K8S_POD_NAMESPACE` and `K8S_POD_NAME` with Kubernetes' name rules (a
 * namespace is an RFC 1123 label, a pod name an RFC 1123 subdomain); an empty value is allowed
 * (the key was not sent). Failures are code 4 "failed to load CNI_ARGS" quoting the value.
 */
export function checkPodNames(namespace: string, name: string): Result<void, CniError> {
  if (namespace !== "" && !isDns1123Label(namespace)) {
    return err(loadError(`K8S_POD_NAMESPACE ${quoteValue(namespace)} is not a valid namespace name (RFC 1123 label)`));
  }
  if (name !== "" && !isDns1123Subdomain(name)) {
    return err(loadError(`K8S_POD_NAME ${quoteValue(name)} is not a valid pod name (RFC 1123 subdomain)`));
  }
  return ok(undefined);
}

/** Kubernetes name rules for the pod keys (an empty value is allowed: the key was not sent). */
function checkK8sValues(a: CniArgs): Result<CniArgs, CniError> {
  const names = checkPodNames(a.podNamespace, a.podName);
  if (names.isErr()) return err(names.error);
  if (a.podInfraContainerId !== "") {
    const r = validateContainerId(a.podInfraContainerId, "K8S_POD_INFRA_CONTAINER_ID");
    if (r.isErr()) return err(loadError(`${r.error.msg}: ${r.error.details}`));
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(a.podUid)) return err(loadError(`K8S_POD_UID ${quoteValue(a.podUid)} contains control characters`));
  return ok(a);
}

/**
 * Parse `CNI_ARGS` like libcni's `LoadArgs` into Coil's keys: `""` → all defaults; each `;`-separated
 * pair must split on `=` into exactly two parts; unknown keys are an error unless `IgnoreUnknown` is
 * true. On top of libcni, the pod keys must be valid Kubernetes names (they become API lookups).
 * Every failure is code 4 "failed to load CNI_ARGS" with the reason in `details` (Coil §7.2), which
 * quotes the offending values bounded (`quoteValue`, `quoteList`).
 */
export function parseCniArgs(input: string): Result<CniArgs, CniError> {
  const pairs: [string, string][] = [];
  if (input !== "") {
    for (const pair of input.split(";")) {
      const kv = pair.split("=");
      if (kv.length !== 2) return err(loadError(`ARGS: invalid pair ${quoteValue(pair)}`));
      pairs.push([kv[0] ?? "", kv[1] ?? ""]);
    }
  }
  const known = new Map<string, string>();
  const unknown: string[] = [];
  let ignoreUnknown = false;
  for (const [k, v] of pairs) {
    if (!(KNOWN_CNI_ARGS as readonly string[]).includes(k)) {
      unknown.push(`${k}=${v}`);
      continue;
    }
    if (k === "IgnoreUnknown") {
      const b = parseBool(`${k}=${v}`, v);
      if (b.isErr()) return err(b.error);
      ignoreUnknown = b.value;
    }
    known.set(k, v);
  }
  if (unknown.length > 0 && !ignoreUnknown) return err(loadError(`ARGS: unknown args ${quoteList(unknown)}`));
  return checkK8sValues({
    ignoreUnknown,
    podNamespace: known.get("K8S_POD_NAMESPACE") ?? "",
    podName: known.get("K8S_POD_NAME") ?? "",
    podInfraContainerId: known.get("K8S_POD_INFRA_CONTAINER_ID") ?? "",
    podUid: known.get("K8S_POD_UID") ?? "",
    pairs: Object.fromEntries(pairs),
  });
}
