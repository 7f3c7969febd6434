/**
 * Loading a kubeconfig (in-cluster or from a file) and building API clients that share one
 * keep-alive HTTPS agent. client-node 1.x builds a fresh agent — and so a fresh TLS handshake —
 * for every request; controllers issue thousands of small requests, so the agent is reused here
 * while authentication headers (e.g. a rotating service-account token) are still applied per call.
 * Loading never throws: a kubeconfig that cannot be used is a {@link KubeConfigError} value that
 * names the file and the cause (the programs print it as one start-up error line and exit 1).
 */
import { Agent as HttpsAgent, type AgentOptions, type RequestOptions } from "node:https";
import { Agent as HttpAgent } from "node:http";
import { readFileSync } from "node:fs";
import { delimiter, dirname } from "node:path";
import { err, ok, type Result } from "neverthrow";
import { SERVICE_ACCOUNT_DIR, chooseKubeConfig, fsCause, readable, type KubeConfigError, type KubeConfigSource } from "./kubeconfig.js";
import {
  AdmissionregistrationV1Api,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  PolicyV1Api,
  RbacAuthorizationV1Api,
  ServerConfiguration,
  createConfiguration,
  setHeaderOptions,
  wrapHttpLibrary,
  type ConfigurationOptions,
  type HttpLibrary,
  type RequestContext,
  type SecurityAuthentication,
} from "@kubernetes/client-node";

export type { KubeConfigSource, KubeConfigErrorKind, KubeConfigError } from "./kubeconfig.js";
export { formatKubeConfigError } from "./kubeconfig.js";

/**
 * Check what client-node would otherwise only find out on every request (and so retry forever):
 * a current context naming a defined cluster (and user), a server URL it accepts, and readable
 * CA / client certificate / key / token files.
 */
function validate(kc: KubeConfig): string | undefined {
  const name = kc.getCurrentContext();
  if (name === undefined || name === null || name === "") return "no current context (current-context is not set)";
  const ctx = kc.getContextObject(name);
  if (ctx === null) return `current context ${JSON.stringify(name)} is not defined under contexts`;
  const cluster = kc.getCluster(ctx.cluster);
  if (cluster === null) return `context ${JSON.stringify(name)} names cluster ${JSON.stringify(ctx.cluster)}, which is not defined under clusters`;
  if (ctx.user !== undefined && kc.getUser(ctx.user) === null) {
    return `context ${JSON.stringify(name)} names user ${JSON.stringify(ctx.user)}, which is not defined under users`;
  }
  let url: URL;
  try {
    url = new URL(cluster.server);
  } catch {
    return `cluster ${JSON.stringify(cluster.name)}: server ${JSON.stringify(cluster.server)} is not a URL`;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return `cluster ${JSON.stringify(cluster.name)}: server ${cluster.server} is not http(s)`;
  if (url.protocol === "http:" && !cluster.skipTLSVerify && cluster.proxyUrl === undefined) {
    return `cluster ${JSON.stringify(cluster.name)}: plain-HTTP server ${cluster.server} needs insecure-skip-tls-verify: true (client-node refuses it otherwise)`;
  }
  const user = kc.getCurrentUser();
  const tokenFile = (user?.authProvider as { config?: { tokenFile?: unknown } } | undefined)?.config?.tokenFile;
  const files: Array<[string, string | undefined | null]> = [
    ["certificate-authority", cluster.caFile],
    ["client-certificate", user?.certFile],
    ["client-key", user?.keyFile],
    ["token file", typeof tokenFile === "string" ? tokenFile : undefined],
  ];
  for (const [what, path] of files) {
    if (path === undefined || path === null || path === "") continue;
    const cause = readable(path);
    if (cause !== undefined) return `${what} ${path}: ${cause}`;
  }
  return undefined;
}

/** Load one or more kubeconfig files (a `$KUBECONFIG` list: the first file setting the current context wins). */
function loadFiles(paths: readonly string[], origin: string): Result<KubeConfig, KubeConfigError> {
  const source = paths.length === 1 ? `kubeconfig ${paths[0]} (${origin})` : `kubeconfig ${paths.join(delimiter)} (${origin})`;
  const kc = new KubeConfig();
  for (const [i, path] of paths.entries()) {
    const at = paths.length === 1 ? "" : `${path}: `;
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (e) {
      return err({ kind: "unreadable", source, message: `${at}cannot read: ${fsCause(e)}` });
    }
    const one = new KubeConfig();
    try {
      one.loadFromString(text);
    } catch (e) {
      const x = e as { name?: unknown; code?: unknown; path?: unknown; message?: unknown };
      // js-yaml's message is multi-line (it quotes the offending text): keep the first line.
      const first = (typeof x?.message === "string" ? x.message : String(e)).split("\n")[0] ?? "";
      if (x?.name === "YAMLException") return err({ kind: "invalid", source, message: `${at}not valid YAML: ${first}` });
      if (typeof x?.code === "string" && typeof x?.path === "string") {
        return err({ kind: "unreadable", source, message: `${at}token-file ${x.path}: ${fsCause(e)}` });
      }
      if (e instanceof TypeError) return err({ kind: "invalid", source, message: `${at}not a kubeconfig (empty, or not a YAML mapping)` });
      return err({ kind: "invalid", source, message: `${at}not a valid kubeconfig: ${first}` });
    }
    one.makePathsAbsolute(dirname(path));
    if (i === 0) kc.loadFromOptions({ clusters: one.clusters, contexts: one.contexts, users: one.users, currentContext: one.currentContext });
    else {
      try {
        kc.mergeConfig(one, kc.currentContext !== undefined && kc.currentContext !== "");
      } catch (e) {
        return err({ kind: "invalid", source, message: `${at}${e instanceof Error ? e.message : String(e)}` });
      }
    }
  }
  const bad = validate(kc);
  return bad === undefined ? ok(kc) : err({ kind: "invalid", source, message: bad });
}

function loadInCluster(src: KubeConfigSource): Result<KubeConfig, KubeConfigError> {
  const host = src.env["KUBERNETES_SERVICE_HOST"] ?? "";
  const port = src.env["KUBERNETES_SERVICE_PORT"] ?? "";
  const source = `in-cluster configuration (KUBERNETES_SERVICE_HOST=${host})`;
  if (port === "") return err({ kind: "in-cluster-unavailable", source, message: "KUBERNETES_SERVICE_PORT is not set" });
  const prefix = src.serviceAccountPrefix ?? "";
  for (const f of ["token", "ca.crt"]) {
    const path = `${prefix}${SERVICE_ACCOUNT_DIR}/${f}`;
    const cause = readable(path);
    if (cause !== undefined) return err({ kind: "in-cluster-unavailable", source, message: `service-account ${f === "token" ? "token" : "CA"} ${path}: ${cause}` });
  }
  const kc = new KubeConfig();
  // client-node reads the namespace file with process.env, as client-go does; host/port come from there too.
  kc.loadFromCluster(prefix);
  const cluster = kc.getCurrentCluster();
  if (cluster !== null) {
    const h = host.includes(":") ? `[${host}]` : host;
    // client-go's InClusterConfig always speaks https to KUBERNETES_SERVICE_HOST:PORT (client-node guesses
    // plain http for ports 80/8080/8001, which validate() would then refuse).
    kc.clusters = [{ ...cluster, server: `https://${h}:${port}` }];
  }
  const bad = validate(kc);
  return bad === undefined ? ok(kc) : err({ kind: "in-cluster-unavailable", source, message: bad });
}

/**
 * controller-runtime's order: `--kubeconfig`, then `$KUBECONFIG` (a list separated by `:`), then
 * in-cluster service-account credentials when `KUBERNETES_SERVICE_HOST` is set, then
 * `~/.kube/config`. Unlike client-node's `loadFromDefault`, finding none is an error (client-node
 * falls back to `http://localhost:8080`, and the program then retries forever), and the chosen
 * configuration is checked up front: readable, a kubeconfig, a current context with a server, and
 * the certificate/key/token files it names readable. Synchronous (start-up only).
 */
export function loadKubeConfig(src: KubeConfigSource): Result<KubeConfig, KubeConfigError> {
  return chooseKubeConfig(src).andThen((c) => (c.kind === "in-cluster" ? loadInCluster(src) : loadFiles(c.paths, c.origin)));
}

/** The API clients the Coil adapters use. */
export interface KubeClients {
  /** The loaded configuration (also used for watches). */
  readonly kc: KubeConfig;
  /** Coil's custom resources. */
  readonly custom: CustomObjectsApi;
  /** Nodes, namespaces. */
  readonly core: CoreV1Api;
  /** Leases (leader election). */
  readonly coordination: CoordinationV1Api;
  /** Deployments (coil-egress-controller). */
  readonly apps: AppsV1Api;
  /** PodDisruptionBudgets (coil-egress-controller). */
  readonly policy: PolicyV1Api;
  /** ClusterRoleBindings (coil-egress-controller). */
  readonly rbac: RbacAuthorizationV1Api;
  /** Webhook configurations (CA injection under `--enable-cert-rotation`). */
  readonly admission: AdmissionregistrationV1Api;
  /** Close idle keep-alive sockets (call on shutdown). */
  destroy(): void;
  /** The observer the clients report their requests to ({@link MakeClientsOptions.onRequest}); give it to informers for their watches. */
  readonly onRequest?: RequestObserver;
}

/** One API request as `rest_client_requests_total` counts it. */
export interface ApiRequest {
  /** HTTP status code, or `<error>` when no answer came (client-go's label). */
  readonly code: string;
  /** HTTP method, e.g. `GET`. */
  readonly method: string;
  /** `host:port` of the API server. */
  readonly host: string;
}

/** Told about every API request once it has been answered (or failed without an answer). */
export type RequestObserver = (r: ApiRequest) => void;

/** Options of {@link makeClients}. */
export interface MakeClientsOptions {
  /** Upper bound on concurrent sockets to the API server. Default 16. */
  readonly maxSockets?: number;
  /** Told about every request of the clients (metrics). */
  readonly onRequest?: RequestObserver;
}

/** The `host:port` of a URL (`""` when it does not parse). */
export function requestHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "";
  }
}

/**
 * client-node's HTTP layer with every request reported to `observe`: every call of the generated
 * API classes goes through the configuration's `httpApi`, so this is the one place to count them.
 */
function observedHttpApi(inner: HttpLibrary, observe: RequestObserver): HttpLibrary {
  return wrapHttpLibrary({
    send: async (req) => {
      const method = req.getHttpMethod().toString();
      const host = requestHost(req.getUrl());
      try {
        const res = await inner.send(req).toPromise();
        observe({ code: String(res.httpStatusCode), method, host });
        return res;
      } catch (e) {
        observe({ code: "<error>", method, host });
        throw e;
      }
    },
  });
}

const MERGE_PATCH = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

/**
 * client-node's `CustomObjectsApi` whose patches are JSON merge patches unless options say otherwise
 * (coil-client.ts sends only merge patches and passes no options, so that the REST client of
 * rest-apis.ts can serve it too).
 */
class MergePatchCustomObjectsApi extends CustomObjectsApi {
  override patchClusterCustomObject(param: Parameters<CustomObjectsApi["patchClusterCustomObject"]>[0], options: ConfigurationOptions = MERGE_PATCH): ReturnType<CustomObjectsApi["patchClusterCustomObject"]> {
    return super.patchClusterCustomObject(param, options);
  }
  override patchClusterCustomObjectStatus(param: Parameters<CustomObjectsApi["patchClusterCustomObjectStatus"]>[0], options: ConfigurationOptions = MERGE_PATCH): ReturnType<CustomObjectsApi["patchClusterCustomObjectStatus"]> {
    return super.patchClusterCustomObjectStatus(param, options);
  }
}

/** Build the clients over one keep-alive agent. */
export function makeClients(kc: KubeConfig, opts: MakeClientsOptions = {}): KubeClients {
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new Error("kubeconfig has no current cluster");
  let agent: HttpsAgent | HttpAgent | undefined;
  const auth: SecurityAuthentication = {
    getName: () => "coil-keepalive",
    applySecurityAuthentication: async (ctx: RequestContext) => {
      await kc.applySecurityAuthentication(ctx);
      agent ??= await sharedAgent(kc, opts.maxSockets ?? 16);
      ctx.setAgent(agent);
    },
  };
  const settings = { baseServer: new ServerConfiguration(cluster.server, {}), authMethods: { default: auth } };
  const plain = createConfiguration(settings);
  const config = opts.onRequest === undefined ? plain : createConfiguration({ ...settings, httpApi: observedHttpApi(plain.httpApi, opts.onRequest) });
  return {
    kc,
    ...(opts.onRequest === undefined ? {} : { onRequest: opts.onRequest }),
    custom: new MergePatchCustomObjectsApi(config),
    core: new CoreV1Api(config),
    coordination: new CoordinationV1Api(config),
    apps: new AppsV1Api(config),
    policy: new PolicyV1Api(config),
    rbac: new RbacAuthorizationV1Api(config),
    admission: new AdmissionregistrationV1Api(config),
    destroy: () => agent?.destroy(),
  };
}

async function sharedAgent(kc: KubeConfig, maxSockets: number): Promise<HttpsAgent | HttpAgent> {
  const cluster = kc.getCurrentCluster();
  if (cluster?.server.startsWith("http:") === true) return new HttpAgent({ keepAlive: true, maxSockets });
  const o: RequestOptions = {};
  await kc.applyToHTTPSOptions(o);
  const a: AgentOptions = { keepAlive: true, maxSockets };
  if (o.ca !== undefined) a.ca = o.ca;
  if (o.cert !== undefined) a.cert = o.cert;
  if (o.key !== undefined) a.key = o.key;
  if (o.pfx !== undefined) a.pfx = o.pfx;
  if (o.passphrase !== undefined) a.passphrase = o.passphrase;
  if (cluster?.skipTLSVerify === true) a.rejectUnauthorized = false;
  if (cluster?.tlsServerName !== undefined) a.servername = cluster.tlsServerName;
  return new HttpsAgent(a);
}
