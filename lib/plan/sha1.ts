/**
 * A small pure SHA-1 (FIPS 180-4). Coil derives names from SHA-1 digests (Calico-compatible host
 * veth names, `fou6_` tunnel names); `lib` cannot use `node:crypto`, so the digest is computed here.
 * Not for security purposes.
 */

/** Encode a string as UTF-8 bytes (no TextEncoder in the pure lib). */
export function utf8Bytes(s: string): Uint8Array {
  const out: number[] = [];
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return Uint8Array.from(out);
}

function rotl(x: number, n: number): number {
  return ((x << n) | (x >>> (32 - n))) >>> 0;
}

function padMessage(data: Uint8Array): Uint8Array {
  const len = data.length;
  const total = Math.ceil((len + 9) / 64) * 64;
  const buf = new Uint8Array(total);
  buf.set(data);
  buf[len] = 0x80;
  const bits = len * 8;
  // Message length in bits, big-endian 64-bit (inputs here are far below 2^32 bits).
  buf[total - 4] = (bits >>> 24) & 0xff;
  buf[total - 3] = (bits >>> 16) & 0xff;
  buf[total - 2] = (bits >>> 8) & 0xff;
  buf[total - 1] = bits & 0xff;
  buf[total - 5] = Math.floor(bits / 2 ** 32) & 0xff;
  return buf;
}

function compress(h: number[], buf: Uint8Array, off: number): void {
  const w = new Array<number>(80).fill(0);
  for (let i = 0; i < 16; i++) {
    const j = off + i * 4;
    w[i] = (((buf[j] ?? 0) << 24) | ((buf[j + 1] ?? 0) << 16) | ((buf[j + 2] ?? 0) << 8) | (buf[j + 3] ?? 0)) >>> 0;
  }
  for (let i = 16; i < 80; i++) w[i] = rotl((w[i - 3] ?? 0) ^ (w[i - 8] ?? 0) ^ (w[i - 14] ?? 0) ^ (w[i - 16] ?? 0), 1);
  let [a, b, c, d, e] = [h[0] ?? 0, h[1] ?? 0, h[2] ?? 0, h[3] ?? 0, h[4] ?? 0];
  for (let i = 0; i < 80; i++) {
    let f: number;
    let k: number;
    if (i < 20) [f, k] = [(b & c) | (~b & d), 0x5a827999];
    else if (i < 40) [f, k] = [b ^ c ^ d, 0x6ed9eba1];
    else if (i < 60) [f, k] = [(b & c) | (b & d) | (c & d), 0x8f1bbcdc];
    else [f, k] = [b ^ c ^ d, 0xca62c1d6];
    const t = (rotl(a, 5) + f + e + k + (w[i] ?? 0)) >>> 0;
    [e, d, c, b, a] = [d, c, rotl(b, 30), a, t];
  }
  h[0] = ((h[0] ?? 0) + a) >>> 0;
  h[1] = ((h[1] ?? 0) + b) >>> 0;
  h[2] = ((h[2] ?? 0) + c) >>> 0;
  h[3] = ((h[3] ?? 0) + d) >>> 0;
  h[4] = ((h[4] ?? 0) + e) >>> 0;
}

/** The 20-byte SHA-1 digest of `data` (a string is hashed as UTF-8). */
export function sha1(data: Uint8Array | string): Uint8Array {
  const buf = padMessage(typeof data === "string" ? utf8Bytes(data) : data);
  const h = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0];
  for (let off = 0; off < buf.length; off += 64) compress(h, buf, off);
  const out = new Uint8Array(20);
  h.forEach((v, i) => {
    out[i * 4] = v >>> 24;
    out[i * 4 + 1] = (v >>> 16) & 0xff;
    out[i * 4 + 2] = (v >>> 8) & 0xff;
    out[i * 4 + 3] = v & 0xff;
  });
  return out;
}

/** Lower-case hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The SHA-1 digest of `data` as 40 lower-case hex digits. */
export function sha1Hex(data: Uint8Array | string): string {
  return toHex(sha1(data));
}
