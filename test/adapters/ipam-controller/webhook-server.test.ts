// The webhook HTTPS server on its own: real TLS (verified against the generated CA), routing, body
// limit, readiness, close with keep-alive connections open, and the runIpamController wiring.
import t, { type Test } from "tap";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { Agent, request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateWebhookCerts, type WebhookCerts } from "../../../adapters/k8s/certs-generate.js";
import { handleWebhookRequest, MUTATE_PATH, VALIDATE_PATH } from "../../../adapters/ipam-controller/webhook-review.js";
import { startWebhookServer, type WebhookServer } from "../../../adapters/k8s/webhook-server.js";
import { makeStartIpamWebhook } from "../../../adapters/ipam-controller/webhook-start.js";
import type { KubeClients } from "../../../adapters/k8s/index.js";
import { SILENT_LOGGER } from "../../../adapters/k8s/index.js";

const certs = await generateWebhookCerts({ hosts: ["127.0.0.1"], now: new Date() });

async function certDir(t: Test, c: WebhookCerts = certs): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "coil-whs-"));
  t.teardown(() => rm(d, { recursive: true, force: true }));
  await writeFile(join(d, "tls.key"), c.key);
  await writeFile(join(d, "tls.crt"), c.cert);
  return d;
}

function post(port: number, path: string, body: string, agent?: Agent): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, path, method: "POST", ca: certs.caCert, headers: { "content-type": "application/json" }, ...(agent ? { agent } : {}) },
      (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (d: string) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const review = (uid: string, spec: unknown) =>
  JSON.stringify({
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: { uid, operation: "CREATE", object: { apiVersion: "coil.cybozu.com/v2", kind: "AddressPool", metadata: { name: "p" }, spec } },
  });

async function server(t: Test, extra: { maxBodyBytes?: number } = {}): Promise<WebhookServer> {
  const s = await startWebhookServer({ handle: handleWebhookRequest, host: "127.0.0.1", port: 0, certDir: await certDir(t), ...extra });
  t.teardown(() => s.close());
  return s;
}

t.test("AdmissionReviews over verified TLS", async (t) => {
  const s = await server(t);
  const ok = await post(s.port, VALIDATE_PATH, review("u1", { subnets: [{ ipv4: "10.2.0.0/24" }] }));
  t.same(ok, { status: 200, json: { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response: { uid: "u1", allowed: true } } });
  const bad = await post(s.port, VALIDATE_PATH, review("u2", { blockSizeBits: 8, subnets: [{ ipv4: "10.2.0.0/30" }] }));
  t.match(bad.json, { response: { uid: "u2", allowed: false, status: { code: 422, message: /too narrow subnet: 10\.2\.0\.0\/30$/ } } });
  const mut = await post(s.port, MUTATE_PATH, review("u3", { subnets: [{ ipv4: "10.2.0.0/24" }] }));
  t.match(mut.json, { response: { uid: "u3", allowed: true, patchType: "JSONPatch" } });
  t.equal((await post(s.port, "/nope", "{}")).status, 404);
  t.equal((await post(s.port, VALIDATE_PATH, "{bad")).status, 400);
});

t.test("oversized bodies are refused", async (t) => {
  const s = await server(t, { maxBodyBytes: 1024 });
  const big = review("u", { subnets: Array.from({ length: 100 }, () => ({ ipv4: "10.2.0.0/24" })) });
  t.equal((await post(s.port, VALIDATE_PATH, big)).status, 413);
  t.equal((await post(s.port, VALIDATE_PATH, review("u", { subnets: [{ ipv4: "10.2.0.0/24" }] }))).status, 200, "small body still served");
});

t.test("close() ends keep-alive connections and stops listening", async (t) => {
  const s = await startWebhookServer({ handle: handleWebhookRequest, host: "127.0.0.1", port: 0, certDir: await certDir(t) });
  const agent = new Agent({ keepAlive: true, ca: certs.caCert });
  t.teardown(() => agent.destroy());
  t.equal((await post(s.port, VALIDATE_PATH, review("k", { subnets: [{ ipv4: "10.2.0.0/24" }] }), agent)).status, 200);
  const t0 = Date.now();
  await s.close();
  // An idle keep-alive socket would otherwise hold close() until the 5 s server keep-alive timeout.
  t.ok(Date.now() - t0 < 4000, `close does not wait for idle keep-alive sockets (${Date.now() - t0} ms)`);
  t.equal(s.ready(), false);
  t.equal(await s.checkReady(), false);
});

t.test("makeStartIpamWebhook: the runIpamController wiring", async (t) => {
  const start = makeStartIpamWebhook();
  const h = await start({
    addr: { host: "127.0.0.1", port: 0 },
    certDir: await certDir(t),
    enableCertRotation: false,
    enableRestartOnCertRefresh: false,
    clients: {} as KubeClients, // not used without cert rotation
    log: SILENT_LOGGER,
  });
  t.teardown(() => h.close());
  t.equal(await h.ready(), true, "ready once the TLS dial succeeds");
});
