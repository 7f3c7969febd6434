/**
 * coild's operation errors as CNI errors: where a `kind`-tagged failure of `node/cni.ts` becomes
 * text (Coil's messages, the details a person reads). Codes follow Coil (nearly everything
 * INTERNAL 999) except where a retry can succeed: pool exhaustion, store I/O, a host that cannot
 * be observed right now and transient kernel failures answer TRY_AGAIN_LATER (11) — Coil reports
 * those as 999 after a 10 s BlockRequest timeout. STATUS answers 50/51.
 */
import { explain, type KernelApplyError } from "../../../lib/changeset/index.js";
import { CNI_ERROR, cniError, type CniError } from "../../../lib/cni/index.js";
import type { EgressHookError } from "../egress/hook.js";
import type { AddError, AttachError, AttachmentKey, CheckError, DelError, GcError, StatusError } from "../node/cni.js";
import type { ExportError } from "../node/route-export.js";
import type { AllocateError } from "../node/state.js";

const INTERNAL = CNI_ERROR.INTERNAL;
const TRY_AGAIN_LATER = CNI_ERROR.TRY_AGAIN_LATER;
/** Coil's message for a failed ADD set-up. */
const SETUP_FAILED = "failed to setup pod network IPAM";
/** Coil's message for a failed DEL. */
const DESTROY_FAILED = "failed to destroy pod network";
const json = (x: unknown): string => JSON.stringify(x);

/** A failed apply, for people: what the tool printed and whether everything was reverted. */
export function describeApplyError(e: KernelApplyError): string {
  return e.kind === "apply-failed" ? `${e.stderr.trim()} (rolled back: ${e.rolledBack})` : json(e.cause);
}

function allocateFailure(e: AllocateError): CniError {
  const msg = "failed to allocate address";
  if (e.kind === "ipam") return cniError(INTERNAL, msg, e.cause.message);
  // A configuration problem a retry cannot cure: nothing was taken.
  if (e.kind === "family-unavailable") return cniError(INTERNAL, msg, `${e.message}; no block was requested`);
  // Beyond Coil: a static address that cannot be placed; nothing was taken.
  if (e.kind === "static-address") return cniError(INTERNAL, msg, e.message);
  switch (e.cause.kind) {
    case "pool-exhausted":
    case "store-io":
      return cniError(TRY_AGAIN_LATER, msg, e.cause.message);
    case "pool-not-found":
    case "store-state-invalid":
    case "static-refused":
      return cniError(INTERNAL, msg, e.cause.message);
  }
}

/** The kernel side of an attachment failing during the operation Coil names `msg`. */
function attachFailure(msg: string, e: AttachError): CniError {
  switch (e.kind) {
    case "observe-failed":
      return e.netns === "host" ? cniError(TRY_AGAIN_LATER, msg, `observe host: ${json(e.cause)}`) : cniError(INTERNAL, msg, `observe pod netns: ${json(e.cause)}`);
    case "no-veth-name":
      return cniError(INTERNAL, msg, e.cause.kind === "names-exhausted" ? `could not draw an unused host veth name in ${e.cause.tries} tries` : e.cause.cause.message);
    case "plan-failed":
      return cniError(INTERNAL, msg, e.cause.message);
    case "apply-failed":
      return cniError(e.cause.retryable ? TRY_AGAIN_LATER : INTERNAL, msg, describeApplyError(e.cause));
  }
}

/**
 * The NAT hook's failure as Coil reports it (`getPodFromArgs`, `getHook`, `SetupEgress`); an API
 * server that did not answer is worth a retry (11).
 */
function egressFailure(e: EgressHookError): CniError {
  switch (e.kind) {
    case "pod-name-missing":
      return cniError(CNI_ERROR.INVALID_ENVIRONMENT_VARIABLES, "missing pod name/namespace");
    case "pod-not-found":
      return cniError(CNI_ERROR.UNKNOWN_CONTAINER, "pod not found", e.message);
    case "pod-unreadable":
      return cniError(TRY_AGAIN_LATER, "failed to get pod", e.message);
    case "gateways-failed":
      return cniError(e.cause.kind === "lookup-failed" ? TRY_AGAIN_LATER : INTERNAL, "failed to setup NAT hook", e.message);
    case "nat-setup-failed":
      return cniError(INTERNAL, "failed to setup pod network egress", e.message);
    case "nat-teardown-failed":
      return cniError(INTERNAL, "failed to remove pod network egress", e.message);
  }
}

/** ADD's error as Coil reports it. */
export function addFailure(e: AddError): CniError {
  switch (e.kind) {
    case "chained":
      return cniError(INTERNAL, "coil must be called as the first plugin when IPAM related features are enabled");
    // Egress-only mode: what prevResult must give is part of the network configuration (code 7).
    case "not-chained":
      return cniError(CNI_ERROR.INVALID_NETWORK_CONFIG, "coil must be chained after another plugin in egress-only mode", "no prevResult: coild runs with --enable-ipam=false, so the pod network and its addresses come from the plugin before coil");
    case "prev-result-unusable":
      return e.reason === "no-ip"
        ? cniError(CNI_ERROR.INVALID_NETWORK_CONFIG, "invalid prevResult", "prevResult has no IP address for the pod")
        : cniError(CNI_ERROR.INVALID_NETWORK_CONFIG, "invalid prevResult", "prevResult names no host-side interface (one without a sandbox) to tag with the pod's alias");
    case "alias-failed":
      // Coil: "failed to set interface alias: …".
      return attachFailure("failed to set interface alias", e.cause);
    case "host-interface-missing":
      return cniError(CNI_ERROR.INVALID_NETWORK_CONFIG, "invalid prevResult", `prevResult's host-side interface ${e.names.map((n) => JSON.stringify(n)).join(", ")} does not exist in coild's network namespace`);
    case "allocate-failed":
      return allocateFailure(e.cause);
    case "egress-failed":
      return egressFailure(e.cause);
    case "static-address-failed":
      return cniError(e.cause.retryable ? TRY_AGAIN_LATER : INTERNAL, "failed to allocate address", e.cause.message);
    default:
      return attachFailure(SETUP_FAILED, e);
  }
}

/** DEL's error as Coil reports it. */
export function delFailure(e: DelError): CniError {
  return e.kind === "egress-failed" ? egressFailure(e.cause) : attachFailure(DESTROY_FAILED, e);
}

/** CHECK's error as Coil reports it: always 999 "check failed", the reason in the details. */
export function checkFailure(k: AttachmentKey, e: CheckError): CniError {
  const failed = (details: string): CniError => cniError(INTERNAL, "check failed", details);
  switch (e.kind) {
    case "no-host-link":
      return failed(`no host link with alias for ${k.containerId}:${k.ifname}`);
    case "no-allocation":
      return failed(`no address allocated to ${k.containerId}:${k.ifname}`);
    case "drift":
      return failed(`pod network differs from the plan:\n${explain(e.drift)}`);
    case "no-aliased-link":
      return failed(`no host link with alias ${e.alias}`);
    case "egress-failed": {
      // Coil: "unable to get pod" with the Pod read's error.
      const c = egressFailure(e.cause);
      return cniError(c.code, "unable to get pod", c.details === "" ? c.msg : `${c.msg}: ${c.details}`);
    }
    default:
      return failed(attachFailure("check failed", e).details);
  }
}

/** A failed sync of the export table, for people. */
export function describeExportError(e: ExportError): string {
  switch (e.kind) {
    case "observe-failed":
      return `observe: ${json(e.cause)}`;
    case "plan-failed":
      return `plan: ${e.cause.message}`;
    case "apply-failed":
      return `apply: ${describeApplyError(e.cause)}`;
  }
}

/** STATUS's answer when the plugin cannot serve ADD (50) or existing pods may lack connectivity (51). */
export function statusFailure(e: StatusError): CniError {
  switch (e.kind) {
    case "starting":
      return cniError(CNI_ERROR.PLUGIN_NOT_AVAILABLE, "coild is starting");
    case "pool-exhausted":
      return cniError(CNI_ERROR.PLUGIN_NOT_AVAILABLE, `pool ${e.pool} is exhausted`, "every block of the node is full and the pool has no free block");
    case "export-failed":
      return cniError(CNI_ERROR.PLUGIN_NOT_AVAILABLE_LIMITED_CONNECTIVITY, "route export failed", describeExportError(e.cause));
  }
}

/** GC's error: the host unreadable (11), or one line per attachment or block store failure (999). */
export function gcFailure(e: GcError): CniError {
  if (e.kind === "observe-failed") return cniError(TRY_AGAIN_LATER, "gc failed", `observe host: ${json(e.cause)}`);
  const lines = e.attachments.map(({ key, cause }) => {
    const c = delFailure(cause);
    return `${key.containerId}:${key.ifname}: ${c.msg} ${c.details}`;
  });
  if (e.blocks !== undefined) lines.push(`blocks: ${e.blocks.message}`);
  return cniError(INTERNAL, "gc failed", lines.join("\n"));
}
