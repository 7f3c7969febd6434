import { err, ok, Result } from "neverthrow";
import { API_VERSION, LABEL_NODE, LABEL_POOL, LABEL_RESERVED } from "../constants.js";
import type { ParseObjectError } from "./errors.js";
import type { ObservedBlock } from "./node-ipam.js";
import type { AddressPool, ObjectMeta } from "./pool.js";
import type { SubnetSet } from "./subnet.js";

type Obj = Record<string, unknown>;

const bad = (path: string, message: string): ParseObjectError => ({ kind: "invalid-object", path, message });

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function optString(o: Obj, key: string, path: string): Result<string | undefined, ParseObjectError> {
  const v = o[key];
  if (v === undefined || v === null) return ok(undefined);
  return typeof v === "string" ? ok(v) : err(bad(path === "" ? key : `${path}.${key}`, "must be a string"));
}

function parseStringMap(v: unknown, path: string): Result<Record<string, string> | undefined, ParseObjectError> {
  if (v === undefined || v === null) return ok(undefined);
  if (!isObj(v) || Object.values(v).some((x) => typeof x !== "string")) return err(bad(path, "must map strings to strings"));
  return ok(v as Record<string, string>);
}

function parseMeta(v: unknown): Result<ObjectMeta, ParseObjectError> {
  if (!isObj(v) || typeof v["name"] !== "string") return err(bad("metadata.name", "must be a string"));
  const fins = v["finalizers"];
  if (fins !== undefined && (!Array.isArray(fins) || fins.some((f) => typeof f !== "string"))) {
    return err(bad("metadata.finalizers", "must be a list of strings"));
  }
  return parseStringMap(v["labels"], "metadata.labels").andThen((labels) =>
    parseStringMap(v["annotations"], "metadata.annotations").map((annotations) => {
      const m: { -readonly [K in keyof ObjectMeta]: ObjectMeta[K] } = { name: v["name"] as string };
      if (typeof v["uid"] === "string") m.uid = v["uid"];
      if (labels !== undefined) m.labels = labels;
      if (annotations !== undefined) m.annotations = annotations;
      if (fins !== undefined) m.finalizers = fins as string[];
      if (typeof v["deletionTimestamp"] === "string") m.deletionTimestamp = v["deletionTimestamp"];
      return m;
    }),
  );
}

function parseSubnet(v: unknown, i: number): Result<SubnetSet, ParseObjectError> {
  const path = `spec.subnets[${i}]`;
  if (!isObj(v)) return err(bad(path, "must be an object"));
  return optString(v, "ipv4", path).andThen((ipv4) =>
    optString(v, "ipv6", path).map((ipv6) => ({
      ...(ipv4 === undefined ? {} : { ipv4 }),
      ...(ipv6 === undefined ? {} : { ipv6 }),
    })),
  );
}

/**
 * Parse an AddressPool object from untyped JSON (an edge parser: shapes only; use
 * `validatePoolCreate` for Coil's rules). Unknown fields are dropped.
 */
export function parsePool(input: unknown): Result<AddressPool, ParseObjectError> {
  if (!isObj(input)) return err(bad("", "must be an object"));
  if (input["apiVersion"] !== API_VERSION) return err(bad("apiVersion", `must be ${API_VERSION}`));
  if (input["kind"] !== "AddressPool") return err(bad("kind", "must be AddressPool"));
  const spec = input["spec"];
  if (!isObj(spec)) return err(bad("spec", "must be an object"));
  const bits = spec["blockSizeBits"];
  if (bits !== undefined && bits !== null && !Number.isInteger(bits)) return err(bad("spec.blockSizeBits", "must be an integer"));
  const subnets = spec["subnets"];
  if (!Array.isArray(subnets)) return err(bad("spec.subnets", "must be a list"));
  return parseMeta(input["metadata"]).andThen((metadata) =>
    Result.combine(subnets.map((s, i) => parseSubnet(s, i))).map(
      (items): AddressPool => ({
        apiVersion: API_VERSION,
        kind: "AddressPool",
        metadata,
        spec: { ...(typeof bits === "number" ? { blockSizeBits: bits } : {}), subnets: items },
      }),
    ),
  );
}

/** An AddressBlock as parsed from JSON: what the node allocator needs, plus the node label. */
export interface ParsedAddressBlock extends ObservedBlock {
  /** Value of the `coil.cybozu.com/node` label, if any. */
  readonly node?: string;
}

/**
 * Parse an AddressBlock object (top-level `index`, `ipv4`, `ipv6`; pool, node and reserved from
 * labels) from untyped JSON into what the node allocator needs, plus its node label.
 */
export function parseAddressBlock(input: unknown): Result<ParsedAddressBlock, ParseObjectError> {
  if (!isObj(input)) return err(bad("", "must be an object"));
  const index = input["index"];
  if (!Number.isInteger(index) || (index as number) < 0) return err(bad("index", "must be a non-negative integer"));
  return parseMeta(input["metadata"]).andThen((meta) => {
    const pool = meta.labels?.[LABEL_POOL];
    if (pool === undefined) return err(bad(`metadata.labels["${LABEL_POOL}"]`, "is required"));
    const node = meta.labels?.[LABEL_NODE];
    return optString(input, "ipv4", "").andThen((ipv4) =>
      optString(input, "ipv6", "").map((ipv6) => ({
        name: meta.name,
        pool,
        index: index as number,
        ...(ipv4 === undefined ? {} : { ipv4 }),
        ...(ipv6 === undefined ? {} : { ipv6 }),
        reserved: meta.labels?.[LABEL_RESERVED] === "true",
        ...(node === undefined ? {} : { node }),
      })),
    );
  });
}
