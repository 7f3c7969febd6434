/**
 * Validation of names that arrive from the runtime: container IDs (CNI spec) and Linux interface
 * names (kernel `dev_valid_name`). Messages are precise and echo the value quoted.
 */
import { err, ok, type Result } from "neverthrow";
import { IFNAME_MAX_BYTES, utf8Length, validateIfName as checkIfName } from "../net/index.js";
import { CNI_ERROR, cniError, quoteValue, type CniError } from "./errors.js";

/** Linux `IFNAMSIZ - 1`: the longest interface name in bytes (`IFNAME_MAX_BYTES` of the net module). */
export const MAX_IFNAME_BYTES = IFNAME_MAX_BYTES;

/** Number of bytes `s` takes in UTF-8 (re-exported from the net module). */
export { utf8Length };

const CONTAINER_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const MAX_CONTAINER_ID = 1024;

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
 * Validate a Linux interface name (`CNI_IFNAME`) with the shared rule of the net module: 1-15
 * bytes of `[A-Za-z0-9_.-]`, not `.` or `..`. That is stricter than the kernel's `dev_valid_name`
 * and libcni (which refuse only `/`, `:` and whitespace), so the name is safe in every argv and
 * batch line the adapters write. Error code 4, the message naming `variable`.
 */
export function validateIfName(name: string, variable = "CNI_IFNAME"): Result<string, CniError> {
  return checkIfName(name).orElse((e) =>
    err(cniError(CNI_ERROR.INVALID_ENVIRONMENT_VARIABLES, `invalid ${variable}: ${e.message}`, quoteValue(name))),
  );
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
