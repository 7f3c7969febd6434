/**
 * What the QuickJS host (`host/`, a Go program) offers the script: the functions it registers as
 * globals before it runs the bytecode. Every call is synchronous. Binary data crosses as base64
 * (the host converts strings, numbers, booleans, arrays of strings and plain objects only:
 * `host/engine.go`). Keep in step with `host/io.go`, which documents each function where it is
 * implemented.
 */

/** `__coil_stdin`: the bytes read (base64), or why reading failed. */
export type HostStdin = { readonly data: string } | { readonly error: string };

/** `__coil_line`: one request line sent, and what came back. */
export type HostLine =
  | { readonly connectError: string }
  | {
      /** What was read (base64): up to and including the first newline. */
      readonly data: string;
      /**
       * Why reading stopped: a newline, end of stream, more than the limit, a first byte other than
       * `{` ("other"), a socket error (`error` names it), or the deadline.
       */
      readonly end: "newline" | "eof" | "limit" | "other" | "error" | "timeout";
      readonly error?: string;
    };

/** `__coil_h2`: one unary gRPC call's HTTP/2 exchange. */
export type HostH2 =
  | { readonly connectError: string }
  | { readonly timeout: true }
  | { readonly error: string }
  | {
      readonly status: number;
      /** Response headers, lower-case names, first value of each. */
      readonly headers: Readonly<Record<string, string>>;
      /** Trailers, likewise (empty for a trailers-only response, whose status is in `headers`). */
      readonly trailers: Readonly<Record<string, string>>;
      /** Response body (base64). */
      readonly body: string;
    };

/** The host's functions. */
export interface CoilHost {
  /** The process environment. */
  env(): Readonly<Record<string, string>>;
  /** The arguments after the program name. */
  argv(): readonly string[];
  /** Read stdin to its end, at most `limit` bytes. */
  stdin(limit: number): HostStdin;
  /** Write all of `text` (UTF-8) to stdout (1) or stderr (2); the errno's name on failure. */
  write(fd: 1 | 2, text: string): string | null | undefined;
  /** End the process. */
  exit(code: number): never;
  /** One fast-path exchange (request `line`, response up to `maxBytes`) within `timeoutMs`. */
  line(socket: string, line: string, timeoutMs: number, maxBytes: number): HostLine;
  /** One gRPC exchange: POST `path` with `body` (base64, framed), `grpc-timeout: grpcTimeout`. */
  h2(socket: string, path: string, body: string, timeoutMs: number, grpcTimeout: string): HostH2;
}

interface HostGlobals {
  __coil_env?: CoilHost["env"];
  __coil_argv?: CoilHost["argv"];
  __coil_stdin?: CoilHost["stdin"];
  __coil_write?: CoilHost["write"];
  __coil_exit?: CoilHost["exit"];
  __coil_line?: CoilHost["line"];
  __coil_h2?: CoilHost["h2"];
}

/** The host's functions, or `undefined` when not running in the QuickJS host. */
export function coilHost(): CoilHost | undefined {
  const g = globalThis as HostGlobals;
  const { __coil_env: env, __coil_argv: argv, __coil_stdin: stdin, __coil_write: write, __coil_exit: exit, __coil_line: line, __coil_h2: h2 } = g;
  if (env === undefined || argv === undefined || stdin === undefined || write === undefined || exit === undefined || line === undefined || h2 === undefined) return undefined;
  return { env, argv, stdin, write, exit, line, h2 };
}
