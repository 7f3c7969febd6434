/**
 * Wiring of the AddressPool webhooks into `runIpamController` (`IpamControllerDeps.startWebhook`):
 * `--webhook-addr`, `--cert-dir`, `--enable-cert-rotation` (generate + rotate + inject the CA into
 * both ipam webhook configurations through the controller's API client).
 */
import { IPAM_WEBHOOK_DNS_NAMES } from "../k8s/certs-generate.js";
import { webhookCaBundleInjector } from "../k8s/certs-inject.js";
import { startWebhookServer } from "../k8s/webhook-server.js";
import type { StartWebhook } from "./run.js";
import { handleWebhookRequest } from "./webhook-review.js";

/** Options of {@link makeStartIpamWebhook}. */
export interface StartIpamWebhookOptions {
  /** SANs added to Coil's two Service DNS names when generating certificates (e.g. `127.0.0.1` in tests). */
  readonly extraHosts?: readonly string[];
}

/**
 * A `StartWebhook` for `runIpamController`. Readiness is a TLS dial (controller-runtime's
 * StartedChecker). `--enable-restart-on-cert-refresh` is accepted but unnecessary: the serving
 * certificate is reloaded in place on every change.
 */
export function makeStartIpamWebhook(opts: StartIpamWebhookOptions = {}): StartWebhook {
  return async (o) => {
    const log = { info: o.log.info.bind(o.log), error: o.log.error.bind(o.log) };
    const server = await startWebhookServer({
      handle: handleWebhookRequest,
      ...(o.addr.host === "" ? {} : { host: o.addr.host }),
      port: o.addr.port,
      certDir: o.certDir,
      log,
      ...(o.enableCertRotation
        ? {
            certRotation: {
              hosts: [...IPAM_WEBHOOK_DNS_NAMES, ...(opts.extraHosts ?? [])],
              injectCaBundle: webhookCaBundleInjector(o.clients.admission),
              onEvent: (msg: string, fields: Readonly<Record<string, unknown>>) => o.log.info(msg, fields),
            },
          }
        : {}),
    });
    if (o.enableRestartOnCertRefresh) o.log.info("--enable-restart-on-cert-refresh has no effect: certificates are reloaded in place");
    return { ready: () => server.checkReady(), close: () => server.close() };
  };
}
