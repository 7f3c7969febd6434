import { err, ok, type Result } from "neverthrow";

/**
 * A link as MTU detection sees it (from `ip -j link`): `kind` is the netlink type, `"device"`
 * for links without `linkinfo.info_kind` (physical NICs); `operUp` is `operstate == "UP"`.
 */
export interface MtuLink {
  /** Interface index (`ifindex`). */
  readonly index: number;
  /** Interface name (`ifname`). */
  readonly name: string;
  /** MTU in bytes; 0 (unknown) is ignored. */
  readonly mtu: number;
  /** `linkinfo.info_kind` (`veth`, `vxlan`, ...), or `device` for a link without one (a physical NIC); only `device` links are used by the fallback. */
  readonly kind: string;
  /** `operstate` is `UP`. */
  readonly operUp: boolean;
}

/** One route returned by `ip -j route get`: only the output link index matters. */
export interface MtuRoute {
  /** Index of the output link (`dev`); 0 when the route has none. */
  readonly ifindex: number;
}

/**
 * Everything {@link detectMtu} reads, gathered by an adapter: `ip -j route get 192.0.0.10`
 * (`routeGetV4`), `ip -j route get 2001:1::2` (`routeGetV6`) and `ip -j link` (`links`). A route
 * lookup that failed (no route, network unreachable) is `null` or omitted.
 */
export interface MtuSnapshot {
  /** Result of `ip -j route get 192.0.0.10` (what Coil's `DetectMTU` asks); `null`/omitted when the lookup failed. */
  readonly routeGetV4?: readonly MtuRoute[] | null;
  /** Result of `ip -j route get 2001:1::2`, used only when the IPv4 lookup found nothing. */
  readonly routeGetV6?: readonly MtuRoute[] | null;
  /** All links (`ip -j link`). */
  readonly links: readonly MtuLink[];
}

/** Where the detected MTU came from. */
export type MtuSource = "route-v4" | "route-v6" | "device-links";

/** A detected MTU and its source. */
export interface DetectedMtu {
  /** The detected MTU in bytes, before any tunnel overhead is subtracted. */
  readonly mtu: number;
  /** Which lookup produced it. */
  readonly source: MtuSource;
}

/** MTU errors. */
export type MtuError =
  | {
      /** Neither route lookup nor any oper-UP device link gave a non-zero MTU. */
      readonly kind: "mtu-not-detected";
      /** Human-readable explanation. */
      readonly message: string;
    }
  | {
      /** Subtracting the tunnel overhead leaves less than 68 bytes (the IPv4 minimum MTU), or the base is not an integer. */
      readonly kind: "mtu-too-small";
      /** The detected (underlay) MTU in bytes. */
      readonly base: number;
      /** The encapsulation overhead in bytes that was to be subtracted. */
      readonly overhead: number;
      /** Human-readable explanation with both numbers. */
      readonly message: string;
    };

function minMtu(links: readonly MtuLink[]): number {
  let mtu = 0;
  for (const l of links) if (l.mtu > 0 && (mtu === 0 || l.mtu < mtu)) mtu = l.mtu;
  return mtu;
}

function routeLinks(routes: readonly MtuRoute[], links: readonly MtuLink[]): MtuLink[] {
  return routes.flatMap((r) => (r.ifindex === 0 ? [] : links.filter((l) => l.index === r.ifindex)));
}

/**
 * The MTU for pod veths, ported from cybozu-go/netutil `DetectMTU` (Coil v2 §4.1), over a snapshot:
 * 1. the routes towards 192.0.0.10 (RFC 8155), or when there is none, towards 2001:1::2; the MTU is
 *    the minimum MTU of their output links, skipping link index 0, MTU 0 and unknown indexes;
 * 2. if that gives nothing, the minimum MTU among oper-UP links of kind `"device"`;
 * 3. otherwise `mtu-not-detected` (Coil logs a warning and leaves the kernel default, 1500).
 */
export function detectMtu(snapshot: MtuSnapshot): Result<DetectedMtu, MtuError> {
  const v4 = snapshot.routeGetV4 ?? [];
  const useV6 = v4.length === 0;
  const routes = useV6 ? (snapshot.routeGetV6 ?? []) : v4;
  const fromRoutes = minMtu(routeLinks(routes, snapshot.links));
  if (fromRoutes > 0) return ok({ mtu: fromRoutes, source: useV6 ? "route-v6" : "route-v4" });
  const fromDevices = minMtu(snapshot.links.filter((l) => l.kind === "device" && l.operUp));
  if (fromDevices > 0) return ok({ mtu: fromDevices, source: "device-links" });
  return err({ kind: "mtu-not-detected", message: "no route link and no oper-UP device link with a non-zero MTU" });
}
