/**
 * A recording HTTP → HTTPS proxy in front of the test kube-apiserver: a program is given a
 * kubeconfig whose server is the proxy (plain HTTP on 127.0.0.1, `insecure-skip-tls-verify` so
 * client-node accepts it) and whose user is a ServiceAccount token; the proxy forwards every request
 * unchanged (the token included, so the API server's RBAC decides) and records what the API server's
 * authorizer sees — (apiGroup, resource, subresource, verb, namespace, name) as Kubernetes'
 * RequestInfo derives them — together with the response status. Watches are streamed through.
 */
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { request as httpsRequest } from "node:https";
import type { AddressInfo, Socket } from "node:net";

/** RBAC attributes of one resource request, and how the API server answered. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly group: string;
  readonly resource: string;
  /** e.g. `status`; "" when none. */
  readonly subresource: string;
  readonly verb: string;
  readonly namespace: string;
  /** "" for collection requests (a `metadata.name=` field selector does not count here). */
  readonly name: string;
  readonly status: number;
}

/** A non-resource request (discovery, /version, ...). */
export interface RecordedNonResource {
  readonly method: string;
  readonly path: string;
  readonly status: number;
}

/** The RBAC attributes Kubernetes' RequestInfoFactory derives for a resource URL, or undefined for non-resource URLs. */
export function requestAttributes(method: string, url: string): Omit<RecordedRequest, "status" | "method" | "path"> | undefined {
  const u = new URL(url, "http://x");
  const parts = u.pathname.split("/").filter((p) => p !== "");
  let group: string;
  let rest: string[];
  if (parts[0] === "api" && parts.length >= 2) {
    group = "";
    rest = parts.slice(2);
  } else if (parts[0] === "apis" && parts.length >= 3) {
    group = parts[1] ?? "";
    rest = parts.slice(3);
  } else return undefined;
  if (rest.length === 0) return undefined;
  let namespace = "";
  // /namespaces/<ns>/<resource>... is namespaced; /namespaces and /namespaces/<name>[/<sub>] are the Namespace resource.
  if (rest[0] === "namespaces" && rest.length >= 3) {
    namespace = rest[1] ?? "";
    rest = rest.slice(2);
  }
  const [resource = "", name = "", subresource = ""] = rest;
  const watch = u.searchParams.get("watch");
  const isWatch = watch === "true" || watch === "1";
  let verb: string;
  switch (method.toUpperCase()) {
    case "GET":
    case "HEAD":
      verb = isWatch ? "watch" : name === "" ? "list" : "get";
      break;
    case "POST":
      verb = "create";
      break;
    case "PUT":
      verb = "update";
      break;
    case "PATCH":
      verb = "patch";
      break;
    case "DELETE":
      verb = name === "" ? "deletecollection" : "delete";
      break;
    default:
      verb = method.toLowerCase();
  }
  return { group, resource, subresource, verb, namespace, name };
}

/** A running recorder. */
export interface ApiRecorder {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Resource requests in arrival order (recorded when the response head arrives). */
  readonly requests: RecordedRequest[];
  /** Non-resource requests. */
  readonly nonResource: RecordedNonResource[];
  /** A kubeconfig (YAML) for this proxy with `token` as the user's bearer token. */
  kubeconfig(token: string): string;
  /** Stop accepting, cut open watches. */
  close(): Promise<void>;
}

/** Start a recorder forwarding to `server` (https), trusting the CA of the admin kubeconfig's cluster. */
export async function startApiRecorder(o: { readonly server: string; readonly ca: Buffer | string }): Promise<ApiRecorder> {
  const upstream = new URL(o.server);
  const requests: RecordedRequest[] = [];
  const nonResource: RecordedNonResource[] = [];
  const sockets = new Set<Socket>();
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const method = req.method ?? "GET";
    const path = req.url ?? "/";
    const headers = { ...req.headers, host: upstream.host };
    const up = httpsRequest({ host: upstream.hostname, port: upstream.port, method, path, headers, ca: o.ca }, (ur) => {
      const status = ur.statusCode ?? 0;
      const attrs = requestAttributes(method, path);
      if (attrs === undefined) nonResource.push({ method, path, status });
      else requests.push({ method, path, ...attrs, status });
      res.writeHead(status, ur.headers);
      // Send the head now: a watch's body may stay empty for a minute (until the first bookmark),
      // and the client's watch call resolves only with the head.
      res.flushHeaders();
      ur.pipe(res);
      ur.on("error", () => res.destroy());
    });
    up.on("error", (e) => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
      res.end(`recorder: upstream error: ${e.message}`);
    });
    res.on("close", () => up.destroy());
    req.pipe(up);
  };
  const server: Server = createServer(handle);
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    nonResource,
    kubeconfig: (token) =>
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: recorder",
        "  cluster:",
        `    server: ${url}`,
        "    insecure-skip-tls-verify: true",
        "users:",
        "- name: sa",
        "  user:",
        `    token: ${token}`,
        "contexts:",
        "- name: recorder",
        "  context: {cluster: recorder, user: sa}",
        "current-context: recorder",
        "",
      ].join("\n"),
    close: async () => {
      const closed = new Promise((r) => server.close(r));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

/** The CA the admin kubeconfig trusts (`certificate-authority-data`), for {@link startApiRecorder}. */
export async function kubeconfigCa(path: string): Promise<Buffer> {
  const text = await readFile(path, "utf8");
  const m = /certificate-authority-data:\s*(\S+)/.exec(text);
  if (m?.[1] === undefined) throw new Error(`${path}: no certificate-authority-data`);
  return Buffer.from(m[1], "base64");
}
