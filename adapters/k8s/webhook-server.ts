/**
 * The admission webhook server of the controllers (`--webhook-addr`; coil-ipam-controller's
 * AddressPool webhooks, coil-egress-controller's Egress webhooks, through `handle`): HTTPS with the key pair of `--cert-dir`, loaded lazily per connection through
 * {@link CertReloader} (a plain TCP listener accepts, asks the reloader for the current pair, and
 * hands the socket to the HTTPS server; kube-apiserver sends no SNI to IP-literal webhook URLs, so
 * `SNICallback` could not do this). Until a pair can be loaded, connections are closed and
 * `ready()` is false, like controller-runtime's webhook StartedChecker.
 */
import { once } from "node:events";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer as createNetServer, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { CertReloader, certDirFiles } from "./certs-reloader.js";
import { startCertRotation, type CertRotation, type CertRotationOptions } from "./certs-rotation.js";
import type { WebhookHandler } from "./admission.js";
import type { ListenAddr } from "../common/flags.js";
import type { WebhookConfigurationCalls } from "./api-calls.js";
import type { Logger } from "./log.js";

/** Minimal logger the server writes to. */
export interface WebhookLogger {
  /** Normal events. */
  info(msg: string, fields?: Readonly<Record<string, unknown>>): void;
  /** Failures. */
  error(msg: string, fields?: Readonly<Record<string, unknown>>): void;
}

/** Options of {@link startWebhookServer}. */
export interface WebhookServerOptions {
  /** Answers the webhook requests (e.g. the AddressPool or Egress reviews). */
  readonly handle: WebhookHandler;
  /** Address to bind; default all interfaces (Coil's `:9443`). */
  readonly host?: string;
  /** Port; 0 picks a free one (see {@link WebhookServer.port}). */
  readonly port: number;
  /** Directory holding `tls.crt` and `tls.key` (`--cert-dir`). */
  readonly certDir: string;
  /**
   * Generate the certificates in `certDir` (when absent, invalid or expiring), keep them rotated and
   * inject the CA into the webhook configurations: `--enable-cert-rotation`. Omit to serve whatever
   * appears in `certDir` (Coil's default; a mounted Secret).
   */
  readonly certRotation?: Omit<CertRotationOptions, "certDir">;
  /** Largest accepted request body; default 8 MiB. */
  readonly maxBodyBytes?: number;
  /** Logger; default silent. */
  readonly log?: WebhookLogger;
}

/** A running webhook server. */
export interface WebhookServer {
  /** The bound port. */
  readonly port: number;
  /** The reloader serving the key pair. */
  readonly certs: CertReloader;
  /** The rotator, when `certRotation` was given. */
  readonly rotation: CertRotation | undefined;
  /** Listening and a key pair is loaded (triggers a load attempt when none is yet). */
  ready(): boolean;
  /** Connections handed to TLS so far, per certificate generation (`LoadedCert.generation`). */
  connectionsByGeneration(): ReadonlyMap<number, number>;
  /** A real TLS dial to the server (controller-runtime's StartedChecker). */
  checkReady(): Promise<boolean>;
  /** Stop accepting, close open connections and stop rotation. */
  close(): Promise<void>;
}

const silent: WebhookLogger = { info: () => undefined, error: () => undefined };

function serve(req: IncomingMessage, res: ServerResponse, maxBody: number, log: WebhookLogger, handle: WebhookHandler): void {
  const chunks: Buffer[] = [];
  let size = 0;
  req.on("data", (c: Buffer) => {
    size += c.length;
    if (size <= maxBody) chunks.push(c);
  });
  req.on("end", () => {
    const reply = (status: number, body: unknown): void => {
      const text = JSON.stringify(body);
      res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
      res.end(text);
    };
    if (size > maxBody) return reply(413, { error: `request body larger than ${maxBody} bytes` });
    const out = handle({
      method: req.method ?? "",
      path: req.url ?? "/",
      contentType: req.headers["content-type"],
      body: Buffer.concat(chunks).toString("utf8"),
    });
    if (out.status !== 200) log.error("webhook request rejected", { status: out.status, path: req.url });
    reply(out.status, out.body);
  });
  req.on("error", (e) => log.error("webhook request read failed", { error: e.message }));
}

/** Start the webhook server; resolves once it listens (certificates may still be missing). */
export async function startWebhookServer(opts: WebhookServerOptions): Promise<WebhookServer> {
  const log = opts.log ?? silent;
  const maxBody = opts.maxBodyBytes ?? 8 << 20;
  const certs = new CertReloader({
    ...certDirFiles(opts.certDir),
    onError: (e) => log.error("certificate reload failed; serving the cached certificate", { error: e.message }),
  });
  const rotation = opts.certRotation === undefined ? undefined : startCertRotation({ ...opts.certRotation, certDir: opts.certDir });
  const https: HttpsServer = createHttpsServer({ minVersion: "TLSv1.2" }, (req, res) => serve(req, res, maxBody, log, opts.handle));
  https.on("tlsClientError", (e) => log.error("TLS handshake failed", { error: e.message }));
  let generation = 0;
  const perGeneration = new Map<number, number>();
  const sockets = new Set<Socket>();
  /** Pass a paused connection to the TLS server with the current certificate, or close it. */
  const handOver = async (socket: Socket): Promise<void> => {
    let pair: Awaited<ReturnType<typeof certs.get>>;
    try {
      pair = await certs.get();
    } catch (e) {
      log.error("no serving certificate; closing connection", { error: e instanceof Error ? e.message : JSON.stringify(e) });
      socket.destroy();
      return;
    }
    if (socket.destroyed) return;
    if (pair.generation !== generation) {
      https.setSecureContext({ cert: pair.cert, key: pair.key });
      generation = pair.generation;
      log.info("serving certificate loaded", { serial: pair.serial, notAfter: pair.notAfter.toISOString() });
    }
    perGeneration.set(generation, (perGeneration.get(generation) ?? 0) + 1);
    https.emit("connection", socket);
  };
  const front = createNetServer({ pauseOnConnect: true }, (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    void handOver(socket);
  });
  front.listen(opts.port, opts.host === "" ? undefined : opts.host);
  await once(front, "listening");
  const addr = front.address();
  const port = typeof addr === "object" && addr !== null ? addr.port : opts.port;
  const dialHost = opts.host === undefined || opts.host === "" || opts.host === "0.0.0.0" || opts.host === "::" ? "127.0.0.1" : opts.host;
  return {
    port,
    certs,
    rotation,
    ready: () => {
      if (!front.listening) return false;
      if (certs.current() === undefined) certs.get().catch(() => undefined);
      return certs.current() !== undefined;
    },
    connectionsByGeneration: () => perGeneration,
    checkReady: () => tlsDial(dialHost, port),
    close: async () => {
      rotation?.stop();
      const closed = new Promise<void>((r) => front.close(() => r()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

function tlsDial(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tlsConnect({ host, port, rejectUnauthorized: false, timeout: 5000 }, () => {
      s.end();
      resolve(true);
    });
    s.on("error", () => resolve(false));
    s.on("timeout", () => {
      s.destroy();
      resolve(false);
    });
  });
}

/** A running webhook server, as a controller sees it (readiness and stop). */
export interface WebhookHandle {
  /** Readiness (`webhook` check): e.g. a TLS dial succeeds. */
  ready(): Promise<boolean> | boolean;
  /** Stop serving. */
  close(): Promise<void>;
}

/** Starts a controller's admission webhooks (each controller's `webhook-start.ts` makes one). */
export type StartWebhook = (o: {
  readonly addr: ListenAddr;
  readonly certDir: string;
  readonly enableCertRotation: boolean;
  readonly enableRestartOnCertRefresh: boolean;
  /** The controller's API clients: `admission` injects the CA under `--enable-cert-rotation`. */
  readonly clients: { readonly admission: WebhookConfigurationCalls };
  readonly log: Logger;
}) => Promise<WebhookHandle>;
