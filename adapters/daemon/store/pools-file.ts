/**
 * Reading the `--pools FILE` of the local block store: a YAML stream (documents separated by
 * `---`) or a JSON array (JSON is YAML) of `AddressPool` objects, each validated with lib/ipam's
 * AddressPool CREATE rules. Errors name the document, the pool and the field.
 */
import { readFile } from "node:fs/promises";
import { err, ok, type Result } from "neverthrow";
import { parseAllDocuments } from "yaml";
import {
  formatFieldError,
  parsePool,
  poolMaxBlocks,
  validatePoolCreate,
  type DefaultedPoolSpec,
} from "../../../lib/ipam/index.js";
import { isDns1123Subdomain } from "../../../lib/net/index.js";

/** A validated pool of the local store. */
export interface LocalPool {
  readonly name: string;
  readonly spec: DefaultedPoolSpec;
  readonly maxBlocks: bigint;
}

/** Why the pools file is unusable. `problems` lists every problem found, one line each. */
export interface PoolsFileError {
  readonly kind: "invalid-pools-file";
  readonly path: string;
  readonly problems: readonly string[];
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function nameOf(obj: unknown): string | undefined {
  const meta = isObject(obj) ? obj["metadata"] : undefined;
  return isObject(meta) && typeof meta["name"] === "string" ? meta["name"] : undefined;
}

function parseOne(obj: unknown, where: string, problems: string[]): LocalPool | undefined {
  const name = nameOf(obj);
  const at = name === undefined ? where : `${where} (pool "${name}")`;
  const parsed = parsePool(obj);
  if (parsed.isErr()) {
    problems.push(`${at}: ${parsed.error.path === "" ? "" : `${parsed.error.path}: `}${parsed.error.message}`);
    return undefined;
  }
  const pool = parsed.value;
  // Kubernetes object names (DNS-1123 subdomain); also keeps `:` out of the veth alias.
  if (!isDns1123Subdomain(pool.metadata.name)) {
    problems.push(`${at}: metadata.name: must be a DNS-1123 subdomain`);
    return undefined;
  }
  const v = validatePoolCreate(pool.spec);
  if (v.isErr()) {
    problems.push(...v.error.map((e) => `${at}: ${formatFieldError(e)}`));
    return undefined;
  }
  return { name: pool.metadata.name, spec: v.value, maxBlocks: poolMaxBlocks(v.value).unwrapOr(0n) };
}

/** Parse and validate pools from file text (`path` is only used in messages). */
export function parsePools(text: string, path: string): Result<LocalPool[], PoolsFileError> {
  const problems: string[] = [];
  const objects: { obj: unknown; where: string }[] = [];
  parseAllDocuments(text).forEach((doc, d) => {
    if (doc.errors.length > 0) {
      problems.push(`document ${d}: ${doc.errors.map((e) => e.message).join("; ")}`);
      return;
    }
    const v: unknown = doc.toJS();
    if (v === null || v === undefined) return;
    const items: unknown = Array.isArray(v) ? v : isObject(v) && v["kind"] === "List" ? v["items"] : undefined;
    if (Array.isArray(items)) items.forEach((obj: unknown, i) => objects.push({ obj, where: `document ${d} item ${i}` }));
    else objects.push({ obj: v, where: `document ${d}` });
  });
  const pools = objects.flatMap(({ obj, where }) => parseOne(obj, where, problems) ?? []);
  const seen = new Set<string>();
  for (const p of pools) {
    if (seen.has(p.name)) problems.push(`pool "${p.name}": defined more than once`);
    seen.add(p.name);
  }
  if (problems.length === 0 && pools.length === 0) problems.push("no AddressPool defined");
  return problems.length > 0 ? err({ kind: "invalid-pools-file", path, problems }) : ok(pools);
}

/** Read and validate the pools file. */
export async function readPoolsFile(path: string): Promise<Result<LocalPool[], PoolsFileError>> {
  try {
    return parsePools(await readFile(path, "utf8"), path);
  } catch (e) {
    return err({ kind: "invalid-pools-file", path, problems: [e instanceof Error ? e.message : String(e)] });
  }
}

/** One human-readable message for a {@link PoolsFileError}. */
export function formatPoolsFileError(e: PoolsFileError): string {
  return `invalid pools file ${e.path}:\n  ${e.problems.join("\n  ")}`;
}

/**
 * Parse the `--namespace-pools` file: a YAML/JSON mapping `namespace: pool` (the local store's
 * stand-in for Coil's `coil.cybozu.com/pool` namespace annotation). Every pool must be defined.
 */
export function parseNamespacePools(text: string, path: string, pools: readonly LocalPool[]): Result<Record<string, string>, PoolsFileError> {
  const problems: string[] = [];
  const docs = parseAllDocuments(text);
  const first = docs[0];
  const v: unknown = first === undefined || first.errors.length > 0 ? undefined : first.toJS();
  if (first !== undefined && first.errors.length > 0) problems.push(first.errors.map((e) => e.message).join("; "));
  else if (v !== null && v !== undefined && !isObject(v)) problems.push("must be a mapping of namespace to pool name");
  const out: Record<string, string> = {};
  const names = new Set(pools.map((p) => p.name));
  for (const [ns, pool] of Object.entries(isObject(v) ? v : {})) {
    if (typeof pool !== "string") problems.push(`namespace "${ns}": pool must be a string`);
    else if (!names.has(pool)) problems.push(`namespace "${ns}": pool "${pool}" is not defined in the pools file`);
    else out[ns] = pool;
  }
  return problems.length > 0 ? err({ kind: "invalid-pools-file", path, problems }) : ok(out);
}
