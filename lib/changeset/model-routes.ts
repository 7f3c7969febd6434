import { err, ok, type Result } from "neverthrow";
import { cidrAddress, cidrContains, cidrFamily, cidrNetwork, cidrPrefix, type Ip } from "../net/index.js";
import type { Route, RouteScope, Rule } from "./netlink.js";
import type { NetnsState } from "./state.js";

/** A kernel-like failure of the state model; `errno` names the error the kernel would return. */
export interface ModelError {
  /** Discriminant: `model-error`. */
  readonly kind: "model-error";
  /** The errno the kernel would return for the same request (as `ip` reports it, e.g. `RTNETLINK answers: File exists` is `EEXIST`). */
  readonly errno: "EEXIST" | "ENOENT" | "ESRCH" | "ENODEV" | "EADDRNOTAVAIL" | "ENETDOWN" | "ENETUNREACH" | "EINVAL" | "EBUSY";
  /** Human-readable explanation naming the object. */
  readonly message: string;
}

/** Build a {@link ModelError}. */
export function modelError(errno: ModelError["errno"], message: string): ModelError {
  return { kind: "model-error", errno, message };
}

/** Main routing table id. */
const MAIN = 254;
/** `RTPROT_BOOT`, what `ip route add` sets when no `proto` is given. */
const PROTO_BOOT = 3;

/**
 * A route with every kernel default filled in, the form the model stores and compares:
 * table 254, protocol 3 (boot), metric 0 (IPv4) / 1024 (IPv6), scope `link` for an IPv4 route
 * without a gateway (what `ip route add` picks) else `universe`; `onlink` kept only when true
 * (a nexthop flag, shown by `ip -j route` as `flags: ["onlink"]`, not part of the identity).
 */
export function normalizeRoute(r: Route): Route {
  const scope: RouteScope = r.scope ?? (r.family === 4 && r.via === undefined ? "link" : "universe");
  // Fixed key order, so stored routes compare equal as JSON whatever order the input had.
  return {
    family: r.family,
    dst: cidrNetwork(r.dst),
    ...(r.dev !== undefined ? { dev: r.dev } : {}),
    ...(r.via !== undefined ? { via: r.via } : {}),
    ...(r.src !== undefined ? { src: r.src } : {}),
    table: r.table ?? MAIN,
    protocol: r.protocol ?? PROTO_BOOT,
    scope: r.family === 6 ? "universe" : scope,
    metric: r.metric ?? (r.family === 4 ? 0 : 1024),
    ...(r.onlink === true ? { onlink: true } : {}),
  };
}

/** The kernel's identity of a route: family, table, destination and metric (a second route with these is EEXIST). */
export function routeKey(r: Route): string {
  const n = normalizeRoute(r);
  return `${n.family}|${n.table}|${n.dst}|${n.metric}`;
}

function hasLocalAddress(s: NetnsState, ip: Ip): boolean {
  return s.addrs.some((a) => cidrAddress(a.cidr) === ip);
}

/** Whether `gw` is reachable on-link: a no-gateway route or a connected address prefix of an up link (on `dev`, if given). */
function gatewayReachable(s: NetnsState, gw: Ip, dev: string | undefined): boolean {
  const viaRoute = s.routes.some((r) => r.via === undefined && r.dev !== undefined && (dev === undefined || r.dev === dev) && cidrContains(r.dst, gw));
  const viaAddr = s.addrs.some((a) => {
    const up = s.links.some((l) => l.name === a.dev && l.up);
    return up && (dev === undefined || a.dev === dev) && cidrPrefix(a.cidr) < (cidrFamily(a.cidr) === 4 ? 32 : 128) && cidrContains(a.cidr, gw);
  });
  return viaRoute || viaAddr;
}

/**
 * Check a route the way the kernel validates a new one: the destination has no host bits
 * (EINVAL), the device exists (ENODEV) and is up (ENETDOWN), `src` is a local address (EINVAL),
 * `onlink` needs a device (EINVAL), an IPv6 link-local gateway needs a device (EINVAL), and an
 * IPv4 gateway without `onlink` must be reachable through a connected route or address prefix
 * (ENETUNREACH). IPv6 global gateways are not checked.
 */
export function checkRoute(s: NetnsState, r: Route): Result<Route, ModelError> {
  if (cidrNetwork(r.dst) !== r.dst) return err(modelError("EINVAL", `invalid prefix for given prefix length: ${r.dst}`));
  if (r.dev !== undefined) {
    const link = s.links.find((l) => l.name === r.dev);
    if (link === undefined) return err(modelError("ENODEV", `cannot find device ${r.dev}`));
    if (!link.up) return err(modelError("ENETDOWN", `nexthop device ${r.dev} is not up`));
  }
  if (r.src !== undefined && !hasLocalAddress(s, r.src)) return err(modelError("EINVAL", `invalid prefsrc ${r.src}`));
  if (r.onlink === true && r.dev === undefined) return err(modelError("EINVAL", "onlink needs a device"));
  if (r.via !== undefined) {
    if (r.family === 6 && r.via.startsWith("fe80:") && r.dev === undefined) return err(modelError("EINVAL", "link-local gateway needs a device"));
    if (r.family === 4 && r.onlink !== true && !gatewayReachable(s, r.via, r.dev)) {
      return err(modelError("ENETUNREACH", `gateway ${r.via} is not reachable`));
    }
  }
  if (r.dev === undefined && r.via === undefined) return err(modelError("EINVAL", "a route needs a device or a gateway"));
  return ok(normalizeRoute(r));
}

/** Whether stored route `have` matches a delete request `want`: the fields given in `want` must be equal. */
export function routeMatches(have: Route, want: Route): boolean {
  const w = normalizeRoute(want);
  return (
    have.family === want.family &&
    have.dst === w.dst &&
    have.table === w.table &&
    (want.metric === undefined || have.metric === w.metric) &&
    (want.protocol === undefined || have.protocol === want.protocol) &&
    (want.scope === undefined || have.scope === w.scope) &&
    (want.dev === undefined || have.dev === want.dev) &&
    (want.via === undefined || have.via === want.via) &&
    (want.src === undefined || have.src === want.src)
  );
}

/** Whether two rules are identical (every selector equal): adding a second one is EEXIST. */
export function ruleEquals(a: Rule, b: Rule): boolean {
  return (
    a.family === b.family &&
    a.priority === b.priority &&
    a.table === b.table &&
    a.from === b.from &&
    a.to === b.to &&
    a.iif === b.iif &&
    a.oif === b.oif &&
    a.fwmark === b.fwmark &&
    a.fwmask === b.fwmask
  );
}

/** Whether stored rule `have` matches a delete request `want`: priority and table always, other selectors when given. */
export function ruleMatches(have: Rule, want: Rule): boolean {
  return (
    have.family === want.family &&
    have.priority === want.priority &&
    have.table === want.table &&
    (want.from === undefined || have.from === want.from) &&
    (want.to === undefined || have.to === want.to) &&
    (want.iif === undefined || have.iif === want.iif) &&
    (want.oif === undefined || have.oif === want.oif) &&
    (want.fwmark === undefined || have.fwmark === want.fwmark) &&
    (want.fwmask === undefined || have.fwmask === want.fwmask)
  );
}

/** Insert a rule after every rule of lower or equal priority, as the kernel orders them. */
export function insertRule(rules: readonly Rule[], r: Rule): Rule[] {
  const i = rules.findIndex((x) => x.priority > r.priority);
  return i < 0 ? [...rules, r] : [...rules.slice(0, i), r, ...rules.slice(i)];
}
