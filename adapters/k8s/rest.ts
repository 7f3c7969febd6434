/**
 * A small JSON client of the Kubernetes REST API over `node:http(s)`: one keep-alive agent,
 * requests that resolve with the parsed answer (or throw what {@link toK8sError} classifies), and
 * watches that stream newline-delimited events with the contract of client-node's `Watch.watch`.
 *
 * Every request has a deadline ({@link DEFAULT_REQUEST_TIMEOUT_MS} unless told otherwise): a connection
 * that hangs (accepted, never answered, or stalled mid-body), or a wait for a socket behind such
 * connections, fails the request with a {@link RestClientError} of kind `timeout` instead of holding it
 * forever. Watches are long-lived:
 * no total deadline, the server's `timeoutSeconds` ends them, and an idle guard (no byte for
 * `idleTimeoutMs`) notices one that died silently.
 *
 * Hand-written because of memory (issue 12): every module of `@kubernetes/client-node` reaches its
 * generated models (its `ObjectSerializer` type map keeps all ~800 of them), node-fetch and tr46's
 * Unicode table, so a program that loads any of it — even only `KubeConfig` — carries ~3.5 MB of code
 * and ~20 MiB more RSS than bare Node (bench/RESULTS-ipam-controller.md). coil-ipam-controller needs a
 * dozen requests on five resources; those go through here (rest-apis.ts) and the bundle leaves
 * client-node out. Informers of every program watch through here too (the watch needs no more).
 */
import { Agent as HttpAgent, STATUS_CODES, request as httpRequest, type IncomingMessage, type RequestOptions } from "node:http";
import type { Duplex } from "node:stream";
import { Agent as HttpsAgent, request as httpsRequest, type AgentOptions } from "node:https";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, createSecureContext, type ConnectionOptions } from "node:tls";
import type { KubeConfig } from "@kubernetes/client-node";
import type { RequestObserver } from "./clients.js";

/** TLS settings of the connection to the API server (what `https.Agent` takes). */
export interface TlsSettings {
  /** CA certificate(s) to trust (PEM); default Node's bundled roots. */
  readonly ca?: string | Buffer;
  /** Client certificate (PEM). */
  readonly cert?: string | Buffer;
  /** Client key (PEM). */
  readonly key?: string | Buffer;
  /** `false` = `insecure-skip-tls-verify`. */
  readonly rejectUnauthorized?: boolean;
  /** `tls-server-name`. */
  readonly servername?: string;
}

/** Where the API server is and how to authenticate to it. */
export interface ApiConnection {
  /** Base URL, e.g. `https://10.96.0.1:443` (a path prefix is kept). */
  readonly server: string;
  /** TLS material; read once, when the agent is made. */
  tls(): Promise<TlsSettings>;
  /** Headers of one request (`Authorization`, `Impersonate-User`); asked per request, as tokens rotate. */
  headers(): Promise<Readonly<Record<string, string>>>;
  /**
   * The cluster's `proxy-url`: an `http://` or `https://` proxy (user info as `Proxy-Authorization`)
   * every request and watch goes through — a `CONNECT` tunnel to an https server, absolute-form
   * requests to a plain-HTTP one, as Go's `http.Transport` does. Other schemes fail every request.
   */
  readonly proxy?: string;
  /**
   * The API server answered 401 to a request sent with `sent` (its headers from {@link headers}):
   * renew the credentials if they can be (an exec plugin runs again) and resolve true when the
   * request should be sent once more with new headers. Absent: a 401 is the answer.
   */
  readonly unauthorized?: (sent: Readonly<Record<string, string>>) => Promise<boolean>;
}

/**
 * A client-node `KubeConfig` as an {@link ApiConnection}: its current cluster, TLS material and
 * authentication (token, token file, exec and auth providers, basic auth), through the config's
 * own methods (this module imports no client-node code).
 */
export function connectionFromKubeConfig(kc: KubeConfig): ApiConnection {
  const server = kc.getCurrentCluster()?.server ?? "";
  // Only the proxies this client can speak (http, https); client-node's own requests handle socks5
  // themselves, and the watches built here connect directly then, as they did before proxies were
  // honoured here (a socks5 proxy-url must not leave every informer failing forever).
  const configured = kc.getCurrentCluster()?.proxyUrl ?? "";
  const proxy = configured !== "" && proxyUrlProblem(configured) === undefined ? configured : undefined;
  return {
    server,
    ...(proxy === undefined ? {} : { proxy }),
    tls: async () => {
      const o: Record<string, unknown> = {};
      await kc.applyToHTTPSOptions(o);
      const pick = (k: string): string | Buffer | undefined => {
        const v = o[k];
        return typeof v === "string" || Buffer.isBuffer(v) ? v : undefined;
      };
      const ca = pick("ca");
      const cert = pick("cert");
      const key = pick("key");
      return {
        ...(ca === undefined ? {} : { ca }),
        ...(cert === undefined ? {} : { cert }),
        ...(key === undefined ? {} : { key }),
        ...(typeof o["rejectUnauthorized"] === "boolean" ? { rejectUnauthorized: o["rejectUnauthorized"] } : {}),
        ...(typeof o["servername"] === "string" ? { servername: o["servername"] } : {}),
      };
    },
    headers: async () => {
      const o: { headers?: Record<string, string>; auth?: string } = {};
      await kc.applyToHTTPSOptions(o);
      const h: Record<string, string> = { ...o.headers };
      if (o.auth !== undefined && h["Authorization"] === undefined) h["Authorization"] = `Basic ${Buffer.from(o.auth).toString("base64")}`;
      return h;
    },
  };
}

/**
 * The deadline of a request when the client is not told another: 60 s. client-go sets no total
 * timeout (`rest.Config.Timeout` 0) but notices a dead connection within ~45 s (HTTP/2 health check:
 * 30 s without a frame, then a 15 s ping) and the API server ends every request that is not a watch
 * at 60 s itself (`--request-timeout`, answering 504). This client speaks HTTP/1.1 (no ping), so the
 * bound is the server's own: an answer a healthy server would still give is never cut off.
 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

/** Why a request or watch ended without an answer, from the client's side. */
export type RestClientErrorKind =
  /** Its deadline passed (a request), no answer to a watch in time, or a watch was idle too long. */
  | "timeout"
  /** The caller's `AbortSignal` fired. */
  | "aborted";

/** A request or watch the client gave up on ({@link RestClientErrorKind}); `toK8sError` keeps its kind. */
export class RestClientError extends Error {
  /** Classification. */
  readonly kind: RestClientErrorKind;
  /** @param kind - why; `message` says what and after how long. */
  constructor(kind: RestClientErrorKind, message: string) {
    super(message);
    this.name = kind === "aborted" ? "AbortError" : "TimeoutError";
    this.kind = kind;
  }
}

/** Query parameters; `undefined` values are left out. */
export type Query = Readonly<Record<string, string | number | boolean | undefined>>;

/** One request. */
export interface RestRequest {
  /** HTTP method. */
  readonly method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Path below the server URL, e.g. `/api/v1/nodes`. */
  readonly path: string;
  /** Query parameters. */
  readonly query?: Query;
  /** Body, sent as JSON. */
  readonly body?: unknown;
  /** Content type of the body; default `application/json` (patches: `application/merge-patch+json`). */
  readonly contentType?: string;
  /** `Accept`; default `application/json`. */
  readonly accept?: string;
  /** This request's deadline (ms; 0 = none); default the client's {@link RestClientOptions.timeoutMs}. */
  readonly timeoutMs?: number;
  /** Abort the request when this fires (it fails with kind `aborted`, or `timeout` for an `AbortSignal.timeout`). */
  readonly signal?: AbortSignal;
}

/** Options of {@link RestClient.watch}. */
export interface WatchOptions {
  /** `Accept`, e.g. rest-apis.ts' `METADATA_WATCH_ACCEPT`; default `application/json`. */
  readonly accept?: string;
  /**
   * End the watch with a `timeout` {@link RestClientError} when no byte arrived for this long (ms; 0 =
   * never). The API server sends a bookmark about every minute to a watch that asked for them
   * (`allowWatchBookmarks`), so a guard of a few minutes notices a dead connection without cutting a
   * quiet one. Default 0: the caller knows whether its watch gets bookmarks.
   */
  readonly idleTimeoutMs?: number;
}

/** A watch event's handler: `type` is `ADDED`, `MODIFIED`, `DELETED`, `BOOKMARK` or `ERROR`. */
export type WatchHandler = (type: string, object: unknown) => void;

/**
 * Told once when a watch ends: `null` for a clean end, else the failure — an `Error` with
 * `statusCode` when the API server refused it, `name === "AbortError"` after an abort.
 */
export type WatchDone = (err: unknown) => void;

/** An answer other than 2xx, shaped as client-node's `ApiException` so that {@link toK8sError} reads it. */
export class ApiStatusError extends Error {
  /** HTTP status. */
  readonly code: number;
  /** The answer's body (a `Status` object as JSON text, usually). */
  readonly body: string;
  /** @param code - HTTP status; `body` the answer text. */
  constructor(code: number, body: string) {
    super(`HTTP ${code} ${STATUS_CODES[code] ?? ""}`.trim());
    this.code = code;
    this.body = body;
  }
}

/** What a request aborted by its caller fails with: a `timeout` when the caller's reason is one (`AbortSignal.timeout`, a `kind: "timeout"` error), else `aborted`. */
function callerReason(what: string, reason: unknown): RestClientError {
  if (reason instanceof RestClientError) return reason;
  const r = reason as { name?: unknown; kind?: unknown } | undefined;
  const timedOut = r?.name === "TimeoutError" || r?.kind === "timeout";
  return new RestClientError(timedOut ? "timeout" : "aborted", `${what}: ${timedOut ? "the caller's deadline passed" : "aborted by the caller"}`);
}

/**
 * One request's (or watch's) end: its deadline, its caller's `AbortSignal`, or {@link Deadline.fire}.
 * Hooks run once, with the reason. A plain callback list rather than an `AbortController` given to
 * `https.request` as `signal`: that costs an `AbortSignal`, its listeners and Node's stream-abort
 * bookkeeping per request, a measurable share of the controller's CPU in a burst of BlockRequests
 * (bench/RESULTS-ipam-controller.md); what it does is the same — the request is destroyed.
 */
class Deadline {
  /** Why it fired; undefined until it does. */
  #reason: Error | undefined;
  readonly #hooks = new Set<(reason: Error) => void>();
  readonly #timer: NodeJS.Timeout | undefined;
  readonly #caller: AbortSignal | undefined;
  readonly #onCaller: (() => void) | undefined;

  /** `what` names the request in the timeout's message; `timeoutMs` 0 = no deadline. */
  constructor(what: string, timeoutMs: number, caller: AbortSignal | undefined) {
    this.#timer = timeoutMs > 0 ? setTimeout(() => this.fire(new RestClientError("timeout", `${what}: no complete answer from the API server within ${timeoutMs} ms`)), timeoutMs) : undefined;
    if (caller === undefined) return;
    this.#caller = caller;
    this.#onCaller = () => this.fire(callerReason(what, caller.reason));
    if (caller.aborted) this.#onCaller();
    else caller.addEventListener("abort", this.#onCaller, { once: true });
  }

  /** Whether it fired. */
  get fired(): boolean {
    return this.#reason !== undefined;
  }

  /** Why it fired. */
  get reason(): Error | undefined {
    return this.#reason;
  }

  /** End the request with `reason` (the first call wins). */
  fire(reason: Error): void {
    if (this.#reason !== undefined) return;
    this.#reason = reason;
    clearTimeout(this.#timer);
    for (const h of this.#hooks) h(reason);
    this.#hooks.clear();
  }

  /** Run `h` when it fires (at once if it has); returns the hook's removal. */
  on(h: (reason: Error) => void): () => void {
    if (this.#reason !== undefined) {
      h(this.#reason);
      return () => undefined;
    }
    this.#hooks.add(h);
    return () => this.#hooks.delete(h);
  }

  /** `p`, or a rejection with the reason as soon as it fires. */
  race<T>(p: Promise<T>): Promise<T> {
    if (this.#reason !== undefined) return Promise.reject(this.#reason);
    return new Promise<T>((resolve, reject) => {
      const off = this.on((r) => reject(r));
      p.then(
        (v) => {
          off();
          resolve(v);
        },
        (e: Error) => {
          off();
          reject(e);
        },
      );
    });
  }

  /** Stop the timer only (a watch once answered). */
  clearTimer(): void {
    clearTimeout(this.#timer);
  }

  /** Stop the timer and let go of the caller's signal and the hooks. */
  dispose(): void {
    clearTimeout(this.#timer);
    if (this.#onCaller !== undefined) this.#caller?.removeEventListener("abort", this.#onCaller);
    this.#hooks.clear();
  }
}

/** Characters a request path may hold as they are (RFC 3986 `pchar`, `/`, and `%` of an escape). */
const PLAIN_PATH = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/;
/** A `.` or `..` segment, which the URL parser resolves. */
const DOT_SEGMENT = /\/\.\.?(\/|$)/;

/** `query`'s defined values set on `params` (each replacing one of the same name); `params`. */
function setQuery(params: URLSearchParams, query: Query | undefined): URLSearchParams {
  for (const k in query) {
    const v = query[k];
    if (v !== undefined) params.set(k, String(v));
  }
  return params;
}

/** Options of {@link RestClient}. */
export interface RestClientOptions {
  /** Upper bound on concurrent sockets to the API server (watches included). Default 16. */
  readonly maxSockets?: number;
  /**
   * Deadline of each request (ms; 0 = none), from the call (the wait for a socket included) to the last byte of the answer, and of
   * each watch until the API server answers it. Default {@link DEFAULT_REQUEST_TIMEOUT_MS}.
   */
  readonly timeoutMs?: number;
  /** Told about every request (not the watches: informers report those) once answered. */
  readonly onRequest?: RequestObserver | undefined;
}

/**
 * Why this client cannot use `proxy` as a kubeconfig `proxy-url` (for a server of `serverProtocol`,
 * when given), or undefined when it can: a URL, http or https, and user info that percent-decodes
 * (Go's `url.Parse` refuses it otherwise). Checked where a proxy URL enters, so that no connection
 * fails on it later.
 */
export function proxyUrlProblem(proxy: string, serverProtocol?: string): string | undefined {
  if (!URL.canParse(proxy)) return `proxy-url ${JSON.stringify(proxy)} is not a URL`;
  const u = new URL(proxy);
  if (u.protocol !== "http:" && u.protocol !== "https:") return `proxy-url ${u.protocol}// is not supported (http:// and https:// proxies are; client-go also takes socks5://)`;
  if (u.protocol === "https:" && serverProtocol === "http:") return "a plain-HTTP server through an https proxy-url is not supported";
  try {
    decodeURIComponent(u.username);
    decodeURIComponent(u.password);
  } catch {
    return "proxy-url's user info has an invalid percent-encoding";
  }
  return undefined;
}

/** `Proxy-Authorization` from a proxy URL's user info (`Basic`, percent-decoded, as Go's transport sends it). */
function proxyAuthorization(proxy: URL): string | undefined {
  if (proxy.username === "" && proxy.password === "") return undefined;
  return `Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString("base64")}`;
}

/**
 * An https agent whose connections are `CONNECT` tunnels through an HTTP(S) proxy: the agent's
 * TLS session to the API server runs inside the tunnel (keep-alive and pooling as usual). The
 * tunnel's set-up is bounded by `handshakeMs` (a hung proxy fails the request instead of holding a
 * socket slot).
 */
class TunnelingAgent extends HttpsAgent {
  readonly #proxy: URL;
  readonly #handshakeMs: number;

  constructor(o: AgentOptions, proxy: URL, handshakeMs: number) {
    super(o);
    this.#proxy = proxy;
    this.#handshakeMs = handshakeMs;
  }

  /** Node's Agent calls this with the target's options and takes the socket through `cb`. */
  override createConnection(options: RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    const cb = callback ?? ((): void => undefined);
    const host = options.host ?? "";
    const target = `${host.includes(":") ? `[${host}]` : host}:${options.port ?? 443}`;
    const p = this.#proxy;
    const proxyPort = Number(p.port === "" ? (p.protocol === "https:" ? 443 : 80) : p.port);
    const proxyHost = p.hostname.replace(/^\[|\]$/g, "");
    const raw: Socket = p.protocol === "https:" ? tlsConnect({ host: proxyHost, port: proxyPort, servername: proxyHost }) : netConnect({ host: proxyHost, port: proxyPort });
    let answered = false;
    const fail = (e: Error): void => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      raw.destroy();
      cb(e, raw);
    };
    const timer = setTimeout(() => fail(new Error(`proxy ${p.host}: no answer to CONNECT ${target} within ${this.#handshakeMs} ms`)), this.#handshakeMs);
    raw.once("error", (e) => fail(new Error(`proxy ${p.host}: ${e.message}`)));
    raw.once("close", () => fail(new Error(`proxy ${p.host} closed the connection before answering CONNECT ${target}`)));
    const pa = proxyAuthorization(p);
    raw.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${pa === undefined ? "" : `Proxy-Authorization: ${pa}\r\n`}\r\n`);
    let head = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) {
        if (head.length > 16_384) fail(new Error(`proxy ${p.host}: answer to CONNECT too long`));
        return;
      }
      raw.off("data", onData);
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(head.subarray(0, end).toString("latin1"))?.[1];
      if (status !== "200") return fail(new Error(`proxy ${p.host} refused CONNECT ${target}: ${head.subarray(0, head.indexOf("\r\n")).toString("latin1")}`));
      // Bytes past the header belong to the tunnel (the server speaks after the client's hello: none expected).
      if (head.length > end + 4) raw.unshift(head.subarray(end + 4));
      answered = true;
      clearTimeout(timer);
      raw.removeAllListeners("error");
      raw.removeAllListeners("close");
      // The TLS socket on top reports the tunnel's failures; an unheard error here would throw.
      raw.on("error", () => undefined);
      const tls = tlsConnect({ ...(options as ConnectionOptions), socket: raw });
      cb(null, tls);
    };
    raw.on("data", onData);
    return undefined;
  }
}

/**
 * The whole body of `res` as text; rejects when it fails or is cut off (a destroyed answer can
 * close without an error: only a complete one counts). Listeners rather than `for await`: the
 * async iterator costs a promise per chunk and its own stream bookkeeping, per request.
 */
function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on("data", (c: Buffer) => chunks.push(c));
    res.on("end", () => (res.complete ? resolve(Buffer.concat(chunks).toString("utf8")) : reject(new Error("the answer was cut off"))));
    res.on("error", reject);
    // Every answer closes, after its end too: an Error (its stack) only for one that was cut off.
    res.on("close", () => {
      if (!res.complete) reject(new Error("the answer was cut off"));
    });
  });
}

/** JSON requests and watches against one API server over one keep-alive agent. */
export class RestClient {
  readonly #conn: ApiConnection;
  readonly #o: RestClientOptions;
  /** The server URL; undefined when it does not parse (every request then fails). */
  readonly #base: URL | undefined;
  #agent: Promise<HttpAgent | HttpsAgent> | undefined;
  /** The agent once made: later requests skip the wait for it. */
  #agentMade: HttpAgent | HttpsAgent | undefined;
  /** `#base`'s path without its trailing slash. */
  readonly #prefix: string;

  /** @param conn - the API server; see {@link RestClientOptions}. */
  constructor(conn: ApiConnection, o: RestClientOptions = {}) {
    this.#conn = conn;
    this.#o = o;
    this.#base = URL.canParse(conn.server) ? new URL(conn.server) : undefined;
    this.#prefix = this.#base?.pathname.replace(/\/$/, "") ?? "";
  }

  /** `host:port` of the API server (the `host` label of `rest_client_requests_total`). */
  get host(): string {
    return this.#base?.host ?? "";
  }

  /** The request target (path and query) below the server URL. */
  #target(path: string, query: Query | undefined): string {
    if (this.#base === undefined) throw new Error(`API server URL ${JSON.stringify(this.#conn.server)} does not parse`);
    // A path with characters a URL escapes (or reads as `?`/`#`), or with dot segments, goes through
    // the URL parser as before; the paths this client is given never have them, and parsing a URL
    // per request costs.
    if (!PLAIN_PATH.test(path) || DOT_SEGMENT.test(path)) {
      const url = new URL(this.#base.origin + this.#prefix + path);
      setQuery(url.searchParams, query);
      return url.pathname + url.search;
    }
    const q = setQuery(new URLSearchParams(), query).toString();
    const search = q === "" ? "" : `?${q}`;
    return (this.#prefix + path || "/") + search;
  }

  #getAgent(): Promise<HttpAgent | HttpsAgent> {
    this.#agent ??= (async (): Promise<HttpAgent | HttpsAgent> => {
      const maxSockets = this.#o.maxSockets ?? 16;
      const proxy = this.#proxy();
      // Through a proxy, a plain-HTTP server's requests go to the proxy in absolute form (see #open).
      if (this.#base?.protocol === "http:") return new HttpAgent({ keepAlive: true, maxSockets });
      const tls = await this.#conn.tls();
      // One TLS context for every connection: given only `ca`, `cert` and `key`, Node parses them
      // into a new context per connection (~3 ms of CPU each, while a burst opens a socket per worker).
      const secureContext = createSecureContext({ ...(tls.ca === undefined ? {} : { ca: tls.ca }), ...(tls.cert === undefined ? {} : { cert: tls.cert }), ...(tls.key === undefined ? {} : { key: tls.key }) });
      const a: AgentOptions = { keepAlive: true, maxSockets, ...tls, secureContext };
      if (proxy === undefined) return new HttpsAgent(a);
      return new TunnelingAgent(a, proxy, this.#timeoutMs > 0 ? this.#timeoutMs : DEFAULT_REQUEST_TIMEOUT_MS);
    })().then((a) => (this.#agentMade = a));
    return this.#agent;
  }

  /** The proxy's URL, or undefined for none; throws for one this client cannot use. */
  #proxy(): URL | undefined {
    const p = this.#conn.proxy;
    if (p === undefined) return undefined;
    if (!URL.canParse(p)) throw new Error(`proxy URL ${JSON.stringify(p)} does not parse`);
    const u = new URL(p);
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error(`proxy ${u.protocol}// is not supported (http and https proxies are)`);
    if (u.protocol === "https:" && this.#base?.protocol === "http:") throw new Error("a plain-HTTP server through an https proxy is not supported");
    return u;
  }

  get #timeoutMs(): number {
    return this.#o.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  }

  /**
   * Send; `signal` aborts everything (the credentials' lookup included) and destroys the socket. A
   * 401 is told to the connection's `unauthorized`, and when it renewed the credentials the request
   * is sent once more with them (client-go's exec authenticator refreshes on a 401; the retry is ours).
   */
  async #open(method: string, target: string, headers: Record<string, string>, body: string | undefined, d: Deadline): Promise<IncomingMessage> {
    const auth = await d.race(this.#conn.headers());
    const res = await this.#send(method, target, auth, headers, body, d);
    const unauthorized = this.#conn.unauthorized;
    if (res.statusCode !== 401 || unauthorized === undefined) return res;
    let retry: boolean;
    try {
      retry = await d.race(unauthorized(auth));
    } catch (e) {
      res.resume();
      throw e;
    }
    if (!retry) return res;
    res.resume();
    return this.#send(method, target, await d.race(this.#conn.headers()), headers, body, d);
  }

  async #send(method: string, target: string, auth: Readonly<Record<string, string>>, headers: Record<string, string>, body: string | undefined, d: Deadline): Promise<IncomingMessage> {
    const agent = this.#agentMade ?? (await d.race(this.#getAgent()));
    const base = this.#base as URL; // #target checked it
    const plain = base.protocol === "http:";
    const all: Record<string, string> = { ...auth, ...headers };
    if (body !== undefined) all["Content-Length"] = String(Buffer.byteLength(body));
    const o: RequestOptions = { method, agent, headers: all, hostname: base.hostname.replace(/^\[|\]$/g, ""), port: base.port, path: target };
    // A plain-HTTP server behind a proxy: the request goes to the proxy, its target in absolute form.
    const proxy = plain ? this.#proxy() : undefined;
    if (proxy !== undefined) {
      all["Host"] = base.host;
      const pa = proxyAuthorization(proxy);
      if (pa !== undefined) all["Proxy-Authorization"] = pa;
      Object.assign(o, { hostname: proxy.hostname.replace(/^\[|\]$/g, ""), port: proxy.port, path: base.origin + target });
    }
    return new Promise((resolve, reject) => {
      const req = (plain ? httpRequest : httpsRequest)(o);
      // Until disposed: a deadline or abort destroys the request, whether it waits for a socket, for
      // its answer or for the rest of the body. A request still queued for a socket emits no error
      // until the agent hands it one, hence the reject here (a no-op once answered).
      d.on((r) => {
        req.destroy(r);
        reject(r);
      });
      req.on("response", resolve);
      req.on("error", reject);
      req.end(body);
    });
  }

  /**
   * Send one request and resolve with the parsed JSON answer (`undefined` for an empty one).
   * Throws an {@link ApiStatusError} for a non-2xx answer and the transport error otherwise
   * (callers wrap calls in `k8sCall`, which turns both into a `K8sError`).
   */
  async request<T>(r: RestRequest): Promise<T> {
    const target = this.#target(r.path, r.query);
    const body = r.body === undefined ? undefined : JSON.stringify(r.body);
    const headers: Record<string, string> = { Accept: r.accept ?? "application/json" };
    if (body !== undefined) headers["Content-Type"] = r.contentType ?? "application/json";
    const d = new Deadline(`${r.method} ${r.path}`, r.timeoutMs ?? this.#timeoutMs, r.signal);
    let status: number;
    let text: string;
    try {
      const res = await this.#open(r.method, target, headers, body, d);
      text = await readAll(res);
      status = res.statusCode ?? 0;
    } catch (e) {
      this.#o.onRequest?.({ code: "<error>", method: r.method, host: this.host });
      throw d.fired ? d.reason : e;
    } finally {
      d.dispose();
    }
    this.#o.onRequest?.({ code: String(status), method: r.method, host: this.host });
    if (status < 200 || status > 299) throw new ApiStatusError(status, text);
    return (text === "" ? undefined : JSON.parse(text)) as T;
  }

  /**
   * Watch a collection (`?watch=true` and `query`), client-node's `Watch.watch` contract: resolves
   * with an `AbortController` that ends the watch once the request is sent; every event goes to
   * `onEvent` (lines that are not JSON are skipped); `done` is called exactly once — `null` when the
   * server ends the stream, an `Error` with `statusCode` when it refuses the watch, the transport
   * error, a `timeout` {@link RestClientError} when the server did not answer within the client's
   * deadline or the stream stayed idle past `idleTimeoutMs`, or an `AbortError` after `abort()`.
   * `o` may be the `Accept` alone (e.g. for `PartialObjectMetadata`) or {@link WatchOptions}.
   */
  async watch(path: string, query: Query, onEvent: WatchHandler, done: WatchDone, o: string | WatchOptions = {}): Promise<AbortController> {
    const { accept = "application/json", idleTimeoutMs = 0 } = typeof o === "string" ? { accept: o } : o;
    const ac = new AbortController();
    const d = new Deadline(`WATCH ${path}`, this.#timeoutMs, ac.signal);
    let idle: NodeJS.Timeout | undefined;
    let finished = false;
    const finish = (e: unknown): void => {
      if (finished) return;
      finished = true;
      clearTimeout(idle);
      // Destroys the request (an idle or timed-out watch's socket) if it is still open.
      d.fire(e instanceof Error ? e : new RestClientError("aborted", `WATCH ${path}: ended`));
      d.dispose();
      ac.abort();
      done(e);
    };
    // After abort(): an AbortError; after the deadline or the idle guard: that timeout.
    const why = (e: unknown): unknown => (d.fired ? d.reason : e);
    try {
      const target = this.#target(path, { ...query, watch: true });
      const res = await this.#open("GET", target, { Accept: accept }, undefined, d);
      if (res.statusCode !== 200) {
        res.resume();
        const e = new Error(res.statusMessage ?? STATUS_CODES[res.statusCode ?? 0] ?? "watch refused") as Error & { statusCode?: number };
        e.statusCode = res.statusCode ?? 0;
        finish(e);
        return ac;
      }
      // Answered: no total deadline from here on (the server's timeoutSeconds ends the watch), only the idle guard.
      d.clearTimer();
      const guard = (): void => {
        if (idleTimeoutMs <= 0) return;
        clearTimeout(idle);
        idle = setTimeout(() => finish(new RestClientError("timeout", `WATCH ${path}: nothing received for ${idleTimeoutMs} ms`)), idleTimeoutMs);
      };
      guard();
      res.socket?.setKeepAlive(true, 30_000);
      res.setEncoding("utf8");
      let partial = "";
      res.on("data", (chunk: string) => {
        guard();
        const lines = (partial + chunk).split("\n");
        partial = lines.pop() ?? "";
        for (const line of lines) {
          if (line.trim() === "") continue;
          let ev: { type?: unknown; object?: unknown };
          try {
            ev = JSON.parse(line) as typeof ev;
          } catch {
            continue;
          }
          if (typeof ev.type === "string") onEvent(ev.type, ev.object);
        }
      });
      res.on("end", () => finish(null));
      res.on("error", (e) => finish(why(e)));
      res.on("close", () => finish(why(null)));
    } catch (e) {
      finish(why(e));
    }
    return ac;
  }

  /** Close the keep-alive sockets (call on shutdown). */
  destroy(): void {
    void this.#agent?.then((a) => a.destroy());
  }
}
