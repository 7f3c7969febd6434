/**
 * The client-node API methods the shared Kubernetes code calls, as types only: client-node's own
 * API classes (adapters/k8s/clients.ts `makeClients`) and the small REST ones (rest-apis.ts, what
 * coil-ipam-controller runs on) both satisfy them. Being `Pick`s of client-node's classes, a call
 * through them still resolves to client-node's declarations, so the RBAC scan
 * (test/adapters/manifests/api-usage.ts) reads them as the typed calls they are.
 */
import type { AdmissionregistrationV1Api, CoordinationV1Api, CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";

/** What `ClusterResource` (coil-client.ts) calls on cluster-scoped custom resources. Patches are JSON merge patches. */
export type ClusterCustomObjectsCalls = Pick<
  CustomObjectsApi,
  | "getClusterCustomObject"
  | "listClusterCustomObject"
  | "createClusterCustomObject"
  | "deleteClusterCustomObject"
  | "patchClusterCustomObject"
  | "patchClusterCustomObjectStatus"
  | "replaceClusterCustomObjectStatus"
>;

/** What `NamespacedResource` (coil-client.ts) calls. */
export type NamespacedCustomObjectsCalls = Pick<CustomObjectsApi, "getNamespacedCustomObject" | "listClusterCustomObject" | "replaceNamespacedCustomObjectStatus">;

/** Listing Nodes (nodes.ts). */
export type NodeListCalls = Pick<CoreV1Api, "listNode">;

/** The Lease calls of leader election (leader-elector.ts). */
export type LeaseCalls = Pick<CoordinationV1Api, "readNamespacedLease" | "createNamespacedLease" | "replaceNamespacedLease">;

/** The webhook-configuration calls of CA injection (certs-inject.ts). */
export type WebhookConfigurationCalls = Pick<
  AdmissionregistrationV1Api,
  "readValidatingWebhookConfiguration" | "readMutatingWebhookConfiguration" | "replaceValidatingWebhookConfiguration" | "replaceMutatingWebhookConfiguration"
>;
