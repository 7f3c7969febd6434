/**
 * Wiring of the Egress webhooks into `runEgressController` (`EgressControllerDeps.startWebhook`):
 * `--webhook-addr`, `--cert-dir`, `--enable-cert-rotation` (generate + rotate + inject the CA into
 * both egress webhook configurations through the controller's API client; CA `coil-egress-ca`).
 */
import { EGRESS_WEBHOOK_DNS_NAMES } from "../k8s/certs-generate.js";
import { EGRESS_WEBHOOK_CONFIGURATIONS, webhookCaBundleInjector } from "../k8s/certs-inject.js";
import { startWebhookServer } from "../k8s/webhook-server.js";
import type { StartWebhook } from "./run.js";
import { handleEgressWebhookRequest } from "./webhook-review.js";

/** Options of {@link makeStartEgressWebhook}. */
export interface StartEgressWebhookOptions {
  /** SANs added to Coil's two Service DNS names when generating certificates (e.g. `127.0.0.1` in tests). */
  readonly extraHosts?: readonly string[];
}

/**
 * A `StartWebhook` for `runEgressController`. Readiness is a TLS dial (controller-runtime's
 * StartedChecker). `--enable-restart-on-cert-refresh` is accepted but unnecessary: the serving
 * certificate is reloaded in place on every change.
 */
export function makeStartEgressWebhook(opts: StartEgressWebhookOptions = {}): StartWebhook {
  return async (o) => {
    const log = { info: o.log.info.bind(o.log), error: o.log.error.bind(o.log) };
    const server = await startWebhookServer({
      handle: handleEgressWebhookRequest,
      ...(o.addr.host === "" ? {} : { host: o.addr.host }),
      port: o.addr.port,
      certDir: o.certDir,
      log,
      ...(o.enableCertRotation
        ? {
            certRotation: {
              hosts: [...EGRESS_WEBHOOK_DNS_NAMES, ...(opts.extraHosts ?? [])],
              caName: "coil-egress-ca",
              injectCaBundle: webhookCaBundleInjector(o.clients.admission, { validating: [EGRESS_WEBHOOK_CONFIGURATIONS.validating], mutating: [EGRESS_WEBHOOK_CONFIGURATIONS.mutating] }),
              onEvent: (msg: string, fields: Readonly<Record<string, unknown>>) => o.log.info(msg, fields),
            },
          }
        : {}),
    });
    if (o.enableRestartOnCertRefresh) o.log.info("--enable-restart-on-cert-refresh has no effect: certificates are reloaded in place");
    return { ready: () => server.checkReady(), close: () => server.close() };
  };
}
