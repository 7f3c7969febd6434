/**
 * Parsing the CNI environment (`CNI_COMMAND`, `CNI_CONTAINERID`, `CNI_NETNS`, `CNI_IFNAME`,
 * `CNI_ARGS`, `CNI_PATH`) per verb, as the spec's "Parameters" section requires.
 */
import { err, ok, type Result } from "neverthrow";
import { CNI_ERROR, cniError, quoteValue, type CniError } from "./errors.js";
import { validateContainerId, validateIfName, validatePath } from "./names.js";

/** Every CNI verb, in spec order. */
export const CNI_COMMANDS = ["ADD", "DEL", "CHECK", "STATUS", "GC", "VERSION"] as const;

/** A CNI verb. */
export type CniCommand = (typeof CNI_COMMANDS)[number];

/** Variables for ADD, CHECK (netns required) and DEL (netns optional). */
export interface CniAttachmentEnv {
  /** `CNI_CONTAINERID`. */
  readonly containerId: string;
  /** `CNI_NETNS`; for DEL `""` when unset (DEL must work without the netns). */
  readonly netns: string;
  /** `CNI_IFNAME`. */
  readonly ifname: string;
  /** `CNI_ARGS` as given (`""` when unset); parse it with `parseCniArgs`. */
  readonly args: string;
  /** `CNI_PATH` as given (`""` when unset). */
  readonly path: string;
  /** `CNI_PATH` split on `:`, empty entries dropped. */
  readonly pathList: readonly string[];
}

/** The validated environment, by verb. */
export type CniEnv =
  | ({
      /** An attachment verb: the container variables are present. */
      readonly command: "ADD" | "CHECK" | "DEL";
    } & CniAttachmentEnv)
  | {
      /** A plugin-wide verb: only `CNI_PATH` is read (required for GC, optional for STATUS). */
      readonly command: "GC" | "STATUS";
      /** `CNI_PATH` as given (`""` when unset). */
      readonly path: string;
      /** `CNI_PATH` split on `:`, empty entries dropped. */
      readonly pathList: readonly string[];
    }
  | {
      /** `VERSION`: no other variable is read. */
      readonly command: "VERSION";
    };

/** Options for {@link parseCniEnv}. */
export interface ParseCniEnvOptions {
  /**
   * Also require `CNI_PATH` for ADD, DEL and CHECK, as Go's `skel` does (the spec makes it
   * optional). Default false.
   */
  readonly requirePathForAttachments?: boolean;
}

type Requirement = "required" | "optional" | "unused";

const VARS = ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_ARGS", "CNI_PATH"] as const;
type Var = (typeof VARS)[number];

function requirements(command: CniCommand, opts: ParseCniEnvOptions): Record<Var, Requirement> {
  const path: Requirement = opts.requirePathForAttachments === true ? "required" : "optional";
  switch (command) {
    case "ADD":
    case "CHECK":
      return { CNI_CONTAINERID: "required", CNI_NETNS: "required", CNI_IFNAME: "required", CNI_ARGS: "optional", CNI_PATH: path };
    case "DEL":
      return { CNI_CONTAINERID: "required", CNI_NETNS: "optional", CNI_IFNAME: "required", CNI_ARGS: "optional", CNI_PATH: path };
    case "GC":
      return { CNI_CONTAINERID: "unused", CNI_NETNS: "unused", CNI_IFNAME: "unused", CNI_ARGS: "unused", CNI_PATH: "required" };
    case "STATUS":
      return { CNI_CONTAINERID: "unused", CNI_NETNS: "unused", CNI_IFNAME: "unused", CNI_ARGS: "unused", CNI_PATH: "optional" };
    case "VERSION":
      return { CNI_CONTAINERID: "unused", CNI_NETNS: "unused", CNI_IFNAME: "unused", CNI_ARGS: "unused", CNI_PATH: "unused" };
  }
}

/** Parse `CNI_COMMAND` alone (case-sensitive, as skel). Missing or unknown → code 4. */
export function parseCniCommand(value: string | undefined): Result<CniCommand, CniError> {
  if (value === undefined || value === "") {
    return err(cniError(CNI_ERROR.INVALID_ENVIRONMENT_VARIABLES, "required env variables [CNI_COMMAND] missing"));
  }
  if ((CNI_COMMANDS as readonly string[]).includes(value)) return ok(value as CniCommand);
  return err(
    cniError(
      CNI_ERROR.INVALID_ENVIRONMENT_VARIABLES,
      `unknown CNI_COMMAND: ${quoteValue(value)}`,
      `CNI_COMMAND must be one of ${CNI_COMMANDS.join(", ")}`,
    ),
  );
}

/** `CNI_PATH` entries: no NUL or control characters; the list is split on `:`. */
function checkCniPath(path: string): Result<readonly string[], CniError> {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) {
    return err(cniError(CNI_ERROR.INVALID_ENVIRONMENT_VARIABLES, "invalid CNI_PATH: contains control characters", quoteValue(path)));
  }
  return ok(path.split(":").filter((p) => p !== ""));
}

/**
 * Validate the CNI environment for the verb named by `CNI_COMMAND`. An empty variable counts as
 * unset (as skel's `Getenv`). All missing required variables are reported together, code 4
 * "required env variables [A,B] missing"; a malformed value is code 4 naming the variable.
 * `CNI_ARGS` is only passed through here; `parseCniArgs` parses it.
 */
export function parseCniEnv(
  env: Readonly<Record<string, string | undefined>>,
  options: ParseCniEnvOptions = {},
): Result<CniEnv, CniError> {
  const cmd = parseCniCommand(env["CNI_COMMAND"]);
  if (cmd.isErr()) return err(cmd.error);
  const command = cmd.value;
  if (command === "VERSION") return ok({ command });
  const req = requirements(command, options);
  const get = (v: Var): string => env[v] ?? "";
  const missing = VARS.filter((v) => req[v] === "required" && get(v) === "");
  if (missing.length > 0) {
    return err(cniError(CNI_ERROR.INVALID_ENVIRONMENT_VARIABLES, `required env variables [${missing.join(",")}] missing`));
  }
  const pathList = checkCniPath(get("CNI_PATH"));
  if (pathList.isErr()) return err(pathList.error);
  if (command === "GC" || command === "STATUS") return ok({ command, path: get("CNI_PATH"), pathList: pathList.value });
  const netns = get("CNI_NETNS");
  return validateContainerId(get("CNI_CONTAINERID"))
    .andThen((containerId) => validateIfName(get("CNI_IFNAME")).map((ifname) => ({ containerId, ifname })))
    .andThen((ids) => (netns === "" ? ok(ids) : validatePath(netns, "CNI_NETNS").map(() => ids)))
    .map((ids) => ({ command, ...ids, netns, args: get("CNI_ARGS"), path: get("CNI_PATH"), pathList: pathList.value }));
}
