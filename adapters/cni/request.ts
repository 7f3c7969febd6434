/**
 * Building the coild request for each verb, exactly as Coil's `makeCNIArgs` does (so the Go coild
 * understands it): CNI_ARGS's three Kubernetes keys plus `IS_CHAINED`, and prevResult's addresses
 * and interfaces.
 */
import type { CniAttachmentEnv, CniArgs, GcAttachment, NetConf } from "../../lib/cni/index.js";
import { IS_CHAINED_KEY, prevResultSummary } from "../../lib/cni/index.js";
import type { CniArgsJson, GcRequestJson, StatusRequestJson } from "../common/fast-protocol.js";
import { toBase64 as base64 } from "./base64.js";

/** `CNIArgs` (proto3 JSON) for ADD/DEL/CHECK. */
export function attachmentRequest(env: CniAttachmentEnv, args: CniArgs, conf: NetConf, stdin: Uint8Array): CniArgsJson {
  const prev = conf.prevResult === undefined ? { ips: [], interfaces: {} } : prevResultSummary(conf.prevResult);
  return {
    containerId: env.containerId,
    netns: env.netns,
    ifname: env.ifname,
    args: {
      K8S_POD_NAMESPACE: args.podNamespace,
      K8S_POD_NAME: args.podName,
      K8S_POD_INFRA_CONTAINER_ID: args.podInfraContainerId,
      [IS_CHAINED_KEY]: String(conf.prevResult !== undefined),
    },
    path: env.path,
    stdinData: base64(stdin),
    ips: [...prev.ips],
    interfaces: { ...prev.interfaces },
  };
}

/** `StatusRequest` (proto3 JSON). */
export function statusRequest(path: string, stdin: Uint8Array): StatusRequestJson {
  return { stdinData: base64(stdin), path };
}

/**
 * `GCRequest` (proto3 JSON). The caller must refuse a GC without an attachment list: reading a
 * missing list as "nothing is valid" would release every address on the node.
 */
export function gcRequest(path: string, stdin: Uint8Array, valid: readonly GcAttachment[]): GcRequestJson {
  return {
    stdinData: base64(stdin),
    path,
    validAttachments: valid.map((a) => ({ containerId: a.containerID, ifname: a.ifname })),
  };
}
