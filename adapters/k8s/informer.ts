/**
 * A list+watch informer: LIST once, then WATCH from the list's resourceVersion (with bookmarks),
 * keep a local cache keyed by name, and call handlers for adds, updates and deletes. When the
 * watch ends it is resumed from the last seen resourceVersion; when the API server answers
 * `410 Gone` (the version was compacted) it re-LISTs and reconciles the cache (emitting the
 * differences as events). Failures back off exponentially. A watch that stays silent past
 * {@link DEFAULT_WATCH_IDLE_TIMEOUT_MS} (no event, no bookmark) is taken as dead and re-opened. The watch goes through rest.ts's
 * `RestClient` (not client-node's `Watch`, so that a program without client-node can watch too).
 */
import type { KubeConfig } from "@kubernetes/client-node";
import type { ResultAsync } from "neverthrow";
import { backoffDelay, sleep, type BackoffOptions } from "./backoff.js";
import type { RequestObserver } from "./clients.js";
import { RestClient, RestClientError, connectionFromKubeConfig } from "./rest.js";
import type { KubeObject, ObjectList } from "./coil-types.js";
import type { K8sError } from "./errors.js";
import { SILENT_LOGGER, type Logger } from "./log.js";

/** What happened to an object. */
export type InformerEvent<T> =
  | { readonly type: "add"; readonly object: T }
  | { readonly type: "update"; readonly object: T; readonly old: T }
  | { readonly type: "delete"; readonly object: T };

/** Options of {@link Informer}. */
export interface InformerOptions<T extends KubeObject> {
  /** Name for logs. */
  readonly name: string;
  /**
   * Where to watch: the program's {@link RestClient} (its keep-alive agent), or a client-node
   * `KubeConfig` (the informer then opens its own connections with the config's credentials).
   */
  readonly kc: KubeConfig | RestClient;
  /** `Accept` of the watch, e.g. rest-apis.ts' `METADATA_WATCH_ACCEPT`; default `application/json`. */
  readonly accept?: string;
  /** REST path of the collection, e.g. `/api/v1/nodes`. */
  readonly path: string;
  /** LIST the collection (uncached). */
  readonly list: () => ResultAsync<ObjectList<T>, K8sError>;
  /** Label selector applied to the watch (must match the one `list` uses). */
  readonly labelSelector?: string;
  /** Reduce what the cache keeps (e.g. only metadata of Nodes). */
  readonly transform?: (o: T) => T;
  /** Server-side watch timeout; a random value in [min, 2·min) like client-go. Default 300 s. */
  readonly watchTimeoutSeconds?: number;
  /**
   * Client-side idle guard: a watch that received nothing (no event, no bookmark) for this long is
   * taken as dead, ended and opened again from the last resourceVersion. Default
   * {@link DEFAULT_WATCH_IDLE_TIMEOUT_MS}; 0 = none.
   */
  readonly watchIdleTimeoutMs?: number;
  /** Backoff after failures. */
  readonly backoff?: BackoffOptions;
  /** Logger. */
  readonly log?: Logger;
  /**
   * Told about every WATCH request (`rest_client_requests_total`; the LISTs go through `list`, i.e.
   * the API clients, which count them). Code 200 when the stream opened, else the HTTP status or `<error>`.
   */
  readonly onRequest?: RequestObserver | undefined;
}

/**
 * The informers' watch idle guard: 120 s. The API server sends a watch that allows bookmarks one
 * about every minute (and one 2 s before its `timeoutSeconds`), so two missing bookmarks mean the
 * connection is dead — one that died silently (a hung peer or network, no RST) would otherwise hold
 * the watch until the server's timeout that will never come. client-go notices such a connection by
 * its HTTP/2 health check (~45 s); this client speaks HTTP/1.1, which has no ping. On a server
 * without bookmarks a quiet watch is merely re-opened (no re-list) every two minutes.
 */
export const DEFAULT_WATCH_IDLE_TIMEOUT_MS = 120_000;

type Handler<T> = (e: InformerEvent<T>) => void;

/** A running list+watch cache of one collection. */
export class Informer<T extends KubeObject> {
  readonly #o: InformerOptions<T>;
  readonly #cache = new Map<string, T>();
  readonly #handlers: Handler<T>[] = [];
  readonly #stop = new AbortController();
  #resourceVersion = "";
  #synced = false;
  #syncWaiters: Array<() => void> = [];
  #watchAbort: AbortController | undefined;
  #loop: Promise<void> | undefined;
  /** Made from a `KubeConfig` option (destroyed on stop); the given client otherwise. */
  #rest: RestClient | undefined;
  #ownsRest = false;
  /** Number of LISTs done (1 + re-lists after 410 Gone or failures); for tests and metrics. */
  lists = 0;

  /** @param o - see {@link InformerOptions}. */
  constructor(o: InformerOptions<T>) {
    this.#o = o;
  }

  /** Register a handler (before {@link start} to see the initial adds). */
  on(handler: Handler<T>): void {
    this.#handlers.push(handler);
  }

  /** Start listing and watching in the background. */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** Stop watching; the cache stays readable. */
  async stop(): Promise<void> {
    this.#stop.abort();
    this.#watchAbort?.abort();
    await this.#loop;
    if (this.#ownsRest) this.#rest?.destroy();
  }

  #client(): RestClient {
    if (this.#rest !== undefined) return this.#rest;
    const kc = this.#o.kc;
    if (kc instanceof RestClient) this.#rest = kc;
    else {
      this.#rest = new RestClient(connectionFromKubeConfig(kc));
      this.#ownsRest = true;
    }
    return this.#rest;
  }

  /** Whether the first LIST has been applied. */
  get hasSynced(): boolean {
    return this.#synced;
  }

  /** Resolves once the first LIST has been applied (or immediately). */
  waitSynced(): Promise<void> {
    if (this.#synced) return Promise.resolve();
    return new Promise((r) => this.#syncWaiters.push(r));
  }

  /** The cached object with this name. */
  get(name: string): T | undefined {
    return this.#cache.get(name);
  }

  /** All cached objects. */
  items(): T[] {
    return [...this.#cache.values()];
  }

  /** Last resourceVersion seen (list, event or bookmark). */
  get resourceVersion(): string {
    return this.#resourceVersion;
  }

  #log(): Logger {
    return this.#o.log ?? SILENT_LOGGER;
  }

  #emit(e: InformerEvent<T>): void {
    for (const h of this.#handlers) {
      try {
        h(e);
      } catch (err) {
        this.#log().error("informer handler threw", { informer: this.#o.name, error: String(err) });
      }
    }
  }

  async #run(): Promise<void> {
    let failures = 0;
    let needList = true;
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      if (needList) {
        const listed = await this.#o.list();
        if (listed.isErr()) {
          this.#log().warn("list failed", { informer: this.#o.name, error: listed.error });
          await sleep(backoffDelay(failures++, this.#o.backoff), signal);
          continue;
        }
        this.#replace(listed.value);
        needList = false;
      }
      const outcome = await this.#watchOnce();
      if (outcome === "gone") {
        this.#log().info("watch expired (410 Gone), re-listing", { informer: this.#o.name });
        needList = true;
        failures = 0;
      } else if (outcome === "error") {
        await sleep(backoffDelay(failures++, this.#o.backoff), signal);
      } else {
        failures = 0;
      }
    }
  }

  #replace(list: ObjectList<T>): void {
    this.lists++;
    const seen = new Set<string>();
    for (const raw of list.items) {
      const obj = this.#o.transform ? this.#o.transform(raw) : raw;
      const name = obj.metadata.name;
      seen.add(name);
      const old = this.#cache.get(name);
      this.#cache.set(name, obj);
      if (old === undefined) this.#emit({ type: "add", object: obj });
      else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.#emit({ type: "update", object: obj, old });
    }
    for (const [name, old] of [...this.#cache]) {
      if (seen.has(name)) continue;
      this.#cache.delete(name);
      this.#emit({ type: "delete", object: old });
    }
    this.#resourceVersion = list.resourceVersion;
    if (!this.#synced) {
      this.#synced = true;
      for (const w of this.#syncWaiters.splice(0)) w();
    }
  }

  /** One watch connection; resolves when it ends. */
  #watchOnce(): Promise<"closed" | "gone" | "error"> {
    return new Promise((resolve) => {
      let result: "closed" | "gone" | "error" = "closed";
      let sawEvent = false;
      const min = this.#o.watchTimeoutSeconds ?? 300;
      const query: Record<string, string | number | boolean> = {
        resourceVersion: this.#resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds: Math.floor(min * (1 + Math.random())),
      };
      if (this.#o.labelSelector !== undefined) query["labelSelector"] = this.#o.labelSelector;
      const onEvent = (type: string, obj: unknown): void => {
        sawEvent = true;
        if (type === "ERROR") {
          const status = obj as { code?: number; message?: string };
          result = status.code === 410 ? "gone" : "error";
          if (result === "error") this.#log().warn("watch error event", { informer: this.#o.name, status });
          this.#watchAbort?.abort();
          return;
        }
        this.#apply(type, obj as T);
      };
      const done = (err: unknown): void => {
        // The idle guard ended an answered watch (nothing, not even a bookmark, for the idle timeout):
        // re-opened at once from the last resourceVersion like a watch the server closed, not counted
        // as a failure (no backoff: on a quiet resource without bookmarks that would delay events).
        if (answered && err instanceof RestClientError && err.kind === "timeout" && result === "closed") {
          this.#log().info("watch idle, re-opening", { informer: this.#o.name, error: err.message });
          resolve("closed");
          return;
        }
        const e = err as { statusCode?: number; name?: string } | null;
        if (e !== null && e !== undefined && e.name !== "AbortError" && result === "closed") {
          result = e.statusCode === 410 ? "gone" : "error";
          this.#log().warn("watch failed", { informer: this.#o.name, error: String(err) });
        }
        // A connection that closes at once without any event is treated as a failure (backoff).
        if (result === "closed" && !sawEvent && !this.#stop.signal.aborted) result = "error";
        resolve(result);
      };
      // watch() resolves once the answer's headers are in; a refusal calls `done` before that.
      let opened = false;
      let answered = false; // the watch's answer came (200): only the idle guard can time it out then
      let refused: unknown;
      const observed = (err: unknown): void => {
        if (!opened) refused = err ?? refused;
        done(err);
      };
      const report = (err: unknown): void => {
        const status = (err as { statusCode?: unknown } | undefined)?.statusCode;
        const code = err === undefined ? "200" : typeof status === "number" ? String(status) : "<error>";
        this.#o.onRequest?.({ code, method: "GET", host: this.#client().host });
      };
      const open = async (): Promise<void> => {
        try {
          const idleTimeoutMs = this.#o.watchIdleTimeoutMs ?? DEFAULT_WATCH_IDLE_TIMEOUT_MS;
          const ac = await this.#client().watch(this.#o.path, query, onEvent, observed, { ...(this.#o.accept === undefined ? {} : { accept: this.#o.accept }), idleTimeoutMs });
          opened = true;
          answered = refused === undefined;
          report(refused);
          this.#watchAbort = ac;
          if (this.#stop.signal.aborted) ac.abort();
        } catch (err: unknown) {
          opened = true;
          report(err);
          done(err);
        }
      };
      void open();
    });
  }

  #apply(type: string, raw: T): void {
    const rv = raw.metadata?.resourceVersion;
    if (rv !== undefined) this.#resourceVersion = rv;
    if (type === "BOOKMARK") return;
    const obj = this.#o.transform ? this.#o.transform(raw) : raw;
    const name = obj.metadata.name;
    const old = this.#cache.get(name);
    if (type === "DELETED") {
      this.#cache.delete(name);
      this.#emit({ type: "delete", object: obj });
    } else if (type === "ADDED" || type === "MODIFIED") {
      this.#cache.set(name, obj);
      this.#emit(old === undefined ? { type: "add", object: obj } : { type: "update", object: obj, old });
    }
  }
}
