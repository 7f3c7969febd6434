/**
 * A strict UTF-8 decoder (lib code has no `TextDecoder`): rejects overlong forms, surrogates,
 * truncated sequences and code points above U+10FFFF.
 */

/** Longest run turned into a string at once (bounded: `fromCharCode.apply` puts it on the stack). */
const RUN = 8192;

/** Decode `bytes` as UTF-8; `undefined` when they are not valid UTF-8. Linear; ASCII runs are copied in blocks. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  const parts: string[] = [];
  let chunk: number[] = [];
  const flush = (): void => {
    if (chunk.length > 0) parts.push(String.fromCodePoint(...chunk));
    chunk = [];
  };
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] ?? 0;
    if (b < 0x80) {
      let j = i + 1;
      while (j < bytes.length && j - i < RUN && (bytes[j] ?? 0) < 0x80) j++;
      flush();
      parts.push(String.fromCharCode.apply(null, bytes.subarray(i, j) as unknown as number[]));
      i = j;
      continue;
    }
    const [len, min] = b >= 0xc2 && b < 0xe0 ? [2, 0x80] : b >= 0xe0 && b < 0xf0 ? [3, 0x800] : b >= 0xf0 && b < 0xf5 ? [4, 0x10000] : [0, 0];
    if (len === 0 || i + len > bytes.length) return undefined;
    let cp = b & (0xff >> (len + 1));
    for (let k = 1; k < len; k++) {
      const c = bytes[i + k] ?? 0;
      if ((c & 0xc0) !== 0x80) return undefined;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return undefined;
    chunk.push(cp);
    if (chunk.length >= 4096) flush();
    i += len;
  }
  flush();
  return parts.join("");
}
