import { err, ok, type Result } from "neverthrow";

/** Longest Linux interface name in bytes: `IFNAMSIZ` (16) minus the terminating NUL. */
export const IFNAME_MAX_BYTES = 15;

/** Which rule of {@link validateIfName} a name broke. */
export type IfNameProblem = "empty" | "too-long" | "reserved" | "invalid-character";

/**
 * Why a string is not an acceptable interface name. Callers map it to their own error kinds
 * (the changeset renderer's `invalid-name`, CNI error code 4 naming the variable, ...).
 */
export interface IfNameError {
  /** Discriminant: `invalid-ifname`. */
  readonly kind: "invalid-ifname";
  /** The rejected name. */
  readonly input: string;
  /** The rule it broke. */
  readonly problem: IfNameProblem;
  /** Human-readable explanation, e.g. `interface name is longer than 15 bytes`. */
  readonly message: string;
}

const IFNAME_RE = /^[A-Za-z0-9_.-]+$/;

/** Number of bytes `s` takes in UTF-8 (lone surrogates count as 3, as `TextEncoder` writes U+FFFD). */
export function utf8Length(s: string): number {
  let n = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
  }
  return n;
}

const MESSAGES: Readonly<Record<IfNameProblem, string>> = {
  empty: "interface name is empty",
  "too-long": `interface name is longer than ${IFNAME_MAX_BYTES} bytes`,
  reserved: "interface name is . or ..",
  "invalid-character": "interface name may contain only [A-Za-z0-9_.-]",
};

/**
 * Validate a Linux interface name: 1-15 bytes of `[A-Za-z0-9_.-]`, and not `.` or `..`. The
 * kernel's `dev_valid_name` only refuses `/`, `:` and whitespace; this rule is stricter, so a name
 * can never carry `;`, quotes, `#` (a comment in `ip -batch`), `\` (a line continuation), control
 * characters or non-ASCII text into an argv, a batch line or a sysctl path. Every name Coil
 * creates (`eth0`, `veth<hex>`, `fou4_<hex>`, `coil_ipip4`, ...) passes.
 */
export function validateIfName(name: string): Result<string, IfNameError> {
  const bad = (problem: IfNameProblem): Result<string, IfNameError> =>
    err({ kind: "invalid-ifname", input: name, problem, message: MESSAGES[problem] });
  if (name === "") return bad("empty");
  if (utf8Length(name) > IFNAME_MAX_BYTES) return bad("too-long");
  if (name === "." || name === "..") return bad("reserved");
  if (!IFNAME_RE.test(name)) return bad("invalid-character");
  return ok(name);
}
