/**
 * Validation of names that arrive from the runtime: container IDs (CNI spec) and Linux interface
 * names (kernel `dev_valid_name`). Messages are precise and echo the value quoted.
 */
import { err, ok, type Result } from "neverthrow";
import { CNI_ERROR, cniError, quoteValue, type CniError } from "./errors.js";

/** Linux `IFNAMSIZ - 1`: the longest interface name in bytes. */
export const MAX_IFNAME_BYTES = 15;

const CONTAINER_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const MAX_CONTAINER_ID = 1024;
const SPACE_RE = /\s/u;

/** Number of bytes `s` takes in UTF-8. */
export function utf8Length(s: string): number {
  let n = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    n += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  return n;
}

/**
 * Validate a container ID (`CNI_CONTAINERID`, also the `containerID` of GC attachments and the
 * `K8S_POD_INFRA_CONTAINER_ID` arg): an alphanumeric first character, then `[A-Za-z0-9_.-]`
 * (spec and libcni regex), at most 1024 characters. Error code 4 naming `variable`.
 */
export function validateContainerId(id: string, variable = "CNI_CONTAINERID"): Result<string, CniError> {
  if (id.length > MAX_CONTAINER_ID) {
    return err(cniError(CNI_ERROR.INVALID_ENVIRONMENT_VARIABLES, `${variable} is too long`, `${id.length} characters, at most ${MAX_CONTAINER_ID}`));
  }
  if (!CONTAINER_ID_RE.test(id)) {
    return err(
      cniError(
        CNI_ERROR.INVALID_ENVIRONMENT_VARIABLES,
        `invalid characters in ${variable}: must match ^[A-Za-z0-9][A-Za-z0-9_.-]*$`,
        quoteValue(id),
      ),
    );
  }
  return ok(id);
}

/**
 * Validate a Linux interface name (`CNI_IFNAME`): 1-15 bytes, not `.` or `..`, no `/`, `:`,
 * whitespace or control characters (the kernel's `dev_valid_name` plus libcni's whitespace rule;
 * control characters are refused as well). Error code 4 naming `variable`.
 */
export function validateIfName(name: string, variable = "CNI_IFNAME"): Result<string, CniError> {
  const bad = (why: string): Result<string, CniError> =>
    err(cniError(CNI_ERROR.INVALID_ENVIRONMENT_VARIABLES, `invalid ${variable}: ${why}`, quoteValue(name)));
  if (name === "") return bad("interface name is empty");
  if (utf8Length(name) > MAX_IFNAME_BYTES) return bad(`interface name is longer than ${MAX_IFNAME_BYTES} bytes`);
  if (name === "." || name === "..") return bad("interface name is . or ..");
  if (/[/:]/.test(name) || SPACE_RE.test(name)) return bad("interface name contains / or : or whitespace");
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return bad("interface name contains control characters");
  return ok(name);
}

/**
 * Validate a path-like variable (`CNI_NETNS`): absolute, at most 4095 bytes (PATH_MAX - 1), no NUL or
 * other control characters. Error code 4 naming `variable`.
 */
export function validatePath(path: string, variable: string): Result<string, CniError> {
  const bad = (why: string): Result<string, CniError> =>
    err(cniError(CNI_ERROR.INVALID_ENVIRONMENT_VARIABLES, `invalid ${variable}: ${why}`, quoteValue(path)));
  if (!path.startsWith("/")) return bad("must be an absolute path");
  if (utf8Length(path) > 4095) return bad("path is longer than 4095 bytes");
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) return bad("path contains control characters");
  return ok(path);
}
