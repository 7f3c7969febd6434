/**
 * Wire shapes of Coil's custom resources (`coil.cybozu.com/v2`) as the API server returns them,
 * with the metadata fields the adapters read or write. Only what Coil uses is typed; unknown
 * fields pass through untouched.
 */

/** An ownerReference. */
export interface OwnerReference {
  /** API version of the owner. */
  readonly apiVersion: string;
  /** Kind of the owner. */
  readonly kind: string;
  /** Name of the owner. */
  readonly name: string;
  /** UID of the owner. */
  readonly uid: string;
  /** Whether the owner is the managing controller. */
  readonly controller?: boolean;
  /** Whether foreground deletion of the owner waits for this object. */
  readonly blockOwnerDeletion?: boolean;
}

/** `metadata` of an object (`namespace` only for namespaced ones). */
export interface ObjectMetadata {
  /** Object name. */
  readonly name: string;
  /** Namespace (namespaced objects only). */
  readonly namespace?: string;
  /** UID (set by the API server). */
  readonly uid?: string;
  /** Optimistic-concurrency token (set by the API server). */
  readonly resourceVersion?: string;
  /** Generation (set by the API server). */
  readonly generation?: number;
  /** Labels. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Annotations. */
  readonly annotations?: Readonly<Record<string, string>>;
  /** Finalizers. */
  readonly finalizers?: readonly string[];
  /** Owner references. */
  readonly ownerReferences?: readonly OwnerReference[];
  /** RFC 3339 time the object was created. */
  readonly creationTimestamp?: string;
  /** Set when deletion has been requested. */
  readonly deletionTimestamp?: string;
}

/** Anything with object metadata. */
export interface KubeObject {
  /** API version. */
  readonly apiVersion?: string;
  /** Kind. */
  readonly kind?: string;
  /** Metadata. */
  readonly metadata: ObjectMetadata;
}

/** `AddressPool` (cluster scoped). */
export interface AddressPoolObject extends KubeObject {
  /** Pool spec. */
  readonly spec: {
    /** CRD default 5. */
    readonly blockSizeBits?: number;
    /** Subnet items. */
    readonly subnets: ReadonlyArray<{ readonly ipv4?: string; readonly ipv6?: string }>;
  };
}

/** `AddressBlock` (cluster scoped): top-level `index`, `ipv4`, `ipv6`. */
export interface AddressBlockObject extends KubeObject {
  /** Global block index in the pool. */
  readonly index: number;
  /** IPv4 CIDR of the block. */
  readonly ipv4?: string;
  /** IPv6 CIDR of the block. */
  readonly ipv6?: string;
}

/** One condition of a BlockRequest. */
export interface BlockRequestCondition {
  /** `Complete` or `Failed`. */
  readonly type: "Complete" | "Failed";
  /** `True`, `False` or `Unknown`. */
  readonly status: "True" | "False" | "Unknown";
  /** One-word reason, e.g. `allocated`, `out of blocks`. */
  readonly reason?: string;
  /** Human-readable message. */
  readonly message?: string;
  /** RFC 3339. */
  readonly lastProbeTime?: string;
  /** RFC 3339. */
  readonly lastTransitionTime?: string;
}

/** `BlockRequest` status. */
export interface BlockRequestStatus {
  /** Name of the allocated AddressBlock. */
  readonly addressBlockName?: string;
  /** Conditions; empty while pending. */
  readonly conditions?: readonly BlockRequestCondition[];
}

/** `BlockRequest` (cluster scoped). */
export interface BlockRequestObject extends KubeObject {
  /** What is requested. */
  readonly spec: {
    /** Requesting node. */
    readonly nodeName: string;
    /** Pool to allocate from. */
    readonly poolName: string;
  };
  /** Written by the IPAM controller through the status subresource. */
  readonly status?: BlockRequestStatus;
}

/** A list response: items plus the collection's resourceVersion (the point to watch from). */
export interface ObjectList<T> {
  /** The objects. */
  readonly items: T[];
  /** Collection resourceVersion. */
  readonly resourceVersion: string;
  /** Continue token when the list was paginated with `limit`. */
  readonly continue?: string;
  /** Objects after this page (`metadata.remainingItemCount`), when the API server says. */
  readonly remainingItemCount?: number;
}

/** The plural resource names of Coil's cluster-scoped CRs. */
export const COIL_PLURALS = {
  AddressPool: "addresspools",
  AddressBlock: "addressblocks",
  BlockRequest: "blockrequests",
} as const;

/** The plural resource names of Coil's namespaced CRs. */
export const COIL_NAMESPACED_PLURALS = {
  Egress: "egresses",
} as const;

/** `Egress` (namespaced) as read from the API server; `lib/egress`'s `parseEgress` checks its shape. */
export interface EgressObject extends KubeObject {
  /** The spec (checked by `parseEgress`). */
  readonly spec?: unknown;
  /** Written by coil-egress-controller through the status subresource. */
  readonly status?: { readonly replicas?: number; readonly selector?: string };
}
