/**
 * Loading a kubeconfig (in-cluster or from a file) and building API clients that share one
 * keep-alive HTTPS agent. client-node 1.x builds a fresh agent — and so a fresh TLS handshake —
 * for every request; controllers issue thousands of small requests, so the agent is reused here
 * while authentication headers (e.g. a rotating service-account token) are still applied per call.
 */
import { Agent as HttpsAgent, type AgentOptions, type RequestOptions } from "node:https";
import { Agent as HttpAgent } from "node:http";
import {
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  ServerConfiguration,
  createConfiguration,
  type RequestContext,
  type SecurityAuthentication,
} from "@kubernetes/client-node";

/** Where to read cluster credentials from. */
export interface KubeConfigSource {
  /** Path of a kubeconfig file (`--kubeconfig`). Wins over everything else. */
  readonly kubeconfig?: string;
  /** Environment (for `KUBECONFIG` and the in-cluster `KUBERNETES_SERVICE_HOST`). */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/**
 * controller-runtime's order: `--kubeconfig`, then `$KUBECONFIG`, then in-cluster service-account
 * credentials when `KUBERNETES_SERVICE_HOST` is set, then `~/.kube/config`.
 */
export function loadKubeConfig(src: KubeConfigSource): KubeConfig {
  const kc = new KubeConfig();
  const file = src.kubeconfig ?? src.env["KUBECONFIG"];
  if (file !== undefined && file !== "") kc.loadFromFile(file);
  else if (src.env["KUBERNETES_SERVICE_HOST"] !== undefined) kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
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
  /** Close idle keep-alive sockets (call on shutdown). */
  destroy(): void;
}

/** Options of {@link makeClients}. */
export interface MakeClientsOptions {
  /** Upper bound on concurrent sockets to the API server. Default 16. */
  readonly maxSockets?: number;
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
  const config = createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: auth },
  });
  return {
    kc,
    custom: new CustomObjectsApi(config),
    core: new CoreV1Api(config),
    coordination: new CoordinationV1Api(config),
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
