/**
 * The NAT gateways of a client pod (Coil §6.2, §6.4 `getHook`): the Egress and Service reads are
 * injected ({@link EgressLookup}); lib/egress decides (`egressRefs`, `gatewaysOf`).
 */
import { err, ok, type Result } from "neverthrow";
import { egressKey, gatewaysOf, parseEgress, type EgressRef, type NatGateway } from "../../../lib/egress/index.js";

export type { EgressRef, NatGateway } from "../../../lib/egress/index.js";
export { egressRefs } from "../../../lib/egress/index.js";

/** Why the gateways could not be determined. */
export type GatewayError =
  | { readonly kind: "egress-not-found"; readonly egress: EgressRef; readonly message: string }
  | { readonly kind: "service-not-found"; readonly egress: EgressRef; readonly message: string }
  | { readonly kind: "lookup-failed"; readonly egress: EgressRef; readonly message: string }
  | { readonly kind: "invalid-egress"; readonly egress: EgressRef; readonly message: string };

/** A lookup result: the object, `undefined` when it does not exist, or a failure message. */
export type Lookup<T> = Result<T | undefined, string>;

/** Reads of the API server the gateways need. */
export interface EgressLookup {
  /** GET the Egress (raw JSON). */
  egress(ref: EgressRef): Promise<Lookup<unknown>>;
  /** GET the Service of the same name: its `spec.clusterIPs` (or `clusterIP`). */
  serviceClusterIPs(ref: EgressRef): Promise<Lookup<readonly string[]>>;
}

/** The gateways of the Egresses `refs` names; a missing Egress or Service fails with Coil's wording. */
export async function resolveGateways(refs: readonly EgressRef[], lookup: EgressLookup): Promise<Result<NatGateway[], GatewayError>> {
  const out: NatGateway[] = [];
  for (const ref of refs) {
    const label = egressKey(ref);
    const eg = await lookup.egress(ref);
    if (eg.isErr()) return err({ kind: "lookup-failed", egress: ref, message: `failed to get Egress ${label}: ${eg.error}` });
    if (eg.value === undefined) return err({ kind: "egress-not-found", egress: ref, message: `failed to get Egress ${label}: egresses.coil.cybozu.com "${ref.name}" not found` });
    const parsed = parseEgress(eg.value);
    if (parsed.isErr()) return err({ kind: "invalid-egress", egress: ref, message: `invalid Egress ${label}: ${parsed.error.message}` });
    const svc = await lookup.serviceClusterIPs(ref);
    if (svc.isErr()) return err({ kind: "lookup-failed", egress: ref, message: `failed to get Service ${label}: ${svc.error}` });
    if (svc.value === undefined) return err({ kind: "service-not-found", egress: ref, message: `failed to get Service ${label}: services "${ref.name}" not found` });
    const gws = gatewaysOf(ref, parsed.value, svc.value);
    if (gws.isErr()) return err({ kind: "invalid-egress", egress: ref, message: gws.error.message });
    out.push(...gws.value);
  }
  return ok(out);
}
