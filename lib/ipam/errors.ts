/**
 * Why one subnet item (`SubnetSet`) is invalid. `message` carries Coil's own words
 * (`SubnetSet.Validate` in `api/v2/addresspool_types.go`).
 */
export type SubnetError =
  | { readonly kind: "invalid-subnet"; readonly message: string }
  | { readonly kind: "too-narrow-subnet"; readonly message: string }
  | { readonly kind: "dual-stack-size-mismatch"; readonly message: string };

/**
 * One field error of an AddressPool, as the Kubernetes API reports it. `type` is the field error
 * type (`Invalid` or `Forbidden`), `field` the path (`spec.subnets[1]`), `detail` Coil's message.
 * `source` says who enforces it in Coil: the CRD schema or the validating webhook.
 */
export type PoolFieldError =
  | (SubnetError & FieldInfo<"Invalid">)
  | ({ readonly kind: "invalid-block-size-bits"; readonly message: string } & FieldInfo<"Invalid">)
  | ({ readonly kind: "empty-subnets"; readonly message: string } & FieldInfo<"Invalid">)
  | ({ readonly kind: "unchangeable"; readonly message: "unchangeable" } & FieldInfo<"Forbidden">)
  | ({ readonly kind: "unshrinkable"; readonly message: "unshrinkable" } & FieldInfo<"Forbidden">);

/** Location and Kubernetes classification of a field error. */
export interface FieldInfo<T extends "Invalid" | "Forbidden"> {
  readonly type: T;
  readonly field: string;
  /** The offending value as the API server prints it (`""` for Coil's webhook errors). */
  readonly value: string;
  readonly source: "schema" | "webhook";
}

/** Errors from parsing an AddressPool or AddressBlock object from untyped JSON. */
export interface ParseObjectError {
  readonly kind: "invalid-object";
  readonly path: string;
  readonly message: string;
}

/** Errors of block carving and controller-side block allocation. */
export type BlockError =
  | { readonly kind: "invalid-pool"; readonly errors: readonly PoolFieldError[] }
  | { readonly kind: "block-not-found"; readonly message: string }
  | { readonly kind: "pool-exhausted"; readonly message: string }
  | { readonly kind: "unchangeable"; readonly message: string };

/** Errors of the in-block address allocator. */
export type AllocatorError =
  | { readonly kind: "invalid-block"; readonly message: string }
  | { readonly kind: "block-full"; readonly message: string }
  | { readonly kind: "address-not-in-block"; readonly message: string };

/** Errors of the node allocator. */
export type NodeIpamError =
  | AllocatorError
  | { readonly kind: "need-block"; readonly pool: string; readonly message: string }
  | { readonly kind: "block-not-found"; readonly message: string }
  | { readonly kind: "block-not-empty"; readonly message: string }
  | { readonly kind: "invalid-state"; readonly message: string };

/** Render a field error the way the Kubernetes API server does, e.g. `spec.blockSizeBits: Forbidden: unchangeable`. */
export function formatFieldError(e: PoolFieldError): string {
  return e.type === "Forbidden"
    ? `${e.field}: Forbidden: ${e.message}`
    : `${e.field}: Invalid value: ${e.value}: ${e.message}`;
}
