/**
 * `--enable-cert-rotation`: keep a CA + serving certificate in `--cert-dir` (`ca.crt`, `tls.crt`,
 * `tls.key`) valid, as open-policy-agent cert-controller does for Coil: generate at start when the
 * files are absent, invalid, for other hosts or expiring within the lookahead (90 days), re-check
 * every 12 hours, and put the CA into the webhook configurations' `caBundle`.
 *
 * Differences from Coil: the files are written to the cert dir directly instead of the Secret
 * `coilv2-ipam-webhook-server-cert` (which kubelet would then mount there). On rotation the CA bundle
 * is injected BEFORE the new key pair is written and carries the new CA followed by the still-valid
 * old one, so the API server trusts both the outgoing and the incoming certificate. The injector of
 * `certs-inject.ts` merges that bundle into the configurations (other replicas' CAs stay).
 */
import { X509Certificate } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { replaceFile } from "../common/atomic-file.js";
import { KeyedMutex } from "../common/key-mutex.js";
import { checkWebhookCerts, generateWebhookCerts, IPAM_WEBHOOK_DNS_NAMES, type CertProblem } from "./certs-generate.js";

/** Options of {@link ensureServingCerts} and {@link startCertRotation}. */
export interface CertRotationOptions {
  /** Directory receiving `ca.crt`, `tls.crt`, `tls.key`. */
  readonly certDir: string;
  /** SANs (DNS names and IP literals); default {@link IPAM_WEBHOOK_DNS_NAMES}. */
  readonly hosts?: readonly string[];
  /** CA common name; default `coil-ipam-ca`. */
  readonly caName?: string;
  /** Writes the PEM CA bundle into the webhook configurations (see `certs-inject.ts`). */
  readonly injectCaBundle?: (caBundlePem: string) => Promise<void>;
  /** Clock; default `() => new Date()`. */
  readonly now?: () => Date;
  /** Certificate validity; default 10 years. */
  readonly validityMs?: number;
  /** Regenerate when expiring within this; default 90 days. */
  readonly lookaheadMs?: number;
  /** Period of the expiry check; default 12 hours. */
  readonly checkIntervalMs?: number;
  /** Delay before retrying a failed check; default 10 s. */
  readonly retryMs?: number;
  /** Receives what happened (generated, injected, failed). */
  readonly onEvent?: (msg: string, fields: Readonly<Record<string, unknown>>) => void;
}

/** Outcome of one {@link ensureServingCerts} run. */
export interface EnsureResult {
  /** Why new certificates were generated; undefined when the existing ones were kept. */
  readonly regenerated: CertProblem | "missing" | undefined;
  /** The CA bundle injected (PEM). */
  readonly caBundle: string;
  /** End of validity of the serving certificate in effect. */
  readonly notAfter: Date;
}

const DAY_MS = 24 * 3600 * 1000;

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

function stillValid(pem: string | undefined, now: Date): boolean {
  if (pem === undefined) return false;
  try {
    return Date.parse(new X509Certificate(pem).validTo) > now.getTime();
  } catch {
    return false;
  }
}

/** Make sure valid certificates for `hosts` are in the cert dir and their CA is injected. */
export async function ensureServingCerts(opts: CertRotationOptions): Promise<EnsureResult> {
  const now = (opts.now ?? (() => new Date()))();
  const hosts = opts.hosts ?? IPAM_WEBHOOK_DNS_NAMES;
  const files = { caCert: join(opts.certDir, "ca.crt"), cert: join(opts.certDir, "tls.crt"), key: join(opts.certDir, "tls.key") };
  const [caCert, cert, key] = await Promise.all([readOptional(files.caCert), readOptional(files.cert), readOptional(files.key)]);
  const problem =
    caCert === undefined || cert === undefined || key === undefined
      ? ("missing" as const)
      : checkWebhookCerts({ caCert, cert, key }, { hosts, now, lookaheadMs: opts.lookaheadMs ?? 90 * DAY_MS });
  if (problem === undefined && caCert !== undefined && cert !== undefined) {
    await opts.injectCaBundle?.(caCert);
    return { regenerated: undefined, caBundle: caCert, notAfter: new Date(new X509Certificate(cert).validTo) };
  }
  const fresh = await generateWebhookCerts({
    hosts,
    now,
    ...(opts.caName === undefined ? {} : { caName: opts.caName }),
    ...(opts.validityMs === undefined ? {} : { validityMs: opts.validityMs }),
  });
  const caBundle = fresh.caCert + (caCert !== undefined && stillValid(caCert, now) ? caCert : "");
  await opts.injectCaBundle?.(caBundle);
  await mkdir(opts.certDir, { recursive: true });
  // Each through a temp file and rename, so readers never see a partial file.
  await replaceFile(files.key, fresh.key, { mode: 0o600 });
  await replaceFile(files.caCert, fresh.caCert, { mode: 0o644 });
  await replaceFile(files.cert, fresh.cert, { mode: 0o644 }); // last: its change triggers the reloader
  return { regenerated: problem, caBundle, notAfter: fresh.notAfter };
}

/** A running rotator. */
export interface CertRotation {
  /** Settles after the first check (rejects with its error; later checks retry). */
  readonly firstRun: Promise<EnsureResult>;
  /** Run one check now (serialised with the periodic ones). */
  checkNow(): Promise<EnsureResult>;
  /** Stop the periodic check. */
  stop(): void;
}

/** Check now and then periodically; a failed check is retried after `retryMs`. */
export function startCertRotation(opts: CertRotationOptions): CertRotation {
  const event = opts.onEvent ?? (() => undefined);
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  // One check at a time: a checkNow() during a periodic check runs after it.
  const serial = new KeyedMutex();
  const checkNow = (): Promise<EnsureResult> => serial.run("check", () => ensureServingCerts(opts));
  const schedule = (ms: number): void => {
    if (stopped) return;
    timer = setTimeout(() => void tick().catch(() => undefined), ms);
    timer.unref();
  };
  const tick = async (): Promise<EnsureResult> => {
    try {
      const r = await checkNow();
      if (r.regenerated !== undefined) event("generated webhook certificates", { reason: r.regenerated, notAfter: r.notAfter.toISOString() });
      schedule(opts.checkIntervalMs ?? 12 * 3600 * 1000);
      return r;
    } catch (e) {
      event("webhook certificate check failed", { error: (e as Error).message });
      schedule(opts.retryMs ?? 10_000);
      throw e;
    }
  };
  const firstRun = tick();
  firstRun.catch(() => undefined);
  return {
    firstRun,
    checkNow,
    stop: () => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
    },
  };
}
