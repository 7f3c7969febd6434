/**
 * Base64 (RFC 4648 §4, with padding) for the `coil` executable, without Node's `Buffer`: the same
 * code runs under Bun, Node and QuickJS (`quickjs/main.ts`), and QuickJS has neither `Buffer` nor
 * `atob`/`btoa`. Node 20 has no `Uint8Array.fromBase64` either. Hand-written for that reason; the
 * tests check it against `Buffer` on random inputs.
 */

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const VALUE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) VALUE[ALPHABET.charCodeAt(i)] = i;

/** Longest run turned into a string at once (`fromCharCode.apply` puts it on the stack). */
const RUN = 8192;

/** Encode bytes as base64. */
export function toBase64(bytes: Uint8Array): string {
  const parts: string[] = [];
  const codes: number[] = [];
  const flush = (): void => {
    parts.push(String.fromCharCode.apply(null, codes));
    codes.length = 0;
  };
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    codes.push(ALPHABET.charCodeAt(n >> 18), ALPHABET.charCodeAt((n >> 12) & 63), ALPHABET.charCodeAt((n >> 6) & 63), ALPHABET.charCodeAt(n & 63));
    if (codes.length >= RUN) flush();
  }
  const left = bytes.length - i;
  if (left > 0) {
    const n = ((bytes[i] ?? 0) << 16) | (left === 2 ? (bytes[i + 1] ?? 0) << 8 : 0);
    codes.push(ALPHABET.charCodeAt(n >> 18), ALPHABET.charCodeAt((n >> 12) & 63), left === 2 ? ALPHABET.charCodeAt((n >> 6) & 63) : 61, 61);
  }
  flush();
  return parts.join("");
}

/**
 * Decode base64; `undefined` when `text` is not canonical padded base64 (a length that is not a
 * multiple of 4, a character outside the alphabet, padding in the middle, or non-zero padding bits).
 */
export function fromBase64(text: string): Uint8Array | undefined {
  if (text.length % 4 !== 0) return undefined;
  const pad = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    const last = i + 4 === text.length;
    const a = VALUE[text.charCodeAt(i)] ?? -1;
    const b = VALUE[text.charCodeAt(i + 1)] ?? -1;
    const c = last && pad === 2 ? 0 : VALUE[text.charCodeAt(i + 2)] ?? -1;
    const d = last && pad >= 1 ? 0 : VALUE[text.charCodeAt(i + 3)] ?? -1;
    if ((a | b | c | d) < 0) return undefined;
    const n = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = n >> 16;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
    if (last && pad > 0 && (n & (pad === 2 ? 0xffff : 0xff)) !== 0) return undefined;
  }
  return out;
}
