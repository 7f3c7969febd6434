// Coil §9.8 (pkg/cert): the lazy reloader alone and through the webhook server's TLS handshakes.
import t, { type Test } from "tap";
import { X509Certificate } from "node:crypto";
import { mkdir, mkdtemp, rename, rm, stat, symlink, unlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { generateWebhookCerts, type WebhookCerts } from "../../../adapters/k8s/certs-generate.js";
import { CertReloader, certDirFiles } from "../../../adapters/k8s/certs-reloader.js";
import { startWebhookServer } from "../../../adapters/k8s/webhook-server.js";
import { handleWebhookRequest } from "../../../adapters/ipam-controller/webhook-review.js";

const hosts = ["127.0.0.1", "coilv2-ipam-webhook-service.kube-system.svc"];
const pairs: WebhookCerts[] = [];
for (let i = 0; i < 3; i++) pairs.push(await generateWebhookCerts({ hosts, now: new Date() }));
const [p1, p2, p3] = pairs as [WebhookCerts, WebhookCerts, WebhookCerts];
const serialOf = (p: WebhookCerts): string => new X509Certificate(p.cert).serialNumber;

async function tmp(t: Test): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "coil-certs-"));
  t.teardown(() => rm(d, { recursive: true, force: true }));
  return d;
}

async function writePair(dir: string, p: WebhookCerts): Promise<void> {
  await writeFile(join(dir, "tls.key"), p.key);
  await writeFile(join(dir, "tls.crt"), p.cert);
}

/** Serial of the certificate a fresh TLS client sees (verified against `ca` when given). */
function peerSerial(port: number, ca?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port, ...(ca === undefined ? { rejectUnauthorized: false } : { ca }) }, () => {
      const serial = s.getPeerCertificate().serialNumber;
      s.end();
      resolve(serial);
    });
    s.on("error", reject);
  });
}

t.test("error before the files exist, then loads them", async (t) => {
  const dir = await tmp(t);
  const r = new CertReloader(certDirFiles(dir));
  await t.rejects(r.get(), /cannot load .*tls\.crt/);
  t.equal(r.current(), undefined);
  await writePair(dir, p1);
  const got = await r.get();
  t.equal(got.serial, serialOf(p1));
  t.equal(got.generation, 1);
  t.equal((await r.get()).generation, 1, "unchanged file: no reload");
});

t.test("reloads when tls.crt's mtime changes (in-place rewrite)", async (t) => {
  const dir = await tmp(t);
  const r = new CertReloader(certDirFiles(dir));
  await writePair(dir, p1);
  const first = await r.get();
  await writePair(dir, p2); // same inode, same size class; mtime (ns) differs
  const second = await r.get();
  t.equal(second.serial, serialOf(p2));
  t.equal(second.generation, first.generation + 1);
  // Touching the mtime alone (same content) is a change too.
  const s = await stat(join(dir, "tls.crt"));
  await utimes(join(dir, "tls.crt"), s.atime, new Date(s.mtime.getTime() + 5000));
  t.equal((await r.get()).generation, second.generation + 1, "mtime bump reloads");
});

t.test("follows kubelet-style ..data symlink swaps, even with identical mtimes", async (t) => {
  const dir = await tmp(t);
  const when = new Date("2026-01-01T00:00:00Z");
  const version = async (name: string, p: WebhookCerts): Promise<void> => {
    await mkdir(join(dir, name));
    await writePair(join(dir, name), p);
    for (const f of ["tls.crt", "tls.key"]) await utimes(join(dir, name, f), when, when);
  };
  await version("..2026_01_01_a", p1);
  await symlink("..2026_01_01_a", join(dir, "..data"));
  for (const f of ["tls.crt", "tls.key"]) await symlink(join("..data", f), join(dir, f));
  const r = new CertReloader(certDirFiles(dir));
  t.equal((await r.get()).serial, serialOf(p1));
  await version("..2026_01_01_b", p2);
  await symlink("..2026_01_01_b", join(dir, "..data_tmp"));
  await rename(join(dir, "..data_tmp"), join(dir, "..data")); // kubelet's atomic swap
  await rm(join(dir, "..2026_01_01_a"), { recursive: true });
  t.equal((await r.get()).serial, serialOf(p2), "new version served");
});

t.test("keeps the cached pair when the new files are broken or gone", async (t) => {
  const dir = await tmp(t);
  const errors: string[] = [];
  const r = new CertReloader({ ...certDirFiles(dir), onError: (e) => errors.push(e.message) });
  await writePair(dir, p1);
  t.equal((await r.get()).serial, serialOf(p1));
  const broken: ReadonlyArray<{ name: string; apply: () => Promise<void> }> = [
    { name: "garbage certificate", apply: () => writeFile(join(dir, "tls.crt"), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n") },
    { name: "key of another pair", apply: async () => writePair(dir, { ...p2, key: p3.key }) },
    { name: "empty certificate", apply: () => writeFile(join(dir, "tls.crt"), "") },
    { name: "files removed", apply: async () => (await unlink(join(dir, "tls.crt")), unlink(join(dir, "tls.key"))) },
  ];
  for (const b of broken) {
    const before = errors.length;
    await b.apply();
    const got = await r.get();
    t.equal(got.serial, serialOf(p1), `${b.name}: cached certificate served`);
    t.equal(got.generation, 1, `${b.name}: no new generation`);
    t.ok(errors.length > before, `${b.name}: reported`);
  }
  await writePair(dir, p3);
  t.equal((await r.get()).serial, serialOf(p3), "recovers when valid files return");
});

t.test("TLS handshakes: lazy load, reload, and concurrent handshakes after rotation", async (t) => {
  const dir = await tmp(t);
  const srv = await startWebhookServer({ handle: handleWebhookRequest, host: "127.0.0.1", port: 0, certDir: dir });
  t.teardown(() => srv.close());
  t.equal(srv.ready(), false, "not ready without certificates");
  t.equal(await srv.checkReady(), false, "TLS dial fails without certificates");
  await writePair(dir, p1);
  t.equal(await srv.checkReady(), true, "TLS dial succeeds once files exist");
  t.equal(srv.ready(), true);
  t.equal(await peerSerial(srv.port, p1.caCert), serialOf(p1), "serves pair 1, verified with its CA");
  await writePair(dir, p2);
  const serials = await Promise.all(Array.from({ length: 24 }, () => peerSerial(srv.port, p2.caCert)));
  t.same(new Set(serials), new Set([serialOf(p2)]), "all 24 concurrent handshakes see pair 2");
  await writeFile(join(dir, "tls.crt"), "broken");
  t.equal(await peerSerial(srv.port), serialOf(p2), "broken file: cached pair 2 still served");
});
