/** The metrics (`/metrics`) and health (`/healthz`, `/readyz`) HTTP endpoints. */
import { createServer, type Server, type ServerResponse } from "node:http";
import { once } from "node:events";
import { err, ok, type Result } from "neverthrow";
import type { Registry } from "prom-client";
import type { ListenAddr } from "./flags.js";

/** A named readiness check. */
export interface ReadyCheck {
  /** Check name (`ping`, `webhook`). */
  readonly name: string;
  /** Whether it passes. */
  readonly check: () => Promise<boolean> | boolean;
}

/** A listening server and the port it got. */
export interface Listening {
  /** Bound port (useful with port 0). */
  readonly port: number;
  /** Stop listening. */
  close(): Promise<void>;
}

/** Why an endpoint could not start listening (the port is taken, the address is not local, …). */
export interface ListenError {
  readonly kind: "listen-failed";
  /** Which endpoint. */
  readonly endpoint: "metrics" | "health";
  /** Where it tried to listen. */
  readonly addr: ListenAddr;
  /** The socket error code (`EADDRINUSE`, `EADDRNOTAVAIL`, …), when there is one. */
  readonly code: string | undefined;
  /** What happened, naming the endpoint and the address. */
  readonly message: string;
}

async function listen(server: Server, addr: ListenAddr, endpoint: ListenError["endpoint"]): Promise<Result<Listening, ListenError>> {
  try {
    server.listen(addr.port, addr.host === "" ? undefined : addr.host);
    await once(server, "listening");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = e instanceof Error ? e.message : JSON.stringify(e);
    return err({ kind: "listen-failed", endpoint, addr, code, message: `cannot serve ${endpoint} on ${addr.host === "" ? "*" : addr.host}:${addr.port}: ${why}` });
  }
  const a = server.address();
  const port = typeof a === "object" && a !== null ? a.port : addr.port;
  return ok({
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

/** Answer one `/metrics` request (a failing collector is a 500 naming the error). */
async function answerMetrics(registry: Registry, res: ServerResponse): Promise<void> {
  try {
    const text = await registry.metrics();
    res.writeHead(200, { "content-type": registry.contentType }).end(text);
  } catch (e) {
    res.writeHead(500).end(`${e instanceof Error ? e.message : JSON.stringify(e)}\n`);
  }
}

/** Serve Prometheus text at `/metrics`. */
export function serveMetrics(addr: ListenAddr, registry: Registry): Promise<Result<Listening, ListenError>> {
  const server = createServer((req, res) => {
    if (req.url?.split("?")[0] !== "/metrics") {
      res.writeHead(404).end("not found\n");
      return;
    }
    void answerMetrics(registry, res);
  });
  return listen(server, addr, "metrics");
}

/** Answer one `/readyz` request: 200 when every check passes, else 500 naming the failed ones. */
async function answerReady(readyChecks: readonly ReadyCheck[], res: ServerResponse): Promise<void> {
  const passes = async (c: ReadyCheck): Promise<boolean> => {
    try {
      return await c.check();
    } catch {
      return false;
    }
  };
  const results = await Promise.all(readyChecks.map(async (c) => [c.name, await passes(c)] as const));
  const failed = results.filter(([, okay]) => !okay).map(([n]) => n);
  if (failed.length === 0) res.writeHead(200, { "content-type": "text/plain" }).end("ok");
  else res.writeHead(500, { "content-type": "text/plain" }).end(`failed: ${failed.join(",")}\n`);
}

/** Serve `/healthz` (always ok while running) and `/readyz` (all checks pass). */
export function serveHealth(addr: ListenAddr, readyChecks: readonly ReadyCheck[]): Promise<Result<Listening, ListenError>> {
  const server = createServer((req, res) => {
    const path = req.url?.split("?")[0];
    if (path === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
      return;
    }
    if (path !== "/readyz") {
      res.writeHead(404).end("not found\n");
      return;
    }
    void answerReady(readyChecks, res);
  });
  return listen(server, addr, "health");
}
