/**
 * What coild's CNI operations (`cni.ts`) depend on, as one explicit object: the node's address
 * state, the kernel port, the host veth index, the per-attachment locks, how a pod is laid out on
 * this node and how a host veth is named. {@link cniDeps} builds it from coild's options.
 */
import { err, ok, type Result } from "neverthrow";
import type { Kernel } from "../../../lib/changeset/index.js";
import type { CniCall } from "../../../lib/cni/index.js";
import type { Ip } from "../../../lib/net/index.js";
import { hostVethName, type PlanError } from "../../../lib/plan/index.js";
import { KeyedMutex } from "../../common/key-mutex.js";
import type { EgressHook } from "../egress/hook.js";
import type { Logger } from "../log.js";
import { HostLinkIndex } from "./host-links.js";
import type { NodeState } from "./state.js";
import type { StaticAddressOf } from "./static-address.js";

/** How a pod's network is laid out on this node (the node-wide inputs of lib/plan's `planPodSetup`). */
export interface PodLayout {
  /** The node's IPv4 address (the pods' IPv4 gateway). */
  readonly hostIPv4?: Ip;
  /** The node's IPv6 address. */
  readonly hostIPv6?: Ip;
  /** MTU of both veth ends (detected at startup); kernel default when absent. */
  readonly mtu?: number;
  /** `--pod-table-id` (116). */
  readonly podTable: number;
  /** `--protocol-id` (30). */
  readonly protocol: number;
}

/** Why no name could be given to a new host veth. */
export type VethNameError =
  | { readonly kind: "invalid-name"; readonly cause: PlanError }
  | { readonly kind: "names-exhausted"; readonly tries: number };

/** Names the host veth of a new attachment, avoiding the names `taken` says are in use. */
export type VethNamer = (call: CniCall, taken: (name: string) => boolean) => Result<string, VethNameError>;

/** How many random names a {@link vethNamer} draws before giving up. */
export const VETH_NAME_TRIES = 8;

/**
 * Coil's host veth naming (§4.2): `veth` + 8 random hex digits, drawn again while the name is
 * taken; in compat-calico mode Calico's name for the pod (`veth` + 11 hex digits of
 * sha1("<namespace>.<name>")), whatever exists.
 */
export function vethNamer(o: { readonly compatCalico: boolean; readonly randomHex: () => string }): VethNamer {
  return (call, taken) => {
    if (o.compatCalico) {
      return hostVethName({ compatCalico: true, podNamespace: call.pod.namespace, podName: call.pod.name }).mapErr((cause) => ({ kind: "invalid-name", cause }));
    }
    for (let i = 0; i < VETH_NAME_TRIES; i++) {
      const n = hostVethName({ random: o.randomHex() });
      if (n.isErr()) return err({ kind: "invalid-name", cause: n.error });
      if (!taken(n.value)) return ok(n.value);
    }
    return err({ kind: "names-exhausted", tries: VETH_NAME_TRIES });
  };
}

/**
 * Serialises the operations on one attachment (`cid:<containerId>`) and, in compat-calico mode,
 * on one pod too (`pod:<namespace>/<name>`: Calico-style names are per pod, so two sandboxes of
 * one pod would race for the same veth name). Nothing holds a global lock around kernel work.
 */
export class AttachmentLocks {
  readonly #locks = new KeyedMutex();
  readonly #perPod: boolean;

  /** `perPod`: also serialise per pod (compat-calico mode). */
  constructor(perPod: boolean) {
    this.#perPod = perPod;
  }

  /** Run `fn` holding the locks of `call`'s attachment (and pod). */
  run<T>(call: Pick<CniCall, "containerId" | "pod">, fn: () => Promise<T>): Promise<T> {
    const inner = this.#perPod ? () => this.#locks.run(`pod:${call.pod.namespace}/${call.pod.name}`, fn) : fn;
    return this.#locks.run(`cid:${call.containerId}`, inner);
  }

  /** Run `fn` holding the lock of container `containerId` (GC, which knows no pod). */
  runForContainer<T>(containerId: string, fn: () => Promise<T>): Promise<T> {
    return this.#locks.run(`cid:${containerId}`, fn);
  }
}

/** Everything the CNI operations use. */
export interface CniDeps {
  /** The node's addresses and blocks. */
  readonly node: NodeState;
  /** The kernel port. */
  readonly kernel: Kernel;
  /** Where the operations log what they did on their own (GC). */
  readonly log: Logger;
  /** coild's host veth index (the hot path's view of the host). */
  readonly links: HostLinkIndex;
  /** Per-attachment (and per-pod) serialisation. */
  readonly locks: AttachmentLocks;
  /** The node-wide pod layout. */
  readonly layout: PodLayout;
  /** Names a new host veth. */
  readonly vethName: VethNamer;
  /** The pool of a pod namespace (`undefined`: not sent). */
  readonly poolFor: (namespace: string | undefined) => string;
  /** False until startup (host init, recovery) has finished. */
  readonly isReady: () => boolean;
  /** The NAT hook of ADD (`--enable-egress` with the Kubernetes store); absent: Egress annotations are not read. */
  readonly egress?: EgressHook;
  /** Beyond Coil: the static address a pod asks for (Kubernetes store); absent: pods get dynamic addresses only. */
  readonly staticAddress?: StaticAddressOf;
}

/** Options of {@link cniDeps}: coild's settings and parts. */
export interface CniDepsOptions extends PodLayout {
  /** The node's address state. */
  readonly node: NodeState;
  /** The kernel port. */
  readonly kernel: Kernel;
  /** coild's logger. */
  readonly log: Logger;
  /** `--compat-calico`: Calico's veth names, per-pod locking. */
  readonly compatCalico: boolean;
  /** The pool of a pod namespace (local store: `--namespace-pools`, else `default`). */
  readonly poolFor: (namespace: string | undefined) => string;
  /** 8 random hex digits for a host veth name. */
  readonly randomHex: () => string;
  /** False until startup has finished. */
  readonly isReady: () => boolean;
  /** coild's host veth index (recovery fills it); a new, dirty one when absent (refreshed on first use). */
  readonly hostLinks?: HostLinkIndex;
  /** The NAT hook of ADD, if egress is served. */
  readonly egress?: EgressHook;
  /** Beyond Coil: the static address a pod asks for, if served. */
  readonly staticAddress?: StaticAddressOf;
}

/** Assemble the {@link CniDeps} from coild's options. */
export function cniDeps(o: CniDepsOptions): CniDeps {
  const layout: PodLayout = {
    ...(o.hostIPv4 === undefined ? {} : { hostIPv4: o.hostIPv4 }),
    ...(o.hostIPv6 === undefined ? {} : { hostIPv6: o.hostIPv6 }),
    ...(o.mtu === undefined ? {} : { mtu: o.mtu }),
    podTable: o.podTable,
    protocol: o.protocol,
  };
  return {
    node: o.node,
    kernel: o.kernel,
    log: o.log,
    links: o.hostLinks ?? new HostLinkIndex(),
    locks: new AttachmentLocks(o.compatCalico),
    layout,
    vethName: vethNamer({ compatCalico: o.compatCalico, randomHex: o.randomHex }),
    poolFor: o.poolFor,
    isReady: o.isReady,
    ...(o.egress === undefined ? {} : { egress: o.egress }),
    ...(o.staticAddress === undefined ? {} : { staticAddress: o.staticAddress }),
  };
}
