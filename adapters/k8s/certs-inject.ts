/**
 * Put a CA bundle into the `clientConfig.caBundle` of every webhook of Coil's ipam webhook
 * configurations (cert-controller's `WebhookInfo` injection), MERGING instead of replacing: every
 * replica of the controller generates its own CA, so the bundle keeps the other replicas' CAs.
 *
 * For each webhook the new bundle is: the certificates already in its `caBundle` that are CA
 * certificates not expired at `now`, followed by the injected ones not already there; duplicates
 * (same DER) and expired certificates dropped. The object is written back with
 * its `resourceVersion` as precondition (a replace carries it), and a 409 Conflict re-reads and
 * merges again, so two replicas injecting at the same time both end up in the bundle.
 */
import { X509Certificate } from "node:crypto";
import type { WebhookConfigurationCalls } from "./api-calls.js";

/** Names of the ipam webhook configurations as Coil deploys them. */
export const IPAM_WEBHOOK_CONFIGURATIONS = {
  validating: "coilv2-validating-ipam-webhook-configuration",
  mutating: "coilv2-mutating-ipam-webhook-configuration",
} as const;

/** Names of the egress webhook configurations as Coil deploys them. */
export const EGRESS_WEBHOOK_CONFIGURATIONS = {
  validating: "coilv2-validating-egress-webhook-configuration",
  mutating: "coilv2-mutating-egress-webhook-configuration",
} as const;

/** The part of a (Validating|Mutating)WebhookConfiguration the injector reads and edits. */
export interface WebhookConfigurationObject {
  metadata?: { name?: string; resourceVersion?: string };
  webhooks?: Array<{ clientConfig: { caBundle?: string } }>;
}

/** Which of the two configuration kinds. */
export type WebhookConfigurationKind = "validating" | "mutating";

/**
 * Read and replace webhook configurations. `replace` must fail with an error carrying `code: 409`
 * when `body.metadata.resourceVersion` is not the stored one (as the API server does).
 */
export interface WebhookConfigurationStore {
  /** Read the configuration `name` of `kind`. */
  read(kind: WebhookConfigurationKind, name: string): Promise<WebhookConfigurationObject>;
  /** Replace it (optimistic concurrency on `metadata.resourceVersion`). */
  replace(kind: WebhookConfigurationKind, name: string, body: WebhookConfigurationObject): Promise<void>;
}

/** Options of {@link webhookCaBundleInjector} and {@link caBundleInjector}. */
export interface CaInjectorOptions {
  /** ValidatingWebhookConfiguration names; default Coil's ipam one. */
  readonly validating?: readonly string[];
  /** MutatingWebhookConfiguration names; default Coil's ipam one. */
  readonly mutating?: readonly string[];
  /** Attempts per object on 409 Conflict; default 5. */
  readonly attempts?: number;
  /** Clock deciding which CAs have expired; default `() => new Date()`. */
  readonly now?: () => Date;
  /** Most certificates kept per caBundle (earliest issued old ones dropped first); default {@link DEFAULT_MAX_CAS}. */
  readonly maxCas?: number;
}

/** Default bound on the certificates kept in one caBundle. */
export const DEFAULT_MAX_CAS = 32;

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

interface ParsedCert {
  readonly pem: string;
  readonly der: string;
  readonly x: X509Certificate;
}

/** The parsable certificates of a PEM text, in order. */
function parsePemCerts(pem: string): ParsedCert[] {
  const out: ParsedCert[] = [];
  for (const block of pem.match(PEM_CERT) ?? []) {
    try {
      const x = new X509Certificate(block);
      out.push({ pem: `${block}\n`, der: x.raw.toString("base64"), x });
    } catch {
      // not a certificate: dropped
    }
  }
  return out;
}

const validAt = (c: ParsedCert, now: Date): boolean => c.x.ca && Date.parse(c.x.validTo) > now.getTime();

/**
 * Merge the PEM bundle `injected` into the PEM bundle `current`: the CA certificates of `current`
 * that have not expired, then those of `injected` not already there (valid ones only); each
 * certificate once. Certificates already present keep their place, so re-injecting a CA that is
 * in the bundle changes nothing (no write). Beyond `max` certificates, the earliest issued of
 * `current` are dropped (never an injected one): every restart of a replica with an `emptyDir`
 * cert dir adds a CA, and the bundle must not grow without bound.
 */
export function mergeCaBundles(current: string, injected: string, now: Date, max = DEFAULT_MAX_CAS): string {
  const seen = new Set<string>();
  const fresh = new Set(parsePemCerts(injected).map((c) => c.der));
  const out: ParsedCert[] = [];
  for (const c of [...parsePemCerts(current), ...parsePemCerts(injected)]) {
    if (seen.has(c.der) || !validAt(c, now)) continue;
    seen.add(c.der);
    out.push(c);
  }
  const old = out.filter((c) => !fresh.has(c.der)).sort((a, b) => Date.parse(a.x.validFrom) - Date.parse(b.x.validFrom));
  const drop = new Set(old.slice(0, Math.max(0, out.length - max)).map((c) => c.der));
  return out
    .filter((c) => !drop.has(c.der))
    .map((c) => c.pem)
    .join("");
}

/** Merge `pem` into every webhook's caBundle; true when something changed. */
function mergeInto(obj: WebhookConfigurationObject, pem: string, now: Date, max: number): boolean {
  let changed = false;
  for (const w of obj.webhooks ?? []) {
    const current = Buffer.from(w.clientConfig.caBundle ?? "", "base64").toString("utf8");
    const b64 = Buffer.from(mergeCaBundles(current, pem, now, max)).toString("base64");
    if (w.clientConfig.caBundle !== b64) {
      w.clientConfig.caBundle = b64;
      changed = true;
    }
  }
  return changed;
}

async function withRetry(attempts: number, f: () => Promise<void>): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      return await f();
    } catch (e) {
      if ((e as { code?: number }).code !== 409 || i >= attempts) throw e;
    }
  }
}

/** An `injectCaBundle` function for `startCertRotation` over any {@link WebhookConfigurationStore}. */
export function caBundleInjector(store: WebhookConfigurationStore, opts: CaInjectorOptions = {}): (caBundlePem: string) => Promise<void> {
  const attempts = opts.attempts ?? 5;
  const now = opts.now ?? (() => new Date());
  const targets: Array<[WebhookConfigurationKind, string]> = [
    ...(opts.validating ?? [IPAM_WEBHOOK_CONFIGURATIONS.validating]).map((n): [WebhookConfigurationKind, string] => ["validating", n]),
    ...(opts.mutating ?? [IPAM_WEBHOOK_CONFIGURATIONS.mutating]).map((n): [WebhookConfigurationKind, string] => ["mutating", n]),
  ];
  return async (pem) => {
    for (const [kind, name] of targets) {
      await withRetry(attempts, async () => {
        const body = await store.read(kind, name);
        if (mergeInto(body, pem, now(), opts.maxCas ?? DEFAULT_MAX_CAS)) await store.replace(kind, name, body);
      });
    }
  };
}

/** The API server as a {@link WebhookConfigurationStore} (`api`: client-node's `AdmissionregistrationV1Api` or rest-apis.ts'). */
export function apiWebhookConfigurationStore(api: WebhookConfigurationCalls): WebhookConfigurationStore {
  return {
    read: (kind, name) => (kind === "validating" ? api.readValidatingWebhookConfiguration({ name }) : api.readMutatingWebhookConfiguration({ name })),
    replace: async (kind, name, body) => {
      // The objects come from read() above, so they are the full typed objects.
      if (kind === "validating") await api.replaceValidatingWebhookConfiguration({ name, body: body as Parameters<typeof api.replaceValidatingWebhookConfiguration>[0]["body"] });
      else await api.replaceMutatingWebhookConfiguration({ name, body: body as Parameters<typeof api.replaceMutatingWebhookConfiguration>[0]["body"] });
    },
  };
}

/** An `injectCaBundle` function for `startCertRotation` that talks to the API server through `api`. */
export function webhookCaBundleInjector(api: WebhookConfigurationCalls, opts: CaInjectorOptions = {}): (caBundlePem: string) => Promise<void> {
  return caBundleInjector(apiWebhookConfigurationStore(api), opts);
}
