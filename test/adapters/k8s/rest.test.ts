/**
 * The REST client coil-ipam-controller runs on (adapters/k8s/rest.ts, rest-apis.ts), connected by
 * loadApiConnection from a real kubeconfig (client certificates) to a real kube-apiserver: Coil's
 * resources through `coilClient` (create, get, list with selectors and paging, merge patches with
 * and without a resourceVersion precondition, status PUT, delete with a uid precondition), API
 * errors as `K8sError` kinds, Nodes listed and watched as metadata only, Leases, webhook
 * configurations, the request observer, and watch refusals and transport failures. Robustness:
 * a request on a hung connection (accepted and never answered, stalled mid-body, or a frozen TCP
 * proxy in front of the API server), or queued behind one for the agent's only socket, fails at its
 * deadline with kind `timeout`; a watch that is never
 * answered ends at the deadline, and one that went silent is noticed by the idle guard and opened
 * again. A kubeconfig `proxy-url`: requests and watches (of loadApiConnection's connection and of a
 * client-node KubeConfig's informer) through an HTTP CONNECT proxy, to a server only it can reach.
 * Exec credential plugins (a script written here; the API server takes their tokens from a token
 * auth file): on a 401 the plugin runs again and the request is retried once; a token is renewed
 * 10 s before it expires; concurrent requests share one run; a plugin that hangs is killed at its
 * bound and the request fails with kind `credentials`.
 */
import t, { type Test } from "tap";
import { createServer as createHttpServer, type ServerResponse } from "node:http";
import { createServer, type Server, type Socket } from "node:net";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { Informer, coilClient, k8sCall, type ApiRequest, type BlockRequestObject, type KubeObject } from "../../../adapters/k8s/index.js";
import { loadApiConnection } from "../../../adapters/k8s/kubeconfig.js";
import { listNodeNames } from "../../../adapters/k8s/nodes.js";
import { RestClient } from "../../../adapters/k8s/rest.js";
import { METADATA_WATCH_ACCEPT, makeRestClients } from "../../../adapters/k8s/rest-apis.js";
import { startCoilControlPlaneOrSkip, waitFor } from "../../helpers/coil-envtest.js";
import { startConnectProxy, startTcpProxy } from "../../helpers/tcp-proxy.js";
import { scaledTimeout } from "../../helpers/wait.js";

/** Listen on 127.0.0.1:<ephemeral>; the port. */
async function listen(s: Server | ReturnType<typeof createHttpServer>): Promise<number> {
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const a = s.address();
  if (a === null || typeof a === "string") throw new Error("no port");
  return a.port;
}

const NO_AUTH = { tls: () => Promise.resolve({}), headers: () => Promise.resolve({}) };

// Tokens the API server accepts (system:masters), for the exec plugin's tests.
const authDir = mkdtempSync(join(tmpdir(), "coil-rest-auth-"));
t.teardown(() => rmSync(authDir, { recursive: true, force: true }));
const tokenFile = join(authDir, "tokens.csv");
writeFileSync(tokenFile, ["good-1", "good-2", "good-3"].map((tok, i) => `${tok},exec-user-${i},uid-${i},"system:masters"`).join("\n") + "\n");

const started = await startCoilControlPlaneOrSkip(t, { apiserverFlags: [`--token-auth-file=${tokenFile}`] });
if (started !== undefined) {
  const { cp, kc } = started;
  const seen: ApiRequest[] = [];
  const conn = loadApiConnection({ kubeconfig: cp.kubeconfigPath, env: {} })._unsafeUnwrap();
  const clients = makeRestClients(conn, { onRequest: (r) => void seen.push(r), nodeMetadataOnly: true });
  const coil = coilClient(clients.custom);
  const core = kc.makeApiClient(CoreV1Api);
  t.teardown(async () => {
    clients.destroy();
    await cp.stop();
  });

  await t.test("Coil resources: create, get, list, merge patches, status PUT, delete, and their errors", async (t) => {
    const pool = (await coil.pools.create({ metadata: { name: "p", labels: { team: "a" }, finalizers: ["coil.cybozu.com"] }, spec: { blockSizeBits: 5, subnets: [{ ipv4: "10.9.0.0/24" }] } }))._unsafeUnwrap();
    t.equal(pool.apiVersion, "coil.cybozu.com/v2");
    t.equal(pool.kind, "AddressPool");
    t.equal((await coil.pools.get("p"))._unsafeUnwrap().metadata.uid, pool.metadata.uid);
    t.equal((await coil.pools.get("nope"))._unsafeUnwrapErr().kind, "not-found");
    t.equal((await coil.pools.create({ metadata: { name: "p" }, spec: { blockSizeBits: 5, subnets: [{ ipv4: "10.9.0.0/24" }] } }))._unsafeUnwrapErr().kind, "already-exists");
    t.equal((await coil.pools.create({ metadata: { name: "Bad_Name" }, spec: { blockSizeBits: 5, subnets: [] } }))._unsafeUnwrapErr().kind, "invalid");
    (await coil.pools.create({ metadata: { name: "q", labels: { team: "b" } }, spec: { blockSizeBits: 5, subnets: [{ ipv4: "10.10.0.0/24" }] } }))._unsafeUnwrap();
    t.same((await coil.pools.list({ labelSelector: "team=a" }))._unsafeUnwrap().items.map((p) => p.metadata.name), ["p"], "label selector");
    const page = (await coil.pools.list({ limit: 1 }))._unsafeUnwrap();
    t.equal(page.items.length, 1);
    t.type(page.continue, "string", "a continue token");
    const rest = (await coil.pools.list({ limit: 1, continue: page.continue ?? "" }))._unsafeUnwrap();
    t.same([...page.items, ...rest.items].map((p) => p.metadata.name), ["p", "q"], "paging");

    const patched = (await coil.pools.mergePatch("p", { metadata: { labels: { team: "c" }, resourceVersion: pool.metadata.resourceVersion } }))._unsafeUnwrap();
    t.equal(patched.metadata.labels?.["team"], "c", "merge patch with the current resourceVersion");
    t.equal((await coil.pools.mergePatch("p", { metadata: { labels: { team: "d" }, resourceVersion: pool.metadata.resourceVersion } }))._unsafeUnwrapErr().kind, "conflict", "a stale one conflicts");
    t.same((await coil.pools.removeFinalizer(patched, "coil.cybozu.com"))?._unsafeUnwrap().metadata.finalizers, undefined, "finalizer removed");

    const req = (await coil.requests.create({ metadata: { name: "r" }, spec: { nodeName: "n", poolName: "p" } }))._unsafeUnwrap();
    const status = { addressBlockName: "p-0", conditions: [{ type: "Complete", status: "True", reason: "allocated", message: "x", lastProbeTime: "2026-01-01T00:00:00Z", lastTransitionTime: "2026-01-01T00:00:00Z" }] } as BlockRequestObject["status"];
    const written = (await coil.requests.replaceStatus({ ...req, ...(status === undefined ? {} : { status }) }))._unsafeUnwrap();
    t.equal(written.status?.addressBlockName, "p-0", "status PUT");
    t.equal((await coil.requests.replaceStatus({ ...req, ...(status === undefined ? {} : { status }) }))._unsafeUnwrapErr().kind, "conflict", "status PUT over a stale resourceVersion");
    t.equal((await coil.requests.mergePatchStatus("r", { status: { addressBlockName: "p-1" } }))._unsafeUnwrap().status?.addressBlockName, "p-1", "status merge patch");
    t.equal((await coil.requests.delete("r", { uid: "00000000-0000-0000-0000-000000000000" }))._unsafeUnwrapErr().kind, "conflict", "delete with another uid");
    t.ok((await coil.requests.delete("r", { uid: req.metadata.uid ?? "" })).isOk(), "delete with its uid");
    t.equal((await coil.requests.get("r"))._unsafeUnwrapErr().kind, "not-found");
  });

  await t.test("Nodes as metadata only: list and watch", async (t) => {
    await core.createNode({ body: { metadata: { name: "n1", labels: { a: "b" } }, spec: { podCIDR: "10.1.0.0/24" } } });
    const listed = (await k8sCall(() => clients.core.listNode({ limit: 500 })))._unsafeUnwrap();
    const n1 = listed.items.find((n) => n.metadata?.name === "n1") as (KubeObject & { spec?: unknown }) | undefined;
    t.equal(n1?.kind, "PartialObjectMetadata", "a PartialObjectMetadataList");
    t.same(n1?.metadata.labels, { a: "b" }, "metadata kept");
    t.equal(n1?.spec, undefined, "no spec");
    // The API server answers an empty PartialObjectMetadataList with `items: null`.
    t.same((await k8sCall(() => clients.core.listNode({ labelSelector: "no-such=label" })))._unsafeUnwrap().items, [], "an empty list has items []");
    // Paging: the continue token must reach the caller (a block GC that saw only the first page of
    // Nodes would collect the blocks of every Node past it).
    await core.createNode({ body: { metadata: { name: "n0-paging" } } });
    const page1 = (await k8sCall(() => clients.core.listNode({ limit: 1 })))._unsafeUnwrap();
    t.ok((page1.metadata?._continue ?? "") !== "", "a page of 1 of 2 Nodes carries the continue token as _continue");
    const pagedByOne = { listNode: (p: Parameters<typeof clients.core.listNode>[0] = {}) => clients.core.listNode({ ...p, limit: 1 }) };
    const names = (await listNodeNames(pagedByOne))._unsafeUnwrap();
    t.ok(names.has("n1") && names.has("n0-paging"), `listNodeNames pages through every Node (saw ${[...names].join(", ")})`);
    await core.deleteNode({ name: "n0-paging" });
    const events: Array<{ type: string; object: KubeObject & { spec?: unknown } }> = [];
    const inf = new Informer<KubeObject & { spec?: unknown }>({
      name: "nodes",
      kc: clients.rest,
      path: "/api/v1/nodes",
      accept: METADATA_WATCH_ACCEPT,
      list: () =>
        k8sCall(async () => {
          const l = await clients.core.listNode();
          return { items: l.items as unknown as Array<KubeObject & { spec?: unknown }>, resourceVersion: l.metadata?.resourceVersion ?? "" };
        }),
    });
    inf.on((e) => events.push(e));
    inf.start();
    await inf.waitSynced();
    await core.createNode({ body: { metadata: { name: "n2" }, spec: { podCIDR: "10.2.0.0/24" } } });
    await waitFor("n2 added through the watch", () => events.some((e) => e.type === "add" && e.object.metadata.name === "n2"));
    const added = events.find((e) => e.type === "add" && e.object.metadata.name === "n2");
    t.equal(added?.object.kind, "PartialObjectMetadata", "watch events carry PartialObjectMetadata");
    t.equal(added?.object.spec, undefined);
    await core.deleteNode({ name: "n2" });
    await waitFor("n2 deleted through the watch", () => events.some((e) => e.type === "delete" && e.object.metadata.name === "n2"));
    await inf.stop();
    t.pass("watch stopped");
  });

  await t.test("Leases and webhook configurations", async (t) => {
    const created = (await k8sCall(() => clients.coordination.createNamespacedLease({ namespace: "kube-system", body: { metadata: { name: "l", namespace: "kube-system" }, spec: { holderIdentity: "me" } } })))._unsafeUnwrap();
    const got = (await k8sCall(() => clients.coordination.readNamespacedLease({ namespace: "kube-system", name: "l" })))._unsafeUnwrap();
    t.equal(got.spec?.holderIdentity, "me");
    const renewed = (await k8sCall(() => clients.coordination.replaceNamespacedLease({ namespace: "kube-system", name: "l", body: { ...got, spec: { holderIdentity: "you" } } })))._unsafeUnwrap();
    t.equal(renewed.spec?.holderIdentity, "you");
    const stale = await k8sCall(() => clients.coordination.replaceNamespacedLease({ namespace: "kube-system", name: "l", body: { ...created, spec: { holderIdentity: "late" } } }));
    t.equal(stale._unsafeUnwrapErr().kind, "conflict", "a stale resourceVersion conflicts");
    t.equal((await k8sCall(() => clients.admission.readValidatingWebhookConfiguration({ name: "none" })))._unsafeUnwrapErr().kind, "not-found");
  });

  await t.test("every request is reported with its code, method and host", async (t) => {
    const host = new URL(cp.server).host;
    t.ok(seen.some((r) => r.code === "201" && r.method === "POST" && r.host === host), "a CREATE");
    t.ok(seen.some((r) => r.code === "404" && r.method === "GET"), "a GET of a missing object");
    t.ok(seen.some((r) => r.code === "409" && r.method === "PUT"), "a conflict");
  });

  await t.test("a refused watch and an unreachable server", async (t) => {
    const done = await new Promise<unknown>((resolve) => void clients.rest.watch("/apis/coil.cybozu.com/v2/nothings", {}, () => undefined, resolve));
    t.equal((done as { statusCode?: number }).statusCode, 404, "done() with the status of a refused watch");
    const gone = new RestClient({ server: "https://127.0.0.1:1", tls: () => Promise.resolve({}), headers: () => Promise.resolve({}) }, { onRequest: (r) => void seen.push(r) });
    const e = await k8sCall(() => gone.request({ method: "GET", path: "/api/v1/nodes" }));
    t.equal(e._unsafeUnwrapErr().kind, "network", "no answer: a network error");
    t.ok(seen.some((r) => r.code === "<error>" && r.host === "127.0.0.1:1"), "reported as <error>");
    const bad = new RestClient({ server: "not a url", tls: () => Promise.resolve({}), headers: () => Promise.resolve({}) });
    t.match((await k8sCall(() => bad.request({ method: "GET", path: "/" })))._unsafeUnwrapErr().message, /does not parse/);
    gone.destroy();
  });

  await t.test("a request on a hung connection fails at its deadline with kind timeout", async (t) => {
    // Accepts, never answers.
    const held: Socket[] = [];
    const silent = createServer((c) => void held.push(c));
    // Answers the headers and part of the body, then nothing.
    const stalling: ServerResponse[] = [];
    const stalled = createHttpServer((_req, res) => {
      res.writeHead(200, { "Content-Type": "application/json", "Content-Length": "100" });
      res.write('{"items": [');
      stalling.push(res);
    });
    const [silentPort, stalledPort] = [await listen(silent), await listen(stalled)];
    t.teardown(() => {
      for (const c of held) c.destroy();
      for (const r of stalling) r.destroy();
      silent.close();
      stalled.close();
    });
    const observed: ApiRequest[] = [];
    for (const [what, port] of [["accepted, never answered", silentPort], ["stalled mid-body", stalledPort]] as const) {
      const c = new RestClient({ server: `http://127.0.0.1:${port}`, ...NO_AUTH }, { timeoutMs: 300, onRequest: (r) => void observed.push(r) });
      const t0 = Date.now();
      const e = (await k8sCall(() => c.request({ method: "GET", path: "/api/v1/nodes" })))._unsafeUnwrapErr();
      const took = Date.now() - t0;
      t.equal(e.kind, "timeout", `${what}: kind timeout (${e.message})`);
      t.match(e.message, /GET \/api\/v1\/nodes: no complete answer from the API server within 300 ms/);
      t.ok(took >= 290 && took < scaledTimeout(3_000), `${what}: failed at its deadline (${took} ms)`);
      // A deadline of the request's own wins over the client's; the caller's signal aborts it.
      const own = Date.now();
      t.equal((await k8sCall(() => c.request({ method: "GET", path: "/x", timeoutMs: 100 })))._unsafeUnwrapErr().kind, "timeout");
      t.ok(Date.now() - own < 290, "the request's own, shorter deadline");
      const ac = new AbortController();
      setImmediate(() => ac.abort());
      t.equal((await k8sCall(() => c.request({ method: "GET", path: "/x", signal: ac.signal, timeoutMs: 0 })))._unsafeUnwrapErr().kind, "aborted", "the caller's abort");
      t.equal((await k8sCall(() => c.request({ method: "GET", path: "/x", signal: AbortSignal.timeout(50), timeoutMs: 0 })))._unsafeUnwrapErr().kind, "timeout", "the caller's AbortSignal.timeout");
      c.destroy();
    }
    t.same(new Set(observed.map((r) => r.code)), new Set(["<error>"]), "each reported as <error>");

    // One socket, held by a request that hangs: a second request waits in the agent's queue, and its
    // own deadline (or its caller's abort) ends it there, not when the first one gives the socket back.
    const one = new RestClient({ server: `http://127.0.0.1:${silentPort}`, ...NO_AUTH }, { timeoutMs: 20_000, maxSockets: 1 });
    const connected = held.length;
    const holding = k8sCall(() => one.request({ method: "GET", path: "/held" }));
    await waitFor("the holding request's connection", () => held.length === connected + 1);
    const q0 = Date.now();
    const queued = (await k8sCall(() => one.request({ method: "GET", path: "/queued", timeoutMs: 300 })))._unsafeUnwrapErr();
    const waited = Date.now() - q0;
    t.equal(queued.kind, "timeout", `queued for a socket: kind timeout (${queued.message})`);
    t.ok(waited >= 290 && waited < 5_000, `queued for a socket: failed at its own deadline (${waited} ms), not when the socket came back (20 s)`);
    const qa = new AbortController();
    setImmediate(() => qa.abort());
    const aborted = (await k8sCall(() => one.request({ method: "GET", path: "/queued", signal: qa.signal, timeoutMs: 0 })))._unsafeUnwrapErr();
    t.equal(aborted.kind, "aborted", "queued for a socket: the caller's abort ends it");
    t.equal(held.length, connected + 1, "the queued requests never got a connection of their own");
    one.destroy();
    t.ok((await holding).isErr(), "the request holding the socket ends with the client");

    // The real API server behind a TCP proxy that freezes: the open keep-alive socket and new ones hang.
    const proxy = await startTcpProxy("127.0.0.1", Number(new URL(cp.server).port));
    t.teardown(() => proxy.close());
    const viaProxy = new RestClient({ ...conn, server: `https://127.0.0.1:${proxy.port}` }, { timeoutMs: 1_000 });
    t.teardown(() => viaProxy.destroy());
    const custom = coilClient(makeRestClients({ ...conn, server: `https://127.0.0.1:${proxy.port}` }, { timeoutMs: 1_000 }).custom);
    t.ok((await k8sCall(() => viaProxy.request({ method: "GET", path: "/api/v1/namespaces/kube-system" }))).isOk(), "through the proxy");
    proxy.freeze();
    const e = (await k8sCall(() => viaProxy.request({ method: "GET", path: "/api/v1/namespaces/kube-system" })))._unsafeUnwrapErr();
    t.equal(e.kind, "timeout", "frozen: timeout");
    t.equal((await custom.pools.list())._unsafeUnwrapErr().kind, "timeout", "the typed clients too (makeRestClients' timeoutMs)");
    proxy.thaw();
    t.ok((await k8sCall(() => viaProxy.request({ method: "GET", path: "/api/v1/namespaces/kube-system" }))).isOk(), "thawed: answered again");
  });

  await t.test("watches: no answer ends at the deadline; a silent one is noticed by the idle guard and re-opened", async (t) => {
    const proxy = await startTcpProxy("127.0.0.1", Number(new URL(cp.server).port));
    t.teardown(() => proxy.close());
    const proxied = makeRestClients({ ...conn, server: `https://127.0.0.1:${proxy.port}` }, { timeoutMs: 1_500 });
    t.teardown(() => proxied.destroy());

    proxy.freeze();
    const t0 = Date.now();
    const refused = await new Promise<unknown>((resolve) => void proxied.rest.watch("/api/v1/nodes", {}, () => undefined, resolve));
    t.equal((refused as { kind?: string }).kind, "timeout", `an unanswered watch ends with a timeout (${String(refused)})`);
    t.ok(Date.now() - t0 < scaledTimeout(5_000), "at the deadline");
    proxy.thaw();

    // An answered watch has no total deadline: it outlives the request deadline while events flow.
    const events: Array<{ type: string; name: string }> = [];
    const watches: string[] = [];
    const logged: string[] = [];
    const note = (level: string) => (msg: string): void => void logged.push(`${level} ${msg}`);
    const inf = new Informer<KubeObject>({
      name: "nodes-idle",
      kc: proxied.rest,
      log: { debug: note("debug"), info: note("info"), warn: note("warn"), error: note("error") },
      path: "/api/v1/nodes",
      watchIdleTimeoutMs: 1_000,
      onRequest: (r) => void watches.push(r.code),
      list: () =>
        k8sCall(async () => {
          const l = await proxied.core.listNode();
          return { items: l.items as unknown as KubeObject[], resourceVersion: l.metadata?.resourceVersion ?? "" };
        }),
    });
    inf.on((e) => events.push({ type: e.type, name: e.object.metadata.name }));
    inf.start();
    t.teardown(() => inf.stop());
    await inf.waitSynced();
    // The watch (and every other open connection) goes silent, as behind a dead peer; new
    // connections still pass. Only the idle guard can tell.
    await waitFor("the watch open", () => watches.includes("200"));
    proxy.freezeOpen();
    await core.createNode({ body: { metadata: { name: "after-freeze" } } });
    await waitFor("the Node created after the freeze seen through a re-opened watch", () => events.some((e) => e.type === "add" && e.name === "after-freeze"), {
      describe: () => ({ events, accepted: proxy.accepted() }),
    });
    t.pass("re-opened");
    t.ok(logged.includes("info watch idle, re-opening"), `the idle end is logged as such (${logged.join("; ")})`);
    t.notOk(logged.some((l) => l.startsWith("warn ")), "and not as a failure (no warning, no backoff)");
    await core.deleteNode({ name: "after-freeze" });
  });

  await t.test("kubeconfig proxy-url: requests and watches through an HTTP CONNECT proxy", async (t) => {
    const port = new URL(cp.server).port;
    // api.coil.test resolves nowhere but in the proxy: only what goes through it reaches the server.
    const proxy = await startConnectProxy({ auth: "coil:s3cr%40t", hosts: { "api.coil.test": "127.0.0.1" } });
    const dir = mkdtempSync(join(tmpdir(), "coil-rest-proxy-"));
    t.teardown(async () => {
      await proxy.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const path = join(dir, "kubeconfig");
    writeFileSync(path, readFileSync(cp.kubeconfigPath, "utf8").replace(/^ {4}server: .*$/m, `    server: https://api.coil.test:${port}\n    tls-server-name: localhost\n    proxy-url: ${proxy.url}`));
    const listWatch = async (t: Test, name: string, kc: RestClient | KubeConfig, listNodes: () => Promise<{ items: unknown[]; metadata?: { resourceVersion?: string } }>): Promise<void> => {
      const seen: string[] = [];
      const inf = new Informer<KubeObject>({
        name,
        kc,
        path: "/api/v1/nodes",
        list: () =>
          k8sCall(async () => {
            const l = await listNodes();
            return { items: l.items as KubeObject[], resourceVersion: l.metadata?.resourceVersion ?? "" };
          }),
      });
      inf.on((e) => void (e.type === "add" && seen.push(e.object.metadata.name)));
      inf.start();
      t.teardown(() => inf.stop());
      await waitFor(`${name}: listed through the proxy`, () => inf.hasSynced, { describe: () => ({ proxied: proxy.requests }) });
      await core.createNode({ body: { metadata: { name } } });
      await waitFor(`${name} added, seen through the proxied watch`, () => seen.includes(name), { describe: () => ({ seen, proxied: proxy.requests }) });
      await core.deleteNode({ name });
      t.ok(proxy.requests.includes(`CONNECT api.coil.test:${port}`), "tunnelled through the proxy");
      t.same(new Set(proxy.authorizations), new Set([`Basic ${Buffer.from("coil:s3cr@t").toString("base64")}`]), "with the proxy credentials of the URL's user info (percent-decoded)");
    };

    await t.test("loadApiConnection's connection (coil-ipam-controller)", async (t) => {
      const conn = loadApiConnection({ kubeconfig: path, env: {} })._unsafeUnwrap();
      const proxied = makeRestClients(conn, { nodeMetadataOnly: true });
      t.teardown(() => proxied.destroy());
      await listWatch(t, "via-proxy-rest", proxied.rest, () => proxied.core.listNode());
    });

    await t.test("a client-node KubeConfig's informer (the other programs): its watch too, not only its requests", async (t) => {
      const kc2 = new KubeConfig();
      kc2.loadFromFile(path);
      const core2 = kc2.makeApiClient(CoreV1Api);
      await listWatch(t, "via-proxy-kubeconfig", kc2, () => core2.listNode());
    });
  });

  await t.test("exec credential plugin against a token-authenticating API server", async (t) => {
    // The plugin answers the n-th token of $TOKENS on its n-th run (the last one after that);
    // `hang` starts a child and waits for it (the kill must reach the whole process group).
    const plugin = join(authDir, "plugin.sh");
    writeFileSync(
      plugin,
      [
        "#!/bin/sh",
        'n=$(( $(cat "$COUNT" 2>/dev/null || echo 0) + 1 ))',
        'echo "$n" > "$COUNT"',
        'tok=$(echo "$TOKENS" | cut -d, -f"$n")',
        '[ -z "$tok" ] && tok=$(echo "$TOKENS" | awk -F, \'{print $NF}\')',
        'if [ "$tok" = hang ]; then sleep 600 & echo $! > "$COUNT.sleep"; wait; fi',
        'printf \'{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"%s"}}\' "$tok" "$EXPIRES"',
        "",
      ].join("\n"),
    );
    chmodSync(plugin, 0o755);
    let cases = 0;
    /** A kubeconfig of the test API server whose user is the plugin with these tokens; its run counter. */
    const withPlugin = (tokens: string, expiresInMs: number, o: { execPluginTimeoutMs?: number } = {}): { conn: ReturnType<typeof loadApiConnection>; runs: () => number; count: string } => {
      const count = join(authDir, `count-${++cases}`);
      const expires = new Date(Date.now() + expiresInMs).toISOString();
      const exec = [
        "    exec:",
        "      apiVersion: client.authentication.k8s.io/v1",
        `      command: ${plugin}`,
        `      env: [{name: TOKENS, value: "${tokens}"}, {name: COUNT, value: "${count}"}, {name: EXPIRES, value: "${expires}"}]`,
        "      interactiveMode: Never",
      ].join("\n");
      const text = readFileSync(cp.kubeconfigPath, "utf8").replace(/^ {4}client-certificate-data: .*\n {4}client-key-data: .*$/m, exec);
      const path = join(authDir, `kubeconfig-${cases}`);
      writeFileSync(path, text);
      return { conn: loadApiConnection({ kubeconfig: path, env: {}, ...o }), runs: () => (existsSync(count) ? Number(readFileSync(count, "utf8").trim()) : 0), count };
    };
    /** Clients over a plugin's connection, destroyed with the subtest. */
    const pluginClients = (t: Test, p: { conn: ReturnType<typeof loadApiConnection> }): ReturnType<typeof makeRestClients> => {
      const c = makeRestClients(p.conn._unsafeUnwrap());
      t.teardown(() => c.destroy());
      return c;
    };
    const list = (c: ReturnType<typeof makeRestClients>) => k8sCall(() => c.custom.listClusterCustomObject({ group: "coil.cybozu.com", version: "v2", plural: "addresspools" }));

    await t.test("a 401: the plugin runs again and the request is retried once", async (t) => {
      const p = withPlugin("rejected-token,good-1", 3_600_000);
      const c = pluginClients(t, p);
      t.ok((await list(c)).isOk(), "answered after the retry with the new token");
      t.equal(p.runs(), 2, "the plugin ran twice (the first token was refused)");
      t.ok((await list(c)).isOk());
      t.equal(p.runs(), 2, "the new token is kept");
      const never = withPlugin("rejected-token", 3_600_000);
      const c2 = pluginClients(t, never);
      t.equal((await list(c2))._unsafeUnwrapErr().kind, "unauthorized", "a token refused again: the 401 is the answer");
      t.equal(never.runs(), 2, "retried once, not more");
    });

    await t.test("a token is renewed 10 s before it expires; concurrent requests share one run", async (t) => {
      // Every run answers a token expiring at the same instant, 15 s from now (as a plugin that
      // caches its token does).
      const expiresAt = Date.now() + 15_000;
      const p = withPlugin("good-1,good-2,good-3", expiresAt - Date.now());
      const c = pluginClients(t, p);
      t.ok((await list(c)).isOk());
      t.equal(p.runs(), 1, "a token 15 s from expiry is used");
      await waitFor("the token within 10 s of its expiry", () => Date.now() > expiresAt - 10_000 + 50);
      t.ok((await list(c)).isOk());
      t.equal(p.runs(), 2, "renewed 10 s before it expires");
      t.ok((await list(c)).isOk());
      t.equal(p.runs(), 2, "a renewal that answered a token already inside the 10 s is used until it expires, not run again per request");
      const q = withPlugin("good-1", 3_600_000);
      const c2 = pluginClients(t, q);
      const all = await Promise.all([list(c2), list(c2), list(c2)]);
      t.ok(all.every((r) => r.isOk()), "three requests at once answered");
      t.equal(q.runs(), 1, "with one run of the plugin");
    });

    await t.test("a plugin that hangs is killed at its bound; the request fails with kind credentials", async (t) => {
      const p = withPlugin("hang", 3_600_000, { execPluginTimeoutMs: 500 });
      const c = pluginClients(t, p);
      const t0 = Date.now();
      const e = (await list(c))._unsafeUnwrapErr();
      const took = Date.now() - t0;
      t.same([e.kind, e.reason], ["credentials", "exec-plugin-timeout"], `kind credentials, reason exec-plugin-timeout (${e.message})`);
      t.match(e.message, /exec credential plugin .*plugin\.sh: no answer within 500 ms \(killed\)/);
      t.ok(took < scaledTimeout(3_000), `at its bound (${took} ms)`);
      const child = Number(readFileSync(`${p.count}.sleep`, "utf8").trim());
      // Gone, or a zombie no one has reaped yet (its parent, the plugin, was killed too).
      await waitFor("the plugin's own child killed with it", () => {
        try {
          return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${child}/stat`, "utf8"));
        } catch {
          return true;
        }
      });
      t.pass("the plugin's process group is gone");
    });
  });
}
