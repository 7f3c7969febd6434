/**
 * Kubernetes API errors as plain values: the HTTP status and the `Status` reason the API server
 * sent, classified into a kebab-case `kind`. Built once at the I/O edge ({@link k8sCall}).
 */
import { ResultAsync } from "neverthrow";

/** Classification of an API failure. */
export type K8sErrorKind =
  | "not-found"
  | "already-exists"
  | "conflict"
  | "gone"
  | "invalid"
  | "forbidden"
  | "unauthorized"
  | "too-many-requests"
  | "server-error"
  | "network"
  /** No answer within the request's deadline (rest.ts' `RestClientError`). */
  | "timeout"
  /** The caller gave up on the request (its `AbortSignal` fired) before an answer. */
  | "aborted"
  /** No credentials to send: an exec plugin failed, timed out or gave no token (`reason` says which). */
  | "credentials"
  | "other";

/** A failed API call. `status` is the HTTP code (0 when no response arrived). */
export interface K8sError {
  /** Classification. */
  readonly kind: K8sErrorKind;
  /** HTTP status code; 0 for transport failures. */
  readonly status: number;
  /** `Status.reason` from the API server (e.g. `AlreadyExists`, `Conflict`), if any; for a client-side failure, its cause when it names one. */
  readonly reason?: string;
  /** `Status.message`, or the transport error's message. */
  readonly message: string;
}

interface StatusBody {
  reason?: unknown;
  message?: unknown;
}

function parseBody(body: unknown): StatusBody {
  if (typeof body === "string") {
    try {
      const v: unknown = JSON.parse(body);
      return typeof v === "object" && v !== null ? v : {};
    } catch {
      return { message: body };
    }
  }
  return typeof body === "object" && body !== null ? body : {};
}

function classify(status: number, reason: string | undefined): K8sErrorKind {
  if (status === 404) return "not-found";
  if (status === 409) return reason === "AlreadyExists" ? "already-exists" : "conflict";
  if (status === 410) return "gone";
  if (status === 422 || status === 400) return "invalid";
  if (status === 403) return "forbidden";
  if (status === 401) return "unauthorized";
  if (status === 429) return "too-many-requests";
  if (status >= 500) return "server-error";
  return status === 0 ? "network" : "other";
}

/** The kinds a client-side failure (no answer) may carry itself: rest.ts' `RestClientError`, kubeconfig.ts' plugin errors. */
const CLIENT_KINDS: ReadonlySet<string> = new Set<K8sErrorKind>(["timeout", "aborted", "credentials"]);

/**
 * Convert anything a call throws (client-node's ApiException, fetch errors, rest.ts' `ApiStatusError`
 * and `RestClientError`, kubeconfig.ts' `ExecPluginError`) into a {@link K8sError}. An error with a
 * `kind` of its own (`timeout`, `aborted`, `credentials`) keeps it and its `reason`, with status 0.
 */
export function toK8sError(e: unknown): K8sError {
  const x = e as { code?: unknown; body?: unknown; statusCode?: unknown; message?: unknown; kind?: unknown; reason?: unknown };
  if (typeof x?.kind === "string" && CLIENT_KINDS.has(x.kind)) {
    const reason = typeof x.reason === "string" ? x.reason : undefined;
    return { kind: x.kind as K8sErrorKind, status: 0, ...(reason === undefined ? {} : { reason }), message: typeof x.message === "string" ? x.message : String(e) };
  }
  const status = typeof x?.code === "number" ? x.code : typeof x?.statusCode === "number" ? x.statusCode : 0;
  const body = parseBody(x?.body);
  const reason = typeof body.reason === "string" ? body.reason : undefined;
  const message =
    typeof body.message === "string" ? body.message : typeof x?.message === "string" ? x.message : String(e);
  return { kind: classify(status, reason), status, ...(reason === undefined ? {} : { reason }), message };
}

/** Run one API call and capture its failure as a {@link K8sError}. */
export function k8sCall<T>(call: () => Promise<T>): ResultAsync<T, K8sError> {
  // The async wrapper turns a synchronous throw of `call` into a rejection too.
  return ResultAsync.fromPromise((async () => call())(), toK8sError);
}

/** Whether a failure is worth retrying later (everything but validation/authorisation problems). */
export function isRetryable(e: K8sError): boolean {
  return !["invalid", "forbidden", "unauthorized"].includes(e.kind);
}
