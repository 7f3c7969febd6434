/**
 * Lazy certificate reloader (Coil `pkg/cert`, §9.8): the serving key pair is read on demand (per
 * TLS handshake), re-read when `tls.crt` changes, and the last good pair is kept when a reload
 * fails or the files vanish. A change is detected from `stat` of `tls.crt` following symlinks
 * (device, inode, size and mtime in ns), so kubelet's atomic `..data` symlink swaps of mounted
 * Secrets are seen even when the new file has the same mtime.
 */
import { X509Certificate } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { createSecureContext } from "node:tls";

/** A loaded key pair. */
export interface LoadedCert {
  /** PEM certificate chain as read. */
  readonly cert: string;
  /** PEM private key as read. */
  readonly key: string;
  /** Serial number of the leaf (hex, upper case, as Node prints it). */
  readonly serial: string;
  /** End of validity of the leaf. */
  readonly notAfter: Date;
  /** Increments on every successful (re)load; lets callers detect a change cheaply. */
  readonly generation: number;
}

/** Options of {@link CertReloader}. */
export interface CertReloaderOptions {
  /** Path of the certificate, e.g. `<cert-dir>/tls.crt`. */
  readonly certFile: string;
  /** Path of the key, e.g. `<cert-dir>/tls.key`. */
  readonly keyFile: string;
  /** Called when a reload fails while a cached pair keeps being served. */
  readonly onError?: (err: Error) => void;
}

/** Paths of `tls.crt` / `tls.key` in a cert dir. */
export function certDirFiles(certDir: string): { certFile: string; keyFile: string } {
  return { certFile: join(certDir, "tls.crt"), keyFile: join(certDir, "tls.key") };
}

/** Reloads a key pair lazily; see the module comment. Concurrent callers share one reload. */
export class CertReloader {
  readonly #opts: CertReloaderOptions;
  #cached: LoadedCert | undefined;
  #stamp = "";
  #inflight: Promise<LoadedCert> | undefined;

  /** Create a reloader; nothing is read until {@link CertReloader.get}. */
  constructor(opts: CertReloaderOptions) {
    this.#opts = opts;
  }

  /** The last successfully loaded pair, without touching the file system. */
  current(): LoadedCert | undefined {
    return this.#cached;
  }

  /**
   * The pair to serve now: re-read when `tls.crt` changed since the last successful load. Rejects
   * only when nothing was ever loaded and the files are missing or invalid.
   */
  get(): Promise<LoadedCert> {
    this.#inflight ??= this.#refresh().finally(() => (this.#inflight = undefined));
    return this.#inflight;
  }

  async #refresh(): Promise<LoadedCert> {
    let stamp: string;
    try {
      const s = await stat(this.#opts.certFile, { bigint: true });
      stamp = `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}`;
    } catch (e) {
      return this.#fallback(e as Error);
    }
    if (this.#cached !== undefined && stamp === this.#stamp) return this.#cached;
    try {
      const [cert, key] = await Promise.all([readFile(this.#opts.certFile, "utf8"), readFile(this.#opts.keyFile, "utf8")]);
      createSecureContext({ cert, key }); // throws on unparsable PEM or a key that does not match
      const leaf = new X509Certificate(cert);
      const generation = (this.#cached?.generation ?? 0) + 1;
      this.#cached = { cert, key, serial: leaf.serialNumber, notAfter: new Date(leaf.validTo), generation };
      this.#stamp = stamp;
      return this.#cached;
    } catch (e) {
      return this.#fallback(e as Error);
    }
  }

  #fallback(e: Error): LoadedCert {
    if (this.#cached === undefined) throw new Error(`cannot load ${this.#opts.certFile}: ${e.message}`);
    this.#opts.onError?.(e);
    return this.#cached;
  }
}
