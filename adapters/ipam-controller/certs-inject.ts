/**
 * Put a CA bundle into the `clientConfig.caBundle` of every webhook of Coil's ipam webhook
 * configurations (cert-controller's `WebhookInfo` injection). Read-modify-replace with retries on
 * 409 Conflict; the configurations must exist (they are shipped in `config/webhook/`).
 */
import { AdmissionregistrationV1Api, type KubeConfig } from "@kubernetes/client-node";

/** Names of the ipam webhook configurations as Coil deploys them. */
export const IPAM_WEBHOOK_CONFIGURATIONS = {
  validating: "coilv2-validating-ipam-webhook-configuration",
  mutating: "coilv2-mutating-ipam-webhook-configuration",
} as const;

/** Options of {@link webhookCaBundleInjector}. */
export interface CaInjectorOptions {
  /** ValidatingWebhookConfiguration names; default Coil's ipam one. */
  readonly validating?: readonly string[];
  /** MutatingWebhookConfiguration names; default Coil's ipam one. */
  readonly mutating?: readonly string[];
  /** Attempts per object on 409 Conflict; default 5. */
  readonly attempts?: number;
}

interface WithWebhooks {
  webhooks?: Array<{ clientConfig: { caBundle?: string } }>;
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

/** Sets caBundle on every webhook; true when something changed. */
function setBundle(obj: WithWebhooks, b64: string): boolean {
  let changed = false;
  for (const w of obj.webhooks ?? []) {
    if (w.clientConfig.caBundle !== b64) {
      w.clientConfig.caBundle = b64;
      changed = true;
    }
  }
  return changed;
}

/** An `injectCaBundle` function for `startCertRotation` that talks to the API server of `kc`. */
export function webhookCaBundleInjector(kc: KubeConfig, opts: CaInjectorOptions = {}): (caBundlePem: string) => Promise<void> {
  const api = kc.makeApiClient(AdmissionregistrationV1Api);
  const attempts = opts.attempts ?? 5;
  return async (pem) => {
    const b64 = Buffer.from(pem).toString("base64");
    for (const name of opts.validating ?? [IPAM_WEBHOOK_CONFIGURATIONS.validating]) {
      await withRetry(attempts, async () => {
        const body = await api.readValidatingWebhookConfiguration({ name });
        if (setBundle(body, b64)) await api.replaceValidatingWebhookConfiguration({ name, body });
      });
    }
    for (const name of opts.mutating ?? [IPAM_WEBHOOK_CONFIGURATIONS.mutating]) {
      await withRetry(attempts, async () => {
        const body = await api.readMutatingWebhookConfiguration({ name });
        if (setBundle(body, b64)) await api.replaceMutatingWebhookConfiguration({ name, body });
      });
    }
  };
}
