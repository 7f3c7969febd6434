// The CA bundle injector MERGES (two controller replicas, two CAs): against an in-memory store that
// behaves like the API server for these objects (resourceVersion bumped on every write, 409 Conflict
// on a stale one). webhook-envtest.test.ts checks the same against a real kube-apiserver.
import t, { type Test } from "tap";
import { X509Certificate } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, createServer } from "node:tls";
import { generateWebhookCerts, type WebhookCerts } from "../../../adapters/k8s/certs-generate.js";
import {
  caBundleInjector,
  mergeCaBundles,
  type WebhookConfigurationKind,
  type WebhookConfigurationObject,
  type WebhookConfigurationStore,
} from "../../../adapters/k8s/certs-inject.js";
import { ensureServingCerts } from "../../../adapters/k8s/certs-rotation.js";

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const now = new Date("2026-11-22T00:00:00Z");
const V = "coilv2-validating-ipam-webhook-configuration";
const M = "coilv2-mutating-ipam-webhook-configuration";

/** Stored configurations with API-server semantics for read/replace. */
class FakeApiServer implements WebhookConfigurationStore {
  readonly objects = new Map<string, WebhookConfigurationObject>();
  conflicts = 0;
  writes = 0;
  #rv = 1;

  add(kind: WebhookConfigurationKind, name: string, webhooks: number, caBundle?: string): void {
    const w = Array.from({ length: webhooks }, () => ({ clientConfig: caBundle === undefined ? {} : { caBundle } }));
    this.objects.set(`${kind}/${name}`, { metadata: { name, resourceVersion: String(this.#rv++) }, webhooks: w });
  }
  async read(kind: WebhookConfigurationKind, name: string): Promise<WebhookConfigurationObject> {
    await new Promise((r) => setImmediate(r)); // a network round trip: lets concurrent callers interleave
    const o = this.objects.get(`${kind}/${name}`);
    if (o === undefined) throw Object.assign(new Error("not found"), { code: 404 });
    return structuredClone(o);
  }
  async replace(kind: WebhookConfigurationKind, name: string, body: WebhookConfigurationObject): Promise<void> {
    await new Promise((r) => setImmediate(r));
    const cur = this.objects.get(`${kind}/${name}`);
    if (cur === undefined) throw Object.assign(new Error("not found"), { code: 404 });
    if (body.metadata?.resourceVersion !== cur.metadata?.resourceVersion) {
      this.conflicts++;
      throw Object.assign(new Error("the object has been modified"), { code: 409 });
    }
    this.writes++;
    this.objects.set(`${kind}/${name}`, { ...structuredClone(body), metadata: { ...body.metadata, resourceVersion: String(this.#rv++) } });
  }
  /** The PEM bundles of every webhook of every object. */
  bundles(): string[] {
    return [...this.objects.values()].flatMap((o) => (o.webhooks ?? []).map((w) => Buffer.from(w.clientConfig.caBundle ?? "", "base64").toString()));
  }
}

const certsOf = (pem: string): string[] => (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((c) => `${c}\n`);
const serials = (pem: string): string[] => certsOf(pem).map((c) => new X509Certificate(c).serialNumber);
const serial = (c: WebhookCerts): string => new X509Certificate(c.caCert).serialNumber;
const gen = (o: { validityMs?: number; at?: Date } = {}): Promise<WebhookCerts> =>
  generateWebhookCerts({ hosts: ["127.0.0.1"], now: o.at ?? now, validityMs: o.validityMs ?? 100 * DAY });

function store(): FakeApiServer {
  const s = new FakeApiServer();
  s.add("validating", V, 1);
  s.add("mutating", M, 2);
  return s;
}

t.test("mergeCaBundles", async (t) => {
  const [a, b, c] = await Promise.all([gen(), gen(), gen()]);
  const expired = await gen({ at: new Date(now.getTime() - 10 * DAY), validityMs: DAY });
  const cases: Array<{ name: string; current: string; injected: string; max?: number; want: WebhookCerts[] }> = [
    { name: "empty bundle", current: "", injected: a.caCert, want: [a] },
    { name: "other replica's CA kept, new appended", current: a.caCert, injected: b.caCert, want: [a, b] },
    { name: "same CA again: unchanged", current: a.caCert + b.caCert, injected: a.caCert, want: [a, b] },
    { name: "expired CA dropped", current: expired.caCert + a.caCert, injected: b.caCert, want: [a, b] },
    { name: "expired injected CA not added", current: a.caCert, injected: expired.caCert, want: [a] },
    { name: "leaf (not a CA) dropped", current: a.cert + b.caCert, injected: c.caCert, want: [b, c] },
    { name: "garbage dropped", current: "junk\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", injected: a.caCert, want: [a] },
    { name: "duplicates in both removed", current: a.caCert + a.caCert, injected: b.caCert + b.caCert + a.caCert, want: [a, b] },
    { name: "rotation bundle (new + old) merged", current: c.caCert + a.caCert, injected: b.caCert + a.caCert, want: [c, a, b] },
  ];
  for (const k of cases) t.same(serials(mergeCaBundles(k.current, k.injected, now, k.max)), k.want.map(serial), k.name);
});

t.test("mergeCaBundles bounds the bundle, dropping the earliest issued old CAs first", async (t) => {
  const old = await Promise.all([0, 1, 2, 3].map((i) => gen({ at: new Date(now.getTime() - (4 - i) * DAY) })));
  const fresh = await gen();
  const current = old.map((c) => c.caCert).reverse().join("");
  const got = serials(mergeCaBundles(current, fresh.caCert, now, 3));
  t.same(got, [old[3], old[2], fresh].map((c) => serial(c!)), "two newest old CAs and the injected one");
  t.same(serials(mergeCaBundles(old[0]!.caCert, fresh.caCert, now, 1)), [serial(fresh)], "the injected CA is never dropped");
});

t.test("two replicas inject different CAs concurrently: both end up in every webhook", async (t) => {
  const s = store();
  const [a, b] = await Promise.all([gen(), gen()]);
  const ia = caBundleInjector(s, { now: () => now });
  const ib = caBundleInjector(s, { now: () => now });
  await Promise.all([ia(a.caCert), ib(b.caCert)]);
  t.ok(s.conflicts > 0, `the concurrent writes conflicted (${s.conflicts} 409s) and were retried`);
  t.equal(s.bundles().length, 3, "three webhooks");
  for (const bundle of s.bundles()) t.same(serials(bundle).sort(), [serial(a), serial(b)].sort(), "bundle holds both CAs");

  const writes = s.writes;
  const rvs = [...s.objects.values()].map((o) => o.metadata?.resourceVersion);
  await ia(a.caCert);
  await ib(b.caCert);
  t.equal(s.writes, writes, "re-injecting CAs already present writes nothing");
  t.same([...s.objects.values()].map((o) => o.metadata?.resourceVersion), rvs, "resourceVersions unchanged");
});

t.test("a CA that expired is dropped at the next injection", async (t) => {
  const s = store();
  const short = await gen({ validityMs: 2 * DAY });
  const long = await gen();
  await caBundleInjector(s, { now: () => now })(short.caCert);
  await caBundleInjector(s, { now: () => new Date(now.getTime() + 3 * DAY) })(long.caCert);
  for (const bundle of s.bundles()) t.same(serials(bundle), [serial(long)]);
});

t.test("conflicts beyond the attempts reject with the 409", async (t) => {
  const s = store();
  let reads = 0;
  const racing: WebhookConfigurationStore = {
    read: async (kind, name) => {
      reads++;
      const o = await s.read(kind, name);
      s.add(kind, name, (o.webhooks ?? []).length); // someone else writes between our read and write
      return o;
    },
    replace: (kind, name, body) => s.replace(kind, name, body),
  };
  const a = await gen();
  await t.rejects(caBundleInjector(racing, { attempts: 3 })(a.caCert), { code: 409 });
  t.equal(reads, 3, "three attempts");
});

async function tlsHandshake(t: Test, server: WebhookCerts, caBundle: string): Promise<string> {
  const srv = createServer({ cert: server.cert, key: server.key }, (s) => s.end());
  srv.listen(0, "127.0.0.1");
  await once(srv, "listening");
  t.teardown(() => void srv.close());
  const port = (srv.address() as { port: number }).port;
  return new Promise((resolve) => {
    const c = connect({ host: "127.0.0.1", port, ca: caBundle }, () => {
      c.end();
      resolve("ok");
    });
    c.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

t.test("two replicas through ensureServingCerts: a client with the merged bundle trusts both", async (t) => {
  const s = store();
  const dirs = await Promise.all([0, 1].map(() => mkdtemp(join(tmpdir(), "coil-inject-"))));
  t.teardown(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
  const replicas = await Promise.all(dirs.map((certDir) => ensureServingCerts({ certDir, hosts: ["127.0.0.1"], injectCaBundle: caBundleInjector(s) })));
  t.not(replicas[0]!.caBundle, replicas[1]!.caBundle, "each replica generated its own CA");
  const bundle = s.bundles()[0]!;
  t.equal(certsOf(bundle).length, 2);
  for (const [i, d] of dirs.entries()) {
    const served = { cert: await readFile(join(d, "tls.crt"), "utf8"), key: await readFile(join(d, "tls.key"), "utf8"), caCert: "", notAfter: now };
    t.equal(await tlsHandshake(t, served, bundle), "ok", `replica ${i}'s certificate verifies against the bundle`);
    t.not(await tlsHandshake(t, served, replicas[1 - i]!.caBundle), "ok", `but not against the other replica's CA alone (what REPLACE left)`);
  }
});
