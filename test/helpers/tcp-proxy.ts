/**
 * Small proxies a test owns, in front of a real server (the test API server):
 *
 * - {@link startTcpProxy}: forwards TCP connections to one target and can be frozen — every byte
 *   held in both directions, connections kept open, new ones accepted and held too — which is what
 *   a hung network or a hung API server looks like to a client (no error, no answer).
 * - {@link startConnectProxy}: an HTTP proxy answering `CONNECT host:port` (the tunnel a client opens
 *   for an https server) and absolute-form plain-HTTP requests, recording what it was asked for.
 *
 * Both listen on 127.0.0.1 (an ephemeral port) in the test's own network namespace and are stopped
 * by `close()` (connections destroyed).
 */
import { connect, createServer, type Server, type Socket } from "node:net";
import { request as httpRequest, createServer as createHttpServer } from "node:http";

/** A running {@link startTcpProxy}. */
export interface TcpProxy {
  /** The port it listens on (127.0.0.1). */
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: () => number;
  /** Hold every byte of the open connections and of new ones (they are accepted, never forwarded). */
  freeze(): void;
  /** Hold the bytes of the connections open now only; new connections are forwarded as usual. */
  freezeOpen(): void;
  /** Stop holding; held bytes flow on. */
  thaw(): void;
  /** Destroy every connection and stop listening. */
  close(): Promise<void>;
}

interface Pair {
  readonly client: Socket;
  upstream: Socket | undefined;
  frozen: boolean;
}

/** Forward 127.0.0.1:<ephemeral> to `host:port` (see {@link TcpProxy}). */
export async function startTcpProxy(host: string, port: number): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let frozenForNew = false;
  let accepted = 0;
  const hold = (p: Pair): void => {
    p.frozen = true;
    p.client.pause();
    p.upstream?.pause();
  };
  const release = (p: Pair): void => {
    p.frozen = false;
    if (p.upstream === undefined) open(p);
    p.client.resume();
    p.upstream?.resume();
  };
  // Data is written by hand (not piped) so that a paused pair keeps what it read: `pause()` stops
  // the reads, and bytes already read before it are forwarded only while not frozen.
  const open = (p: Pair): void => {
    const u = connect({ host, port, noDelay: true });
    p.upstream = u;
    u.on("data", (d) => {
      if (p.frozen) {
        u.pause();
        u.unshift(d);
      } else p.client.write(d);
    });
    u.on("error", () => p.client.destroy());
    u.on("close", () => p.client.destroy());
  };
  const server: Server = createServer({ noDelay: true }, (client) => {
    accepted++;
    const p: Pair = { client, upstream: undefined, frozen: false };
    pairs.add(p);
    client.on("data", (d) => {
      if (p.frozen || p.upstream === undefined) {
        client.pause();
        client.unshift(d);
      } else p.upstream.write(d);
    });
    client.on("error", () => p.upstream?.destroy());
    client.on("close", () => {
      p.upstream?.destroy();
      pairs.delete(p);
    });
    if (frozenForNew) hold(p);
    else open(p);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("tcp proxy: no port");
  return {
    port: address.port,
    accepted: () => accepted,
    freeze: () => {
      frozenForNew = true;
      for (const p of pairs) hold(p);
    },
    freezeOpen: () => {
      for (const p of pairs) hold(p);
    },
    thaw: () => {
      frozenForNew = false;
      for (const p of pairs) release(p);
    },
    close: async () => {
      for (const p of pairs) {
        p.client.destroy();
        p.upstream?.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A running {@link startConnectProxy}. */
export interface ConnectProxy {
  /** `http://127.0.0.1:<port>` (with the user info when it requires authentication). */
  readonly url: string;
  /** What it was asked for, in order: `CONNECT host:port` or `GET http://…` (method and target). */
  readonly requests: string[];
  /** The `Proxy-Authorization` headers it received, in order (`""` when none). */
  readonly authorizations: string[];
  /** Destroy every connection and stop listening. */
  close(): Promise<void>;
}

/**
 * An HTTP proxy on 127.0.0.1: `CONNECT` tunnels to any host:port, plain requests in absolute form
 * forwarded. With `auth` (`user:password`, percent-encoded as in a URL) it answers 407 to requests without that
 * `Proxy-Authorization: Basic …`. `hosts` maps names only the proxy knows to addresses (a server
 * clients can reach through the proxy only).
 */
export async function startConnectProxy(o: { readonly auth?: string; readonly hosts?: Readonly<Record<string, string>> } = {}): Promise<ConnectProxy> {
  const lookup = (h: string): string => o.hosts?.[h] ?? h;
  const requests: string[] = [];
  const authorizations: string[] = [];
  const sockets = new Set<Socket>();
  // The user info as a URL carries it (percent-encoded); the header has it decoded.
  const expected = o.auth === undefined ? undefined : `Basic ${Buffer.from(o.auth.split(":").map(decodeURIComponent).join(":")).toString("base64")}`;
  const allowed = (h: string | undefined): boolean => {
    authorizations.push(h ?? "");
    return expected === undefined || h === expected;
  };
  const server = createHttpServer((req, res) => {
    requests.push(`${req.method ?? ""} ${req.url ?? ""}`);
    if (!allowed(req.headers["proxy-authorization"])) {
      res.writeHead(407, { "Proxy-Authenticate": 'Basic realm="test"' }).end();
      return;
    }
    const target = new URL(req.url ?? "");
    const headers = { ...req.headers };
    delete headers["proxy-authorization"];
    const up = httpRequest({ host: lookup(target.hostname), port: target.port, path: target.pathname + target.search, method: req.method ?? "GET", headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("connect", (req, client: Socket, head: Buffer) => {
    requests.push(`CONNECT ${req.url ?? ""}`);
    if (!allowed(req.headers["proxy-authorization"])) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const [host = "", port = ""] = (req.url ?? "").split(/:(?=\d+$)/);
    const up = connect({ host: lookup(host.replace(/^\[|\]$/g, "")), port: Number(port), noDelay: true }, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) up.write(head);
      client.pipe(up);
      up.pipe(client);
    });
    sockets.add(up);
    up.on("close", () => sockets.delete(up));
    up.on("error", () => client.destroy());
    client.on("error", () => up.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("connect proxy: no port");
  return {
    url: `http://${o.auth === undefined ? "" : `${o.auth}@`}127.0.0.1:${address.port}`,
    requests,
    authorizations,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
