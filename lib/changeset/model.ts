import { err, ok, type Result } from "neverthrow";
import { cidrAddress, cidrFamily, cidrPrefix } from "../net/index.js";
import { assertNever, sameNetns, type Changeset } from "./changeset.js";
import { validateIfName } from "./names.js";
import type { NetlinkOp, NetnsRef } from "./netlink.js";
import { applyNftCommands, EMPTY_NFT_RULESET, type NftModelError } from "./nft-model.js";
import { checkRoute, insertRule, modelError, routeKey, routeMatches, ruleEquals, ruleMatches, type ModelError } from "./model-routes.js";
import type { AddrState, LinkKind, LinkState, NetnsState } from "./state.js";

type R = Result<NetnsState, ModelError>;

const HOST: NetnsRef = { kind: "host" };

/** Options of {@link applyOp}. */
export interface ApplyOpOptions {
  /** The namespace `state` belongs to (default host); decides whether a veth peer lands in it. */
  readonly netns?: NetnsRef;
}

/** The key of a namespace in the record {@link applyChangeset} works on: `host` or the path. */
export function netnsKey(ref: NetnsRef): string {
  return ref.kind === "host" ? "host" : ref.path;
}

/** Default MTUs of new links without an explicit `mtu` (kernel defaults without a lower device). */
const DEFAULT_MTU: Record<"veth" | "vxlan" | "ipip" | "ip6tnl" | "dummy", number> = { veth: 1500, vxlan: 1450, ipip: 1480, ip6tnl: 1452, dummy: 1500 };

function newLink(s: NetnsState, name: string, kind: LinkKind, mtu: number, peer?: string): R {
  if (validateIfName(name).isErr()) return err(modelError("EINVAL", `invalid interface name ${JSON.stringify(name)}`));
  if (s.links.some((l) => l.name === name)) return err(modelError("EEXIST", `link ${name} exists`));
  const link: LinkState = peer === undefined ? { name, kind, up: false, mtu } : { name, kind, up: false, mtu, peer };
  return ok({ ...s, links: [...s.links, link] });
}

/** Remove a link with its addresses, the routes through it and its per-device sysctls; rules naming it stay (kernel: `[detached]`). */
function dropLink(s: NetnsState, name: string): NetnsState {
  const prefixes = [`net.ipv4.conf.${name}.`, `net.ipv6.conf.${name}.`];
  const sysctls = Object.fromEntries(Object.entries(s.sysctls).filter(([k]) => !prefixes.some((p) => k.startsWith(p))));
  return {
    ...s,
    links: s.links.filter((l) => l.name !== name),
    addrs: s.addrs.filter((a) => a.dev !== name),
    routes: s.routes.filter((r) => r.dev !== name),
    sysctls,
  };
}

/** Rename a link with everything that names it (addresses, routes, per-device sysctls, a veth peer's `peer`). */
function renameLink(s: NetnsState, from: string, to: string): R {
  if (validateIfName(to).isErr()) return err(modelError("EINVAL", `invalid interface name ${JSON.stringify(to)}`));
  if (s.links.some((l) => l.name === to)) return err(modelError("EEXIST", `link ${to} exists`));
  if (s.links.some((l) => l.name === from && l.up)) return err(modelError("EBUSY", `cannot rename ${from} while it is up`));
  const key = (k: string): string => {
    for (const f of ["net.ipv4.conf.", "net.ipv6.conf."]) if (k.startsWith(`${f}${from}.`)) return `${f}${to}.${k.slice(f.length + from.length + 1)}`;
    return k;
  };
  return ok({
    ...s,
    links: s.links.map((l) => (l.name === from ? { ...l, name: to } : l.peer === from ? { ...l, peer: to } : l)),
    addrs: s.addrs.map((a) => (a.dev === from ? { ...a, dev: to } : a)),
    routes: s.routes.map((r) => (r.dev === from ? { ...r, dev: to } : r)),
    sysctls: Object.fromEntries(Object.entries(s.sysctls).map(([k, v]) => [key(k), v])),
  });
}

function linkSet(s0: NetnsState, op0: Extract<NetlinkOp, { kind: "link.set" }>): R {
  if (!s0.links.some((l) => l.name === op0.name)) return err(modelError("ENODEV", `cannot find device ${op0.name}`));
  const renamed = op0.newName === undefined || op0.newName === op0.name ? ok(s0) : renameLink(s0, op0.name, op0.newName);
  if (renamed.isErr()) return renamed;
  const s = renamed.value;
  const op = { ...op0, name: op0.newName ?? op0.name };
  const cur = s.links.find((l) => l.name === op.name);
  if (cur === undefined) return err(modelError("ENODEV", `cannot find device ${op.name}`));
  let next: LinkState = { ...cur, up: op.up ?? cur.up, mtu: op.mtu ?? cur.mtu };
  if (op.alias !== undefined) {
    const { alias: _old, ...rest } = next;
    next = op.alias === "" ? rest : { ...rest, alias: op.alias };
  }
  const out: NetnsState = { ...s, links: s.links.map((l) => (l === cur ? next : l)) };
  if (!(cur.up && !next.up)) return ok(out);
  // Going down flushes the routes through the link and (keep_addr_on_down=0) its IPv6 addresses.
  return ok({ ...out, routes: out.routes.filter((r) => r.dev !== op.name), addrs: out.addrs.filter((a) => a.dev !== op.name || cidrFamily(a.cidr) === 4) });
}

function sameAddr(a: AddrState, dev: string, cidr: AddrState["cidr"]): boolean {
  if (a.dev !== dev || cidrAddress(a.cidr) !== cidrAddress(cidr)) return false;
  return cidrFamily(cidr) === 6 || cidrPrefix(a.cidr) === cidrPrefix(cidr);
}

function addrAdd(s: NetnsState, dev: string, cidr: AddrState["cidr"]): R {
  if (!s.links.some((l) => l.name === dev)) return err(modelError("ENODEV", `cannot find device ${dev}`));
  if (s.addrs.some((a) => sameAddr(a, dev, cidr))) return err(modelError("EEXIST", `address ${cidr} exists on ${dev}`));
  return ok({ ...s, addrs: [...s.addrs, { dev, cidr }] });
}

function addrDel(s: NetnsState, dev: string, cidr: AddrState["cidr"]): R {
  if (!s.links.some((l) => l.name === dev)) return err(modelError("ENODEV", `cannot find device ${dev}`));
  const cur = s.addrs.find((a) => sameAddr(a, dev, cidr));
  if (cur === undefined) return err(modelError("EADDRNOTAVAIL", `address ${cidr} is not on ${dev}`));
  const ip = cidrAddress(cidr);
  const stillLocal = s.addrs.some((a) => a !== cur && cidrAddress(a.cidr) === ip);
  // IPv4: routes whose preferred source was this address go with it (fib_sync_down_addr).
  const routes = stillLocal || cidrFamily(cidr) === 6 ? s.routes : s.routes.filter((r) => r.src !== ip);
  return ok({ ...s, addrs: s.addrs.filter((a) => a !== cur), routes });
}

function routeOp(s: NetnsState, op: Extract<NetlinkOp, { kind: `route.${string}` }>): R {
  if (op.kind === "route.del") {
    const i = s.routes.findIndex((r) => routeMatches(r, op.route));
    if (i < 0) return err(modelError("ESRCH", `no such route ${op.route.dst}`));
    return ok({ ...s, routes: s.routes.filter((_, j) => j !== i) });
  }
  return checkRoute(s, op.route).andThen((route): R => {
    const key = routeKey(route);
    const i = s.routes.findIndex((r) => routeKey(r) === key);
    if (i >= 0 && op.kind === "route.add") return err(modelError("EEXIST", `route ${route.dst} exists in table ${route.table}`));
    const routes = i >= 0 ? s.routes.map((r, j) => (j === i ? route : r)) : [...s.routes, route];
    return ok({ ...s, routes });
  });
}

function ruleOp(s: NetnsState, op: Extract<NetlinkOp, { kind: `rule.${string}` }>): R {
  if (op.kind === "rule.add") {
    if (s.rules.some((r) => ruleEquals(r, op.rule))) return err(modelError("EEXIST", `rule priority ${op.rule.priority} exists`));
    return ok({ ...s, rules: insertRule(s.rules, op.rule) });
  }
  const i = s.rules.findIndex((r) => ruleMatches(r, op.rule));
  if (i < 0) return err(modelError("ENOENT", `no such rule priority ${op.rule.priority}`));
  return ok({ ...s, rules: s.rules.filter((_, j) => j !== i) });
}

function fouOp(s: NetnsState, op: Extract<NetlinkOp, { kind: `fou.${string}` }>): R {
  const fou = s.fou ?? [];
  const i = fou.findIndex((f) => f.family === op.family && f.port === op.port);
  if (op.kind === "fou.add") {
    if (i >= 0) return err(modelError("EEXIST", `fou port ${op.port} exists`));
    return ok({ ...s, fou: [...fou, { family: op.family, port: op.port, ipproto: op.ipproto }] });
  }
  if (i < 0) return err(modelError("EINVAL", `no fou port ${op.port}`));
  return ok({ ...s, fou: fou.filter((_, j) => j !== i) });
}

function sysctlSet(s: NetnsState, key: string, value: string): R {
  const m = /^net\.ipv[46]\.conf\.([^.]+)\./.exec(key);
  const dev = m?.[1]?.replaceAll("/", ".");
  if (dev !== undefined && dev !== "all" && dev !== "default" && !s.links.some((l) => l.name === dev)) {
    return err(modelError("ENOENT", `no sysctl ${key}`));
  }
  return ok({ ...s, sysctls: { ...s.sysctls, [key]: value } });
}

/**
 * Apply one op to one namespace's state, as the kernel would. Rules modelled (each op kind):
 * - `link.add-*`: EEXIST when the name is taken, EINVAL for an invalid name; new links are down
 *   with the given MTU or the kernel default. A veth peer in the same namespace is added too;
 *   a peer elsewhere is placed by {@link applyChangeset}.
 * - `link.set`: ENODEV if missing; `alias ""` clears the alias; taking a link down removes the
 *   routes through it and its IPv6 addresses.
 * - `link.del`: ENODEV if missing; removes the link, its addresses, routes through it and its
 *   `net.ipv{4,6}.conf.<dev>.*` sysctls, and for a veth the peer (when in this namespace).
 * - `addr.add`: ENODEV without the link; EEXIST for the same address (IPv4: same prefix length too).
 *   `addr.del`: EADDRNOTAVAIL if absent; IPv4 routes with that `src` go with it.
 * - `route.add`/`replace`: checks of {@link checkRoute}; identity is (family, table, dst, metric):
 *   `add` of an existing one is EEXIST, `replace` overwrites it (idempotent). `route.del` deletes the
 *   first route matching the given fields, ESRCH if none.
 * - `rule.add`: EEXIST for an identical rule; kept ordered by priority (new after equal ones).
 *   `rule.del` removes the first match of the given selectors, ENOENT if none.
 * - `fou.add`: EEXIST for the same family and port; `fou.del`: EINVAL if absent.
 * - `sysctl.set`: ENOENT for a per-device key of a missing device; otherwise sets the value.
 * Not modelled: kernel-generated routes (prefix, local table), lower-device links, carrier.
 */
export function applyOp(state: NetnsState, op: NetlinkOp, opts: ApplyOpOptions = {}): Result<NetnsState, ModelError> {
  switch (op.kind) {
    case "link.add-veth": {
      const mtu = op.mtu ?? DEFAULT_MTU.veth;
      if (op.peer.name === op.name) return err(modelError("EEXIST", `link ${op.name} exists`));
      const local = newLink(state, op.name, "veth", mtu, op.peer.name);
      if (!sameNetns(op.peer.netns, opts.netns ?? HOST)) return local;
      return local.andThen((s) => newLink(s, op.peer.name, "veth", mtu, op.name));
    }
    case "link.add-vxlan":
      return newLink(state, op.name, "vxlan", op.mtu ?? DEFAULT_MTU.vxlan);
    case "link.add-tunnel":
      return newLink(state, op.name, op.mode, op.mtu ?? DEFAULT_MTU[op.mode]);
    case "link.add-dummy":
      return newLink(state, op.name, "dummy", DEFAULT_MTU.dummy);
    case "link.set":
      return linkSet(state, op);
    case "link.del": {
      const cur = state.links.find((l) => l.name === op.name);
      if (cur === undefined) return err(modelError("ENODEV", `cannot find device ${op.name}`));
      const peerHere = cur.kind === "veth" && cur.peer !== undefined && state.links.some((l) => l.name === cur.peer && l.peer === cur.name);
      const s = dropLink(state, op.name);
      return ok(peerHere && cur.peer !== undefined ? dropLink(s, cur.peer) : s);
    }
    case "addr.add":
      return addrAdd(state, op.dev, op.cidr);
    case "addr.del":
      return addrDel(state, op.dev, op.cidr);
    case "route.add":
    case "route.replace":
    case "route.del":
      return routeOp(state, op);
    case "rule.add":
    case "rule.del":
      return ruleOp(state, op);
    case "fou.add":
    case "fou.del":
      return fouOp(state, op);
    case "sysctl.set":
      return sysctlSet(state, op.key, op.value);
    default:
      return assertNever(op);
  }
}

/** A step (or a veth peer) names a namespace that is not in the record given to {@link applyChangeset}. */
export interface NetnsNotFound {
  /** Discriminant: `netns-not-found`. */
  readonly kind: "netns-not-found";
  /** The missing namespace's key ({@link netnsKey}). */
  readonly netns: string;
}

/** Why {@link applyChangeset} stopped: the step and op (or `"nft"`) that failed, and the states reached before it. */
export interface ApplyFailure {
  /** Discriminant: `apply-failed`. */
  readonly kind: "apply-failed";
  /** Index of the failing step in `Changeset.steps`. */
  readonly step: number;
  /** Index of the failing netlink op in the step, or `"nft"` when the step's nftables transaction failed. */
  readonly op: number | "nft";
  /** Why it failed. */
  readonly cause: ModelError | NftModelError | NetnsNotFound;
  /** The namespace states reached just before the failing op, keyed as {@link netnsKey}. */
  readonly states: Readonly<Record<string, NetnsState>>;
}

type States = Record<string, NetnsState>;

/** The cross-namespace part of a veth: place the peer in its namespace, or delete a peer living elsewhere. */
function crossNetns(states: States, here: string, op: NetlinkOp, before: NetnsState): Result<States, ApplyFailure["cause"]> {
  if (op.kind === "link.add-veth" && netnsKey(op.peer.netns) !== here) {
    const key = netnsKey(op.peer.netns);
    const peerNs = states[key];
    if (peerNs === undefined) return err({ kind: "netns-not-found", netns: key });
    return newLink(peerNs, op.peer.name, "veth", op.mtu ?? DEFAULT_MTU.veth, op.name).map((s) => ({ ...states, [key]: s }));
  }
  if (op.kind === "link.del") {
    const cur = before.links.find((l) => l.name === op.name);
    if (cur?.kind !== "veth" || cur.peer === undefined || before.links.some((l) => l.name === cur.peer)) return ok(states);
    for (const [key, s] of Object.entries(states)) {
      if (key !== here && s.links.some((l) => l.kind === "veth" && l.name === cur.peer && l.peer === cur.name)) {
        return ok({ ...states, [key]: dropLink(s, cur.peer) });
      }
    }
  }
  return ok(states);
}

/**
 * Apply a changeset to the states of several namespaces (keyed by {@link netnsKey}), step by step:
 * each step's netlink ops in order ({@link applyOp}), then its nft commands as one atomic
 * transaction ({@link applyNftCommands}). A veth's peer is created in (and deleted from) the
 * peer's namespace, which must be in the record (else `netns-not-found`). The first failure stops
 * everything and is returned with the states reached just before it, as a kernel would be left.
 */
export function applyChangeset(states: Readonly<Record<string, NetnsState>>, cs: Changeset): Result<Readonly<Record<string, NetnsState>>, ApplyFailure> {
  let cur: States = { ...states };
  for (const [si, step] of cs.steps.entries()) {
    const key = netnsKey(step.netns);
    const fail = (op: number | "nft", cause: ApplyFailure["cause"]) => err<never, ApplyFailure>({ kind: "apply-failed", step: si, op, cause, states: cur });
    for (const [oi, op] of step.netlink.entries()) {
      const s = cur[key];
      if (s === undefined) return fail(oi, { kind: "netns-not-found", netns: key });
      const next = applyOp(s, op, { netns: step.netns }).andThen((ns) => crossNetns({ ...cur, [key]: ns }, key, op, s));
      if (next.isErr()) return fail(oi, next.error);
      cur = next.value;
    }
    if (step.nft.length > 0) {
      const s = cur[key];
      if (s === undefined) return fail("nft", { kind: "netns-not-found", netns: key });
      const nft = applyNftCommands(s.nft ?? EMPTY_NFT_RULESET, step.nft);
      if (nft.isErr()) return fail("nft", nft.error);
      cur = { ...cur, [key]: { ...s, nft: nft.value } };
    }
  }
  return ok(cur);
}
