/**
 * `@coil/core/egress`: the decisions of coil-egress-controller, pure. What an Egress (Coil v2's
 * `coil.cybozu.com/v2` kind) turns into — ServiceAccount, ClusterRoleBinding subjects, Deployment,
 * Service, PodDisruptionBudget, status — and the admission webhooks' validation and defaulting;
 * and coild's client side: the Egresses a pod's annotations name, their NAT gateways, the pods an
 * Egress change concerns, the tunnel from a client pod to a gateway.
 *
 * @module egress
 */
export type { Egress, EgressSpec, EgressStatus, EgressPodTemplate, EgressPdbSpec, EgressDecodeError, IntOrString, JsonObject, JsonValue } from "./types.js";
export { parseEgress } from "./types.js";
export type { EgressFieldError, EgressPatchOp } from "./validate.js";
export { validateEgressSpec, egressDefaultingPatch, formatEgressFieldError, egressCauseType, labelKeyErrors, labelValueErrors } from "./validate.js";
export type { EgressControllerSettings, CrbSubject, EgressStatusUpdate } from "./objects.js";
export {
  EGRESS_SERVICE_ACCOUNT,
  CRB_EGRESS,
  CRB_EGRESS_PSP,
  EGRESS_CONTAINER,
  EGRESS_COMMAND,
  ENV_POD_NAMESPACE,
  ENV_EGRESS_NAME,
  ENV_POD_ADDRESSES,
  egressSelectorLabels,
  selectorString,
  egressOwnerReference,
  egressPodSpec,
  mutateEgressDeployment,
  mutateEgressService,
  mutateEgressPdb,
  egressCrbSubjects,
  crbSubjectsNeedUpdate,
  egressStatusUpdate,
  jsonEqual,
} from "./objects.js";
export type { EgressRef, NatGateway, GatewayDecodeError, ClientTunnelSettings, ClientAddresses, WatchedPod, DuplicatePodIp } from "./client.js";
export { egressKey, egressRefs, podUsesEgress, gatewaysOf, clientTunnel, podsToUpdate } from "./client.js";
