/**
 * coil-egress's startup and wiring (Coil §1.6, §6.6), inside an egress pod: the NAT server
 * (masquerade + INVALID drop with the chosen backend, rule `iif eth0 lookup 118`, tunnel receive
 * side), then a Pod informer whose changes trigger one coalesced sync: every live client pod's
 * address gets a tunnel and a table-118 route, tunnels of addresses no live client holds are
 * deleted (also those left by a previous run: a client deleted while this pod was down leaves no
 * tunnel). `/readyz` (`pod-sync`) fails until the first sync after the initial LIST succeeded.
 */
import type { KubeConfig } from "@kubernetes/client-node";
import { err, ok, type Result } from "neverthrow";
import { HOST_NETNS, type Changeset, type KernelApplyError, type KernelObserveError, type NetlinkOp } from "../../lib/changeset/index.js";
import { ipFamily, type Family, type Ip } from "../../lib/net/index.js";
import { egressNatIptables, fouLinkName, planEgressGateway, vxlanLinkName, type EgressGatewayTunnel, type PlanError } from "../../lib/plan/index.js";
import { serveHealth, serveMetrics, type ListenError, type Listening } from "../common/http.js";
import { Informer, k8sCall, makeClients, sleep, type KubeClients, type Logger, type ObjectList, type K8sError } from "../k8s/index.js";
import { ensureIptablesRules, realKernel, type ExecError, type Kernel } from "../kernel/index.js";
import { clientAddresses, clientPod, type ClientAddress, type ClientPod } from "./clients.js";
import type { EgressFlags } from "./flags.js";
import { createEgressMetrics, type EgressMetrics } from "./metrics.js";

/** Injected dependencies. */
export interface EgressDeps {
  /** Loaded kubeconfig. */
  readonly kc: KubeConfig;
  /** API clients (default `makeClients(kc)`). */
  readonly clients?: KubeClients;
  /** Logger. */
  readonly log: Logger;
  /** Kernel port (default `realKernel()`, acting on the process's own namespace: the egress pod's). */
  readonly kernel?: Kernel;
  /** The uplink (default `eth0`, as Coil). */
  readonly iface?: string;
  /** Export prom-client's process metrics (default true). */
  readonly processMetrics?: boolean;
}

/** Why coil-egress could not start. */
export type EgressStartError =
  | ListenError
  | { readonly kind: "plan-failed"; readonly cause: PlanError; readonly message: string }
  | { readonly kind: "observe-failed"; readonly cause: KernelObserveError; readonly message: string }
  | { readonly kind: "apply-failed"; readonly cause: KernelApplyError; readonly message: string }
  | { readonly kind: "iptables-failed"; readonly cause: ExecError; readonly message: string };

/** A running coil-egress. */
export interface RunningEgress {
  /** Bound metrics port, if serving. */
  readonly metricsPort: number | undefined;
  /** Bound health port, if serving. */
  readonly healthPort: number | undefined;
  /** Metrics. */
  readonly metrics: EgressMetrics;
  /** Whether the initial pod sync completed (what `/readyz` says). */
  ready(): boolean;
  /** The client addresses of the last successful sync. */
  clients(): readonly ClientAddress[];
  /** Stop watching and serving; tunnels and rules stay. */
  close(): Promise<void>;
}

/** The gateway tunnel configuration of the flags. */
export function gatewayTunnel(flags: EgressFlags): EgressGatewayTunnel {
  return flags.tunnel === "fou" ? { kind: "fou", port: flags.fouPort, sportAuto: flags.sportAuto } : { kind: "vxlan", port: flags.fouPort };
}

function families(flags: EgressFlags): Family[] {
  return [...(flags.podIPv4 !== undefined ? [4 as const] : []), ...(flags.podIPv6 !== undefined ? [6 as const] : [])];
}

function stripNft(cs: Changeset, keepOp: (op: NetlinkOp) => boolean = () => true): Changeset {
  return { steps: cs.steps.map((s) => ({ ...s, netlink: s.netlink.filter(keepOp), nft: [] })) };
}

/** LIST Pods of every namespace, reduced; paginated by 500. */
export function listClientPods(clients: KubeClients): () => ReturnType<typeof k8sCall<ObjectList<ClientPod>>> {
  return () =>
    k8sCall(async () => {
      const items: ClientPod[] = [];
      let cont: string | undefined;
      let rv = "";
      do {
        const page = await clients.core.listPodForAllNamespaces({ limit: 500, ...(cont === undefined ? {} : { _continue: cont }) });
        for (const p of page.items) items.push(clientPod(p));
        rv = page.metadata?.resourceVersion ?? rv;
        cont = page.metadata?._continue === "" ? undefined : page.metadata?._continue;
      } while (cont !== undefined);
      return { items, resourceVersion: rv };
    });
}

/**
 * Set up the NAT server: rules of the backend, rule 2000, tunnel receive side. Existing client tunnels
 * are left for the first sync. Coil's `egress-dummy` marker link is not created: the set-up is planned
 * from the observed state, so running it again changes nothing (and some kernels have no dummy links).
 */
async function initNat(flags: EgressFlags, kernel: Kernel, iface: string): Promise<Result<void, EgressStartError>> {
  const observed = await kernel.observe(HOST_NETNS);
  if (observed.isErr()) return err({ kind: "observe-failed", cause: observed.error, message: `cannot read the pod's network state: ${observed.error.kind}` });
  const nft = flags.backend === "nftables" ? await kernel.observeNft(HOST_NETNS) : undefined;
  if (nft?.isErr() === true) return err({ kind: "observe-failed", cause: nft.error, message: `cannot list nftables: ${nft.error.kind}` });
  const plan = planEgressGateway({
    iface,
    ...(flags.podIPv4 !== undefined ? { podIPv4: flags.podIPv4 } : {}),
    ...(flags.podIPv6 !== undefined ? { podIPv6: flags.podIPv6 } : {}),
    tunnel: gatewayTunnel(flags),
    clients: [],
    observed: observed.value,
    observedNft: nft?.isOk() === true ? nft.value.rules : [],
  });
  if (plan.isErr()) return err({ kind: "plan-failed", cause: plan.error, message: plan.error.message });
  const stripped = stripNft(plan.value, (op) => op.kind !== "link.del");
  const cs = flags.backend === "nftables" ? { steps: stripped.steps.map((s, i) => ({ ...s, nft: plan.value.steps[i]?.nft ?? [] })) } : stripped;
  const applied = await kernel.apply(cs);
  if (applied.isErr()) return err({ kind: "apply-failed", cause: applied.error, message: `NAT server set-up failed: ${applied.error.kind === "apply-failed" ? applied.error.stderr.trim() || applied.error.reason : applied.error.kind}` });
  if (flags.backend === "iptables") {
    const ips: [Family, Ip | undefined][] = [[4, flags.podIPv4], [6, flags.podIPv6]];
    const rules = ips.flatMap(([f, ip]) => (ip === undefined ? [] : egressNatIptables(f, ip, iface)));
    const r = await ensureIptablesRules(HOST_NETNS, rules);
    if (r.isErr()) return err({ kind: "iptables-failed", cause: r.error, message: `iptables failed: ${r.error.kind === "exit-nonzero" ? r.error.stderr.trim() : r.error.kind}` });
  }
  return ok(undefined);
}

/** Start coil-egress: NAT server, pod watcher, endpoints. */
export async function runEgress(flags: EgressFlags, deps: EgressDeps): Promise<Result<RunningEgress, EgressStartError>> {
  const { log } = deps;
  const iface = deps.iface ?? "eth0";
  const kernel = deps.kernel ?? realKernel();
  const init = await initNat(flags, kernel, iface);
  if (init.isErr()) return err(init.error);
  log.info("NAT server initialised", { backend: flags.backend, tunnel: flags.tunnel, iface });
  const metrics = createEgressMetrics({ namespace: flags.namespace, egress: flags.egressName, pod: flags.podName }, { processMetrics: deps.processMetrics ?? true });
  const clients = deps.clients ?? makeClients(deps.kc, { onRequest: metrics.runtime.request });
  const ownClients = deps.clients === undefined;
  const fams = new Set(families(flags));
  const linkOf = (ip: string): string => (flags.tunnel === "fou" ? fouLinkName(ip as Ip) : vxlanLinkName(ip as Ip));
  const pods = new Informer<ClientPod>({ name: "pods", kc: clients.kc, path: "/api/v1/pods", list: listClientPods(clients), transform: clientPod, log, onRequest: clients.onRequest });

  let initDone = false;
  let current: ClientAddress[] = [];
  let closed = false;
  let dirty = false;
  let running: Promise<void> | undefined;

  const syncOnce = async (): Promise<Result<void, string>> => {
    const want = clientAddresses(pods.items(), flags.namespace, flags.egressName).filter((c) => fams.has(ipFamily(c.ip)));
    const observed = await kernel.observe(HOST_NETNS);
    if (observed.isErr()) return err(`observe: ${observed.error.kind}`);
    const plan = planEgressGateway({
      iface,
      ...(flags.podIPv4 !== undefined ? { podIPv4: flags.podIPv4 } : {}),
      ...(flags.podIPv6 !== undefined ? { podIPv6: flags.podIPv6 } : {}),
      tunnel: gatewayTunnel(flags),
      clients: want.map((c) => c.ip),
      observed: observed.value,
    });
    if (plan.isErr()) return err(`plan: ${plan.error.message}`);
    const applied = await kernel.apply(stripNft(plan.value));
    if (applied.isErr()) return err(`apply: ${applied.error.kind === "apply-failed" ? applied.error.stderr.trim() : applied.error.kind}`);
    const before = new Set(current.map((c) => c.ip));
    const after = new Set(want.map((c) => c.ip));
    for (const c of want) if (!before.has(c.ip)) log.info("add client", { ip: c.ip, pods: c.pods.map((p) => p.metadata.name), interface: linkOf(c.ip) });
    for (const c of current) if (!after.has(c.ip)) log.info("remove client", { ip: c.ip });
    current = want;
    metrics.setClients(want, linkOf);
    return ok(undefined);
  };

  const loop = async (): Promise<void> => {
    let failures = 0;
    while (dirty && !closed) {
      dirty = false;
      const r = await syncOnce();
      if (r.isOk()) {
        failures = 0;
        if (!initDone) log.info("initial pod sync complete", { clients: current.length });
        initDone = true;
        continue;
      }
      log.error("sync failed", { error: r.error });
      dirty = true;
      await sleep(Math.min(30_000, 200 * 2 ** failures++));
    }
  };
  const notify = (): void => {
    dirty = true;
    if (running !== undefined || !pods.hasSynced) return;
    running = loop().finally(() => {
      running = undefined;
      if (dirty && !closed) notify();
    });
  };
  pods.on(() => notify());
  pods.start();
  void pods.waitSynced().then(() => notify());

  const listeners: Listening[] = [];
  const closeAll = async (): Promise<void> => {
    closed = true;
    await pods.stop();
    await running;
    for (const l of listeners) await l.close();
    if (ownClients) clients.destroy();
  };
  if (flags.metricsAddr !== undefined) {
    const m = await serveMetrics(flags.metricsAddr, metrics.registry);
    if (m.isErr()) {
      await closeAll();
      return err(m.error);
    }
    listeners.push(m.value);
  }
  let healthPort: number | undefined;
  if (flags.healthAddr !== undefined) {
    const h = await serveHealth(flags.healthAddr, [{ name: "pod-sync", check: () => initDone }]);
    if (h.isErr()) {
      await closeAll();
      return err(h.error);
    }
    listeners.push(h.value);
    healthPort = h.value.port;
  }
  return ok({
    metricsPort: flags.metricsAddr !== undefined ? listeners[0]?.port : undefined,
    healthPort,
    metrics,
    ready: () => initDone,
    clients: () => current,
    close: closeAll,
  });
}

export type { K8sError };
