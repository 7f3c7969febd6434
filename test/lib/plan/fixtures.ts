import { parseCidr, parseIp, type Cidr, type Ip } from "../../../lib/net/index.js";
import { EMPTY_NETNS_STATE, assertNever, normalizeRoute } from "../../../lib/changeset/index.js";
import type { Changeset, LinkState, NetlinkOp, NetnsState, NftRule, Route } from "../../../lib/changeset/index.js";
import { routeFullKey as routeKey, ruleKey } from "../../../lib/plan/index.js";

/** Parse an address (test input is trusted). */
export const ip = (s: string): Ip => parseIp(s)._unsafeUnwrap();
/** Parse a CIDR (test input is trusted). */
export const cidr = (s: string): Cidr => parseCidr(s)._unsafeUnwrap();

/** All netlink ops of a changeset, flattened. */
export function allOps(cs: Changeset): NetlinkOp[] {
  return cs.steps.flatMap((s) => [...s.netlink]);
}

/** Op kinds of a changeset in order. */
export function opKinds(cs: Changeset): string[] {
  return allOps(cs).map((o) => o.kind);
}

function identity(r: Route): string {
  const n = normalizeRoute(r);
  return JSON.stringify([n.family, n.table, n.dst, n.metric]);
}

/**
 * Apply route ops to a route list the way the kernel does: `route.replace` overwrites the route
 * with the same (family, table, dst, metric); `route.del` removes the exactly matching route.
 */
export function applyRouteOps(routes: readonly Route[], ops: readonly NetlinkOp[]): Route[] {
  let out = [...routes];
  for (const op of ops) {
    if (op.kind === "route.replace") out = [...out.filter((r) => identity(r) !== identity(op.route)), op.route];
    else if (op.kind === "route.del") out = out.filter((r) => routeKey(r) !== routeKey(op.route));
    else throw new Error(`unexpected op ${op.kind}`);
  }
  return out;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends readonly (infer U)[] ? U[] : T[K] };
type Ns = Mutable<NetnsState> & { sysctls: Record<string, string> };

/**
 * A small test double of the kernel for idempotence tests: applies a changeset to per-namespace
 * states (key `host` or the netns path). Link indexes are assigned from `nextIndex`.
 * (Stand-in until lib/changeset's model is available.)
 */
export function simulate(states: Record<string, NetnsState>, cs: Changeset, nextIndex = 10): Record<string, NetnsState> {
  const out: Record<string, Ns> = {};
  const get = (k: string): Ns => {
    const cur = out[k] ?? (states[k] !== undefined ? clone(states[k]) : clone(EMPTY_NETNS_STATE));
    out[k] = cur;
    return cur;
  };
  for (const k of Object.keys(states)) get(k);
  let idx = nextIndex;
  for (const s of cs.steps) {
    const key = s.netns.kind === "host" ? "host" : s.netns.path;
    for (const op of s.netlink) {
      const ns = get(key);
      const link = (name: string, kind: LinkState["kind"], target = ns, mtu = 1500): void => {
        target.links.push({ name, kind, up: false, mtu, index: idx++ });
      };
      switch (op.kind) {
        case "link.add-veth": {
          link(op.name, "veth", ns, op.mtu);
          const peerNs = get(op.peer.netns.kind === "host" ? "host" : op.peer.netns.path);
          link(op.peer.name, "veth", peerNs, op.mtu);
          break;
        }
        case "link.add-tunnel": link(op.name, op.mode); break;
        case "link.add-vxlan": link(op.name, "vxlan"); break;
        case "link.add-dummy": link(op.name, "dummy"); break;
        case "link.set":
          ns.links = ns.links.map((l) => (l.name !== op.name ? l : { ...l, ...(op.up !== undefined ? { up: op.up } : {}), ...(op.alias !== undefined ? { alias: op.alias } : {}), ...(op.mtu !== undefined ? { mtu: op.mtu } : {}) }));
          break;
        case "link.del":
          ns.links = ns.links.filter((l) => l.name !== op.name);
          ns.addrs = ns.addrs.filter((a) => a.dev !== op.name);
          ns.routes = ns.routes.filter((r) => r.dev !== op.name);
          break;
        case "addr.add": ns.addrs.push({ dev: op.dev, cidr: op.cidr }); break;
        case "addr.del": ns.addrs = ns.addrs.filter((a) => !(a.dev === op.dev && a.cidr === op.cidr)); break;
        case "route.replace": case "route.del": ns.routes = applyRouteOps(ns.routes, [op]); break;
        case "route.add": ns.routes.push(op.route); break;
        case "rule.add": ns.rules.push(op.rule); break;
        case "rule.del": ns.rules = ns.rules.filter((r) => ruleKey(r) !== ruleKey(op.rule)); break;
        case "sysctl.set": ns.sysctls[op.key] = op.value; break;
        case "fou.add": case "fou.del": break;
        default: assertNever(op);
      }
    }
  }
  return out;
}

function clone(s: NetnsState): Ns {
  return { links: [...s.links], addrs: [...s.addrs], routes: [...s.routes], rules: [...s.rules], sysctls: { ...s.sysctls } };
}

/** The nft rules a changeset adds (to feed back as `observedNft`). */
export function addedNftRules(cs: Changeset): NftRule[] {
  return cs.steps.flatMap((s) => s.nft.flatMap((c) => ("add" in c && "rule" in c.add ? [c.add.rule] : [])));
}
