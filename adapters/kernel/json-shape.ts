/**
 * Small shape checks for JSON printed by `ip -j` and `nft -j`: nothing from a child process is
 * trusted until one of these accepted it. Each returns a Result with a {@link ParseError}.
 */
import { err, ok, type Result } from "neverthrow";
import type { KernelOutputError } from "../../lib/changeset/index.js";

/** A JSON document did not have the shape the parser expects (the kernel port's `KernelOutputError`). */
export type ParseError = KernelOutputError;

/** A JSON object with unknown values. */
export type JsonObject = Readonly<Record<string, unknown>>;

/** Build a {@link ParseError}. */
export function parseError(where: string, message: string): ParseError {
  return { kind: "unexpected-output", where, message };
}

/** Parse JSON text. */
export function parseJsonText(text: string, where: string): Result<unknown, ParseError> {
  try {
    return ok(JSON.parse(text) as unknown);
  } catch (e) {
    return err(parseError(where, `invalid JSON: ${e instanceof Error ? e.message : String(e)}`));
  }
}

/** The value as an array. */
export function asArray(x: unknown, where: string): Result<readonly unknown[], ParseError> {
  return Array.isArray(x) ? ok(x as readonly unknown[]) : err(parseError(where, "expected an array"));
}

/** The value as a plain object. */
export function asObject(x: unknown, where: string): Result<JsonObject, ParseError> {
  return typeof x === "object" && x !== null && !Array.isArray(x)
    ? ok(x as JsonObject)
    : err(parseError(where, "expected an object"));
}

/** A required string field. */
export function reqString(o: JsonObject, key: string, where: string): Result<string, ParseError> {
  const v = o[key];
  return typeof v === "string" ? ok(v) : err(parseError(`${where}.${key}`, "expected a string"));
}

/** An optional string field (undefined when absent). */
export function optString(o: JsonObject, key: string, where: string): Result<string | undefined, ParseError> {
  const v = o[key];
  if (v === undefined) return ok(undefined);
  return typeof v === "string" ? ok(v) : err(parseError(`${where}.${key}`, "expected a string"));
}

/** A required non-negative integer field. */
export function reqInt(o: JsonObject, key: string, where: string): Result<number, ParseError> {
  const v = o[key];
  return typeof v === "number" && Number.isInteger(v) && v >= 0
    ? ok(v)
    : err(parseError(`${where}.${key}`, "expected a non-negative integer"));
}

/** An optional non-negative integer field. */
export function optInt(o: JsonObject, key: string, where: string): Result<number | undefined, ParseError> {
  return o[key] === undefined ? ok(undefined) : reqInt(o, key, where);
}

/** An optional array of strings (e.g. `flags`); absent means empty. */
export function optStrings(o: JsonObject, key: string, where: string): Result<readonly string[], ParseError> {
  const v = o[key];
  if (v === undefined) return ok([]);
  if (Array.isArray(v) && v.every((s) => typeof s === "string")) return ok(v as readonly string[]);
  return err(parseError(`${where}.${key}`, "expected an array of strings"));
}

/** Map each element with `f`, stopping at the first error; `undefined` results are dropped. */
export function mapAll<T>(
  xs: readonly unknown[],
  f: (x: unknown, i: number) => Result<T | undefined, ParseError>,
): Result<T[], ParseError> {
  const out: T[] = [];
  for (const [i, x] of xs.entries()) {
    const r = f(x, i);
    if (r.isErr()) return err(r.error);
    if (r.value !== undefined) out.push(r.value);
  }
  return ok(out);
}

/**
 * A number printed either as a number, a decimal or `0x` hex string, or one of the names in
 * `names` (iproute2 prints table/protocol/scope names unless `-N` is given).
 */
export function numberOrName(
  v: unknown,
  names: Readonly<Record<string, number>>,
  where: string,
): Result<number, ParseError> {
  if (typeof v === "number" && Number.isInteger(v) && v >= 0) return ok(v);
  if (typeof v === "string") {
    if (/^(0|[1-9]\d{0,9})$/.test(v)) return ok(Number(v));
    if (/^0x[0-9a-fA-F]{1,8}$/.test(v)) return ok(Number.parseInt(v.slice(2), 16));
    const n = Object.hasOwn(names, v) ? names[v] : undefined;
    if (n !== undefined) return ok(n);
  }
  return err(parseError(where, `unknown value ${JSON.stringify(v)}`));
}
