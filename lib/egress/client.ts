/**
 * The client side of Coil's egress (§6.2, §6.4, §6.5), pure: which Egresses a pod's annotations
 * name, the NAT gateways (Service ClusterIP + destinations of its family) an Egress and its Service
 * give, which running pods an Egress change concerns, and the tunnel from a client pod to a gateway.
 * coild's adapters read the API server and the kernel and apply these answers.
 */
import { err, ok, type Result } from "neverthrow";
import { ANNOTATION_EGRESS_PREFIX } from "../constants.js";
import { cidrFamily, ipFamily, parseCidr, parseIp, type Cidr, type Ip } from "../net/index.js";
import { vxlanVniFor, type TunnelSpec } from "../plan/index.js";
import type { Egress } from "./types.js";

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

/** Why an Egress and its Service give no gateways (Coil's `getHook` errors). */
export interface GatewayDecodeError {
  /** Which text did not parse: the Service's ClusterIP or one of the Egress's destinations. */
  readonly kind: "invalid-cluster-ip" | "invalid-destination";
  /** The Egress whose gateways were being decoded. */
  readonly egress: EgressRef;
  /** The text that did not parse. */
  readonly value: string;
  /** Coil's wording, naming the Egress and quoting the value. */
  readonly message: string;
}

/** `<namespace>/<name>` of an Egress. */
export function egressKey(r: EgressRef): string {
  return `${r.namespace}/${r.name}`;
}

/**
 * The Egresses named by a pod's annotations `egress.coil.cybozu.com/<ns>: <name>[,<name>…]`, in
 * annotation order, duplicates dropped. Empty list entries are ignored.
 */
export function egressRefs(annotations: Readonly<Record<string, string>>): EgressRef[] {
  const out = new Map<string, EgressRef>();
  for (const [k, v] of Object.entries(annotations)) {
    if (!k.startsWith(ANNOTATION_EGRESS_PREFIX)) continue;
    const namespace = k.slice(ANNOTATION_EGRESS_PREFIX.length);
    if (namespace === "") continue;
    for (const name of v.split(",")) if (name !== "") out.set(egressKey({ namespace, name }), { namespace, name });
  }
  return [...out.values()];
}

/** Whether a pod with these annotations uses Egress `ref` (Coil's EgressWatcher filter, §6.5). */
export function podUsesEgress(annotations: Readonly<Record<string, string>>, ref: EgressRef): boolean {
  const v = annotations[ANNOTATION_EGRESS_PREFIX + ref.namespace];
  return v !== undefined && v.split(",").includes(ref.name);
}

/**
 * The gateways of one Egress (Coil `getHook`): for each Service ClusterIP the Egress destinations of
 * the same family; a ClusterIP without any is skipped. An unparsable ClusterIP or destination is an
 * error, with Coil's wording.
 */
export function gatewaysOf(ref: EgressRef, egress: Egress, clusterIPs: readonly string[]): Result<NatGateway[], GatewayDecodeError> {
  const dests: Cidr[] = [];
  for (const d of egress.spec.destinations) {
    const c = parseCidr(d);
    if (c.isErr()) return err({ kind: "invalid-destination", egress: ref, value: d, message: `invalid network in Egress ${egressKey(ref)}: ${JSON.stringify(d)}` });
    dests.push(c.value);
  }
  const out: NatGateway[] = [];
  for (const s of clusterIPs) {
    const ip = parseIp(s);
    if (ip.isErr()) return err({ kind: "invalid-cluster-ip", egress: ref, value: s, message: `invalid ClusterIP in Service ${egressKey(ref)}: ${JSON.stringify(s)}` });
    const destinations = dests.filter((d) => cidrFamily(d) === ipFamily(ip.value));
    if (destinations.length > 0) out.push({ egress: ref, gateway: ip.value, destinations, sportAuto: egress.spec.fouSourcePortAuto === true });
  }
  return ok(out);
}

/** The encapsulation of client tunnels (coild's `--tunnel`) and its UDP port (`--egress-port`). */
export interface ClientTunnelSettings {
  /** `fou` (Coil) or `vxlan` (kernels without FoU). */
  readonly tunnel: "fou" | "vxlan";
  /** UDP port of the tunnel, both ends. */
  readonly port: number;
}

/** A client pod's own addresses (the tunnel's local ends). */
export interface ClientAddresses {
  /** The pod's IPv4 address. */
  readonly ipv4?: Ip;
  /** The pod's IPv6 address. */
  readonly ipv6?: Ip;
}

/**
 * The tunnel from a client pod to gateway `gw` (Coil `fou.AddPeer(ClusterIP, sportAuto)`). VXLAN's
 * VNI is derived from the pod's own address of the gateway's family, as the egress pod derives it
 * from the client address it serves; a pod without an address of that family gets a tunnel whose
 * local end is of the wrong family, which the planner reports as `family-mismatch` (Coil's
 * `ErrIPFamilyMismatch`: the caller skips the gateway).
 */
export function clientTunnel(s: ClientTunnelSettings, pod: ClientAddresses, gw: NatGateway): TunnelSpec {
  if (s.tunnel === "fou") {
    return { kind: "fou", port: s.port, sportAuto: gw.sportAuto, peer: gw.gateway, ...(pod.ipv4 !== undefined ? { localIPv4: pod.ipv4 } : {}), ...(pod.ipv6 !== undefined ? { localIPv6: pod.ipv6 } : {}) };
  }
  const local = (ipFamily(gw.gateway) === 4 ? pod.ipv4 : pod.ipv6) ?? (ipFamily(gw.gateway) === 4 ? pod.ipv6 : pod.ipv4) ?? gw.gateway;
  return { kind: "vxlan", port: s.port, vni: vxlanVniFor(local), peer: gw.gateway, local };
}

/** A pod as the EgressWatcher sees it (a reduced core/v1 Pod). */
export interface WatchedPod {
  /** `<namespace>/<name>`. */
  readonly key: string;
  /** Pod annotations. */
  readonly annotations: Readonly<Record<string, string>>;
  /** `spec.hostNetwork`. */
  readonly hostNetwork: boolean;
  /** `status.phase`. */
  readonly phase: string;
  /** `status.podIPs[].ip` (as given). */
  readonly ips: readonly string[];
  /** `metadata.uid` (how egress-only mode finds the pod's host link: alias `COIL::<uid>:<ifname>`). */
  readonly uid?: string;
}

/** Two running pods of this node claim one address (Coil's reconcile error). */
export interface DuplicatePodIp {
  /** Discriminant. */
  readonly kind: "duplicate-pod-ip";
  /** The address. */
  readonly ip: string;
  /** The two pods. */
  readonly pods: readonly [string, string];
  /** For people. */
  readonly message: string;
}

/**
 * The pods of this node an Egress change must be applied to (Coil's EgressWatcher, §6.5): running,
 * not host-network, annotated for `ref`. Two running pods sharing an address fail the whole
 * reconcile (Coil does the same: the address cannot tell the pods' networks apart).
 */
export function podsToUpdate(pods: readonly WatchedPod[], ref: EgressRef): Result<WatchedPod[], DuplicatePodIp> {
  const running = pods.filter((p) => !p.hostNetwork && p.phase === "Running");
  const seen = new Map<string, string>();
  for (const p of running) {
    for (const ip of p.ips) {
      const other = seen.get(ip);
      if (other !== undefined && other !== p.key) return err({ kind: "duplicate-pod-ip", ip, pods: [other, p.key], message: `pods ${other} and ${p.key} have the same address ${ip}` });
      seen.set(ip, p.key);
    }
  }
  return ok(running.filter((p) => podUsesEgress(p.annotations, ref)));
}
