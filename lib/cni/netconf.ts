/**
 * Parsing the plugin's network configuration from stdin (the plugin entry of a conflist, with
 * `cniVersion`/`name` injected by the runtime, plus `runtimeConfig`, `prevResult` and GC keys).
 */
import { err, ok, Result } from "neverthrow";
import { utf8Length } from "../net/index.js";
import { CNI_ERROR, boundText, cniError, MAX_QUOTED_CHARS, quoteValue, type CniError } from "./errors.js";
import { parsePrevResult } from "./prev-result.js";
import type { CniResult } from "./result.js";
import { decodeUtf8 } from "./utf8.js";
import { SUPPORTED_VERSIONS, incompatibleVersions, isSupportedVersion, type CniVersion } from "./version.js";

/** Coil's default coild socket (`constants.DefaultSocketPath`). */
export const DEFAULT_SOCKET_PATH = "/run/coild.sock";

/**
 * The largest network configuration (all of stdin) accepted, in bytes: 1 MiB. Real ones, prevResult
 * included, are a few KiB; the bound keeps a hostile or broken input from costing seconds of
 * decoding and from exceeding what coild accepts in one request (4 MiB, base64 adds a third).
 */
export const MAX_NETCONF_BYTES = 1024 * 1024;

/** GC stdin key listing attachments to keep (current name). */
export const VALID_ATTACHMENTS_KEY = "cni.dev/valid-attachments";
/** GC stdin key of the spec-v1.1.0 tag text; libcni sends both. */
export const ATTACHMENTS_KEY = "cni.dev/attachments";

/** One still-valid attachment in a GC request. */
export interface GcAttachment {
  /** The container ID. */
  readonly containerID: string;
  /** The interface name. */
  readonly ifname: string;
}

/** The parsed plugin configuration. */
export interface NetConf {
  /** The protocol version in use (a supported one). */
  readonly cniVersion: CniVersion;
  /** The optional `cniVersions` list (spec 1.1.0); `[]` when absent. */
  readonly cniVersions: readonly string[];
  /** Network name. */
  readonly name: string;
  /** Plugin type. */
  readonly type: string;
  /** coild socket path (`socket`, default {@link DEFAULT_SOCKET_PATH}). */
  readonly socket: string;
  /** `capabilities` (normally stripped by the runtime); `{}` when absent. */
  readonly capabilities: Readonly<Record<string, boolean>>;
  /** `runtimeConfig` (capability arguments); `{}` when absent. */
  readonly runtimeConfig: Readonly<Record<string, unknown>>;
  /** The parsed `prevResult`, in current form. */
  readonly prevResult?: CniResult;
  /** GC: `cni.dev/valid-attachments`, else `cni.dev/attachments`. */
  readonly validAttachments?: readonly GcAttachment[];
  /** The whole decoded object, for plugin-specific keys. */
  readonly raw: Readonly<Record<string, unknown>>;
}

type Obj = Readonly<Record<string, unknown>>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

const invalid = (msg: string, details = ""): CniError => cniError(CNI_ERROR.INVALID_NETWORK_CONFIG, msg, details);
const wrongType = (key: string, want: string, v: unknown): CniError =>
  invalid(`network config key ${JSON.stringify(key)} must be ${want}`, `got ${quoteValue(JSON.stringify(v) ?? String(v))}`);

/**
 * Refuse a network configuration (stdin) of more than {@link MAX_NETCONF_BYTES} bytes: code 7
 * "network config is too large", `details` giving the size. `byteLength` is the number of bytes
 * read (a reader that stops after `MAX_NETCONF_BYTES + 1` bytes gets the same answer).
 */
export function checkNetConfSize(byteLength: number): Result<number, CniError> {
  return byteLength <= MAX_NETCONF_BYTES
    ? ok(byteLength)
    : err(invalid("network config is too large", `read ${byteLength} bytes from stdin, at most ${MAX_NETCONF_BYTES} are accepted`));
}

/** Decode stdin to a JSON object: bad UTF-8, bad JSON or a non-object → code 6. */
function decodeObject(stdin: Uint8Array | string): Result<Obj, CniError> {
  const text = typeof stdin === "string" ? stdin : decodeUtf8(stdin);
  const bad = (why: string): Result<Obj, CniError> =>
    err(cniError(CNI_ERROR.DECODING_FAILURE, "error unmarshalling network config", why));
  if (text === undefined) return bad("stdin is not valid UTF-8");
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return bad(e instanceof SyntaxError ? boundText(e.message, MAX_QUOTED_CHARS) : "invalid JSON");
  }
  return isObj(v) ? ok(v) : bad("network config must be a JSON object");
}

function checkVersion(o: Obj): Result<CniVersion, CniError> {
  const v = o["cniVersion"];
  if (v !== undefined && typeof v !== "string") return err(wrongType("cniVersion", "a string", v));
  if (v === undefined || v === "") {
    return err(incompatibleVersions("config has no cniVersion (legacy 0.1.0)"));
  }
  if (!isSupportedVersion(v)) {
    return err(incompatibleVersions(`config is ${quoteValue(v)}, plugin supports ${JSON.stringify(SUPPORTED_VERSIONS)}`));
  }
  return ok(v);
}

function str(o: Obj, key: string, dflt: string | undefined): Result<string, CniError> {
  const v = o[key];
  if (v === undefined && dflt !== undefined) return ok(dflt);
  if (v === undefined || v === "") return err(invalid(`missing ${key} in network config`));
  return typeof v === "string" ? ok(v) : err(wrongType(key, "a string", v));
}

function record<T>(o: Obj, key: string, check: (v: unknown) => v is T, want: string): Result<Record<string, T>, CniError> {
  const v = o[key];
  if (v === undefined || v === null) return ok({});
  if (!isObj(v) || !Object.values(v).every(check)) return err(wrongType(key, want, v));
  return ok({ ...v } as Record<string, T>);
}

function versionsList(o: Obj): Result<readonly string[], CniError> {
  const v = o["cniVersions"];
  if (v === undefined || v === null) return ok([]);
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) return err(wrongType("cniVersions", "an array of strings", v));
  return ok(v);
}

function attachments(o: Obj): Result<readonly GcAttachment[] | undefined, CniError> {
  const key = o[VALID_ATTACHMENTS_KEY] !== undefined ? VALID_ATTACHMENTS_KEY : ATTACHMENTS_KEY;
  const v = o[key];
  if (v === undefined || v === null) return ok(undefined);
  const good = (a: unknown): a is GcAttachment => isObj(a) && typeof a["containerID"] === "string" && typeof a["ifname"] === "string";
  if (!Array.isArray(v) || !v.every(good)) return err(wrongType(key, "an array of {containerID, ifname} strings", v));
  return ok(v.map((a: GcAttachment) => ({ containerID: a.containerID, ifname: a.ifname })));
}

function checkName(name: string): Result<string, CniError> {
  return NAME_RE.test(name) ? ok(name) : err(invalid("invalid characters found in network name", quoteValue(name)));
}

function prev(o: Obj, version: CniVersion): Result<CniResult | undefined, CniError> {
  const v = o["prevResult"];
  if (v === undefined || v === null) return ok(undefined);
  if (!isObj(v)) return err(wrongType("prevResult", "an object", v));
  return parsePrevResult(v, version);
}

/**
 * Parse the network configuration read from stdin (bytes or text). Errors: more than
 * {@link MAX_NETCONF_BYTES} bytes → 7 (checked before decoding); invalid UTF-8 or JSON, or not an
 * object → 6; `cniVersion` missing or unsupported → 1; a key of the wrong type, missing
 * or invalid `name`, missing `type` or empty `socket` → 7; a malformed `prevResult` → 6.
 * Unknown keys are kept in `raw`. Error details quote offending values bounded (`quoteValue`).
 */
export function parseNetConf(stdin: Uint8Array | string): Result<NetConf, CniError> {
  const size = checkNetConfSize(typeof stdin === "string" ? utf8Length(stdin) : stdin.length);
  if (size.isErr()) return err(size.error);
  const decoded = decodeObject(stdin);
  if (decoded.isErr()) return err(decoded.error);
  const o = decoded.value;
  if (o["cniVersion"] !== undefined && typeof o["cniVersion"] !== "string") return err(wrongType("cniVersion", "a string", o["cniVersion"]));
  const fields = Result.combine([
    str(o, "name", undefined).andThen(checkName),
    str(o, "type", undefined),
    str(o, "socket", DEFAULT_SOCKET_PATH),
  ]);
  if (fields.isErr()) return err(fields.error);
  const caps = record(o, "capabilities", (x): x is boolean => typeof x === "boolean", "an object of booleans");
  const runtime = record(o, "runtimeConfig", (_x): _x is unknown => true, "an object");
  const versions = versionsList(o);
  const valid = attachments(o);
  const version = checkVersion(o);
  if (caps.isErr()) return err(caps.error);
  if (runtime.isErr()) return err(runtime.error);
  if (versions.isErr()) return err(versions.error);
  if (valid.isErr()) return err(valid.error);
  if (version.isErr()) return err(version.error);
  const [name, type, socket] = fields.value;
  return prev(o, version.value).map((prevResult) => ({
    cniVersion: version.value,
    cniVersions: versions.value,
    name,
    type,
    socket,
    capabilities: caps.value,
    runtimeConfig: runtime.value,
    raw: o,
    ...(prevResult === undefined ? {} : { prevResult }),
    ...(valid.value === undefined ? {} : { validAttachments: valid.value }),
  }));
}
