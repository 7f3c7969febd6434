import { err, ok, Result } from "neverthrow";
import { cidrPrefix, type Family } from "../net/index.js";
import { assertNever, sameNetns } from "./changeset.js";
import type { NetlinkOp, NetnsRef, Route, RouteScope, Rule } from "./netlink.js";
import {
  sysctlPath,
  validateAlias,
  validateIfName,
  validateInt,
  validateNetnsPath,
  validateSysctlValue,
  type RenderError,
} from "./names.js";

/**
 * One `ip` command as argv tokens without the leading `ip`. `family` names the batch the line
 * belongs to: `4` → `ip -4 -batch -` (or plain `ip -batch -`), `6` → `ip -6 -batch -` (a `-6`
 * cannot be written on a batch line, and `ip rule` does not infer IPv6 from its arguments),
 * `null` → either batch (link commands).
 */
export interface IpCommand {
  /** Discriminant: `ip`. */
  readonly kind: "ip";
  /** The `ip -4`/`ip -6` batch the command must go to, or `null` if either will do. */
  readonly family: Family | null;
  /** Arguments after `ip` (no `-batch`, no family flag), e.g. `["route", "add", ...]`. */
  readonly args: readonly string[];
}

/**
 * A sysctl write: the executor writes `value` to `/proc/sys/<path>` inside the step's namespace.
 * It is not an `ip` command.
 */
export interface SysctlWrite {
  /** Discriminant: `sysctl`. */
  readonly kind: "sysctl";
  /** The key in sysctl(8) notation, as in the op. */
  readonly key: string;
  /** Path under `/proc/sys/`, e.g. `net/ipv4/ip_forward`. */
  readonly path: string;
  /** Value to write. */
  readonly value: string;
}

/** What {@link ipArgv} renders an op into. */
export type RenderedOp = IpCommand | SysctlWrite;

/** Where an op is rendered: the step's namespace, and how to name the host namespace from elsewhere. */
export interface RenderContext {
  /** The namespace the op runs in (default: host). */
  readonly netns?: NetnsRef;
  /** A path to the host namespace (e.g. `/proc/1/ns/net`), needed for a veth whose peer goes to the host from another namespace. */
  readonly hostNetnsPath?: string;
}

type Args = Result<readonly string[], RenderError>;

const SCOPE_NAMES: Record<RouteScope, string> = { universe: "global", link: "link", host: "host" };
const U32 = 0xffffffff;

function ifname(n: string): Result<string, RenderError> {
  return validateIfName(n);
}

function opt(present: boolean, tokens: () => Result<readonly string[], RenderError>): Args {
  return present ? tokens() : ok([]);
}

function concat(parts: readonly Args[]): Args {
  return Result.combine(parts as Args[]).map((xs) => xs.flat());
}

function num(keyword: string, what: string, v: number | undefined, min: number, max: number): Args {
  return opt(v !== undefined, () => validateInt(what, v ?? -1, min, max).map((n) => [keyword, String(n)]));
}

function mtu(v: number | undefined): Args {
  return num("mtu", "mtu", v, 68, 65535);
}

function peerNetns(peer: NetnsRef, ctx: RenderContext): Args {
  const here = ctx.netns ?? { kind: "host" };
  if (sameNetns(peer, here)) return ok([]);
  if (peer.kind === "path") return validateNetnsPath(peer.path).map((p) => ["netns", p]);
  if (ctx.hostNetnsPath === undefined) {
    return err({ kind: "unresolvable-netns", reason: "veth peer goes to the host namespace but no hostNetnsPath was given" });
  }
  return validateNetnsPath(ctx.hostNetnsPath).map((p) => ["netns", p]);
}

function renderVeth(op: Extract<NetlinkOp, { kind: "link.add-veth" }>, ctx: RenderContext): Args {
  return concat([
    ifname(op.name).map((n) => ["link", "add", "name", n]),
    mtu(op.mtu),
    ifname(op.peer.name).map((p) => ["type", "veth", "peer", "name", p]),
    mtu(op.mtu),
    peerNetns(op.peer.netns, ctx),
  ]);
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** `address <mac>` for a unicast MAC in lowercase colon notation. */
function macAddress(mac: string): Args {
  const first = Number.parseInt(mac.slice(0, 2), 16);
  if (!MAC_RE.test(mac) || (first & 1) === 1) return err({ kind: "invalid-name", what: "token", value: mac, reason: "not a unicast MAC address (aa:bb:cc:dd:ee:ff, lowercase)" });
  return ok(["address", mac]);
}

function renderVxlan(op: Extract<NetlinkOp, { kind: "link.add-vxlan" }>): Args {
  return concat([
    ifname(op.name).map((n) => ["link", "add", "name", n]),
    mtu(op.mtu),
    opt(op.address !== undefined, () => macAddress(op.address ?? "")),
    ok(["type", "vxlan"]),
    num("id", "vni", op.vni, 0, 0xffffff),
    num("dstport", "dstport", op.dstport, 0, 65535),
    ok(op.local !== undefined ? ["local", op.local] : []),
    ok(op.remote !== undefined ? ["remote", op.remote] : []),
    opt(op.dev !== undefined, () => ifname(op.dev ?? "").map((d) => ["dev", d])),
    ok(op.learning === false ? ["nolearning"] : []),
    ok(op.external === true ? ["external"] : []),
    ok(op.udpChecksum === false ? ["noudpcsum", "udp6zerocsumtx", "udp6zerocsumrx"] : op.udpChecksum === true ? ["udpcsum"] : []),
  ]);
}

function renderTunnel(op: Extract<NetlinkOp, { kind: "link.add-tunnel" }>): Args {
  const v6 = op.mode === "ip6tnl";
  const encap = op.encap;
  return concat([
    ifname(op.name).map((n) => ["link", "add", "name", n]),
    mtu(op.mtu),
    // ip6tnl "mode any" carries IPv4 and IPv6 inside (Coil's netlink.Ip6tnl leaves proto 0 = any).
    ok(v6 ? ["type", "ip6tnl", "mode", "any"] : ["type", "ipip"]),
    ok(op.external === true ? ["external"] : []),
    ok(op.local !== undefined ? ["local", op.local] : []),
    ok(op.remote !== undefined ? ["remote", op.remote] : []),
    num(v6 ? "hoplimit" : "ttl", "ttl", op.ttl, v6 ? 0 : 1, 255),
    opt(encap !== undefined, () =>
      concat([
        ok(["encap", "fou"]),
        encap?.sport === 0 ? ok(["encap-sport", "auto"]) : num("encap-sport", "encap-sport", encap?.sport, 1, 65535),
        num("encap-dport", "encap-dport", encap?.dport, 1, 65535),
      ]),
    ),
  ]);
}

function renderLinkSet(op: Extract<NetlinkOp, { kind: "link.set" }>): Args {
  return concat([
    ifname(op.name).map((n) => ["link", "set", "dev", n]),
    opt(op.newName !== undefined, () => ifname(op.newName ?? "").map((n) => ["name", n])),
    ok(op.up === undefined ? [] : [op.up ? "up" : "down"]),
    opt(op.alias !== undefined, () => validateAlias(op.alias ?? "").map((a) => ["alias", a])),
    mtu(op.mtu),
  ]);
}

/** Route selector tokens shared by add/replace/del: `DST [via GW] [dev D] [src S] [table T] [proto P] [scope S] [metric M]`. */
function routeTokens(r: Route): Args {
  return concat([
    ok([cidrPrefix(r.dst) === 0 ? "default" : r.dst]),
    ok(r.via !== undefined ? ["via", r.via] : []),
    opt(r.dev !== undefined, () => ifname(r.dev ?? "").map((d) => ["dev", d])),
    ok(r.src !== undefined ? ["src", r.src] : []),
    num("table", "table", r.table, 1, U32),
    num("proto", "protocol", r.protocol, 0, 255),
    ok(r.scope !== undefined ? ["scope", SCOPE_NAMES[r.scope]] : []),
    num("metric", "metric", r.metric, 0, U32),
  ]);
}

function renderRoute(verb: "add" | "replace" | "del", r: Route): Result<RenderedOp, RenderError> {
  const onlink = verb !== "del" && r.onlink === true ? ["onlink"] : [];
  return routeTokens(r).map((t) => ip(r.family, ["route", verb, ...t, ...onlink]));
}

function renderRule(verb: "add" | "del", r: Rule): Result<RenderedOp, RenderError> {
  const mark = r.fwmark === undefined ? ok([]) : validateInt("fwmark", r.fwmark, 0, U32).andThen((m) =>
    r.fwmask === undefined ? ok(["fwmark", hex(m)]) : validateInt("fwmask", r.fwmask, 0, U32).map((k) => ["fwmark", `${hex(m)}/${hex(k)}`]),
  );
  return concat([
    ok(["rule", verb]),
    ok(r.from !== undefined ? ["from", r.from] : []),
    ok(r.to !== undefined ? ["to", r.to] : []),
    opt(r.iif !== undefined, () => ifname(r.iif ?? "").map((d) => ["iif", d])),
    opt(r.oif !== undefined, () => ifname(r.oif ?? "").map((d) => ["oif", d])),
    mark,
    num("lookup", "table", r.table, 1, U32),
    num("priority", "priority", r.priority, 0, U32),
  ]).map((args) => ip(r.family, args));
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

function ip(family: Family | null, args: readonly string[]): IpCommand {
  return { kind: "ip", family, args };
}

function renderLink(op: Extract<NetlinkOp, { kind: `link.${string}` }>, ctx: RenderContext): Args {
  switch (op.kind) {
    case "link.add-veth":
      return renderVeth(op, ctx);
    case "link.add-vxlan":
      return renderVxlan(op);
    case "link.add-tunnel":
      return renderTunnel(op);
    case "link.add-dummy":
      return ifname(op.name).map((n) => ["link", "add", "name", n, "type", "dummy"]);
    case "link.set":
      return renderLinkSet(op);
    case "link.del":
      return ifname(op.name).map((n) => ["link", "del", "dev", n]);
    default:
      return assertNever(op);
  }
}

/**
 * Render one op. Every interface name, alias and namespace path is validated first, so an `ok`
 * result is always safe as argv and as a line of `ip -batch -` (see {@link batchLine}); a hostile
 * name gives `{ kind: "invalid-name" }`. Examples:
 * `route.replace {dst 0.0.0.0/0 via 10.0.0.1}` → `route replace default via 10.0.0.1` (family 4),
 * `sysctl.set net.ipv4.ip_forward=1` → `{ kind: "sysctl", path: "net/ipv4/ip_forward" }`.
 */
export function ipArgv(op: NetlinkOp, ctx: RenderContext = {}): Result<RenderedOp, RenderError> {
  switch (op.kind) {
    case "link.add-veth":
    case "link.add-vxlan":
    case "link.add-tunnel":
    case "link.add-dummy":
    case "link.set":
    case "link.del":
      return renderLink(op, ctx).map((args) => ip(null, args));
    case "fou.add":
      return validateInt("port", op.port, 1, 65535).map((p) => ip(op.family, ["fou", "add", "port", String(p), "ipproto", String(op.ipproto)]));
    case "fou.del":
      return validateInt("port", op.port, 1, 65535).map((p) => ip(op.family, ["fou", "del", "port", String(p)]));
    case "addr.add":
      return concat([
        ifname(op.dev).map((d) => ["address", "add", op.cidr, "dev", d]),
        ok(op.nodad === true ? ["nodad"] : []),
        ok(op.scope !== undefined ? ["scope", SCOPE_NAMES[op.scope]] : []),
      ]).map((args) => ip(familyOf(op.cidr), args));
    case "addr.del":
      return ifname(op.dev).map((d) => ip(familyOf(op.cidr), ["address", "del", op.cidr, "dev", d]));
    case "route.add":
      return renderRoute("add", op.route);
    case "route.replace":
      return renderRoute("replace", op.route);
    case "route.del":
      return renderRoute("del", op.route);
    case "rule.add":
      return renderRule("add", op.rule);
    case "rule.del":
      return renderRule("del", op.rule);
    case "sysctl.set":
      return sysctlPath(op.key).andThen((path) =>
        validateSysctlValue(op.value).map((value): RenderedOp => ({ kind: "sysctl", key: op.key, path, value })),
      );
    default:
      return assertNever(op);
  }
}

function familyOf(cidr: string): Family {
  return cidr.includes(":") ? 6 : 4;
}
