/**
 * Loading a kubeconfig (or the in-cluster service account) into an {@link ApiConnection} without
 * client-node: what coil-ipam-controller starts with, so that its bundle leaves client-node out
 * (rest.ts says why: memory). Same sources, order and start-up errors as clients.ts'
 * `loadKubeConfig` (controller-runtime's order: `--kubeconfig`, `$KUBECONFIG`, in-cluster,
 * `~/.kube/config`; checked before the first request; errors are {@link KubeConfigError} values).
 *
 * Supported: cluster `server` (https or http), `certificate-authority(-data)`,
 * `insecure-skip-tls-verify`, `tls-server-name`; user `client-certificate(-data)`/`client-key(-data)`,
 * `token`, `tokenFile`, `username`/`password`, `as` (impersonation), and `exec` credential plugins
 * that answer a token (`client.authentication.k8s.io` v1 and v1beta1; renewed 10 s before it
 * expires and after a 401, the request then retried once; a run bounded, 30 s by default).
 * `proxy-url` (an `http://` or `https://` proxy: requests and watches alike go through it).
 * Refused with a clear start-up error: `auth-provider` (removed from client-go; use an exec plugin),
 * a `socks5://` `proxy-url`; exec plugins that answer client certificates fail the requests.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, isAbsolute, join } from "node:path";
import { err, ok, type Result } from "neverthrow";
import { parse as parseYaml } from "yaml";
import { proxyUrlProblem, type ApiConnection, type TlsSettings } from "./rest.js";

/** Where to read cluster credentials from. */
export interface KubeConfigSource {
  /** Path of a kubeconfig file (`--kubeconfig`). Wins over everything else. */
  readonly kubeconfig?: string;
  /**
   * Environment: `KUBECONFIG`, the in-cluster `KUBERNETES_SERVICE_HOST`/`KUBERNETES_SERVICE_PORT`,
   * and `HOME` (for `~/.kube/config`; default: the user's home directory).
   */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Prefix of the in-cluster service-account files (tests); default none, i.e. `/var/run/secrets/...`. */
  readonly serviceAccountPrefix?: string;
  /** How long an exec credential plugin may run before it is killed; default {@link DEFAULT_EXEC_PLUGIN_TIMEOUT_MS}. */
  readonly execPluginTimeoutMs?: number;
}

/** Why no usable kubeconfig could be loaded. */
export type KubeConfigErrorKind =
  /** The file (or a file it names: CA, client certificate/key, token) cannot be read. */
  | "unreadable"
  /** Not YAML, not a kubeconfig, or no usable current context/cluster/server. */
  | "invalid"
  /** No `--kubeconfig`, no `$KUBECONFIG`, not in a cluster and no `~/.kube/config`. */
  | "none-found"
  /** `KUBERNETES_SERVICE_HOST` is set but the in-cluster configuration is incomplete. */
  | "in-cluster-unavailable";

/** A kubeconfig that cannot be used, as a value. `source` names where it came from, `message` the cause. */
export interface KubeConfigError {
  /** Classification. */
  readonly kind: KubeConfigErrorKind;
  /** E.g. `kubeconfig /etc/kc (--kubeconfig)`, `in-cluster configuration`. */
  readonly source: string;
  /** The cause, e.g. `cannot read: no such file or directory`. */
  readonly message: string;
}

/** One line for the operator: `<source>: <cause>`. */
export function formatKubeConfigError(e: KubeConfigError): string {
  return `${e.source}: ${e.message}`;
}

/**
 * How long an exec credential plugin may run: 30 s, then it is killed (its whole process group)
 * and the request fails with an {@link ExecPluginError}. client-go waits for ever; a plugin that
 * hangs (a network call with no timeout of its own) would hold every request of the program.
 */
export const DEFAULT_EXEC_PLUGIN_TIMEOUT_MS = 30_000;
/**
 * A plugin's token is renewed this long before its `expirationTimestamp` (client-go's token sources
 * and oauth2's `expiryDelta`: 10 s), so that a request never leaves with a token that expires on
 * the way.
 */
export const EXEC_TOKEN_EXPIRY_LEEWAY_MS = 10_000;

/** Why an exec credential plugin gave no token. */
export type ExecPluginErrorReason =
  /** It ran past its time bound and was killed. */
  | "exec-plugin-timeout"
  /** It could not be started, or exited with a failure (or was killed by a signal). */
  | "exec-plugin-failed"
  /** Its answer is not an `ExecCredential` with a token. */
  | "exec-plugin-bad-answer";

/** An exec credential plugin gave no token: the request fails with it (`toK8sError`: kind `credentials`, this `reason`). */
export class ExecPluginError extends Error {
  /** The `K8sError` kind it becomes. */
  readonly kind = "credentials";
  /** Classification. */
  readonly reason: ExecPluginErrorReason;
  /** @param reason - why; `message` names the plugin and the cause. */
  constructor(reason: ExecPluginErrorReason, message: string) {
    super(message);
    this.name = "ExecPluginError";
    this.reason = reason;
  }
}

/** Where a pod's service-account token and CA are mounted. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
/** How long a token read from a file is used before it is read again (client-go: 1 minute). */
const TOKEN_FILE_TTL_MS = 60_000;

type Yaml = Record<string, unknown>;
const isMap = (v: unknown): v is Yaml => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (m: Yaml, k: string): string | undefined => (typeof m[k] === "string" && m[k] !== "" ? m[k] : undefined);

/** A file-system error as a short cause (`no such file or directory`), the path left to the caller. */
export function fsCause(e: unknown): string {
  const x = e as { code?: unknown; message?: unknown };
  switch (x?.code) {
    case "ENOENT":
      return "no such file or directory";
    case "EISDIR":
      return "is a directory";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "ENOTDIR":
      return "a path component is not a directory";
    default:
      return typeof x?.message === "string" ? x.message : String(e);
  }
}

/** Why `path` cannot be read (a short cause), or undefined when it can. */
export function readable(path: string): string | undefined {
  try {
    readFileSync(path);
    return undefined;
  } catch (e) {
    return fsCause(e);
  }
}

/** A named entry list of a kubeconfig (`clusters`, `users`, `contexts`) as name → body; the first of a name wins (client-go). */
function entries(doc: Yaml, list: string, body: string, into: Map<string, Yaml>, base: string): void {
  const items = doc[list];
  if (!Array.isArray(items)) return;
  for (const it of items) {
    if (!isMap(it) || typeof it["name"] !== "string" || into.has(it["name"])) continue;
    const b = isMap(it[body]) ? { ...it[body] } : {};
    // Relative file paths are relative to the kubeconfig that names them.
    for (const k of ["certificate-authority", "client-certificate", "client-key", "tokenFile", "token-file"]) {
      const v = b[k];
      if (typeof v === "string" && v !== "" && !isAbsolute(v)) b[k] = join(base, v);
    }
    const exec = b["exec"];
    if (isMap(exec) && typeof exec["command"] === "string" && exec["command"].includes("/") && !isAbsolute(exec["command"])) {
      b["exec"] = { ...exec, command: join(base, exec["command"]) };
    }
    into.set(it["name"], b);
  }
}

interface Merged {
  readonly clusters: Map<string, Yaml>;
  readonly users: Map<string, Yaml>;
  readonly contexts: Map<string, Yaml>;
  current: string | undefined;
}

/** Parse and merge kubeconfig files (a `$KUBECONFIG` list: the first file setting a current context wins). */
function loadFiles(paths: readonly string[], origin: string, execTimeoutMs: number): Result<ApiConnection, KubeConfigError> {
  const source = paths.length === 1 ? `kubeconfig ${paths[0]} (${origin})` : `kubeconfig ${paths.join(delimiter)} (${origin})`;
  const m: Merged = { clusters: new Map(), users: new Map(), contexts: new Map(), current: undefined };
  for (const path of paths) {
    const at = paths.length === 1 ? "" : `${path}: `;
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (e) {
      return err({ kind: "unreadable", source, message: `${at}cannot read: ${fsCause(e)}` });
    }
    let doc: unknown;
    try {
      // YAML 1.1, as client-go's sigs.k8s.io/yaml reads kubeconfigs (`yes`/`no` are booleans).
      doc = parseYaml(text, { prettyErrors: false, version: "1.1" });
    } catch (e) {
      const first = (e instanceof Error ? e.message : String(e)).split("\n")[0] ?? "";
      return err({ kind: "invalid", source, message: `${at}not valid YAML: ${first}` });
    }
    if (!isMap(doc)) return err({ kind: "invalid", source, message: `${at}not a kubeconfig (empty, or not a YAML mapping)` });
    const base = dirname(path);
    entries(doc, "clusters", "cluster", m.clusters, base);
    entries(doc, "users", "user", m.users, base);
    entries(doc, "contexts", "context", m.contexts, base);
    m.current ??= str(doc, "current-context");
  }
  const conn = connection(m, execTimeoutMs);
  return conn.isErr() ? err({ kind: "invalid", source, message: conn.error }) : ok(conn.value);
}

/** The current context's cluster and user as a connection, or why not. */
function connection(m: Merged, execTimeoutMs: number): Result<ApiConnection, string> {
  const name = m.current;
  if (name === undefined) return err("no current context (current-context is not set)");
  const ctx = m.contexts.get(name);
  if (ctx === undefined) return err(`current context ${JSON.stringify(name)} is not defined under contexts`);
  const clusterName = str(ctx, "cluster") ?? "";
  const cluster = m.clusters.get(clusterName);
  if (cluster === undefined) return err(`context ${JSON.stringify(name)} names cluster ${JSON.stringify(clusterName)}, which is not defined under clusters`);
  const userName = str(ctx, "user");
  const user = userName === undefined ? {} : m.users.get(userName);
  if (user === undefined) return err(`context ${JSON.stringify(name)} names user ${JSON.stringify(userName)}, which is not defined under users`);
  const server = str(cluster, "server");
  const cn = JSON.stringify(clusterName);
  if (server === undefined) return err(`cluster ${cn} has no server`);
  if (!URL.canParse(server)) return err(`cluster ${cn}: server ${JSON.stringify(server)} is not a URL`);
  const protocol = new URL(server).protocol;
  if (protocol !== "https:" && protocol !== "http:") return err(`cluster ${cn}: server ${server} is not http(s)`);
  const proxy = str(cluster, "proxy-url");
  const proxyProblem = proxy === undefined ? undefined : proxyUrlProblem(proxy, protocol);
  if (proxyProblem !== undefined) return err(`cluster ${cn}: ${proxyProblem}`);
  if (user["auth-provider"] !== undefined) return err(`user ${JSON.stringify(userName)}: auth-provider is not supported (client-go dropped it too); use an exec credential plugin`);
  for (const [what, key, m2] of [
    ["certificate-authority", "certificate-authority", cluster],
    ["client-certificate", "client-certificate", user],
    ["client-key", "client-key", user],
    ["token file", "tokenFile", user],
    ["token-file", "token-file", user],
  ] as const) {
    const path = str(m2, key);
    if (path === undefined) continue;
    const cause = readable(path);
    if (cause !== undefined) return err(`${what} ${path}: ${cause}`);
  }
  const fileOrData = (m2: Yaml, key: string): Buffer | undefined => {
    const path = str(m2, key);
    if (path !== undefined) return readFileSync(path);
    const data = str(m2, `${key}-data`);
    return data === undefined ? undefined : Buffer.from(data, "base64");
  };
  const ca = fileOrData(cluster, "certificate-authority");
  const cert = fileOrData(user, "client-certificate");
  const key = fileOrData(user, "client-key");
  const servername = str(cluster, "tls-server-name");
  const tls: TlsSettings = {
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
    ...(cluster["insecure-skip-tls-verify"] === true ? { rejectUnauthorized: false } : {}),
    ...(servername === undefined ? {} : { servername }),
  };
  const extra: Record<string, string> = {};
  const as = str(user, "as");
  if (as !== undefined) extra["Impersonate-User"] = as;
  const exec = user["exec"];
  let bearer: () => Promise<string | undefined>;
  let unauthorized: ((sent: Readonly<Record<string, string>>) => Promise<boolean>) | undefined;
  if (isMap(exec)) {
    const plugin = execPlugin(exec, execTimeoutMs);
    if (plugin.isErr()) return err(`user ${JSON.stringify(userName)}: ${plugin.error}`);
    bearer = plugin.value.token;
    unauthorized = async (sent) => plugin.value.rejected(sent["Authorization"]);
  } else bearer = staticBearer(str(user, "token"), str(user, "tokenFile") ?? str(user, "token-file"));
  const username = str(user, "username");
  const basic = username === undefined ? undefined : `Basic ${Buffer.from(`${username}:${str(user, "password") ?? ""}`).toString("base64")}`;
  return ok({
    server,
    ...(proxy === undefined ? {} : { proxy }),
    ...(unauthorized === undefined ? {} : { unauthorized }),
    tls: () => Promise.resolve(tls),
    headers: async () => {
      const token = await bearer();
      const auth = token !== undefined ? `Bearer ${token}` : basic;
      return auth === undefined ? extra : { ...extra, Authorization: auth };
    },
  });
}

/** A fixed token, or one read from a file and read again after {@link TOKEN_FILE_TTL_MS} (tokens are rotated on disk). */
function staticBearer(token: string | undefined, file: string | undefined): () => Promise<string | undefined> {
  if (file === undefined) return () => Promise.resolve(token);
  let cached: { value: string; at: number } | undefined;
  return () => {
    if (cached === undefined || Date.now() - cached.at > TOKEN_FILE_TTL_MS) cached = { value: readFileSync(file, "utf8").trim(), at: Date.now() };
    return Promise.resolve(cached.value);
  };
}

/** An exec plugin's token source: `token()` for each request, `rejected(authorization)` after a 401. */
interface ExecTokens {
  readonly token: () => Promise<string>;
  /** The API server refused `authorization`: forget that token and get a new one; true when it differs. */
  readonly rejected: (authorization: string | undefined) => Promise<boolean>;
}

/**
 * An exec credential plugin (client-go's `ExecCredential`): run it (argv, no shell), use its token
 * until {@link EXEC_TOKEN_EXPIRY_LEEWAY_MS} before its `expirationTimestamp`, once for all the
 * requests that wait for it; after a 401 run it again (client-go's `maybeRefreshCreds`) so that the
 * request can be retried once. A run is bounded by `timeoutMs` (killed, {@link ExecPluginError}).
 */
function execPlugin(exec: Yaml, timeoutMs: number): Result<ExecTokens, string> {
  const command = str(exec, "command");
  const apiVersion = str(exec, "apiVersion") ?? "client.authentication.k8s.io/v1";
  if (command === undefined) return err("exec has no command");
  const args = Array.isArray(exec["args"]) ? exec["args"].map(String) : [];
  const env: Record<string, string> = { ...(process.env as Record<string, string>) };
  if (Array.isArray(exec["env"])) for (const e of exec["env"]) if (isMap(e) && typeof e["name"] === "string") env[e["name"]] = typeof e["value"] === "string" ? e["value"] : "";
  env["KUBERNETES_EXEC_INFO"] = JSON.stringify({ apiVersion, kind: "ExecCredential", spec: { interactive: false } });
  let cached: { token: string; useUntil: number } | undefined;
  let running: Promise<string> | undefined;
  const run = (): Promise<string> => {
    running ??= runPlugin(command, args, env, timeoutMs)
      .then((cred) => {
        // Renewed early, unless the plugin itself answered with a token already inside the leeway
        // (plugins that cache their token hand it out until it expires): that one is used until it
        // expires, instead of running the plugin again for every request meanwhile.
        const early = cred.until - EXEC_TOKEN_EXPIRY_LEEWAY_MS;
        cached = { token: cred.token, useUntil: early > Date.now() ? early : cred.until };
        return cred.token;
      })
      .finally(() => (running = undefined));
    return running;
  };
  return ok({
    token: () => (cached !== undefined && Date.now() < cached.useUntil ? Promise.resolve(cached.token) : run()),
    rejected: async (authorization) => {
      const refused = authorization?.replace(/^Bearer /, "");
      // Already replaced (another request got the 401 first): use the new one.
      if (running === undefined && cached !== undefined && cached.token !== refused) return true;
      if (running === undefined) cached = undefined;
      return (await run()) !== refused;
    },
  });
}

/** Run a plugin once, its process group killed at `timeoutMs`: the token and until when it may be used. */
function runPlugin(command: string, args: readonly string[], env: Record<string, string>, timeoutMs: number): Promise<{ token: string; until: number }> {
  const name = `exec credential plugin ${command}`;
  return new Promise((resolve, reject) => {
    // Its own process group: a timeout kills what it started too (a shell script's children).
    const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    const out: Buffer[] = [];
    let outBytes = 0;
    let errTail = "";
    let settled = false;
    const settle = (f: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      f();
    };
    const killGroup = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    };
    const timer = setTimeout(() => {
      killGroup();
      settle(() => reject(new ExecPluginError("exec-plugin-timeout", `${name}: no answer within ${timeoutMs} ms (killed)`)));
    }, timeoutMs);
    child.stdout.on("data", (d: Buffer) => {
      outBytes += d.length;
      if (outBytes > 1 << 20) {
        killGroup();
        settle(() => reject(new ExecPluginError("exec-plugin-bad-answer", `${name}: answer larger than 1 MiB`)));
      } else out.push(d);
    });
    child.stderr.on("data", (d: Buffer) => void (errTail = (errTail + d.toString("utf8")).slice(-500)));
    child.on("error", (e) => settle(() => reject(new ExecPluginError("exec-plugin-failed", `${name}: ${e.message}`))));
    child.on("close", (code, signal) =>
      settle(() => {
        const why = errTail.trim().split("\n").pop() ?? "";
        if (code !== 0) return reject(new ExecPluginError("exec-plugin-failed", `${name}: ${signal === null ? `exit code ${String(code)}` : `killed by ${signal}`}${why === "" ? "" : `: ${why}`}`));
        let cred: { status?: { token?: unknown; expirationTimestamp?: unknown; clientCertificateData?: unknown } };
        try {
          cred = JSON.parse(Buffer.concat(out).toString("utf8")) as typeof cred;
        } catch {
          return reject(new ExecPluginError("exec-plugin-bad-answer", `${name}: its answer is not JSON`));
        }
        const token = cred?.status?.token;
        if (typeof token !== "string" || token === "") {
          return reject(new ExecPluginError("exec-plugin-bad-answer", `${name}: no token in its answer${cred?.status?.clientCertificateData === undefined ? "" : " (client certificates from exec plugins are not supported)"}`));
        }
        const exp = typeof cred.status?.expirationTimestamp === "string" ? Date.parse(cred.status.expirationTimestamp) : NaN;
        resolve({ token, until: Number.isNaN(exp) ? Number.POSITIVE_INFINITY : exp });
      }),
    );
  });
}

function loadInCluster(src: KubeConfigSource): Result<ApiConnection, KubeConfigError> {
  const host = src.env["KUBERNETES_SERVICE_HOST"] ?? "";
  const port = src.env["KUBERNETES_SERVICE_PORT"] ?? "";
  const source = `in-cluster configuration (KUBERNETES_SERVICE_HOST=${host})`;
  if (port === "") return err({ kind: "in-cluster-unavailable", source, message: "KUBERNETES_SERVICE_PORT is not set" });
  const prefix = src.serviceAccountPrefix ?? "";
  const token = `${prefix}${SERVICE_ACCOUNT_DIR}/token`;
  const caFile = `${prefix}${SERVICE_ACCOUNT_DIR}/ca.crt`;
  for (const [what, path] of [["token", token], ["CA", caFile]] as const) {
    const cause = readable(path);
    if (cause !== undefined) return err({ kind: "in-cluster-unavailable", source, message: `service-account ${what} ${path}: ${cause}` });
  }
  // client-go's InClusterConfig: always https to KUBERNETES_SERVICE_HOST:PORT.
  const server = `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
  if (!URL.canParse(server)) return err({ kind: "in-cluster-unavailable", source, message: `${server} is not a URL` });
  const ca = readFileSync(caFile);
  const bearer = staticBearer(undefined, token);
  return ok({ server, tls: () => Promise.resolve({ ca }), headers: async () => ({ Authorization: `Bearer ${await bearer()}` }) });
}

/**
 * clients.ts' `loadKubeConfig` without client-node: the same sources in the same order, the same
 * checks and error values, but an {@link ApiConnection} for rest.ts' `RestClient`. Synchronous
 * (start-up only); exec plugins run at the first request.
 */
export function loadApiConnection(src: KubeConfigSource): Result<ApiConnection, KubeConfigError> {
  return chooseKubeConfig(src).andThen((c) => (c.kind === "in-cluster" ? loadInCluster(src) : loadFiles(c.paths, c.origin, src.execPluginTimeoutMs ?? DEFAULT_EXEC_PLUGIN_TIMEOUT_MS)));
}

/** Where a program's API configuration comes from: kubeconfig files (and which flag or variable named them), or the pod's service account. */
export type KubeConfigChoice = { readonly kind: "files"; readonly paths: readonly string[]; readonly origin: string } | { readonly kind: "in-cluster" };

/**
 * The configuration source both loaders (this module's and clients.ts' client-node one) use, in
 * client-go's order: `--kubeconfig`, `$KUBECONFIG` (a path list), in-cluster
 * (`KUBERNETES_SERVICE_HOST`), `~/.kube/config`; finding none is an error.
 */
export function chooseKubeConfig(src: KubeConfigSource): Result<KubeConfigChoice, KubeConfigError> {
  if (src.kubeconfig !== undefined) {
    if (src.kubeconfig === "") return err({ kind: "invalid", source: "--kubeconfig", message: "empty path" });
    return ok({ kind: "files", paths: [src.kubeconfig], origin: "--kubeconfig" });
  }
  const list = (src.env["KUBECONFIG"] ?? "").split(delimiter).filter((f) => f !== "");
  if (list.length > 0) return ok({ kind: "files", paths: list, origin: "$KUBECONFIG" });
  if ((src.env["KUBERNETES_SERVICE_HOST"] ?? "") !== "") return ok({ kind: "in-cluster" });
  const home = src.env["HOME"] ?? homedir();
  const file = join(home, ".kube", "config");
  if (existsSync(file)) return ok({ kind: "files", paths: [file], origin: "~/.kube/config" });
  return err({
    kind: "none-found",
    source: "no kubeconfig",
    message: `--kubeconfig is not given, $KUBECONFIG is not set, KUBERNETES_SERVICE_HOST is not set (not in a cluster) and ${file} does not exist`,
  });
}
