import { err, ok, type Result } from "neverthrow";
import { IFNAME_MAX_BYTES, utf8Length, validateIfName as checkIfName, type IfNameProblem } from "../net/index.js";

/** The kinds of names and tokens that are validated before rendering. */
export type NameField = "ifname" | "alias" | "netns-path" | "sysctl-key" | "sysctl-value" | "token";

/**
 * Why a value cannot be rendered into an `ip -batch` line or a sysctl write. `what` names the
 * field (`ifname`, `alias`, `netns-path`, `sysctl-key`, `sysctl-value`, or a numeric field such as
 * `mtu`), `reason` says which rule it broke.
 */
export type RenderError =
  | {
      /** A name or token that cannot be written safely. */
      readonly kind: "invalid-name";
      /** Which field it was. */
      readonly what: NameField;
      /** The rejected value. */
      readonly value: string;
      /** The rule it broke, e.g. `empty` or `only [A-Za-z0-9_.-] are allowed`. */
      readonly reason: string;
    }
  | {
      /** A number outside its range (MTU, table id, port, ...). */
      readonly kind: "invalid-value";
      /** The field, e.g. `mtu` or `encap-dport`. */
      readonly what: string;
      /** The rejected number. */
      readonly value: number;
      /** The range it must be in. */
      readonly reason: string;
    }
  | {
      /** The op names a namespace the render context cannot name (e.g. the host namespace from inside a pod namespace without a host path). */
      readonly kind: "unresolvable-netns";
      /** Why the namespace cannot be named. */
      readonly reason: string;
    };

/** Longest interface name: `IFNAMSIZ` (16) minus the terminating NUL (the same value as `IFNAME_MAX_BYTES` of the net module). */
export const IFNAME_MAX = IFNAME_MAX_BYTES;
/** Longest alias accepted here, in UTF-8 bytes (the kernel allows 255; Coil's are far shorter). */
export const ALIAS_MAX_BYTES = 127;

function bad(what: NameField, value: string, reason: string): Result<never, RenderError> {
  return err({ kind: "invalid-name", what, value, reason });
}

/** The `reason` texts of ifname errors, as this module has always written them. */
const IFNAME_REASONS: Readonly<Record<IfNameProblem, string>> = {
  empty: "empty",
  "too-long": `longer than ${IFNAME_MAX} bytes`,
  reserved: "reserved name",
  "invalid-character": "only [A-Za-z0-9_.-] are allowed",
};

/**
 * Validate an interface name with the shared rule of the net module (`validateIfName` there):
 * 1-15 bytes of `[A-Za-z0-9_.-]`, not `.` or `..`, so a name can never carry `;`, quotes, `#` (a
 * comment in `ip -batch`) or `\` (a line continuation) into an argv or a batch line. Fails with
 * `invalid-name` for the field `ifname`.
 */
export function validateIfName(name: string): Result<string, RenderError> {
  return checkIfName(name).orElse((e) => bad("ifname", name, IFNAME_REASONS[e.problem]));
}

/**
 * Validate a link alias (`ifalias`). It must be printable (no control characters, so no newline),
 * at most {@link ALIAS_MAX_BYTES} UTF-8 bytes, and must not contain `"`, `'`, `\` or `#`, which
 * `ip -batch` treats as quoting, continuation or comment characters. Spaces are allowed (the
 * batch line quotes the token). The empty alias clears it.
 */
export function validateAlias(alias: string): Result<string, RenderError> {
  if (utf8Length(alias) > ALIAS_MAX_BYTES) return bad("alias", alias, `longer than ${ALIAS_MAX_BYTES} bytes`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(alias)) return bad("alias", alias, "control character");
  if (/["'\\#]/.test(alias)) return bad("alias", alias, "contains a quote, backslash or #");
  return ok(alias);
}

/**
 * Validate a network namespace file path: absolute, at most 4095 bytes, no control characters
 * (no newline, no NUL), no `"`, `'`, `\`, `#`, and no `.`/`..` segments.
 */
export function validateNetnsPath(path: string): Result<string, RenderError> {
  if (!path.startsWith("/")) return bad("netns-path", path, "not absolute");
  if (utf8Length(path) > 4095) return bad("netns-path", path, "too long");
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) return bad("netns-path", path, "control character");
  if (/["'\\#]/.test(path)) return bad("netns-path", path, "contains a quote, backslash or #");
  if (path.split("/").some((seg) => seg === "." || seg === "..")) return bad("netns-path", path, "dot segment");
  return ok(path);
}

/** Check that `value` is an integer in `[min, max]`. */
export function validateInt(what: string, value: number, min: number, max: number): Result<number, RenderError> {
  if (!Number.isInteger(value) || value < min || value > max) {
    return err({ kind: "invalid-value", what, value, reason: `must be an integer in [${min}, ${max}]` });
  }
  return ok(value);
}

/**
 * The `/proc/sys`-relative path of a sysctl key, as `sysctl(8)` maps it: `.` separates levels and
 * a `/` inside a key stands for a `.` in a path segment (an interface name such as `eth0.100`).
 * `net.ipv4.conf.eth0/100.rp_filter` → `net/ipv4/conf/eth0.100/rp_filter`. Keys may use only
 * `[A-Za-z0-9_./-]`, and the resulting segments may not be empty, `.` or `..`.
 */
export function sysctlPath(key: string): Result<string, RenderError> {
  if (!/^[A-Za-z0-9_./-]+$/.test(key)) return bad("sysctl-key", key, "only [A-Za-z0-9_./-] are allowed");
  const segments = key.split(".").map((s) => s.replaceAll("/", "."));
  if (segments.some((s) => s === "" || s === "." || s === "..")) return bad("sysctl-key", key, "empty or dot segment");
  return ok(segments.join("/"));
}

/** Validate a sysctl value: printable text (tabs allowed for ranges such as `32768\t60999`), no newline. */
export function validateSysctlValue(value: string): Result<string, RenderError> {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(value)) return bad("sysctl-value", value, "control character");
  return ok(value);
}

/**
 * One line of `ip -batch -` from argv tokens. `ip` splits batch lines on whitespace (its
 * `makeargs`), takes a token that begins with `"` or `'` verbatim up to the same quote (no
 * escapes), drops everything after `#`, and joins a line ending in `\` with the next. Tokens with
 * whitespace (or empty ones) are therefore wrapped in double quotes; a token that could not
 * survive that parsing (a quote, `#`, `\` or control character) is refused.
 */
export function batchLine(args: readonly string[]): Result<string, RenderError> {
  const out: string[] = [];
  for (const a of args) {
    // eslint-disable-next-line no-control-regex
    if (/["'\\#\u0000-\u0008\u000a-\u001f\u007f]/.test(a)) return bad("token", a, "token cannot be written on an ip -batch line");
    out.push(a === "" || /[\s]/.test(a) ? `"${a}"` : a);
  }
  return ok(out.join(" "));
}
