/**
 * A measuring instrument, not a product: the least a Node.js program can do to answer BlockRequests
 * with the requests Coil's protocol needs, for bench:ipam-controller's `--floor`. It shows what
 * the runtime itself costs per request (node:https, JSON, the event loop), apart from everything the
 * real coil-ipam-controller adds (informer caches, work queues, backoff, leader election, metrics,
 * logs, validation, the pool's bookkeeping; adapters/ipam-controller).
 *
 * Per request it does what both real controllers do: the BlockRequest's watch event in, the
 * AddressBlock CREATE (the same object ours creates: pool-manager.ts' `renderBlock` over lib's pool
 * layout) and its watch event in, the status PUT and its watch event in. It keeps no cache beyond
 * the used block indexes (one index space: one pool), trusts its input, never retries, and has no
 * leader election: do not run it against a cluster anyone uses. The kubeconfig is read by the
 * project's loader (start-up only).
 *
 * Usage (the bench does this): `KUBECONFIG=<file> node floor-controller.mjs [--max-concurrent-reconciles=N] [other flags ignored]`;
 * prints `{"msg":"starting controllers"}` once its two watches are open.
 */

import { Agent, request } from "node:https";
import type { IncomingMessage } from "node:http";
import { loadApiConnection } from "../adapters/k8s/kubeconfig.js";
import { renderBlock } from "../adapters/ipam-controller/pool-manager.js";
import type { AddressPoolObject } from "../adapters/k8s/coil-types.js";
import { blockAt } from "../lib/ipam/block.js";

interface Meta {
  name: string;
  uid?: string;
  resourceVersion?: string;
  managedFields?: unknown;
}
interface Obj {
  metadata: Meta;
  spec?: { nodeName?: string; poolName?: string };
  status?: { conditions?: unknown[] };
  index?: number;
}

if (process.argv.includes("--version")) {
  console.log("floor-controller (bench instrument)");
  process.exit(0);
}
process.on("SIGTERM", () => process.exit(0)); // an orderly exit: `node --cpu-prof` writes its profile then

const workersFlag = process.argv.find((a) => a.startsWith("--max-concurrent-reconciles="));
const WORKERS = workersFlag === undefined ? 16 : Number(workersFlag.split("=")[1]);

// Start-up only: the project's kubeconfig loader (KUBECONFIG with a client certificate, as the bench writes it).
const conn = loadApiConnection({ env: process.env })._unsafeUnwrap();
const server = new URL(conn.server);
const agent = new Agent({ keepAlive: true, maxSockets: WORKERS + 8, ...(await conn.tls()) });
const API = "/apis/coil.cybozu.com/v2";

function call(method: string, path: string, body?: unknown): Promise<Obj & { items?: Obj[] }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      { host: server.hostname, port: server.port, method, path, agent, headers: { accept: "application/json", ...(data === undefined ? {} : { "content-type": "application/json" }) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString();
          if ((res.statusCode ?? 0) >= 300) reject(new Error(`${method} ${path}: ${String(res.statusCode)} ${text}`));
          else resolve(JSON.parse(text) as Obj);
        });
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}

/** A watch from `rv`: each event's object to `on`. */
function watch(path: string, rv: string, on: (type: string, o: Obj) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ host: server.hostname, port: server.port, path: `${path}?watch=true&resourceVersion=${rv}&allowWatchBookmarks=false`, agent, headers: { accept: "application/json" } }, (res: IncomingMessage) => {
      if (res.statusCode !== 200) return reject(new Error(`watch ${path}: ${String(res.statusCode)}`));
      let buf = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        buf += c;
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const e = JSON.parse(buf.slice(0, nl)) as { type: string; object: Obj };
          buf = buf.slice(nl + 1);
          on(e.type, e.object);
        }
      });
      resolve();
    });
    req.on("error", reject);
    req.end();
  });
}

const used = new Set<number>(); // the pool's block indexes taken (watched) or reserved (CREATE in flight)
const pools = new Map<string, AddressPoolObject>();
const seen = new Set<string>(); // requests already being answered
const queue: Obj[] = [];
let running = 0;

async function answer(br: Obj): Promise<void> {
  const poolName = br.spec?.poolName ?? "";
  let pool = pools.get(poolName);
  if (pool === undefined) {
    pool = (await call("GET", `${API}/addresspools/${poolName}`)) as unknown as AddressPoolObject;
    pools.set(poolName, pool);
  }
  let index = 0;
  while (used.has(index)) index++;
  used.add(index);
  // The object ours creates (pool-manager.ts' renderBlock), the CIDRs from lib's pool layout.
  const body = renderBlock(pool, { node: br.spec?.nodeName ?? "", uid: br.metadata.uid ?? "", ...blockAt(pool.spec, index)._unsafeUnwrap() });
  const name = body.metadata.name;
  await call("POST", `${API}/addressblocks`, { apiVersion: "coil.cybozu.com/v2", kind: "AddressBlock", ...body });
  const t = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const { managedFields: _m, ...metadata } = br.metadata;
  await call("PUT", `${API}/blockrequests/${br.metadata.name}/status`, {
    ...br,
    metadata,
    status: { addressBlockName: name, conditions: [{ type: "Complete", status: "True", reason: "allocated", message: `allocated a block ${name}`, lastProbeTime: t, lastTransitionTime: t }] },
  });
}

function pump(): void {
  while (running < WORKERS && queue.length > 0) {
    const br = queue.shift() as Obj;
    running++;
    answer(br)
      .catch((e: unknown) => process.stderr.write(`${JSON.stringify({ msg: "failed", request: br.metadata.name, error: String(e) })}\n`))
      .finally(() => {
        running--;
        pump();
      });
  }
}

function onRequest(type: string, br: Obj): void {
  if (type === "DELETED") return void seen.delete(br.metadata.name);
  if ((br.status?.conditions ?? []).length > 0 || seen.has(br.metadata.name)) return;
  seen.add(br.metadata.name);
  queue.push(br);
  pump();
}

const blocks = await call("GET", `${API}/addressblocks`);
for (const b of blocks.items ?? []) used.add(b.index ?? -1);
await watch(`${API}/addressblocks`, blocks.metadata.resourceVersion ?? "", (type, b) => {
  if (type === "ADDED") used.add(b.index ?? -1);
  else if (type === "DELETED") used.delete(b.index ?? -1);
});
const requests = await call("GET", `${API}/blockrequests`);
await watch(`${API}/blockrequests`, requests.metadata.resourceVersion ?? "", onRequest);
process.stderr.write(`${JSON.stringify({ level: "info", msg: "starting controllers" })}\n`);
for (const br of requests.items ?? []) onRequest("ADDED", br);
