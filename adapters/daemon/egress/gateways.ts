/**
 * The NAT gateways of a client pod (Coil §6.2, §6.4 `getHook`): which Egresses its annotations
 * name, and for each the Service ClusterIPs with the Egress destinations of the same family.
 * The API reads are injected ({@link EgressLookup}), so this file decides and the caller fetches.
 */
import { err, ok, type Result } from "neverthrow";
import { ANNOTATION_EGRESS_PREFIX } from "../../../lib/constants.js";
import { parseEgress, type Egress } from "../../../lib/egress/index.js";
import { cidrFamily, ipFamily, parseCidr, parseIp, type Cidr, type Ip } from "../../../lib/net/index.js";

/** An Egress a pod refers to. */
export interface EgressRef {
  /** Egress namespace (the annotation key's suffix). */
  readonly namespace: string;
  /** Egress name (one entry of the annotation value). */
  readonly name: string;
}

/** One NAT gateway of a client pod: a ClusterIP of the Egress Service and the destinations of its family. */
export interface NatGateway {
  /** The Egress. */
  readonly egress: EgressRef;
  /** The Service ClusterIP the tunnel goes to. */
  readonly gateway: Ip;
  /** Destinations of the gateway's family. */
  readonly destinations: readonly Cidr[];
  /** `fouSourcePortAuto` of the Egress. */
  readonly sportAuto: boolean;
}

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

/** The Egresses named by a pod's annotations `egress.coil.cybozu.com/<ns>: <name>[,<name>…]`, in annotation order. */
export function egressRefs(annotations: Readonly<Record<string, string>>): EgressRef[] {
  const out: EgressRef[] = [];
  for (const [k, v] of Object.entries(annotations)) {
    if (!k.startsWith(ANNOTATION_EGRESS_PREFIX)) continue;
    const namespace = k.slice(ANNOTATION_EGRESS_PREFIX.length);
    for (const name of v.split(",")) if (name !== "") out.push({ namespace, name });
  }
  return out;
}

/** The gateways of one Egress: each ClusterIP with the destinations of its family (a ClusterIP without any is skipped, as Coil). */
export function gatewaysOf(ref: EgressRef, egress: Egress, clusterIPs: readonly string[]): NatGateway[] {
  const dests = egress.spec.destinations.flatMap((d) => parseCidr(d).match((c) => [c], () => []));
  return clusterIPs.flatMap((s) => {
    const ip = parseIp(s);
    if (ip.isErr()) return [];
    const destinations = dests.filter((d) => cidrFamily(d) === ipFamily(ip.value));
    return destinations.length === 0 ? [] : [{ egress: ref, gateway: ip.value, destinations, sportAuto: egress.spec.fouSourcePortAuto === true }];
  });
}

const label = (r: EgressRef): string => `${r.namespace}/${r.name}`;

/** The gateways of the Egresses `refs` names; a missing Egress or Service fails with Coil's wording. */
export async function resolveGateways(refs: readonly EgressRef[], lookup: EgressLookup): Promise<Result<NatGateway[], GatewayError>> {
  const out: NatGateway[] = [];
  for (const ref of refs) {
    const eg = await lookup.egress(ref);
    if (eg.isErr()) return err({ kind: "lookup-failed", egress: ref, message: `failed to get Egress ${label(ref)}: ${eg.error}` });
    if (eg.value === undefined) return err({ kind: "egress-not-found", egress: ref, message: `failed to get Egress ${label(ref)}: egresses.coil.cybozu.com "${ref.name}" not found` });
    const parsed = parseEgress(eg.value);
    if (parsed.isErr()) return err({ kind: "invalid-egress", egress: ref, message: `invalid Egress ${label(ref)}: ${parsed.error.message}` });
    const svc = await lookup.serviceClusterIPs(ref);
    if (svc.isErr()) return err({ kind: "lookup-failed", egress: ref, message: `failed to get Service ${label(ref)}: ${svc.error}` });
    if (svc.value === undefined) return err({ kind: "service-not-found", egress: ref, message: `failed to get Service ${label(ref)}: services "${ref.name}" not found` });
    out.push(...gatewaysOf(ref, parsed.value, svc.value));
  }
  return ok(out);
}
