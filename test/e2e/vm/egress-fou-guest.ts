/**
 * The FoU egress data path on a kernel that has FoU, IPIP and ip6tnl: run INSIDE the VM by
 * test/e2e/egress-fou-vm.test.ts (`scripts/vm/run-in-vm.sh -- node --import tsx <this file>`), as
 * root, on a throw-away kernel. The VM's own network namespace plays node A; the pods are named
 * namespaces, as a container runtime creates them:
 *
 *   client pod 10.100.0.5 / fd10:100::5 ─┐ (veths, table 116)      ┌─ "internet" 9.9.9.9, 2606:4700:4700::9999,
 *   egress pod 10.100.0.11 / fd10:100::11 ┴─ node A (this netns) ───┘  203.0.113.2, 2001:db8:1::2 (echo server)
 *
 * What runs as in production: node A's host set-up and both pods' networks are planned by coild's
 * planners (`planHostInit`, `planPodSetup`) and applied by the real kernel executor; the client's
 * NAT client is laid out by coild's own NAT hook (`egressHook`: `gateways` at ADD, then `setUp`,
 * i.e. `syncNatClient` with `--tunnel=fou --backend=nftables`), fed with an Egress and its Service
 * as the API server would return them; the `fouSourcePortAuto` change is applied with the
 * EgressWatcher's own steps (`resolveGateways`, `findPodNetns` from the pod table, then
 * `syncNatClient` without init). The egress pod is laid out by `planEgressGateway` — the planner
 * coil-egress runs at start-up (NAT server: nftables masquerade + INVALID drop, rule `iif eth0
 * lookup 118`, FoU receive ports) and at each client sync (per-client `fou4_`/`fou6_` tunnels and
 * table-118 routes) — applied the way coil-egress applies it. What is driven directly: no API
 * server (the Pod, Egress and Service reads are answered from memory), no coild or coil-egress
 * process, and kube-proxy's Service DNAT (ClusterIP:5555/udp → the egress pod) is an nft DNAT rule
 * in node A, as in test/e2e/egress-datapath.test.ts.
 *
 * Prints one line `COIL-VM-RESULT <json>` ({@link GuestReport}); the host test asserts on it. Exits
 * non-zero (with the reason) only when the set-up itself fails.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { HOST_NETNS, netnsPath, type Changeset, type NetlinkOp } from "../../../lib/changeset/index.js";
import { ok } from "neverthrow";
import type { EgressRef } from "../../../lib/egress/index.js";
import type { Ip } from "../../../lib/net/index.js";
import { fouLinkName, hostVethName, planEgressGateway, planHostInit, planPodSetup, type EgressGatewayOptions } from "../../../lib/plan/index.js";
import { egressHook } from "../../../adapters/daemon/egress/hook.js";
import { resolveGateways, type EgressLookup } from "../../../adapters/daemon/egress/gateways.js";
import { syncNatClient, type NatClientSettings } from "../../../adapters/daemon/egress/nat-client.js";
import { findPodNetns } from "../../../adapters/daemon/egress/pod-netns.js";
import { NULL_LOGGER } from "../../../adapters/daemon/log.js";
import { realKernel } from "../../../adapters/kernel/index.js";
import { addInternet, ECHO_SRC, inNs, linkNames, linkViews, run, transfer as transferFrom, type LinkView, type Transfer } from "./guest-tools.js";

export type { LinkView, Transfer } from "./guest-tools.js";

const PORT = 5555;
const POD_TABLE = 116;
const NODE = { v4: "192.168.50.1" as Ip, v6: "fd50::1" as Ip };
const CLIENT = { ns: "coilvm-client", v4: "10.100.0.5" as Ip, v6: "fd10:100::5" as Ip, veth: "0a640005" };
const EGRESS_POD = { ns: "coilvm-egress", v4: "10.100.0.11" as Ip, v6: "fd10:100::11" as Ip, veth: "0a64000b" };
const INET = { ns: "coilvm-inet", v4: "203.0.113.2", v6: "2001:db8:1::2", target4: "9.9.9.9", target6: "2606:4700:4700::9999" };
const CLUSTER_IPS = ["10.96.0.10", "fd00:10:96::10"] as const;
const EGRESS_REF: EgressRef = { namespace: "internet", name: "egress" };
const ROUNDS = Number(process.env["COIL_VM_FOU_ROUNDS"] ?? "10");

/** What the guest reports. */
export interface GuestReport {
  /** `uname -r`. */
  readonly kernel: string;
  /** Client pod links after ADD (sport fixed) and after the `fouSourcePortAuto: true` sync. */
  readonly client: { readonly before: readonly LinkView[]; readonly after: readonly LinkView[]; readonly linkNames: readonly string[] };
  /** Egress pod links (its per-client tunnels). */
  readonly egress: { readonly links: readonly LinkView[]; readonly nft: string; readonly fouPorts: string; readonly linkNames: readonly string[] };
  /** Transfers: through the egress (v4/v6, before and after the toggle) and direct (not an Egress destination). */
  readonly transfers: Readonly<Record<"fou4" | "fou6" | "fou4Auto" | "fou6Auto" | "direct4" | "direct6", Transfer>>;
  /**
   * Packets each client tunnel device decapsulated: before the transfers, after them (sport fixed:
   * node A's conntrack un-DNATs the egress pod's replies to the ClusterIP, so the `fou4_`/`fou6_`
   * links take them) and after the toggle (new flows: the replies keep the egress pod's address
   * and only the flow-based `coil_ipip4/6` can take them).
   */
  readonly rx: Readonly<Record<"start" | "fixed" | "auto", Readonly<Record<string, number>>>>;
  /** Node A dropped client packets sent straight to the Egress destinations (no tunnel). */
  readonly directDrops: number;
  /** Seconds: set-up, NAT client ADD, the sport-auto sync. */
  readonly timings: Readonly<Record<string, number>>;
}

const path = (ns: string): string => `/var/run/netns/${ns}`;
const seconds = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e9;

async function apply(cs: Changeset, what: string): Promise<void> {
  const r = await kernel.apply(cs);
  if (r.isErr()) throw new Error(`${what}: ${JSON.stringify(r.error)}`);
}

const kernel = realKernel();

/** A pod on node A, laid out as coild's ADD does (planPodSetup against the observed state). */
async function addPod(p: { ns: string; v4: Ip; v6: Ip; veth: string }): Promise<void> {
  run(["ip", "netns", "add", p.ns]);
  const hostVeth = hostVethName({ random: p.veth });
  if (hostVeth.isErr()) throw new Error(hostVeth.error.message);
  const host = await kernel.observe(HOST_NETNS);
  const pod = await kernel.observe(netnsPath(path(p.ns)));
  if (host.isErr() || pod.isErr()) throw new Error("observe failed");
  const plan = planPodSetup({
    netnsPath: path(p.ns),
    ifname: "eth0",
    hostVeth: hostVeth.value,
    pool: "default",
    containerId: `vm-${p.ns}`,
    ipv4: p.v4,
    ipv6: p.v6,
    hostIPv4: NODE.v4,
    hostIPv6: NODE.v6,
    podTable: POD_TABLE,
    observed: { host: host.value, pod: pod.value },
  });
  if (plan.isErr()) throw new Error(plan.error.message);
  await apply(plan.value, `pod ${p.ns}`);
}

/**
 * Node A's nftables: kube-proxy's part (ClusterIP:5555/udp → the egress pod, counted) and a drop of
 * client packets sent straight to the Egress destinations, so a reply can only come through the egress.
 */
function nodeNft(): void {
  const [c4, c6] = CLUSTER_IPS;
  run(["nft", "-f", "-"], `table ip kubeproxy {
  chain pre { type nat hook prerouting priority dstnat; policy accept;
    ip daddr ${c4} udp dport ${PORT} counter dnat to ${EGRESS_POD.v4}
  }
  chain forward_drop { type filter hook forward priority filter; policy accept;
    ip saddr ${CLIENT.v4} ip daddr ${INET.target4} counter drop
  }
}
table ip6 kubeproxy {
  chain pre { type nat hook prerouting priority dstnat; policy accept;
    ip6 daddr ${c6} udp dport ${PORT} counter dnat to ${EGRESS_POD.v6}
  }
  chain forward_drop { type filter hook forward priority filter; policy accept;
    ip6 saddr ${CLIENT.v6} ip6 daddr ${INET.target6} counter drop
  }
}
`);
}

function nftDrops(): number {
  const out = run(["nft", "-j", "list", "ruleset"]);
  let n = 0;
  for (const item of (JSON.parse(out) as { nftables: Array<{ rule?: { chain: string; expr: Array<{ counter?: { packets: number }; drop?: null }> } }> }).nftables) {
    if (item.rule?.chain !== "forward_drop") continue;
    for (const e of item.rule.expr) n += e.counter?.packets ?? 0;
  }
  return n;
}

/** coil-egress in the egress pod: the NAT server at start-up, then the sync for the client (its two-phase apply). */
async function egressGateway(): Promise<void> {
  const ref = netnsPath(path(EGRESS_POD.ns));
  const base: Omit<EgressGatewayOptions, "clients"> = { netnsPath: path(EGRESS_POD.ns), iface: "eth0", podIPv4: EGRESS_POD.v4, podIPv6: EGRESS_POD.v6, tunnel: { kind: "fou", port: PORT, sportAuto: false } };
  const observed = await kernel.observe(ref);
  const nft = await kernel.observeNft(ref);
  if (observed.isErr() || nft.isErr()) throw new Error("observe egress pod failed");
  // initNat: netlink without deletions, plus the backend's (nftables) commands.
  const init = planEgressGateway({ ...base, clients: [], observed: observed.value, observedNft: nft.value.rules });
  if (init.isErr()) throw new Error(init.error.message);
  const noDel = (op: NetlinkOp): boolean => op.kind !== "link.del";
  await apply({ steps: init.value.steps.map((s) => ({ ...s, netlink: s.netlink.filter(noDel) })) }, "egress NAT server");
  // syncOnce: the client tunnels and table-118 routes (netlink only).
  const again = await kernel.observe(ref);
  if (again.isErr()) throw new Error("observe egress pod failed");
  const sync = planEgressGateway({ ...base, clients: [CLIENT.v4, CLIENT.v6], observed: again.value });
  if (sync.isErr()) throw new Error(sync.error.message);
  await apply({ steps: sync.value.steps.map((s) => ({ ...s, nft: [] })) }, "egress client sync");
}

/** The Egress and Service as the API server returns them. */
function egressObject(sportAuto: boolean): unknown {
  return {
    apiVersion: "coil.cybozu.com/v2",
    kind: "Egress",
    metadata: { namespace: EGRESS_REF.namespace, name: EGRESS_REF.name },
    spec: { replicas: 1, destinations: [`${INET.target4}/32`, `${INET.target6}/128`], fouSourcePortAuto: sportAuto },
  };
}
function lookupOf(sportAuto: boolean): EgressLookup {
  const found = (ref: EgressRef): boolean => ref.namespace === EGRESS_REF.namespace && ref.name === EGRESS_REF.name;
  return {
    egress: (ref) => Promise.resolve(ok(found(ref) ? egressObject(sportAuto) : undefined)),
    serviceClusterIPs: (ref) => Promise.resolve(ok(found(ref) ? [...CLUSTER_IPS] : undefined)),
  };
}

function rxPackets(ns: string, name: string): number {
  const [l] = JSON.parse(inNs(ns, ["ip", "-s", "-j", "link", "show", "dev", name])) as Array<{ stats64?: { rx?: { packets?: number } } }>;
  return l?.stats64?.rx?.packets ?? 0;
}

/** `rounds` 1 MiB echo transfers from the client pod to `host`. */
async function transfer(host: string, rounds = ROUNDS): Promise<Transfer> {
  return transferFrom(CLIENT.ns, host, rounds);
}

const mark = (what: string): void => console.error(`egress-fou-guest: ${process.uptime().toFixed(1)}s ${what}`);

async function main(): Promise<GuestReport> {
  mark("loaded");
  const timings: Record<string, number> = {};
  let t0 = process.hrtime.bigint();
  const hostInit = planHostInit({ podTable: POD_TABLE });
  if (hostInit.isErr()) throw new Error(hostInit.error.message);
  await apply(hostInit.value, "node A host init");
  run(["ip", "addr", "add", `${NODE.v4}/32`, "dev", "lo"]);
  run(["ip", "addr", "add", `${NODE.v6}/128`, "dev", "lo"]);
  await addPod(CLIENT);
  await addPod(EGRESS_POD);
  addInternet(INET); // the "internet" behind node A, holding the Egress destinations
  nodeNft();
  mark("node, pods and internet laid out");
  await egressGateway();
  const echo = spawn("ip", ["netns", "exec", INET.ns, process.execPath, "-e", ECHO_SRC, INET.target4, INET.target6, INET.v4, INET.v6], { stdio: ["ignore", "pipe", "inherit"] });
  const [ready] = (await once(echo.stdout, "data")) as [Buffer];
  if (!ready.toString().includes("ready")) throw new Error("echo server did not start");
  timings["setup"] = seconds(t0);
  mark("egress gateway and echo server up");

  // coild's ADD: the hook reads the Pod, the Egress and the Service, then lays out the NAT client.
  t0 = process.hrtime.bigint();
  const settings: NatClientSettings = { kernel, port: PORT, tunnel: "fou", backend: "nftables", originatingOnly: false };
  const hook = egressHook({
    readPod: () => Promise.resolve(ok({ annotations: { "egress.coil.cybozu.com/internet": "egress" }, hostNetwork: false })),
    lookup: lookupOf(false),
    settings,
    log: NULL_LOGGER,
  });
  const gws = await hook.gateways({ namespace: "default", name: "client" });
  if (gws.isErr()) throw new Error(gws.error.message);
  const setUp = await hook.setUp({ netns: path(CLIENT.ns), ipv4: CLIENT.v4, ipv6: CLIENT.v6 }, gws.value);
  if (setUp.isErr()) throw new Error(setUp.error.message);
  timings["natClientAdd"] = seconds(t0);
  mark("NAT client laid out");
  const tunnels = CLUSTER_IPS.map((c) => fouLinkName(c as Ip));
  const clientLinks = [...tunnels, "coil_ipip4", "coil_ipip6"];
  const before = linkViews(CLIENT.ns, clientLinks);
  const allLinks = linkNames(CLIENT.ns);
  const rxAll = (): Record<string, number> => Object.fromEntries(clientLinks.map((l) => [l, rxPackets(CLIENT.ns, l)]));
  const rxStart = rxAll();

  const fou4 = await transfer(INET.target4);
  const fou6 = await transfer(INET.target6);
  const direct4 = await transfer(INET.v4);
  const direct6 = await transfer(INET.v6);
  const rxFixed = rxAll();
  mark("transfers done");

  // The EgressWatcher's steps for a running pod after `fouSourcePortAuto: true`.
  t0 = process.hrtime.bigint();
  const changed = await resolveGateways([EGRESS_REF], lookupOf(true));
  if (changed.isErr()) throw new Error(changed.error.message);
  const ns = await findPodNetns(kernel, POD_TABLE, [CLIENT.v4, CLIENT.v6]);
  if (ns.isErr()) throw new Error(ns.error.message);
  const synced = await syncNatClient(settings, { netns: ns.value, ipv4: CLIENT.v4, ipv6: CLIENT.v6 }, changed.value, { init: false });
  if (synced.isErr()) throw new Error(synced.error.message);
  timings["sportAutoSync"] = seconds(t0);
  mark("fouSourcePortAuto applied");
  // The fixed-sport flows' conntrack entries would match the egress pod's replies for up to 120 s
  // more; drop them, as their expiry would.
  for (const f of ["ipv4", "ipv6"]) {
    try {
      run(["conntrack", "-D", "-p", "udp", "-f", f]);
    } catch {
      // exit 1: nothing to delete
    }
  }
  const after = linkViews(CLIENT.ns, clientLinks);
  const fou4Auto = await transfer(INET.target4);
  const fou6Auto = await transfer(INET.target6);
  const rxAuto = rxAll();

  echo.kill();
  const egressTunnels = [fouLinkName(CLIENT.v4), fouLinkName(CLIENT.v6)];
  return {
    kernel: run(["uname", "-r"]).trim(),
    client: { before, after, linkNames: allLinks },
    egress: {
      links: linkViews(EGRESS_POD.ns, egressTunnels),
      nft: inNs(EGRESS_POD.ns, ["nft", "list", "ruleset"]),
      fouPorts: inNs(EGRESS_POD.ns, ["ip", "fou", "show"]),
      linkNames: linkNames(EGRESS_POD.ns),
    },
    transfers: { fou4, fou6, fou4Auto, fou6Auto, direct4, direct6 },
    rx: { start: rxStart, fixed: rxFixed, auto: rxAuto },
    directDrops: nftDrops(),
    timings,
  };
}

main().then(
  (r) => {
    console.log(`COIL-VM-RESULT ${JSON.stringify(r)}`);
    process.exit(0);
  },
  (e: unknown) => {
    console.error(`egress-fou-guest: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);
