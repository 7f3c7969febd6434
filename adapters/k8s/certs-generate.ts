/**
 * Webhook certificates: a self-signed CA and a serving certificate it signs, in PEM, made in-process
 * with `@peculiar/x509` over Node's WebCrypto (Node 20's `node:crypto` can parse but not issue X.509).
 * Mirrors open-policy-agent cert-controller as Coil configures it: CA `coil-<type>-ca`, organisation
 * `coil`, serving SANs = the webhook Service DNS names. Keys are ECDSA P-256 (fast to generate, accepted
 * by kube-apiserver and every TLS stack in the path); Coil's gencert uses RSA-4096.
 */
import { createPrivateKey, randomBytes, webcrypto, X509Certificate as NodeX509 } from "node:crypto";
import { isIP } from "node:net";
import type * as X509 from "@peculiar/x509";

let x509Loaded: Promise<typeof X509> | undefined;

/**
 * `@peculiar/x509`, loaded at the first generation: only `--enable-cert-rotation` generates, and
 * evaluating it (with tsyringe, reflect-metadata and the asn1 schemas) costs a controller ~7 MiB of
 * RSS for nothing otherwise (bench/RESULTS-ipam-controller.md).
 */
function loadX509(): Promise<typeof X509> {
  x509Loaded ??= (async () => {
    await import("reflect-metadata"); // tsyringe (a dependency of @peculiar/x509) needs the Reflect metadata polyfill first
    const x509 = await import("@peculiar/x509");
    x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
    return x509;
  })();
  return x509Loaded;
}

/** The Service DNS names Coil's rotator puts in the ipam webhook's serving certificate. */
export const IPAM_WEBHOOK_DNS_NAMES: readonly string[] = [
  "coilv2-ipam-webhook-service.kube-system.svc",
  "coilv2-ipam-webhook-service.kube-system.svc.cluster.local",
];

/** The Service DNS names Coil's rotator puts in the egress webhook's serving certificate. */
export const EGRESS_WEBHOOK_DNS_NAMES: readonly string[] = [
  "coilv2-egress-webhook-service.kube-system.svc",
  "coilv2-egress-webhook-service.kube-system.svc.cluster.local",
];

/** Options of {@link generateWebhookCerts}. */
export interface GenerateCertsOptions {
  /** SANs of the serving certificate: DNS names and/or IP literals (e.g. `127.0.0.1` for tests). */
  readonly hosts: readonly string[];
  /** CA common name; default `coil-ipam-ca`. */
  readonly caName?: string;
  /** Issue time (notBefore is one hour earlier, for clock skew). */
  readonly now: Date;
  /** Validity of both certificates in ms; default 10 years (cert-controller's default). */
  readonly validityMs?: number;
}

/** A CA and a serving certificate, PEM encoded. */
export interface WebhookCerts {
  /** The CA certificate (`ca.crt`, the webhook configurations' caBundle). */
  readonly caCert: string;
  /** The serving certificate (`tls.crt`). */
  readonly cert: string;
  /** The serving certificate's PKCS#8 private key (`tls.key`). */
  readonly key: string;
  /** End of validity of the serving certificate. */
  readonly notAfter: Date;
}

const TEN_YEARS_MS = 3650 * 24 * 3600 * 1000;
const EC: webcrypto.EcKeyGenParams & webcrypto.EcdsaParams = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };

function serial(): string {
  const b = randomBytes(16);
  b[0] = ((b[0] ?? 0) & 0x7f) | 0x01; // positive and non-zero leading byte
  return b.toString("hex");
}

async function newKeys(): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(EC, true, ["sign", "verify"]);
}

/** Generate a fresh CA and a serving certificate for `hosts`. */
export async function generateWebhookCerts(opts: GenerateCertsOptions): Promise<WebhookCerts> {
  const notBefore = new Date(opts.now.getTime() - 3600_000);
  const notAfter = new Date(opts.now.getTime() + (opts.validityMs ?? TEN_YEARS_MS));
  const x509 = await loadX509();
  const caKeys = await newKeys();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${opts.caName ?? "coil-ipam-ca"}, O=coil`,
    notBefore,
    notAfter,
    keys: caKeys,
    signingAlgorithm: EC,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const keys = await newKeys();
  const cn = opts.hosts[0] ?? "localhost";
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${cn}, O=coil`,
    issuer: ca.subject,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: EC,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(opts.hosts.map((h) => ({ type: isIP(h) === 0 ? "dns" : "ip", value: h }))),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey);
  return {
    caCert: ca.toString("pem") + "\n",
    cert: leaf.toString("pem") + "\n",
    key: x509.PemConverter.encode(pkcs8, "PRIVATE KEY") + "\n",
    notAfter,
  };
}

/** Why existing certificates are not usable as they are. */
export type CertProblem = "unparsable" | "not-signed-by-ca" | "missing-host" | "expiring" | "key-mismatch";

/**
 * Check a CA + serving certificate + key triple: parsable, the leaf signed by the CA, every host
 * covered, the key matching, and neither certificate expiring before `now + lookaheadMs`.
 */
export function checkWebhookCerts(
  files: { readonly caCert: string; readonly cert: string; readonly key: string },
  opts: { readonly hosts: readonly string[]; readonly now: Date; readonly lookaheadMs: number },
): CertProblem | undefined {
  let ca: NodeX509;
  let leaf: NodeX509;
  try {
    ca = new NodeX509(files.caCert);
    leaf = new NodeX509(files.cert);
  } catch {
    return "unparsable";
  }
  if (!leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) return "not-signed-by-ca";
  const covered = (h: string): boolean => (isIP(h) === 0 ? leaf.checkHost(h, { subject: "never" }) : leaf.checkIP(h)) !== undefined;
  if (!opts.hosts.every(covered)) return "missing-host";
  const horizon = opts.now.getTime() + opts.lookaheadMs;
  if (Date.parse(leaf.validTo) <= horizon || Date.parse(ca.validTo) <= horizon) return "expiring";
  try {
    if (!leaf.checkPrivateKey(createPrivateKey(files.key))) return "key-mismatch";
  } catch {
    return "unparsable";
  }
  return undefined;
}
