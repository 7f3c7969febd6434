/** Common shape of every error value of this module. */
export interface ErrorOf<K extends string> {
  /** Discriminant, kebab-case. */
  readonly kind: K;
  /** Human-readable explanation, in Coil's words where Coil has them. */
  readonly message: string;
}

/**
 * Why one subnet item (`SubnetSet`) is invalid. `message` carries Coil's own words
 * (`SubnetSet.Validate` in `api/v2/addresspool_types.go`).
 */
export type SubnetError =
  | ErrorOf<"invalid-subnet">
  | ErrorOf<"too-narrow-subnet">
  | ErrorOf<"dual-stack-size-mismatch">;

/**
 * One field error of an AddressPool, as the Kubernetes API reports it. `type` is the field error
 * type (`Invalid` or `Forbidden`), `field` the path (`spec.subnets[1]`), `detail` Coil's message.
 * `source` says who enforces it in Coil: the CRD schema or the validating webhook.
 * `invalid-annotation` is beyond Coil: a bad pool annotation of docs/static-addresses.md.
 */
export type PoolFieldError =
  | (SubnetError & FieldInfo<"Invalid">)
  | (ErrorOf<"invalid-block-size-bits"> & FieldInfo<"Invalid">)
  | (ErrorOf<"empty-subnets"> & FieldInfo<"Invalid">)
  | (ErrorOf<"unchangeable"> & FieldInfo<"Forbidden">)
  | (ErrorOf<"unshrinkable"> & FieldInfo<"Forbidden">)
  | (ErrorOf<"invalid-annotation"> & FieldInfo<"Invalid">);

/** Location and Kubernetes classification of a field error. */
export interface FieldInfo<T extends "Invalid" | "Forbidden"> {
  /** Kubernetes field error type. */
  readonly type: T;
  /** Field path, e.g. `spec.subnets[1]`. */
  readonly field: string;
  /** The offending value as the API server prints it (`""` for Coil's webhook errors). */
  readonly value: string;
  /** Who enforces the rule in Coil: the CRD schema or the validating webhook. */
  readonly source: "schema" | "webhook";
}

/** Errors from parsing an AddressPool or AddressBlock object from untyped JSON. */
export interface ParseObjectError extends ErrorOf<"invalid-object"> {
  /** JSON path of the offending field (empty for the whole input). */
  readonly path: string;
}

/** Errors of block carving and controller-side block allocation. */
export type BlockError =
  | (ErrorOf<"invalid-pool"> & {
      /** The pool's field errors. */
      readonly errors: readonly PoolFieldError[];
    })
  | ErrorOf<"block-not-found">
  | ErrorOf<"pool-exhausted">
  | ErrorOf<"unchangeable">;

/** Errors of the in-block address allocator. */
export type AllocatorError =
  | ErrorOf<"invalid-block">
  | ErrorOf<"block-full">
  | ErrorOf<"address-not-in-block">
  | ErrorOf<"address-in-use">;

/** Errors of the node allocator. */
export type NodeIpamError =
  | AllocatorError
  | (ErrorOf<"need-block"> & {
      /** The pool of which the node needs one more block. */
      readonly pool: string;
      /** For a static allocation: the block index needed (a static BlockRequest). */
      readonly index?: number;
    })
  | ErrorOf<"address-reserved">
  | ErrorOf<"allocation-mismatch">
  | ErrorOf<"block-not-found">
  | ErrorOf<"block-not-empty">
  | ErrorOf<"invalid-state">;

/** Render a field error the way the Kubernetes API server does, e.g. `spec.blockSizeBits: Forbidden: unchangeable`. */
export function formatFieldError(e: PoolFieldError): string {
  return e.type === "Forbidden"
    ? `${e.field}: Forbidden: ${e.message}`
    : `${e.field}: Invalid value: ${e.value}: ${e.message}`;
}
