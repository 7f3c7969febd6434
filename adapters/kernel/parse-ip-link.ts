/**
 * Parsers for `ip -j [-d] link show` and `ip -j [-d] addr show` output into {@link LinkState} and
 * {@link AddrState} — the one parser of that output (the executor's observer and coild's host
 * facts use it). Shapes are checked field by field; `-d` adds `linkinfo.info_kind`, which gives
 * the link kind (without it every non-loopback link is a `device`).
 */
import { err, ok, Result } from "neverthrow";
import type { AddrState, LinkKind, LinkState } from "../../lib/changeset/index.js";
import { parseCidr } from "../../lib/net/index.js";
import {
  asArray,
  asObject,
  mapAll,
  optInt,
  optString,
  optStrings,
  parseError,
  reqInt,
  reqString,
  type JsonObject,
  type ParseError,
} from "./json-shape.js";

const KNOWN_KINDS: ReadonlySet<string> = new Set<LinkKind>(["veth", "vxlan", "ipip", "ip6tnl", "dummy", "bridge"]);

/** `linkinfo.info_kind` as printed (`-d` only). */
function infoKind(o: JsonObject, where: string): Result<string | undefined, ParseError> {
  if (o["linkinfo"] === undefined) return ok(undefined);
  const info = asObject(o["linkinfo"], `${where}.linkinfo`);
  if (info.isErr()) return err(info.error);
  return optString(info.value, "info_kind", `${where}.linkinfo`);
}

function linkKind(info: string | undefined, flags: readonly string[]): LinkKind {
  if (flags.includes("LOOPBACK")) return "loopback";
  if (info === undefined) return "device";
  return KNOWN_KINDS.has(info) ? (info as LinkKind) : "other";
}

/** One link of `ip -j [-d] link show` with the fields {@link LinkState} does not keep. */
export interface IpLinkDetail {
  readonly link: LinkState;
  /** `linkinfo.info_kind` as printed (also kinds {@link LinkKind} folds into `other`); `-d` only. */
  readonly infoKind: string | undefined;
  /** `operstate` (`UP`, `DOWN`, `UNKNOWN`, ...), when printed. */
  readonly operState: string | undefined;
}

interface RawLink extends IpLinkDetail {
  /** ifindex of the peer/lower link, when it is in this namespace. */
  readonly lowerIndex: number | undefined;
}

function parseOneLink(x: unknown, where: string): Result<RawLink, ParseError> {
  const o = asObject(x, where);
  if (o.isErr()) return err(o.error);
  const v = o.value;
  const fields = Result.combine([
    reqString(v, "ifname", where),
    reqInt(v, "ifindex", where),
    reqInt(v, "mtu", where),
    optStrings(v, "flags", where),
    optString(v, "ifalias", where),
    optInt(v, "link_index", where),
    optString(v, "operstate", where),
    infoKind(v, where),
  ]);
  if (fields.isErr()) return err(fields.error);
  const [name, index, mtu, flags, alias, lower, operState, info] = fields.value;
  const link: LinkState = {
    name,
    kind: linkKind(info, flags),
    up: flags.includes("UP"),
    mtu,
    index,
    ...(alias !== undefined ? { alias } : {}),
  };
  // link_netnsid present: the peer lives in another namespace and its index is an index there.
  const elsewhere = v["link_netnsid"] !== undefined;
  const peerIndex = elsewhere && link.kind === "veth" && lower !== undefined ? { peerIndex: lower } : {};
  return ok({ link: { ...link, ...peerIndex }, infoKind: info, operState, lowerIndex: elsewhere ? undefined : lower });
}

/**
 * Parse the JSON array printed by `ip -j [-d] link show` (or `addr show`, which carries the same
 * link fields), keeping `info_kind` and `operstate` beside each {@link LinkState}. A veth's `peer`
 * is filled in when the peer is in the same namespace, its `peerIndex` when it is in another one.
 */
export function parseIpLinkDetails(json: unknown): Result<IpLinkDetail[], ParseError> {
  const arr = asArray(json, "ip link");
  if (arr.isErr()) return err(arr.error);
  const raws = mapAll(arr.value, (x, i) => parseOneLink(x, `ip link[${i}]`));
  if (raws.isErr()) return err(raws.error);
  const byIndex = new Map(raws.value.map((r) => [r.link.index, r.link.name]));
  return ok(
    raws.value.map(({ link, lowerIndex, infoKind, operState }) => {
      const peer = link.kind === "veth" && lowerIndex !== undefined ? byIndex.get(lowerIndex) : undefined;
      return { link: peer !== undefined ? { ...link, peer } : link, infoKind, operState };
    }),
  );
}

/** {@link parseIpLinkDetails} reduced to the {@link LinkState}s. */
export function parseIpLinks(json: unknown): Result<LinkState[], ParseError> {
  return parseIpLinkDetails(json).map((ds) => ds.map((d) => d.link));
}

function parseAddrInfo(x: unknown, dev: string, where: string): Result<AddrState, ParseError> {
  const o = asObject(x, where);
  if (o.isErr()) return err(o.error);
  const local = reqString(o.value, "local", where);
  const len = reqInt(o.value, "prefixlen", where);
  if (local.isErr()) return err(local.error);
  if (len.isErr()) return err(len.error);
  const cidr = parseCidr(`${local.value}/${len.value}`);
  if (cidr.isErr()) return err(parseError(`${where}.local`, cidr.error.message));
  return ok({ dev, cidr: cidr.value });
}

/** Parse the JSON array printed by `ip -j [-d] addr show` into addresses (both families). */
export function parseIpAddrs(json: unknown): Result<AddrState[], ParseError> {
  const arr = asArray(json, "ip addr");
  if (arr.isErr()) return err(arr.error);
  const out: AddrState[] = [];
  for (const [i, x] of arr.value.entries()) {
    const where = `ip addr[${i}]`;
    const o = asObject(x, where);
    if (o.isErr()) return err(o.error);
    const dev = reqString(o.value, "ifname", where);
    if (dev.isErr()) return err(dev.error);
    const infos = asArray(o.value["addr_info"] ?? [], `${where}.addr_info`);
    if (infos.isErr()) return err(infos.error);
    const addrs = mapAll(infos.value, (a, j) => parseAddrInfo(a, dev.value, `${where}.addr_info[${j}]`));
    if (addrs.isErr()) return err(addrs.error);
    out.push(...addrs.value);
  }
  return ok(out);
}
