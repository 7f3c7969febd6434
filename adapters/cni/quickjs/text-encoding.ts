/**
 * `TextEncoder` and `TextDecoder` (UTF-8 only) for QuickJS, which has neither: the protobuf runtime
 * (`@bufbuild/protobuf/wire`, under the generated messages) needs them for `string` fields and asks
 * for them on `globalThis`. `main.ts` installs them when its own body runs, which is after every
 * imported module's top level: that works because the protobuf runtime looks them up lazily (on the
 * first string encoded or decoded), so no module may use them at its top level. Never replaces an
 * existing implementation. Strict decoding is `lib/cni`'s validating decoder; non-fatal decoding
 * replaces each byte of an invalid sequence with U+FFFD (WHATWG replaces a maximal subpart once;
 * coild only sends valid UTF-8, and Go's protobuf refuses anything else).
 */
import { decodeUtf8 } from "../../../lib/cni/index.js";

/** UTF-8 bytes of `text`; a lone surrogate becomes U+FFFD (EF BF BD), as WHATWG's encoder does. */
export function encodeUtf8(text: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return Uint8Array.from(out);
}

/** Decode UTF-8, replacing each byte that does not start a valid sequence with U+FFFD. */
export function decodeUtf8Lossy(bytes: Uint8Array): string {
  const whole = decodeUtf8(bytes);
  if (whole !== undefined) return whole;
  let out = "";
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] ?? 0;
    const len = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
    const one = len === 0 ? undefined : decodeUtf8(bytes.subarray(i, i + len));
    if (one === undefined || i + len > bytes.length) {
      out += "\ufffd";
      i++;
    } else {
      out += one;
      i += len;
    }
  }
  return out;
}

class Utf8Encoder {
  readonly encoding = "utf-8";
  encode(text = ""): Uint8Array {
    return encodeUtf8(text);
  }
}

class Utf8Decoder {
  readonly encoding = "utf-8";
  readonly fatal: boolean;
  readonly ignoreBOM: boolean;
  constructor(label = "utf-8", options: { fatal?: boolean; ignoreBOM?: boolean } = {}) {
    if (!/^\s*(utf-?8|unicode-1-1-utf-8)\s*$/i.test(label)) throw new RangeError(`TextDecoder: encoding ${label} is not supported`);
    this.fatal = options.fatal === true;
    this.ignoreBOM = options.ignoreBOM === true;
  }
  decode(input?: ArrayBuffer | ArrayBufferView): string {
    const bytes = input === undefined ? new Uint8Array(0) : ArrayBuffer.isView(input) ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength) : new Uint8Array(input);
    const body = !this.ignoreBOM && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes;
    if (!this.fatal) return decodeUtf8Lossy(body);
    const s = decodeUtf8(body);
    if (s === undefined) throw new TypeError("The encoded data was not valid for encoding utf-8");
    return s;
  }
}

/** Put the UTF-8 `TextEncoder` / `TextDecoder` on `globalThis` where they are missing. */
export function installTextEncoding(): void {
  const g = globalThis as { TextEncoder?: unknown; TextDecoder?: unknown };
  g.TextEncoder ??= Utf8Encoder;
  g.TextDecoder ??= Utf8Decoder;
}
