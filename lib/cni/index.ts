/**
 * The CNI protocol, as pure functions: environment and `CNI_ARGS` parsing, a node daemon's
 * attachment call (`parseCniCall`), network configuration parsing, spec-version negotiation, CNI
 * results (built with `vethAttachmentResult`) in every supported version's JSON shape, and
 * CNI error codes (mirroring `proto/cni.proto` `ErrorCode`). No I/O: adapters read env/stdin and
 * print what these functions return.
 *
 * @module cni
 */
export type { CniError, CniErrorJson, CniWellKnownCode } from "./errors.js";
export {
  CNI_ERROR,
  MAX_ERROR_DETAILS_CHARS,
  MAX_ERROR_MSG_CHARS,
  MAX_QUOTED_CHARS,
  MAX_QUOTED_ITEMS,
  boundText,
  cniError,
  cniErrorJson,
  quoteList,
  quoteValue,
} from "./errors.js";
export type { CniVersion, VersionResult, VersionOffer, GatedCommand } from "./version.js";
export {
  SUPPORTED_VERSIONS,
  CURRENT_VERSION,
  MIN_VERSION_FOR,
  isSupportedVersion,
  parseVersion,
  compareVersions,
  negotiateVersion,
  versionResult,
  checkCommandVersion,
  incompatibleVersions,
} from "./version.js";
export { MAX_IFNAME_BYTES, utf8Length, validateContainerId, validateIfName, validatePath } from "./names.js";
export type { CniCommand, CniEnv, CniAttachmentEnv, ParseCniEnvOptions } from "./env.js";
export { CNI_COMMANDS, parseCniCommand, parseCniEnv } from "./env.js";
export type { CniArgs } from "./args.js";
export { KNOWN_CNI_ARGS, checkPodNames, parseCniArgs } from "./args.js";
export type { CniAttachmentCommand, CniCall, CniCallInput, CniSandboxCall, PodRef } from "./call.js";
export { IS_CHAINED_KEY, parseCniCall } from "./call.js";
export type { NetConf, GcAttachment } from "./netconf.js";
export { DEFAULT_SOCKET_PATH, MAX_NETCONF_BYTES, VALID_ATTACHMENTS_KEY, ATTACHMENTS_KEY, checkNetConfSize, parseNetConf } from "./netconf.js";
export type { CniResult, CniInterface, CniIpConfig, CniRoute, CniDns, ParseResultOptions, VethAttachment } from "./result.js";
export { parseResult, vethAttachmentResult } from "./result.js";
export type { ChainedPodAddresses, PrevResultSummary } from "./prev-result.js";
export { chainedHostInterfaces, chainedPodAddresses, isV1Family, parsePrevResult, prevResultSummary } from "./prev-result.js";
export type { JsonValue } from "./convert.js";
export { convertResult } from "./convert.js";
export { decodeUtf8 } from "./utf8.js";
