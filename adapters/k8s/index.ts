/**
 * Shared Kubernetes client helpers for Coil's adapters (the IPAM controller and coild's
 * Kubernetes store): kubeconfig loading, keep-alive API clients, typed Coil custom resources,
 * a list+watch informer, a work queue, Lease leader election, Node helpers, JSON logs.
 *
 * @module
 */
export type { KubeConfigSource, KubeConfigError, KubeConfigErrorKind, KubeClients, MakeClientsOptions, ApiRequest, RequestObserver } from "./clients.js";
export { formatKubeConfigError, loadKubeConfig, makeClients, requestHost } from "./clients.js";
export type { K8sError, K8sErrorKind } from "./errors.js";
export { toK8sError, k8sCall, isRetryable } from "./errors.js";
export type {
  OwnerReference,
  ObjectMetadata,
  KubeObject,
  AddressPoolObject,
  AddressBlockObject,
  BlockRequestCondition,
  BlockRequestStatus,
  BlockRequestObject,
  EgressObject,
  ObjectList,
} from "./coil-types.js";
export { COIL_PLURALS, COIL_NAMESPACED_PLURALS } from "./coil-types.js";
export type { ListOptions, CoilClient } from "./coil-client.js";
export { ClusterResource, NamespacedResource, coilClient, withStatus } from "./coil-client.js";
export type { InformerEvent, InformerOptions } from "./informer.js";
export { Informer } from "./informer.js";
export type { ReconcileCounts, ReconcileOutcome, WorkQueueMetrics, WorkQueueOptions } from "./work-queue.js";
export { WorkQueue } from "./work-queue.js";
// controller-runtime's metrics (`./runtime-metrics.js`) are imported from their module, not from
// here: they load prom-client, which coilctl and the other users of this index do not need.
export type { LeaderElectorOptions, ElectionEnd } from "./leader-elector.js";
export { LeaderElector, microTime } from "./leader-elector.js";
export type { ControllerExit, ControllerLifecycle, ControllerLifecycleOptions } from "./controller-lifecycle.js";
export { startControllerLifecycle } from "./controller-lifecycle.js";
export type { NodeMeta } from "./nodes.js";
export { NODES_PATH, nodeMeta, listNodeMetas, listNodesAs, listNodeNames, nodeInternalIps, getNode } from "./nodes.js";
export type { BackoffOptions } from "./backoff.js";
export { backoffDelay, sleep } from "./backoff.js";
export type { LogFields, Logger, JsonLoggerOptions } from "./log.js";
export { createJsonLogger, SILENT_LOGGER } from "./log.js";
