/**
 * A small JSON client of the Kubernetes REST API over `node:http(s)`: one keep-alive agent,
 * requests that resolve with the parsed answer (or throw what {@link toK8sError} classifies), and
 * watches that stream newline-delimited events with the contract of client-node's `Watch.watch`.
 *
 * Hand-written because of memory (issue 12): every module of `@kubernetes/client-node` reaches its
 * generated models (its `ObjectSerializer` type map keeps all ~800 of them), node-fetch and tr46's
 * Unicode table, so a program that loads any of it — even only `KubeConfig` — carries ~3.5 MB of code
 * and ~20 MiB more RSS than bare Node (bench/RESULTS-ipam-controller.md). coil-ipam-controller needs a
 * dozen requests on five resources; those go through here (rest-apis.ts) and the bundle leaves
 * client-node out. Informers of every program watch through here too (the watch needs no more).
 */
import { Agent as HttpAgent, STATUS_CODES, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest, type AgentOptions } from "node:https";
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
}

/**
 * A client-node `KubeConfig` as an {@link ApiConnection}: its current cluster, TLS material and
 * authentication (token, token file, exec and auth providers, basic auth), through the config's
 * own methods (this module imports no client-node code).
 */
export function connectionFromKubeConfig(kc: KubeConfig): ApiConnection {
  const server = kc.getCurrentCluster()?.server ?? "";
  return {
    server,
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

function abortError(): Error {
  const e = new Error("The watch was aborted");
  e.name = "AbortError";
  return e;
}

/** Options of {@link RestClient}. */
export interface RestClientOptions {
  /** Upper bound on concurrent sockets to the API server (watches included). Default 16. */
  readonly maxSockets?: number;
  /** Told about every request (not the watches: informers report those) once answered. */
  readonly onRequest?: RequestObserver | undefined;
}

/** JSON requests and watches against one API server over one keep-alive agent. */
export class RestClient {
  readonly #conn: ApiConnection;
  readonly #o: RestClientOptions;
  /** The server URL; undefined when it does not parse (every request then fails). */
  readonly #base: URL | undefined;
  #agent: Promise<HttpAgent | HttpsAgent> | undefined;

  /** @param conn - the API server; see {@link RestClientOptions}. */
  constructor(conn: ApiConnection, o: RestClientOptions = {}) {
    this.#conn = conn;
    this.#o = o;
    this.#base = URL.canParse(conn.server) ? new URL(conn.server) : undefined;
  }

  /** `host:port` of the API server (the `host` label of `rest_client_requests_total`). */
  get host(): string {
    return this.#base?.host ?? "";
  }

  #url(path: string, query: Query | undefined): URL {
    if (this.#base === undefined) throw new Error(`API server URL ${JSON.stringify(this.#conn.server)} does not parse`);
    const prefix = this.#base.pathname.replace(/\/$/, "");
    const url = new URL(this.#base.origin + prefix + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url;
  }

  #getAgent(): Promise<HttpAgent | HttpsAgent> {
    this.#agent ??= (async () => {
      const maxSockets = this.#o.maxSockets ?? 16;
      if (this.#base?.protocol === "http:") return new HttpAgent({ keepAlive: true, maxSockets });
      const tls = await this.#conn.tls();
      const a: AgentOptions = { keepAlive: true, maxSockets, ...tls };
      return new HttpsAgent(a);
    })();
    return this.#agent;
  }

  async #open(method: string, url: URL, headers: Record<string, string>, body: string | undefined, signal?: AbortSignal): Promise<IncomingMessage> {
    const agent = await this.#getAgent();
    const auth = await this.#conn.headers();
    const send = url.protocol === "http:" ? httpRequest : httpsRequest;
    return new Promise((resolve, reject) => {
      const req = send(url, { method, agent, headers: { ...auth, ...headers, ...(body === undefined ? {} : { "Content-Length": String(Buffer.byteLength(body)) }) }, ...(signal === undefined ? {} : { signal }) });
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
    const url = this.#url(r.path, r.query);
    const body = r.body === undefined ? undefined : JSON.stringify(r.body);
    const headers: Record<string, string> = { Accept: r.accept ?? "application/json" };
    if (body !== undefined) headers["Content-Type"] = r.contentType ?? "application/json";
    let res: IncomingMessage;
    try {
      res = await this.#open(r.method, url, headers, body);
    } catch (e) {
      this.#o.onRequest?.({ code: "<error>", method: r.method, host: this.host });
      throw e;
    }
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const status = res.statusCode ?? 0;
    this.#o.onRequest?.({ code: String(status), method: r.method, host: this.host });
    if (status < 200 || status > 299) throw new ApiStatusError(status, text);
    return (text === "" ? undefined : JSON.parse(text)) as T;
  }

  /**
   * Watch a collection (`?watch=true` and `query`), client-node's `Watch.watch` contract: resolves
   * with an `AbortController` that ends the watch once the request is sent; every event goes to
   * `onEvent` (lines that are not JSON are skipped); `done` is called exactly once — `null` when the
   * server ends the stream, an `Error` with `statusCode` when it refuses the watch, the transport
   * error, or an `AbortError` after `abort()`. `accept` e.g. asks for `PartialObjectMetadata`.
   */
  async watch(path: string, query: Query, onEvent: WatchHandler, done: WatchDone, accept = "application/json"): Promise<AbortController> {
    const ac = new AbortController();
    let finished = false;
    const finish = (e: unknown): void => {
      if (finished) return;
      finished = true;
      ac.abort();
      done(e);
    };
    try {
      const url = this.#url(path, { ...query, watch: true });
      const res = await this.#open("GET", url, { Accept: accept }, undefined, ac.signal);
      if (res.statusCode !== 200) {
        res.resume();
        const e = new Error(res.statusMessage ?? STATUS_CODES[res.statusCode ?? 0] ?? "watch refused") as Error & { statusCode?: number };
        e.statusCode = res.statusCode ?? 0;
        finish(e);
        return ac;
      }
      res.socket?.setKeepAlive(true, 30_000);
      res.setEncoding("utf8");
      let partial = "";
      res.on("data", (chunk: string) => {
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
      res.on("error", (e) => finish(ac.signal.aborted ? abortError() : e));
      res.on("close", () => finish(ac.signal.aborted ? abortError() : null));
    } catch (e) {
      finish(ac.signal.aborted ? abortError() : e);
    }
    return ac;
  }

  /** Close the keep-alive sockets (call on shutdown). */
  destroy(): void {
    void this.#agent?.then((a) => a.destroy());
  }
}
