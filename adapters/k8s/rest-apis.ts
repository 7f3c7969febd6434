/**
 * The API calls of api-calls.ts over {@link RestClient} — what coil-ipam-controller uses instead of
 * client-node's generated classes (see rest.ts for why: memory). Same method names and parameters;
 * answers are the API server's JSON as it comes (client-node would turn timestamps into `Date`s; no
 * caller here reads them as dates). Patches are always JSON merge patches, the only kind the callers
 * send.
 */
import type { V1Lease, V1MutatingWebhookConfiguration, V1NodeList, V1ValidatingWebhookConfiguration } from "@kubernetes/client-node";
import type { ClusterCustomObjectsCalls, LeaseCalls, NodeListCalls, WebhookConfigurationCalls } from "./api-calls.js";
import type { RequestObserver } from "./clients.js";
import type { CancellableLeaseCalls } from "./leader-elector.js";
import { RestClient, type ApiConnection, type RestRequest } from "./rest.js";

type Param<T, K extends keyof T> = T[K] extends (p: infer P, ...rest: never[]) => unknown ? NonNullable<P> : never;
type CustomParam<K extends keyof ClusterCustomObjectsCalls> = Param<ClusterCustomObjectsCalls, K>;

const MERGE_PATCH = "application/merge-patch+json";
/** `Accept` for a list of Nodes as `PartialObjectMetadataList` (metadata only), plain JSON as fallback. */
export const METADATA_LIST_ACCEPT = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
/** `Accept` for a watch of `PartialObjectMetadata` events, plain JSON as fallback. */
export const METADATA_WATCH_ACCEPT = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json";

const seg = encodeURIComponent;

/** Cluster-scoped custom resources (`/apis/<group>/<version>/<plural>`). */
export class RestCustomObjectsApi implements ClusterCustomObjectsCalls {
  readonly #rest: RestClient;

  /** @param rest - the client to send through. */
  constructor(rest: RestClient) {
    this.#rest = rest;
  }

  #path(p: { group: string; version: string; plural: string }, name?: string, sub?: string): string {
    return `/apis/${seg(p.group)}/${seg(p.version)}/${seg(p.plural)}${name === undefined ? "" : `/${seg(name)}`}${sub === undefined ? "" : `/${sub}`}`;
  }

  /** GET one object. */
  getClusterCustomObject(p: CustomParam<"getClusterCustomObject">): Promise<unknown> {
    return this.#rest.request({ method: "GET", path: this.#path(p, p.name) });
  }

  /** LIST (label/field selector, paging, resourceVersion). */
  listClusterCustomObject(p: CustomParam<"listClusterCustomObject">): Promise<unknown> {
    const query = { labelSelector: p.labelSelector, fieldSelector: p.fieldSelector, limit: p.limit, continue: p._continue, resourceVersion: p.resourceVersion, resourceVersionMatch: p.resourceVersionMatch };
    return this.#rest.request({ method: "GET", path: this.#path(p), query });
  }

  /** CREATE. */
  createClusterCustomObject(p: CustomParam<"createClusterCustomObject">): Promise<unknown> {
    return this.#rest.request({ method: "POST", path: this.#path(p), body: p.body, query: { dryRun: p.dryRun, fieldManager: p.fieldManager } });
  }

  /** DELETE, with the `DeleteOptions` body (preconditions) when given. */
  deleteClusterCustomObject(p: CustomParam<"deleteClusterCustomObject">): Promise<unknown> {
    const query = { gracePeriodSeconds: p.gracePeriodSeconds, orphanDependents: p.orphanDependents, propagationPolicy: p.propagationPolicy, dryRun: p.dryRun };
    return this.#rest.request({ method: "DELETE", path: this.#path(p, p.name), query, ...(p.body === undefined ? {} : { body: p.body }) });
  }

  /** JSON merge patch (client-node's content type option is not read: merge patch is the only kind sent here). */
  patchClusterCustomObject(p: CustomParam<"patchClusterCustomObject">): Promise<unknown> {
    return this.#rest.request({ method: "PATCH", path: this.#path(p, p.name), body: p.body, contentType: MERGE_PATCH });
  }

  /** JSON merge patch of the status subresource. */
  patchClusterCustomObjectStatus(p: CustomParam<"patchClusterCustomObjectStatus">): Promise<unknown> {
    return this.#rest.request({ method: "PATCH", path: this.#path(p, p.name, "status"), body: p.body, contentType: MERGE_PATCH });
  }

  /** PUT of the status subresource. */
  replaceClusterCustomObjectStatus(p: CustomParam<"replaceClusterCustomObjectStatus">): Promise<unknown> {
    return this.#rest.request({ method: "PUT", path: this.#path(p, p.name, "status"), body: p.body });
  }
}

/** Options of {@link RestCoreV1Api}. */
export interface RestCoreV1ApiOptions {
  /**
   * `listNode` answers `PartialObjectMetadataList`: each Node's `metadata` only (what a caller that
   * only needs names reads), not its spec and status (kilobytes per Node: images, conditions).
   */
  readonly nodeMetadataOnly?: boolean;
}

/** Nodes. */
export class RestCoreV1Api implements NodeListCalls {
  readonly #rest: RestClient;
  readonly #o: RestCoreV1ApiOptions;

  /** @param rest - the client to send through; see {@link RestCoreV1ApiOptions}. */
  constructor(rest: RestClient, o: RestCoreV1ApiOptions = {}) {
    this.#rest = rest;
    this.#o = o;
  }

  /** LIST Nodes (label/field selector, paging). `items` is always an array. */
  async listNode(p: Param<NodeListCalls, "listNode"> = {}): Promise<V1NodeList> {
    const query = { labelSelector: p.labelSelector, fieldSelector: p.fieldSelector, limit: p.limit, continue: p._continue, resourceVersion: p.resourceVersion, resourceVersionMatch: p.resourceVersionMatch };
    const list = await this.#rest.request<V1NodeList>({ method: "GET", path: "/api/v1/nodes", query, ...(this.#o.nodeMetadataOnly === true ? { accept: METADATA_LIST_ACCEPT } : {}) });
    // An empty PartialObjectMetadataList comes with `items: null` (a nil Go slice), a NodeList with `[]`.
    // The wire's `metadata.continue` is `_continue` in client-node's V1ListMeta, which callers page by
    // (listNodesAs): without the rename only the first page is ever read.
    const wire = (list.metadata ?? {}) as NonNullable<V1NodeList["metadata"]> & { continue?: string };
    const { continue: cont, ...meta } = wire;
    return { ...list, metadata: { ...meta, ...(cont === undefined ? {} : { _continue: cont }) }, items: list.items ?? [] };
  }
}

/** Leases; {@link RestCoordinationV1Api.withSignal} makes them cancellable (leader-elector.ts' `CancellableLeaseCalls`). */
export class RestCoordinationV1Api implements CancellableLeaseCalls {
  readonly #rest: RestClient;
  readonly #signal: AbortSignal | undefined;

  /** @param rest - the client to send through; `signal` aborts every request (see {@link withSignal}). */
  constructor(rest: RestClient, signal?: AbortSignal) {
    this.#rest = rest;
    this.#signal = signal;
  }

  /** The same calls, each request aborted when `signal` fires (the leader elector's bound). */
  withSignal(signal: AbortSignal): RestCoordinationV1Api {
    return new RestCoordinationV1Api(this.#rest, signal);
  }

  #req<T>(r: RestRequest): Promise<T> {
    return this.#rest.request<T>(this.#signal === undefined ? r : { ...r, signal: this.#signal });
  }

  #path(namespace: string, name?: string): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${seg(namespace)}/leases${name === undefined ? "" : `/${seg(name)}`}`;
  }

  /** GET a Lease. */
  readNamespacedLease(p: Param<LeaseCalls, "readNamespacedLease">): Promise<V1Lease> {
    return this.#req({ method: "GET", path: this.#path(p.namespace, p.name) });
  }

  /** CREATE a Lease. */
  createNamespacedLease(p: Param<LeaseCalls, "createNamespacedLease">): Promise<V1Lease> {
    return this.#req({ method: "POST", path: this.#path(p.namespace), body: p.body });
  }

  /** PUT a Lease (its `metadata.resourceVersion` is the precondition). */
  replaceNamespacedLease(p: Param<LeaseCalls, "replaceNamespacedLease">): Promise<V1Lease> {
    return this.#req({ method: "PUT", path: this.#path(p.namespace, p.name), body: p.body });
  }
}

/** Validating and mutating webhook configurations. */
export class RestAdmissionregistrationV1Api implements WebhookConfigurationCalls {
  readonly #rest: RestClient;

  /** @param rest - the client to send through. */
  constructor(rest: RestClient) {
    this.#rest = rest;
  }

  /** GET a ValidatingWebhookConfiguration. */
  readValidatingWebhookConfiguration(p: Param<WebhookConfigurationCalls, "readValidatingWebhookConfiguration">): Promise<V1ValidatingWebhookConfiguration> {
    return this.#rest.request({ method: "GET", path: `/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${seg(p.name)}` });
  }

  /** GET a MutatingWebhookConfiguration. */
  readMutatingWebhookConfiguration(p: Param<WebhookConfigurationCalls, "readMutatingWebhookConfiguration">): Promise<V1MutatingWebhookConfiguration> {
    return this.#rest.request({ method: "GET", path: `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${seg(p.name)}` });
  }

  /** PUT a ValidatingWebhookConfiguration. */
  replaceValidatingWebhookConfiguration(p: Param<WebhookConfigurationCalls, "replaceValidatingWebhookConfiguration">): Promise<V1ValidatingWebhookConfiguration> {
    return this.#rest.request({ method: "PUT", path: `/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${seg(p.name)}`, body: p.body });
  }

  /** PUT a MutatingWebhookConfiguration. */
  replaceMutatingWebhookConfiguration(p: Param<WebhookConfigurationCalls, "replaceMutatingWebhookConfiguration">): Promise<V1MutatingWebhookConfiguration> {
    return this.#rest.request({ method: "PUT", path: `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${seg(p.name)}`, body: p.body });
  }
}

/** The API clients of coil-ipam-controller, over one {@link RestClient}. */
export interface RestClients {
  /** The client itself (informers watch through it). */
  readonly rest: RestClient;
  /** Coil's cluster-scoped resources. */
  readonly custom: RestCustomObjectsApi;
  /** Nodes. */
  readonly core: RestCoreV1Api;
  /** Leases (leader election), over a keep-alive agent of their own (at most 2 sockets). */
  readonly coordination: RestCoordinationV1Api;
  /** Webhook configurations (CA injection). */
  readonly admission: RestAdmissionregistrationV1Api;
  /** The observer the requests are reported to; informers report their watches to it too. */
  readonly onRequest?: RequestObserver;
  /** Close the keep-alive sockets (call on shutdown). */
  destroy(): void;
}

/** Options of {@link makeRestClients}. */
export interface MakeRestClientsOptions extends RestCoreV1ApiOptions {
  /** Upper bound on concurrent sockets to the API server. Default 16. */
  readonly maxSockets?: number;
  /** Deadline of each request (ms; 0 = none); default rest.ts' `DEFAULT_REQUEST_TIMEOUT_MS` (60 s). */
  readonly timeoutMs?: number;
  /** Told about every request (`rest_client_requests_total`). */
  readonly onRequest?: RequestObserver;
}

/** Build the clients over one keep-alive agent. */
export function makeRestClients(conn: ApiConnection, o: MakeRestClientsOptions = {}): RestClients {
  const timeout = o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs };
  const rest = new RestClient(conn, { ...(o.maxSockets === undefined ? {} : { maxSockets: o.maxSockets }), ...timeout, onRequest: o.onRequest });
  // Leases on a connection of their own (controller-runtime gives leader election its own client): a
  // renewal must finish within the renew deadline, so it may not wait for one of the shared sockets
  // behind a burst of the controller's requests. Opened at the first Lease request.
  const election = new RestClient(conn, { maxSockets: 2, ...timeout, onRequest: o.onRequest });
  return {
    rest,
    custom: new RestCustomObjectsApi(rest),
    core: new RestCoreV1Api(rest, o),
    coordination: new RestCoordinationV1Api(election),
    admission: new RestAdmissionregistrationV1Api(rest),
    ...(o.onRequest === undefined ? {} : { onRequest: o.onRequest }),
    destroy: () => {
      rest.destroy();
      election.destroy();
    },
  };
}
