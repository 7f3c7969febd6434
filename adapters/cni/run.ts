/**
 * The `coil` CNI executable's logic, with every input a parameter: `runCni({ env, stdin, client })`
 * returns what to print and the exit code, so it is testable without touching `process.env`.
 * Parsing, validation and result conversion come from `lib/cni`; this file only sequences them and
 * calls coild through the {@link CniClient} port.
 */
import { err, ok, type Result } from "neverthrow";
import {
  CNI_ERROR,
  CURRENT_VERSION,
  MAX_QUOTED_CHARS,
  boundText,
  checkCommandVersion,
  checkNetConfSize,
  cniError,
  cniErrorJson,
  convertResult,
  decodeUtf8,
  parseCniArgs,
  parseCniEnv,
  parseNetConf,
  parseResult,
  versionResult,
  type CniAttachmentEnv,
  type CniEnv,
  type CniError,
  type NetConf,
} from "../../lib/cni/index.js";
import type { FastRequest } from "../common/fast-protocol.js";
import type { CniClient, RpcMode, RpcOutcome } from "./client.js";
import { errorOf } from "./outcome.js";
import { attachmentRequest, gcRequest, statusRequest } from "./request.js";

/** Per-call deadline, as Coil's (1 minute). */
export const DEFAULT_TIMEOUT_MS = 60_000;

/** Input of {@link runCni}. */
export interface RunCniInput {
  /** The process environment (only `CNI_*` keys are read). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /**
   * Stdin bytes, or the reason reading stdin failed (→ code 5). More than `MAX_NETCONF_BYTES` → code 7
   * (the reader may stop after `MAX_NETCONF_BYTES + 1` bytes).
   */
  readonly stdin: Uint8Array | { readonly readError: string };
  /** How to reach coild. */
  readonly client: CniClient;
  /** Per-call deadline in ms (default {@link DEFAULT_TIMEOUT_MS}). */
  readonly timeoutMs?: number;
}

/** What the executable prints and returns. */
export interface RunCniOutput {
  /** Text for stdout (a result, a VERSION answer, an error object, or ""). */
  readonly stdout: string;
  /** Process exit code: 0 on success, 1 on any error (as Go's skel). */
  readonly exitCode: number;
  /** Optional diagnostic for stderr. */
  readonly stderr?: string;
}

type Ctx = { readonly input: RunCniInput; readonly stdin: Uint8Array; readonly conf: NetConf };

/** Best-effort `cniVersion` for error objects printed before the config parsed. */
function versionHint(stdin: Uint8Array): string {
  try {
    const v: unknown = JSON.parse(decodeUtf8(stdin) ?? "");
    const cv = typeof v === "object" && v !== null ? (v as Record<string, unknown>)["cniVersion"] : undefined;
    return typeof cv === "string" && /^\d+\.\d+\.\d+$/.test(cv) ? cv : CURRENT_VERSION;
  } catch {
    return CURRENT_VERSION;
  }
}

const fail = (e: CniError, version: string): RunCniOutput => ({
  stdout: `${JSON.stringify(cniErrorJson(e, version))}\n`,
  exitCode: 1,
});

/** The netconf `rpc` key: absent → auto; "auto" | "fast" | "grpc"; anything else → code 7. */
export function rpcMode(conf: NetConf): Result<RpcMode, CniError> {
  const v = conf.raw["rpc"];
  if (v === undefined) return ok("auto");
  if (v === "auto" || v === "fast" || v === "grpc") return ok(v);
  return err(cniError(CNI_ERROR.INVALID_NETWORK_CONFIG, `network config key "rpc" must be "auto", "fast" or "grpc"`, `got ${boundText(JSON.stringify(v) ?? typeof v, MAX_QUOTED_CHARS)}`));
}

async function call(ctx: Ctx, request: FastRequest): Promise<Result<RpcOutcome, CniError>> {
  const mode = rpcMode(ctx.conf);
  if (mode.isErr()) return err(mode.error);
  const timeoutMs = ctx.input.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const o = await ctx.input.client.call({ socket: ctx.conf.socket, mode: mode.value, request, timeoutMs });
  const e = errorOf(request.method, o);
  return e === undefined ? ok(o) : err(e);
}

/** ADD's stdout: prevResult passed through, else coild's result, in the config's version. */
function addOutput(conf: NetConf, o: RpcOutcome): Result<string, CniError> {
  if (conf.prevResult !== undefined) return convertResult(conf.prevResult, conf.cniVersion).map((j) => `${JSON.stringify(j)}\n`);
  const bytes = o.kind === "ok" ? o.result ?? new Uint8Array(0) : new Uint8Array(0);
  let json: unknown;
  try {
    json = JSON.parse(decodeUtf8(bytes) ?? "");
  } catch (e) {
    return err(cniError(CNI_ERROR.DECODING_FAILURE, "failed to unmarshal result", String(e)));
  }
  return parseResult(json)
    .mapErr((e) => cniError(CNI_ERROR.DECODING_FAILURE, "failed to unmarshal result", `${e.msg}: ${e.details}`))
    .andThen((r) => convertResult(r, conf.cniVersion))
    .map((j) => `${JSON.stringify(j)}\n`);
}

async function attachment(ctx: Ctx, env: { readonly command: "ADD" | "DEL" | "CHECK" } & CniAttachmentEnv): Promise<Result<string, CniError>> {
  const args = parseCniArgs(env.args);
  if (args.isErr()) return err(args.error);
  const method = env.command === "ADD" ? "Add" : env.command === "DEL" ? "Del" : "Check";
  const o = await call(ctx, { v: 1, method, args: attachmentRequest(env, args.value, ctx.conf, ctx.stdin) });
  if (o.isErr()) return err(o.error);
  return method === "Add" ? addOutput(ctx.conf, o.value) : ok("");
}

async function dispatch(ctx: Ctx, env: Exclude<CniEnv, { command: "VERSION" }>): Promise<Result<string, CniError>> {
  switch (env.command) {
    case "ADD":
    case "DEL":
    case "CHECK":
      return attachment(ctx, env);
    case "STATUS":
      return (await call(ctx, { v: 1, method: "Status", args: statusRequest(env.path, ctx.stdin) })).map(() => "");
    case "GC": {
      const valid = ctx.conf.validAttachments;
      if (valid === undefined) {
        return err(cniError(CNI_ERROR.INVALID_NETWORK_CONFIG, "GC needs cni.dev/valid-attachments", "refusing to treat a missing list as \"nothing is valid\""));
      }
      return (await call(ctx, { v: 1, method: "GC", args: gcRequest(env.path, ctx.stdin, valid) })).map(() => "");
    }
  }
}

/** Run one CNI invocation. Never throws; every failure is a CNI error object on stdout, exit 1. */
export async function runCni(input: RunCniInput): Promise<RunCniOutput> {
  const stdin = "readError" in input.stdin ? undefined : input.stdin;
  const size = stdin === undefined ? ok(0) : checkNetConfSize(stdin.length);
  const hint = stdin === undefined || size.isErr() ? CURRENT_VERSION : versionHint(stdin);
  const env = parseCniEnv(input.env);
  if (env.isErr()) return fail(env.error, hint);
  if (stdin === undefined) {
    const why = "readError" in input.stdin ? input.stdin.readError : "";
    return fail(cniError(CNI_ERROR.IO_FAILURE, "error reading from stdin", why), hint);
  }
  if (size.isErr()) return fail(size.error, hint);
  if (env.value.command === "VERSION") {
    return { stdout: `${JSON.stringify(versionResult(versionHint(stdin)))}\n`, exitCode: 0 };
  }
  const conf = parseNetConf(stdin);
  if (conf.isErr()) return fail(conf.error, hint);
  const gate = checkCommandVersion(env.value.command, conf.value.cniVersion);
  if (gate.isErr()) return fail(gate.error, conf.value.cniVersion);
  const out = await dispatch({ input, stdin, conf: conf.value }, env.value);
  return out.isOk() ? { stdout: out.value, exitCode: 0 } : fail(out.error, conf.value.cniVersion);
}
