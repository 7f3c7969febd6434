/**
 * Facts about the host coild runs on, read with `ip -j`: the node addresses (the preferred source
 * of the route to RFC 8155's 192.0.0.10 / 2001:1::2, i.e. the address the node talks to the world
 * with) and the MTU snapshot for lib/mtu.
 */
import { parseJsonText } from "../../kernel/json-shape.js";
import { parseIpLinkDetails } from "../../kernel/parse-ip-link.js";
import { runCommand } from "../../kernel/run.js";
import { ipFamily, parseIp, type Ip } from "../../../lib/net/index.js";
import { detectMtu, type MtuLink, type MtuRoute } from "../../../lib/mtu/index.js";

/** One `ip -j route get` answer, reduced to what is used here. */
export interface RouteGet {
  readonly dev?: string;
  readonly prefsrc?: string;
}

/** `ip -j -<family> route get <dst>`; undefined when there is no route. */
export async function routeGet(family: 4 | 6, dst: string): Promise<RouteGet | undefined> {
  const r = await runCommand(["ip", `-${family}`, "-j", "route", "get", dst], { timeoutMs: 5000 });
  if (r.isErr()) return undefined;
  try {
    const v = JSON.parse(r.value.stdout) as unknown;
    const first = Array.isArray(v) ? (v[0] as Record<string, unknown> | undefined) : undefined;
    if (first === undefined) return undefined;
    return {
      ...(typeof first["dev"] === "string" ? { dev: first["dev"] } : {}),
      ...(typeof first["prefsrc"] === "string" ? { prefsrc: first["prefsrc"] } : {}),
    };
  } catch {
    return undefined;
  }
}

/** The node's IPv4 and IPv6 addresses as the kernel would pick them for outside traffic. */
export async function detectNodeIps(): Promise<{ ipv4?: Ip; ipv6?: Ip }> {
  const pick = async (family: 4 | 6, dst: string): Promise<Ip | undefined> => {
    const src = (await routeGet(family, dst))?.prefsrc;
    const ip = src === undefined ? undefined : parseIp(src);
    return ip !== undefined && ip.isOk() && ipFamily(ip.value) === family ? ip.value : undefined;
  };
  const [ipv4, ipv6] = await Promise.all([pick(4, "192.0.0.10"), pick(6, "2001:1::2")]);
  return { ...(ipv4 === undefined ? {} : { ipv4 }), ...(ipv6 === undefined ? {} : { ipv6 }) };
}

/**
 * lib/mtu's {@link MtuLink}s from `ip -j -d link show` text (the kernel adapter's parser); empty
 * when the text does not parse.
 */
export function mtuLinksOf(text: string): MtuLink[] {
  const links = parseJsonText(text, "ip link").andThen(parseIpLinkDetails);
  if (links.isErr()) return [];
  // The parser always fills `index` from `ifindex` (LinkState's is optional for planned links).
  return links.value.flatMap(({ link, infoKind, operState }) =>
    link.index === undefined
      ? []
      : [
          {
            index: link.index,
            name: link.name,
            mtu: link.mtu,
            // `device` (no info_kind) and `loopback` as the parser decides; any other kind as printed.
            kind: link.kind === "device" || link.kind === "loopback" ? link.kind : (infoKind ?? link.kind),
            operUp: operState === "UP",
          },
        ],
  );
}

/** `ip -j -d link show` reduced to lib/mtu's {@link MtuLink}s. */
export async function observeMtuLinks(): Promise<MtuLink[]> {
  const r = await runCommand(["ip", "-j", "-d", "link", "show"], { timeoutMs: 5000 });
  return r.isErr() ? [] : mtuLinksOf(r.value.stdout);
}

/** Detect the pod MTU as Coil does (netutil `DetectMTU` via lib/mtu); undefined when nothing fits. */
export async function detectHostMtu(): Promise<{ mtu?: number; source?: string; error?: string }> {
  const [links, v4, v6] = await Promise.all([observeMtuLinks(), routeGet(4, "192.0.0.10"), routeGet(6, "2001:1::2")]);
  const toRoutes = (r: RouteGet | undefined): MtuRoute[] | null => {
    const idx = r?.dev === undefined ? undefined : links.find((l) => l.name === r.dev)?.index;
    return idx === undefined ? null : [{ ifindex: idx }];
  };
  const d = detectMtu({ routeGetV4: toRoutes(v4), routeGetV6: toRoutes(v6), links });
  return d.isOk() ? { mtu: d.value.mtu, source: d.value.source } : { error: d.error.message };
}
