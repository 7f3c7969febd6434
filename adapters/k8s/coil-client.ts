/**
 * Typed access to Coil's cluster-scoped custom resources over `CustomObjectsApi`: get, list (with
 * label selectors, uncached), create, delete, JSON merge patch (optionally with a resourceVersion
 * precondition, so a concurrent change fails with `conflict`), and status subresource writes.
 * Every call returns a `ResultAsync` with a {@link K8sError}. Over client-node's `CustomObjectsApi`
 * as `makeClients` builds it (its patches default to merge patches) or the REST one of rest-apis.ts.
 */
import type { ResultAsync } from "neverthrow";
import type { ClusterCustomObjectsCalls, NamespacedCustomObjectsCalls } from "./api-calls.js";
import { API_GROUP } from "../../lib/constants.js";
import {
  COIL_NAMESPACED_PLURALS,
  COIL_PLURALS,
  type AddressBlockObject,
  type AddressPoolObject,
  type BlockRequestObject,
  type BlockRequestStatus,
  type KubeObject,
  type ObjectList,
} from "./coil-types.js";
import { k8sCall, type K8sError } from "./errors.js";

/** Options of list calls. */
export interface ListOptions {
  /** Label selector, e.g. `coil.cybozu.com/pool=default`. */
  readonly labelSelector?: string;
  /** Page size. */
  readonly limit?: number;
  /** Continue token of the previous page. */
  readonly continue?: string;
}

const VERSION = "v2";

/** Operations on one cluster-scoped Coil resource kind. */
export class ClusterResource<T extends KubeObject> {
  readonly #api: ClusterCustomObjectsCalls;
  readonly #plural: string;
  readonly #kind: string;

  /** @param api - the custom-objects calls, sending merge patches (see {@link coilClient}); `kind` is e.g. `AddressBlock`. */
  constructor(api: ClusterCustomObjectsCalls, kind: keyof typeof COIL_PLURALS) {
    this.#api = api;
    this.#kind = kind;
    this.#plural = COIL_PLURALS[kind];
  }

  /** The REST path of the collection, e.g. `/apis/coil.cybozu.com/v2/addressblocks` (for watches). */
  get path(): string {
    return `/apis/${API_GROUP}/${VERSION}/${this.#plural}`;
  }

  #base(): { group: string; version: string; plural: string } {
    return { group: API_GROUP, version: VERSION, plural: this.#plural };
  }

  /** GET one object. */
  get(name: string): ResultAsync<T, K8sError> {
    return k8sCall(async () => (await this.#api.getClusterCustomObject({ ...this.#base(), name })) as T);
  }

  /** LIST (uncached, from the API server) with an optional label selector. */
  list(opts: ListOptions = {}): ResultAsync<ObjectList<T>, K8sError> {
    return k8sCall(async () => {
      const res = (await this.#api.listClusterCustomObject({
        ...this.#base(),
        ...(opts.labelSelector === undefined ? {} : { labelSelector: opts.labelSelector }),
        ...(opts.limit === undefined ? {} : { limit: opts.limit }),
        ...(opts.continue === undefined ? {} : { _continue: opts.continue }),
      })) as { items?: T[]; metadata?: { resourceVersion?: string; continue?: string; remainingItemCount?: number } };
      const cont = res.metadata?.continue;
      const remaining = res.metadata?.remainingItemCount;
      return {
        items: res.items ?? [],
        resourceVersion: res.metadata?.resourceVersion ?? "",
        ...(cont === undefined || cont === "" ? {} : { continue: cont }),
        ...(typeof remaining === "number" ? { remainingItemCount: remaining } : {}),
      };
    });
  }

  /** CREATE. `apiVersion`/`kind` are filled in when missing. */
  create(body: Omit<T, "apiVersion" | "kind">): ResultAsync<T, K8sError> {
    const full = { apiVersion: `${API_GROUP}/${VERSION}`, kind: this.#kind, ...body };
    return k8sCall(async () => (await this.#api.createClusterCustomObject({ ...this.#base(), body: full })) as T);
  }

  /** DELETE, optionally only if the object still has `uid` (precondition). */
  delete(name: string, opts: { readonly uid?: string } = {}): ResultAsync<void, K8sError> {
    return k8sCall(async () => {
      await this.#api.deleteClusterCustomObject({
        ...this.#base(),
        name,
        ...(opts.uid === undefined ? {} : { body: { preconditions: { uid: opts.uid } } }),
      });
    });
  }

  /**
   * JSON merge patch (RFC 7386). Put `metadata.resourceVersion` in the patch to make it
   * conditional: a concurrent change then fails with `conflict`.
   */
  mergePatch(name: string, patch: Record<string, unknown>): ResultAsync<T, K8sError> {
    return k8sCall(
      async () => (await this.#api.patchClusterCustomObject({ ...this.#base(), name, body: patch })) as T,
    );
  }

  /** JSON merge patch of the status subresource. */
  mergePatchStatus(name: string, patch: Record<string, unknown>): ResultAsync<T, K8sError> {
    return k8sCall(
      async () =>
        (await this.#api.patchClusterCustomObjectStatus({ ...this.#base(), name, body: patch })) as T,
    );
  }

  /** PUT of the status subresource: `obj.metadata.resourceVersion` is the precondition. */
  replaceStatus(obj: T): ResultAsync<T, K8sError> {
    return k8sCall(
      async () =>
        (await this.#api.replaceClusterCustomObjectStatus({ ...this.#base(), name: obj.metadata.name, body: obj })) as T,
    );
  }

  /**
   * Remove `finalizer` from the object (merge patch conditioned on `obj`'s resourceVersion).
   * Succeeds without a call when the finalizer is absent.
   */
  removeFinalizer(obj: T, finalizer: string): ResultAsync<T, K8sError> | undefined {
    const fins = obj.metadata.finalizers ?? [];
    if (!fins.includes(finalizer)) return undefined;
    const rest = fins.filter((f) => f !== finalizer);
    return this.mergePatch(obj.metadata.name, {
      metadata: { finalizers: rest.length === 0 ? null : rest, resourceVersion: obj.metadata.resourceVersion },
    });
  }
}

/** Operations on one namespaced Coil resource kind (Egress): list across namespaces, get, status writes. */
export class NamespacedResource<T extends KubeObject> {
  readonly #api: NamespacedCustomObjectsCalls;
  readonly #plural: string;

  /** @param api - the custom-objects calls; `kind` is e.g. `Egress`. */
  constructor(api: NamespacedCustomObjectsCalls, kind: keyof typeof COIL_NAMESPACED_PLURALS) {
    this.#api = api;
    this.#plural = COIL_NAMESPACED_PLURALS[kind];
  }

  /** The REST path of the collection across all namespaces, e.g. `/apis/coil.cybozu.com/v2/egresses` (for watches). */
  get path(): string {
    return `/apis/${API_GROUP}/${VERSION}/${this.#plural}`;
  }

  #base(): { group: string; version: string; plural: string } {
    return { group: API_GROUP, version: VERSION, plural: this.#plural };
  }

  /** GET one object. */
  get(namespace: string, name: string): ResultAsync<T, K8sError> {
    return k8sCall(async () => (await this.#api.getNamespacedCustomObject({ ...this.#base(), namespace, name })) as T);
  }

  /** LIST across all namespaces (uncached). */
  list(): ResultAsync<ObjectList<T>, K8sError> {
    return k8sCall(async () => {
      const res = (await this.#api.listClusterCustomObject({ ...this.#base() })) as { items?: T[]; metadata?: { resourceVersion?: string } };
      return { items: res.items ?? [], resourceVersion: res.metadata?.resourceVersion ?? "" };
    });
  }

  /** PUT of the status subresource: `obj.metadata.resourceVersion` is the precondition. */
  replaceStatus(obj: T): ResultAsync<T, K8sError> {
    const namespace = obj.metadata.namespace ?? "";
    return k8sCall(
      async () => (await this.#api.replaceNamespacedCustomObjectStatus({ ...this.#base(), namespace, name: obj.metadata.name, body: obj })) as T,
    );
  }
}

/** Typed clients of the three IPAM resources. */
export interface CoilClient {
  /** AddressPools. */
  readonly pools: ClusterResource<AddressPoolObject>;
  /** AddressBlocks. */
  readonly blocks: ClusterResource<AddressBlockObject>;
  /** BlockRequests. */
  readonly requests: ClusterResource<BlockRequestObject>;
}

/**
 * Build the typed clients over `api`, whose patch calls must send JSON merge patches when given no
 * options: `makeClients`' `custom` and `makeRestClients`' do (a bare client-node `CustomObjectsApi`
 * sends JSON patches, which `mergePatch` and `removeFinalizer` would get wrong).
 */
export function coilClient(api: ClusterCustomObjectsCalls): CoilClient {
  return {
    pools: new ClusterResource<AddressPoolObject>(api, "AddressPool"),
    blocks: new ClusterResource<AddressBlockObject>(api, "AddressBlock"),
    requests: new ClusterResource<BlockRequestObject>(api, "BlockRequest"),
  };
}

/** Helper type: a BlockRequest with a new status (for {@link ClusterResource.replaceStatus}). */
export function withStatus(req: BlockRequestObject, status: BlockRequestStatus): BlockRequestObject {
  return { ...req, status };
}
