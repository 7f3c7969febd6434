/**
 * coil-ipam-controller's webhook server: the shared server of adapters/k8s/webhook-server.ts
 * answering the AddressPool reviews of `webhook-review.ts` unless another `handle` is given.
 */
import { startWebhookServer as startShared, type WebhookServer, type WebhookServerOptions } from "../k8s/webhook-server.js";
import { handleWebhookRequest } from "./webhook-review.js";

export type { WebhookLogger, WebhookServer } from "../k8s/webhook-server.js";

/** Options: those of the shared server, `handle` defaulting to the AddressPool webhooks. */
export type IpamWebhookServerOptions = Omit<WebhookServerOptions, "handle"> & { readonly handle?: WebhookServerOptions["handle"] };

/** Start the AddressPool webhook server; resolves once it listens (certificates may still be missing). */
export function startWebhookServer(opts: IpamWebhookServerOptions): Promise<WebhookServer> {
  return startShared({ ...opts, handle: opts.handle ?? handleWebhookRequest });
}
