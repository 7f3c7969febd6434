/** The metrics (`/metrics`) and health (`/healthz`, `/readyz`) HTTP endpoints. */
import { createServer, type Server } from "node:http";
import { once } from "node:events";
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

async function listen(server: Server, addr: ListenAddr): Promise<Listening> {
  server.listen(addr.port, addr.host === "" ? undefined : addr.host);
  await once(server, "listening");
  const a = server.address();
  const port = typeof a === "object" && a !== null ? a.port : addr.port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Serve Prometheus text at `/metrics`. */
export function serveMetrics(addr: ListenAddr, registry: Registry): Promise<Listening> {
  const server = createServer((req, res) => {
    if (req.url?.split("?")[0] !== "/metrics") {
      res.writeHead(404).end("not found\n");
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
      (e: unknown) => res.writeHead(500).end(`${String(e)}\n`),
    );
  });
  return listen(server, addr);
}

/** Serve `/healthz` (always ok while running) and `/readyz` (all checks pass). */
export function serveHealth(addr: ListenAddr, readyChecks: readonly ReadyCheck[]): Promise<Listening> {
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
    void Promise.all(readyChecks.map(async (c) => [c.name, await Promise.resolve(c.check()).catch(() => false)] as const)).then((results) => {
      const failed = results.filter(([, okay]) => !okay).map(([n]) => n);
      if (failed.length === 0) res.writeHead(200, { "content-type": "text/plain" }).end("ok");
      else res.writeHead(500, { "content-type": "text/plain" }).end(`failed: ${failed.join(",")}\n`);
    });
  });
  return listen(server, addr);
}
