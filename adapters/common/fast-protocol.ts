/**
 * The "fast path" wire protocol between the `coil` CNI executable and `coild`.
 *
 * Why: the CNI executable is started once per pod operation, so its start-up time is the product.
 * A gRPC client (`node:http2`) costs about 25 ms of Bun start-up; a plain socket costs almost
 * nothing. So coild accepts, on the same UNIX socket as its gRPC service `pkg.cnirpc.CNI`, a second
 * protocol that needs no HTTP/2:
 *
 * 1. The client connects and writes ONE request line: a JSON object followed by `\n`
 *    (`{"v":1,"method":"Add","args":{...}}\n`). UTF-8, no newline inside the JSON.
 * 2. coild sniffs the first bytes of every accepted connection. If they are the HTTP/2 client
 *    preface ({@link HTTP2_PREFACE}, starts with `PRI `) the connection is gRPC and is handed to the
 *    gRPC server. If the first byte is `{` it is a fast-path request. See {@link sniffConnection}.
 * 3. coild answers with ONE response line (JSON + `\n`) and closes the connection:
 *    `{"ok":true}` / `{"ok":true,"result":"<base64 of AddResponse.result>"}` on success, or
 *    `{"ok":false,"grpcCode":N,"error":{"code":..,"msg":..,"details":..}}` on failure, where
 *    `grpcCode` is the gRPC status code the same failure has on the gRPC path and `error` is the
 *    `pkg.cnirpc.CNIError` detail (absent when the gRPC status would carry no detail; then
 *    `message` holds the status message).
 *
 * `args` is the request message of the same-named rpc in `proto/cni.proto`, in the proto3 canonical
 * JSON mapping (lowerCamelCase field names, `bytes` as base64), so coild can decode it with the
 * ts-proto `CNIArgs.fromJSON` / `StatusRequest.fromJSON` / `GCRequest.fromJSON`.
 *
 * A client that gets anything other than one valid response line (an HTTP/2 frame from a server that
 * only speaks gRPC, e.g. Coil's Go coild, or an immediate close) falls back to gRPC.
 *
 * @module
 */

/** Version number carried in every request (`v`). */
export const FAST_PROTOCOL_VERSION = 1;

/** The HTTP/2 client connection preface (RFC 9113 §3.4); gRPC connections start with it. */
export const HTTP2_PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/** Upper bound for one request or response line, in bytes (netconf + prevResult fit easily). */
export const MAX_LINE_BYTES = 4 * 1024 * 1024;

/** The rpc names of service `pkg.cnirpc.CNI`. */
export type FastMethod = "Add" | "Del" | "Check" | "Status" | "GC";

/** All {@link FastMethod}s. */
export const FAST_METHODS: readonly FastMethod[] = ["Add", "Del", "Check", "Status", "GC"];

/** `pkg.cnirpc.CNIArgs` in proto3 JSON form. */
export interface CniArgsJson {
  /** CNI_CONTAINERID. */
  readonly containerId: string;
  /** CNI_NETNS (may be empty for DEL). */
  readonly netns: string;
  /** CNI_IFNAME. */
  readonly ifname: string;
  /** CNI_ARGS pairs plus coil's own keys (IS_CHAINED). */
  readonly args: Readonly<Record<string, string>>;
  /** CNI_PATH. */
  readonly path: string;
  /** The netconf exactly as read from stdin, base64. */
  readonly stdinData: string;
  /** Addresses (no prefix) from prevResult. */
  readonly ips: readonly string[];
  /** Interface name → has a sandbox, from prevResult. */
  readonly interfaces: Readonly<Record<string, boolean>>;
}

/** `pkg.cnirpc.StatusRequest` in proto3 JSON form. */
export interface StatusRequestJson {
  /** The netconf, base64. */
  readonly stdinData: string;
  /** CNI_PATH. */
  readonly path: string;
}

/** `pkg.cnirpc.GCRequest` in proto3 JSON form. */
export interface GcRequestJson {
  /** The netconf, base64. */
  readonly stdinData: string;
  /** CNI_PATH. */
  readonly path: string;
  /** Attachments to keep. */
  readonly validAttachments: readonly { readonly containerId: string; readonly ifname: string }[];
}

/** One fast-path request line. */
export type FastRequest =
  | { readonly v: 1; readonly method: "Add" | "Del" | "Check"; readonly args: CniArgsJson }
  | { readonly v: 1; readonly method: "Status"; readonly args: StatusRequestJson }
  | { readonly v: 1; readonly method: "GC"; readonly args: GcRequestJson };

/** The CNI error carried by a failed call (`pkg.cnirpc.CNIError`). */
export interface FastCniError {
  /** CNI error code. */
  readonly code: number;
  /** Message. */
  readonly msg: string;
  /** Details ("" when none). */
  readonly details: string;
}

/** One fast-path response line. */
export type FastResponse =
  | { readonly ok: true; readonly result?: string }
  | {
      readonly ok: false;
      readonly grpcCode: number;
      readonly message?: string;
      readonly error?: FastCniError;
    };

/** Serialise a request or response as one line (JSON + `\n`). */
export function encodeLine(msg: FastRequest | FastResponse): string {
  return `${JSON.stringify(msg)}\n`;
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);

/** Why a line is not a valid fast-path message. */
export interface FastDecodeError {
  /** Discriminant. */
  readonly kind: "fast-decode";
  /** What is wrong. */
  readonly reason: string;
}

const bad = (reason: string): FastDecodeError => ({ kind: "fast-decode", reason });

/**
 * Parse one response line (without the `\n`). Returns a {@link FastDecodeError} for anything that
 * is not a well-formed {@link FastResponse}: the client then treats the server as gRPC-only.
 */
export function parseResponseLine(line: string): FastResponse | FastDecodeError {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return bad("not JSON");
  }
  if (!isObj(v) || typeof v["ok"] !== "boolean") return bad("no boolean ok");
  if (v["ok"]) {
    const r = v["result"];
    if (r === undefined) return { ok: true };
    return typeof r === "string" ? { ok: true, result: r } : bad("result is not a string");
  }
  const code = v["grpcCode"];
  if (typeof code !== "number" || !Number.isInteger(code)) return bad("grpcCode is not an integer");
  const e = v["error"];
  const message = typeof v["message"] === "string" ? { message: v["message"] } : {};
  if (e === undefined) return { ok: false, grpcCode: code, ...message };
  if (!isObj(e) || typeof e["code"] !== "number" || typeof e["msg"] !== "string") return bad("malformed error");
  const details = typeof e["details"] === "string" ? e["details"] : "";
  return { ok: false, grpcCode: code, ...message, error: { code: e["code"], msg: e["msg"], details } };
}

/**
 * Parse one request line (without the `\n`), as coild does. Only the envelope is checked here
 * (`v`, `method`, `args` object); coild decodes `args` with the ts-proto `fromJSON` of the rpc's
 * request message.
 */
export function parseRequestLine(line: string): FastRequest | FastDecodeError {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return bad("not JSON");
  }
  if (!isObj(v)) return bad("not an object");
  if (v["v"] !== FAST_PROTOCOL_VERSION) return bad(`unsupported version ${JSON.stringify(v["v"])}`);
  const m = v["method"];
  if (typeof m !== "string" || !(FAST_METHODS as readonly string[]).includes(m)) return bad("unknown method");
  if (!isObj(v["args"])) return bad("args is not an object");
  return v as unknown as FastRequest;
}

/** What the first bytes of an accepted connection say about its protocol. */
export type Sniffed = "grpc" | "fast" | "unknown" | "need-more";

/**
 * Classify a connection from the bytes received so far (coild's side of the sniffing). `grpc` once
 * the bytes are a prefix-match of the HTTP/2 preface of at least 3 bytes, `fast` when the first byte
 * is `{`, `need-more` for an empty buffer or a shorter preface prefix, otherwise `unknown`.
 */
export function sniffConnection(first: Uint8Array): Sniffed {
  if (first.length === 0) return "need-more";
  if (first[0] === 0x7b) return "fast";
  const n = Math.min(first.length, HTTP2_PREFACE.length);
  for (let i = 0; i < n; i++) if (first[i] !== HTTP2_PREFACE.charCodeAt(i)) return "unknown";
  return n >= 3 ? "grpc" : "need-more";
}
