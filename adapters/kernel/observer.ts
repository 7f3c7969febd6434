/**
 * Observer: read the kernel state of one namespace into typed snapshots. Two `ip -batch`
 * processes (one per family, run concurrently) print links, addresses, routes of every table and
 * rules as JSON; `-N` makes iproute2 print table/protocol/scope numbers, so local
 * `/etc/iproute2` name files cannot change the result. nftables is read with `nft -j list`.
 */
import { err, errAsync, ok, ResultAsync, type Result } from "neverthrow";
import { routeTable, type KernelObserveError, type NetnsRef, type NetnsState, type NftListing, type NftQuery, type ObserveOptions, type Route, type RouteQuery } from "../../lib/changeset/index.js";
import type { Family } from "../../lib/net/index.js";
import { parseJsonText, type ParseError } from "./json-shape.js";
import { parseIpAddrs, parseIpLinks } from "./parse-ip-link.js";
import { parseIpRoutes, parseIpRules } from "./parse-ip-route.js";
import { parseNftListing } from "./parse-nft.js";
import { reasonOfExecError } from "./failure.js";
import type { IpSession } from "./ip-session.js";
import { runInNetns, type ExecError } from "./run.js";

/** Why an observation failed: a command failed, or printed something the parsers refused (the kernel port's `KernelObserveError`). */
export type ObserveError = KernelObserveError;

/** Options of {@link observeNetns} (the kernel port's). */
export type { ObserveOptions, NftQuery };

const V4_LINES = ["link show", "addr show", "route show table all", "rule show"];
const V6_LINES = ["addr show", "route show table all", "rule show"];

function batch(ref: NetnsRef, family: Family, lines: readonly string[], timeoutMs?: number): ResultAsync<unknown[], ObserveError> {
  const argv = ["ip", `-${family}`, "-j", "-d", "-N", "-batch", "-"];
  return runInNetns(ref, argv, { input: `${lines.join("\n")}\n`, ...(timeoutMs !== undefined ? { timeoutMs } : {}) })
    .mapErr((cause): ObserveError => ({ kind: "command-failed", cause }))
    .andThen((out) => splitJsonLines(out.stdout, lines.length, `ip -${family} -batch`).mapErr((cause): ObserveError => ({ kind: "unparsable-output", cause })));
}

/** `ip -j -batch -` prints one JSON document per command, one per line. */
export function splitJsonLines(stdout: string, expected: number, where: string): Result<unknown[], ParseError> {
  const lines = stdout.split("\n").filter((l) => l.trim() !== "");
  if (lines.length !== expected) {
    return err({ kind: "unexpected-output", where, message: `expected ${expected} JSON lines, got ${lines.length}` });
  }
  const out: unknown[] = [];
  for (const [i, l] of lines.entries()) {
    const j = parseJsonText(l, `${where} line ${i + 1}`);
    if (j.isErr()) return err(j.error);
    out.push(j.value);
  }
  return ok(out);
}

/**
 * Assemble a {@link NetnsState} from the two batch outputs: `v4` = [links, v4 addrs, v4 routes,
 * v4 rules], `v6` = [v6 addrs, v6 routes, v6 rules]. Pure; exported for fixture tests.
 */
export function netnsStateFromJson(
  v4: readonly unknown[],
  v6: readonly unknown[],
  sysctls: Readonly<Record<string, string>> = {},
): Result<NetnsState, ParseError> {
  const [links, addr4, route4, rule4] = v4;
  const [addr6, route6, rule6] = v6;
  return parseIpLinks(links).andThen((ls) =>
    parseIpAddrs(addr4).andThen((a4) =>
      parseIpAddrs(addr6).andThen((a6) =>
        parseIpRoutes(route4, 4).andThen((r4) =>
          parseIpRoutes(route6, 6).andThen((r6) =>
            parseIpRules(rule4, 4).andThen((u4) =>
              parseIpRules(rule6, 6).map((u6): NetnsState => ({
                links: ls,
                addrs: [...a4.filter((a) => !a.cidr.includes(":")), ...a6.filter((a) => a.cidr.includes(":"))],
                routes: [...r4, ...r6],
                rules: [...u4, ...u6],
                sysctls,
              })),
            ),
          ),
        ),
      ),
    ),
  );
}

const SYSCTL_KEY_RE = /^[A-Za-z0-9_]+(\.[A-Za-z0-9_/-]+)+$/;

/** Read sysctl keys inside the namespace with `sysctl -n` (one value per line). */
export function observeSysctls(ref: NetnsRef, keys: readonly string[], timeoutMs?: number): ResultAsync<Record<string, string>, ObserveError> {
  if (keys.length === 0) return ResultAsync.fromSafePromise(Promise.resolve({}));
  const bad = keys.find((k) => !SYSCTL_KEY_RE.test(k));
  if (bad !== undefined) return errAsync({ kind: "invalid-sysctl-key", key: bad });
  return runInNetns(ref, ["sysctl", "-n", "--", ...keys], timeoutMs !== undefined ? { timeoutMs } : {})
    .mapErr((cause): ObserveError => ({ kind: "command-failed", cause }))
    .andThen((out) => {
      const values = out.stdout.replace(/\n$/, "").split("\n");
      if (values.length !== keys.length) {
        return err<Record<string, string>, ObserveError>({
          kind: "unparsable-output",
          cause: { kind: "unexpected-output", where: "sysctl -n", message: `expected ${keys.length} values, got ${values.length}` },
        });
      }
      return ok(Object.fromEntries(keys.map((k, i) => [k, values[i] ?? ""])));
    });
}

/**
 * Observe links, addresses (both families), routes of every table (unicast only), rules and the
 * requested sysctls of namespace `ref`.
 */
export function observeNetns(ref: NetnsRef, opts: ObserveOptions = {}): ResultAsync<NetnsState, ObserveError> {
  return ResultAsync.combine([
    batch(ref, 4, V4_LINES, opts.timeoutMs),
    batch(ref, 6, V6_LINES, opts.timeoutMs),
    observeSysctls(ref, opts.sysctls ?? [], opts.timeoutMs),
  ]).andThen(([v4, v6, sysctls]) =>
    netnsStateFromJson(v4, v6, sysctls).mapErr((cause): ObserveError => ({ kind: "unparsable-output", cause })),
  );
}

/** Options of {@link observeRoutes}. */
export interface ObserveRoutesOptions {
  /** Per-process (per-call) timeout in milliseconds. */
  readonly timeoutMs?: number;
  /** Co-process for the executor's own namespace that prints IPv4 routes for `route show table N` (no family flag: iproute2 then lists IPv4). */
  readonly session4?: IpSession;
  /** Co-process for the executor's own namespace started with `-6`. */
  readonly session6?: IpSession;
}

/** The `ip route show` line of a query (numbers only: the query is validated by the caller). */
function routeQueryLine(q: RouteQuery): string {
  return `route show table ${q.table}${q.protocol === undefined ? "" : ` proto ${q.protocol}`}`;
}

/** Whether a route is one a query asks for. */
export function routeInQuery(r: Route, q: RouteQuery): boolean {
  return routeTable(r) === q.table && (q.protocol === undefined || r.protocol === q.protocol);
}

/**
 * Parse one family's `ip -j -N route show table T [proto P]`: iproute2 leaves out the fields the
 * filter fixes (`table`, `protocol`), so they are filled in from the query before the usual parse.
 */
export function parseRouteQueryJson(json: unknown, family: Family, q: RouteQuery, where: string): Result<Route[], ParseError> {
  if (!Array.isArray(json)) return err({ kind: "unexpected-output", where, message: "expected a JSON array" });
  const filled = json.map((x: unknown) =>
    typeof x === "object" && x !== null && !Array.isArray(x)
      ? { table: String(q.table), ...(q.protocol === undefined ? {} : { protocol: String(q.protocol) }), ...(x as Record<string, unknown>) }
      : x,
  );
  return parseIpRoutes(filled, family).map((rs) => rs.filter((r) => routeInQuery(r, q)));
}

function validRouteQuery(q: RouteQuery): boolean {
  const u8 = (n: number | undefined): boolean => n === undefined || (Number.isInteger(n) && n >= 0 && n <= 255);
  return Number.isInteger(q.table) && q.table >= 1 && q.table <= 0xffffffff && u8(q.protocol);
}

/** One family's query output: one JSON line. */
function routeQueryText(ref: NetnsRef, family: Family, line: string, opts: ObserveRoutesOptions): ResultAsync<string, ExecError> {
  const session = ref.kind === "host" ? (family === 4 ? opts.session4 : opts.session6) : undefined;
  const t = opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {};
  if (session !== undefined) return new ResultAsync(session.query([line], t)).map((out) => out[0] ?? "");
  return runInNetns(ref, ["ip", `-${family}`, "-j", "-d", "-N", "-batch", "-"], { input: `${line}\n`, ...t }).map((out) => out.stdout);
}

/**
 * The routes of one table (and protocol) of namespace `ref`, both families: what
 * `observeNetns(ref).routes` holds of them, read with one `ip route show table T [proto P]` per
 * family instead of every link, address, route and rule. In the executor's own namespace the
 * lines go to co-processes when given (no process spawned).
 */
export function observeRoutes(ref: NetnsRef, q: RouteQuery, opts: ObserveRoutesOptions = {}): ResultAsync<Route[], ObserveError> {
  if (!validRouteQuery(q)) {
    return errAsync({ kind: "unparsable-output", cause: { kind: "unexpected-output", where: "route query", message: `invalid route query ${JSON.stringify(q)}` } });
  }
  const line = routeQueryLine(q);
  const one = (family: Family): ResultAsync<Route[], ObserveError> =>
    routeQueryText(ref, family, line, opts)
      .mapErr((cause): ObserveError => ({ kind: "command-failed", cause }))
      .andThen((text) =>
        splitJsonLines(text, 1, `ip -${family} ${line}`)
          .andThen(([json]) => parseRouteQueryJson(json, family, q, `ip -${family} ${line}`))
          .mapErr((cause): ObserveError => ({ kind: "unparsable-output", cause })),
      );
  return ResultAsync.combine([one(4), one(6)]).map(([r4, r6]) => [...r4, ...r6]);
}

const NFT_NAME_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,255}$/;

/**
 * List the nftables ruleset (or one table) of namespace `ref` with `nft -j list …`. A table that
 * does not exist is an empty listing, not an error.
 */
export function observeNft(ref: NetnsRef, query?: NftQuery): ResultAsync<NftListing, ObserveError> {
  if (query !== undefined && !NFT_NAME_RE.test(query.table)) {
    return errAsync({ kind: "unparsable-output", cause: { kind: "unexpected-output", where: "nft query", message: `invalid table name ${JSON.stringify(query.table)}` } });
  }
  const what = query === undefined ? ["ruleset"] : ["table", query.family, query.table];
  return runInNetns(ref, ["nft", "-j", "list", ...what])
    .map((out) => out.stdout)
    .orElse((cause) =>
      query !== undefined && cause.kind === "exit-nonzero" && reasonOfExecError(cause) === "not-found"
        ? ok('{"nftables":[]}')
        : err<string, ObserveError>({ kind: "command-failed", cause }),
    )
    .andThen((text) =>
      parseJsonText(text, "nft -j list")
        .andThen(parseNftListing)
        .mapErr((cause): ObserveError => ({ kind: "unparsable-output", cause })),
    );
}
