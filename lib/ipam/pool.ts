import { err, ok, type Result } from "neverthrow";
import { type API_VERSION, DEFAULT_BLOCK_SIZE_BITS, FINALIZER } from "../constants.js";
import type { Family } from "../net/index.js";
import type { PoolFieldError, SubnetError } from "./errors.js";
import { subnetSetEqual, validateSubnetSet, type SubnetSet } from "./subnet.js";

/** `AddressPool.spec` in the CRD's shape. `blockSizeBits` defaults to 5 (CRD default) when absent. */
export interface AddressPoolSpec {
  /** A block holds 2^blockSizeBits addresses; CRD default 5, minimum 0. */
  readonly blockSizeBits?: number;
  /** IPv4, IPv6 or dual-stack subnet items; only appending is allowed after creation. */
  readonly subnets: readonly SubnetSet[];
}

/** An `AddressPoolSpec` after defaulting: `blockSizeBits` is always present. */
export interface DefaultedPoolSpec extends AddressPoolSpec {
  /** A block holds 2^blockSizeBits addresses (defaulted). */
  readonly blockSizeBits: number;
}

/** Object metadata fields this library reads or writes. */
export interface ObjectMeta {
  /** Object name. */
  readonly name: string;
  /** Object UID assigned by the API server. */
  readonly uid?: string;
  /** Labels. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Annotations. */
  readonly annotations?: Readonly<Record<string, string>>;
  /** Finalizers. */
  readonly finalizers?: readonly string[];
  /** Set when deletion was requested (RFC 3339). */
  readonly deletionTimestamp?: string;
}

/** A cluster-scoped `AddressPool` object (`coil.cybozu.com/v2`). */
export interface AddressPool {
  /** Always `coil.cybozu.com/v2`. */
  readonly apiVersion: typeof API_VERSION;
  /** Always `AddressPool`. */
  readonly kind: "AddressPool";
  /** Object metadata. */
  readonly metadata: ObjectMeta;
  /** The pool spec. */
  readonly spec: AddressPoolSpec;
}

/** Apply the CRD default: `blockSizeBits` 5 when absent. An explicit 0 stays 0. */
export function withPoolDefaults(spec: AddressPoolSpec): DefaultedPoolSpec {
  return { ...spec, blockSizeBits: spec.blockSizeBits ?? DEFAULT_BLOCK_SIZE_BITS };
}

/**
 * The address families a node must have (a node address of each) to serve pods from `spec`:
 * every family of any subnet item, ascending. Coil lets one pool mix IPv4, IPv6 and dual-stack
 * items, and a node's next block may come from any of them.
 */
export function poolFamilies(spec: AddressPoolSpec): Family[] {
  const v4 = spec.subnets.some((s) => s.ipv4 !== undefined);
  const v6 = spec.subnets.some((s) => s.ipv6 !== undefined);
  return [...(v4 ? [4 as const] : []), ...(v6 ? [6 as const] : [])];
}

/** Coil's mutating webhook for AddressPool CREATE: add the `coil.cybozu.com` finalizer (once). */
export function addPoolFinalizer(pool: AddressPool): AddressPool {
  const fins = pool.metadata.finalizers ?? [];
  if (fins.includes(FINALIZER)) return pool;
  return { ...pool, metadata: { ...pool.metadata, finalizers: [...fins, FINALIZER] } };
}

function subnetField(i: number): string {
  return `spec.subnets[${i}]`;
}

function invalidItem(i: number, e: SubnetError): PoolFieldError {
  return { ...e, type: "Invalid", field: subnetField(i), value: '""', source: "webhook" };
}

/** The CRD schema rules (`minimum: 0`, `minItems: 1`), checked before any webhook in Kubernetes. */
function validateSchema(spec: DefaultedPoolSpec): PoolFieldError[] {
  const errors: PoolFieldError[] = [];
  const bits = spec.blockSizeBits;
  if (!Number.isInteger(bits) || bits < 0) {
    errors.push({
      kind: "invalid-block-size-bits",
      type: "Invalid",
      field: "spec.blockSizeBits",
      value: String(bits),
      source: "schema",
      message: "spec.blockSizeBits in body should be greater than or equal to 0",
    });
  }
  if (spec.subnets.length === 0) {
    errors.push({
      kind: "empty-subnets",
      type: "Invalid",
      field: "spec.subnets",
      value: "0",
      source: "schema",
      message: "spec.subnets in body should have at least 1 items",
    });
  }
  return errors;
}

function validateItems(spec: DefaultedPoolSpec, from: number): PoolFieldError[] {
  const results = spec.subnets
    .slice(from)
    .map((ss, k) => validateSubnetSet(ss, spec.blockSizeBits).mapErr((e) => invalidItem(from + k, e)));
  return results.flatMap((r) => (r.isErr() ? [r.error] : []));
}

/**
 * Validate a new AddressPool spec as Coil does on CREATE (after defaulting): the CRD schema
 * rules, then `SubnetSet.Validate(blockSizeBits)` for every item. All errors of the failing stage
 * are returned at once, each at its field path. On success the defaulted spec is returned.
 */
export function validatePoolCreate(spec: AddressPoolSpec): Result<DefaultedPoolSpec, PoolFieldError[]> {
  const s = withPoolDefaults(spec);
  const schema = validateSchema(s);
  if (schema.length > 0) return err(schema);
  const items = validateItems(s, 0);
  return items.length > 0 ? err(items) : ok(s);
}

/**
 * Validate an AddressPool UPDATE as Coil does: `blockSizeBits` cannot change; the subnet list
 * cannot shrink; existing items must stay string-identical; appended items are validated as on
 * create. All errors are returned at once.
 */
export function validatePoolUpdate(
  oldSpec: AddressPoolSpec,
  newSpec: AddressPoolSpec,
): Result<DefaultedPoolSpec, PoolFieldError[]> {
  const o = withPoolDefaults(oldSpec);
  const n = withPoolDefaults(newSpec);
  const schema = validateSchema(n);
  if (schema.length > 0) return err(schema);
  const errors: PoolFieldError[] = [];
  const forbidden = { type: "Forbidden", value: '""', source: "webhook" } as const;
  if (n.blockSizeBits !== o.blockSizeBits) {
    errors.push({ kind: "unchangeable", message: "unchangeable", field: "spec.blockSizeBits", ...forbidden });
  }
  if (o.subnets.length > n.subnets.length) {
    errors.push({ kind: "unshrinkable", message: "unshrinkable", field: "spec.subnets", ...forbidden });
  } else {
    o.subnets.forEach((old, i) => {
      const cur = n.subnets[i];
      if (cur === undefined || !subnetSetEqual(cur, old)) {
        errors.push({ kind: "unchangeable", message: "unchangeable", field: subnetField(i), ...forbidden });
      }
    });
    errors.push(...validateItems(n, o.subnets.length));
  }
  return errors.length > 0 ? err(errors) : ok(n);
}
