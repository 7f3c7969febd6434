// Certificate generation, checking and rotation of the webhook certificates (no API server: the CA
// injection is a recording function here; webhook-envtest.test.ts injects into a real one).
import t, { type Test } from "tap";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkWebhookCerts, generateWebhookCerts, IPAM_WEBHOOK_DNS_NAMES } from "../../../adapters/k8s/certs-generate.js";
import { ensureServingCerts, startCertRotation } from "../../../adapters/k8s/certs-rotation.js";
import { waitFor } from "../../helpers/wait.js";

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const now = new Date("2026-11-22T00:00:00Z");

async function tmp(t: Test): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "coil-rot-"));
  t.teardown(() => rm(d, { recursive: true, force: true }));
  return d;
}

t.test("generated certificates: CA, SANs, usages, validity", async (t) => {
  const c = await generateWebhookCerts({ hosts: [...IPAM_WEBHOOK_DNS_NAMES, "127.0.0.1"], now, validityMs: 10 * DAY });
  const ca = new X509Certificate(c.caCert);
  const leaf = new X509Certificate(c.cert);
  t.equal(ca.ca, true, "CA is a CA");
  t.equal(leaf.ca, false, "leaf is not a CA");
  t.match(ca.subject, /CN=coil-ipam-ca/);
  t.match(ca.subject, /O=coil/);
  t.ok(leaf.checkIssued(ca) && leaf.verify(ca.publicKey), "leaf signed by the CA");
  t.equal(leaf.subjectAltName, `DNS:${IPAM_WEBHOOK_DNS_NAMES[0]}, DNS:${IPAM_WEBHOOK_DNS_NAMES[1]}, IP Address:127.0.0.1`);
  t.same(leaf.keyUsage, ["1.3.6.1.5.5.7.3.1"], "extended key usage serverAuth");
  t.equal(Date.parse(leaf.validTo), now.getTime() + 10 * DAY);
  t.equal(Date.parse(leaf.validFrom), now.getTime() - HOUR, "backdated one hour for clock skew");
  t.equal(c.notAfter.getTime(), now.getTime() + 10 * DAY);
  t.not(leaf.serialNumber, ca.serialNumber);
  t.match(c.key, /^-----BEGIN PRIVATE KEY-----\n/, "PKCS#8 PEM key");
});

t.test("checkWebhookCerts finds every problem", async (t) => {
  const hosts = ["a.b.svc", "127.0.0.1"];
  const a = await generateWebhookCerts({ hosts, now, validityMs: 100 * DAY });
  const b = await generateWebhookCerts({ hosts, now, validityMs: 100 * DAY });
  const opts = { hosts, now, lookaheadMs: 90 * DAY };
  const cases = [
    { name: "good", files: a, o: opts, want: undefined },
    { name: "expiring within lookahead", files: a, o: { ...opts, now: new Date(now.getTime() + 11 * DAY) }, want: "expiring" },
    { name: "other host", files: a, o: { ...opts, hosts: ["x.svc"] }, want: "missing-host" },
    { name: "other IP", files: a, o: { ...opts, hosts: ["10.0.0.1"] }, want: "missing-host" },
    { name: "CA of another pair", files: { ...a, caCert: b.caCert }, o: opts, want: "not-signed-by-ca" },
    { name: "key of another pair", files: { ...a, key: b.key }, o: opts, want: "key-mismatch" },
    { name: "garbage cert", files: { ...a, cert: "nope" }, o: opts, want: "unparsable" },
    { name: "garbage key", files: { ...a, key: "nope" }, o: opts, want: "unparsable" },
  ] as const;
  for (const c of cases) t.equal(checkWebhookCerts(c.files, c.o), c.want, c.name);
});

t.test("ensureServingCerts: generate when missing, keep when valid, rotate when expiring", async (t) => {
  const dir = await tmp(t);
  const injected: string[] = [];
  let clock = now;
  const opts = {
    certDir: join(dir, "certs"),
    hosts: ["127.0.0.1"],
    now: () => clock,
    validityMs: 100 * DAY,
    injectCaBundle: async (pem: string) => void injected.push(pem),
  };
  const r1 = await ensureServingCerts(opts);
  t.equal(r1.regenerated, "missing");
  const ca1 = await readFile(join(opts.certDir, "ca.crt"), "utf8");
  t.equal(r1.caBundle, ca1, "bundle = the new CA only (no old one)");
  t.same(injected, [ca1]);
  t.equal((await stat(join(opts.certDir, "tls.key"))).mode & 0o777, 0o600, "key is 0600");
  const cert1 = await readFile(join(opts.certDir, "tls.crt"), "utf8");

  const r2 = await ensureServingCerts(opts);
  t.equal(r2.regenerated, undefined, "valid certificates are kept");
  t.equal(await readFile(join(opts.certDir, "tls.crt"), "utf8"), cert1, "tls.crt untouched");
  t.same(injected, [ca1, ca1], "CA re-injected at every check (repairs a reset configuration)");

  clock = new Date(now.getTime() + 20 * DAY); // 80 days left < 90 days lookahead
  const r3 = await ensureServingCerts(opts);
  t.equal(r3.regenerated, "expiring");
  const ca3 = await readFile(join(opts.certDir, "ca.crt"), "utf8");
  t.not(ca3, ca1, "new CA");
  t.equal(r3.caBundle, ca3 + ca1, "bundle = new CA + still-valid old CA");
  t.not(await readFile(join(opts.certDir, "tls.crt"), "utf8"), cert1, "new serving certificate");

  await writeFile(join(opts.certDir, "tls.crt"), "garbage");
  t.equal((await ensureServingCerts(opts)).regenerated, "unparsable", "broken files are replaced");
});

t.test("a failed injection leaves the files alone and is retried", async (t) => {
  const dir = await tmp(t);
  let fail = 2;
  const events: string[] = [];
  const rot = startCertRotation({
    certDir: dir,
    hosts: ["127.0.0.1"],
    retryMs: 20,
    injectCaBundle: async () => {
      if (fail-- > 0) throw new Error("webhook configuration not found");
    },
    onEvent: (msg) => events.push(msg),
  });
  t.teardown(() => rot.stop());
  await t.rejects(rot.firstRun, /webhook configuration not found/);
  await t.rejects(stat(join(dir, "tls.crt")), { code: "ENOENT" }, "nothing written while the CA cannot be injected");
  await waitFor("certificates generated after two failed injections", () => events.at(-1) === "generated webhook certificates", { intervalMs: 20, describe: () => events });
  t.same(events, ["webhook certificate check failed", "webhook certificate check failed", "generated webhook certificates"]);
  t.ok((await stat(join(dir, "tls.crt"))).isFile(), "written once injection succeeded");
});
