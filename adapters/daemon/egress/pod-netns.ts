/**
 * Where a running pod's network namespace is (Coil §4.4 `PodNetwork.Update`): the pod address →
 * its host veth (the `<ip> dev <veth>` route coild keeps in the pod table) → the veth's
 * `link_netnsid` (`ip -j link show`) → the named namespace with that id (`ip -j netns list-id`,
 * names under /var/run/netns, as container runtimes create them); in egress-only mode the host veth
 * is the one whose alias names the pod's UID. Not found → the pod is not
 * (or no longer) set up here, which the EgressWatcher retries like Coil's `ErrPodNetConfNotReady`.
 */
import { err, ok, type Result } from "neverthrow";
import { HOST_NETNS, routeTable, type Kernel } from "../../../lib/changeset/index.js";
import { hostCidr, ipFamily, parseIp } from "../../../lib/net/index.js";
import { parseLinkAlias } from "../../../lib/plan/index.js";
import { runInNetns } from "../../kernel/index.js";

/** Where named network namespaces live (`ip netns`). */
export const NETNS_RUN_DIR = "/var/run/netns";

/** Why a pod's namespace was not found. */
export interface PodNetnsNotReady {
  /** Discriminant (Coil's `ErrPodNetConfNotReady`). */
  readonly kind: "pod-netns-not-ready";
  /** For people. */
  readonly message: string;
}

const notReady = (message: string): Result<never, PodNetnsNotReady> => err({ kind: "pod-netns-not-ready", message });

function parseJson<T>(s: string): T | undefined {
  try {
    return JSON.parse(s) as T;
  } catch {
    return undefined;
  }
}

/** The namespace file of the pod holding `ips` (first address with a pod-table route wins). */
export async function findPodNetns(kernel: Kernel, podTable: number, ips: readonly string[]): Promise<Result<string, PodNetnsNotReady>> {
  const host = await kernel.observe(HOST_NETNS);
  if (host.isErr()) return notReady(`cannot read the host's routes: ${host.error.kind}`);
  let veth: string | undefined;
  for (const s of ips) {
    const ip = parseIp(s);
    if (ip.isErr()) continue;
    const dst = hostCidr(ip.value);
    veth = host.value.routes.find((r) => r.family === ipFamily(ip.value) && r.dst === dst && routeTable(r) === podTable && r.dev !== undefined)?.dev;
    if (veth !== undefined) break;
  }
  if (veth === undefined) return notReady(`no route to ${ips.join(", ")} in table ${podTable}`);
  return netnsOfHostVeth(veth);
}

/**
 * Egress-only mode (Coil's `findPodConf` by pod UID): the namespace file of the pod whose host link
 * carries the alias `COIL::<uid>:<ifname>` (set at ADD on the other plugin's host veth).
 */
export async function findPodNetnsByAlias(kernel: Kernel, uid: string): Promise<Result<string, PodNetnsNotReady>> {
  if (uid === "") return notReady("the pod has no UID");
  const host = await kernel.observe(HOST_NETNS);
  if (host.isErr()) return notReady(`cannot read the host's links: ${host.error.kind}`);
  const link = host.value.links.find((l) => parseLinkAlias(l.alias ?? "").match((a) => a.pool === "" && a.containerId === uid, () => false));
  if (link === undefined) return notReady(`no host link with alias COIL::${uid}:<ifname>`);
  return netnsOfHostVeth(link.name);
}

/** The named namespace holding the peer of host veth `veth` (`link_netnsid` → `ip netns list-id`). */
async function netnsOfHostVeth(veth: string): Promise<Result<string, PodNetnsNotReady>> {
  const link = await runInNetns(HOST_NETNS, ["ip", "-j", "link", "show", "dev", veth]);
  const nsid = link.isOk() ? parseJson<Array<{ link_netnsid?: number }>>(link.value.stdout)?.[0]?.link_netnsid : undefined;
  if (nsid === undefined) return notReady(`host veth ${veth} has no peer namespace`);
  const ids = await runInNetns(HOST_NETNS, ["ip", "-j", "netns", "list-id"]);
  const name = ids.isOk() ? parseJson<Array<{ nsid?: number; name?: string }>>(ids.value.stdout)?.find((e) => e.nsid === nsid)?.name : undefined;
  if (name === undefined || name === "" || name === "." || name === ".." || name.includes("/")) return notReady(`no named namespace with id ${nsid} (host veth ${veth})`);
  return ok(`${NETNS_RUN_DIR}/${name}`);
}
