/**
 * Node helpers: existence, names, a metadata-only informer transform, and the node's internal
 * addresses (what coild needs for its host-side routes).
 */
import type { CoreV1Api, V1Node } from "@kubernetes/client-node";
import type { ResultAsync } from "neverthrow";
import type { NodeListCalls } from "./api-calls.js";
import type { KubeObject, ObjectList } from "./coil-types.js";
import { k8sCall, type K8sError } from "./errors.js";

/** A Node reduced to its metadata (what the IPAM controller watches). */
export type NodeMeta = KubeObject;

/** REST path of the Node collection (for watches). */
export const NODES_PATH = "/api/v1/nodes";

/** Reduce a Node to name, uid and resourceVersion. */
export function nodeMeta(n: V1Node | NodeMeta): NodeMeta {
  const m = n.metadata ?? { name: "" };
  return {
    metadata: {
      name: m.name ?? "",
      ...(m.uid === undefined ? {} : { uid: m.uid }),
      ...(m.resourceVersion === undefined ? {} : { resourceVersion: m.resourceVersion }),
    },
  };
}

/** LIST every Node (uncached, pages of 500), each reduced by `map` as it arrives (an informer's list). */
export function listNodesAs<T>(core: NodeListCalls, map: (n: V1Node) => T): ResultAsync<ObjectList<T>, K8sError> {
  return k8sCall(async () => {
    const items: T[] = [];
    let cont: string | undefined;
    let rv = "";
    do {
      const page = await core.listNode({ limit: 500, ...(cont === undefined ? {} : { _continue: cont }) });
      for (const n of page.items) items.push(map(n));
      rv = page.metadata?.resourceVersion ?? rv;
      cont = page.metadata?._continue === "" ? undefined : page.metadata?._continue;
    } while (cont !== undefined);
    return { items, resourceVersion: rv };
  });
}

/** LIST Nodes (uncached) reduced to metadata; paginated by 500. */
export function listNodeMetas(core: NodeListCalls): ResultAsync<ObjectList<NodeMeta>, K8sError> {
  return listNodesAs(core, nodeMeta);
}

/** The set of existing Node names (uncached). */
export function listNodeNames(core: NodeListCalls): ResultAsync<Set<string>, K8sError> {
  return listNodeMetas(core).map((l) => new Set(l.items.map((n) => n.metadata.name)));
}

/** The node's first `InternalIP` of each family (Coil's `GetNodeInternalIP` semantics), as strings. */
export function nodeInternalIps(node: V1Node): { ipv4?: string; ipv6?: string } {
  let ipv4: string | undefined;
  let ipv6: string | undefined;
  for (const a of node.status?.addresses ?? []) {
    if (a.type !== "InternalIP") continue;
    if (a.address.includes(":")) ipv6 ??= a.address;
    else ipv4 ??= a.address;
  }
  return { ...(ipv4 === undefined ? {} : { ipv4 }), ...(ipv6 === undefined ? {} : { ipv6 }) };
}

/** GET one Node. */
export function getNode(core: CoreV1Api, name: string): ResultAsync<V1Node, K8sError> {
  return k8sCall(() => core.readNode({ name }));
}
