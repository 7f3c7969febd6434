/**
 * coil-egress's Prometheus metrics (Coil §8): `coil_egress_client_pod_count{namespace,egress}`,
 * `coil_egress_client_pod_info{namespace,pod,pod_ip,interface,egress,egress_namespace}`,
 * `coil_egress_nf_conntrack_entries_count|limit{namespace,pod,egress}` (from
 * `/proc/sys/net/netfilter/nf_conntrack_{count,max}`), and
 * `coil_egress_nftables_{masqueraded,invalid}_{packets,bytes}_total{namespace,pod,egress,protocol}`
 * (gauges, from the counter of the first rule of nftables `nat`/`POSTROUTING` and `filter`/`FORWARD`
 * of family `ip`/`ip6`). The kernel values are read at scrape time (Coil refreshes them every 30 s).
 * Also controller-runtime's metric set (adapters/k8s/runtime-metrics.ts; the API requests show).
 */
import { readFile } from "node:fs/promises";
import { Gauge, Registry, collectDefaultMetrics } from "prom-client";
import { runCommand } from "../kernel/index.js";
import type { ClientAddress } from "./clients.js";
import { createRuntimeMetrics, type RuntimeMetrics } from "../k8s/runtime-metrics.js";

/** The egress metric set. */
export interface EgressMetrics {
  /** The registry to serve. */
  readonly registry: Registry;
  /** controller-runtime's metrics in the same registry (API requests). */
  readonly runtime: RuntimeMetrics;
  /** Replace the client series with `clients` (served through `link(ip)`). */
  setClients(clients: readonly ClientAddress[], link: (ip: string) => string): void;
}

/** Identity labels: the Egress and this pod. */
export interface EgressMetricLabels {
  /** Egress namespace. */
  readonly namespace: string;
  /** Egress name. */
  readonly egress: string;
  /** This pod's name (`$HOSTNAME`). */
  readonly pod: string;
}

async function readNumber(path: string): Promise<number | undefined> {
  try {
    const n = Number((await readFile(path, "utf8")).trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Packets and bytes of the first rule's counter in `nft -j list chain <family> <table> <chain>`, or undefined. */
export async function firstRuleCounter(family: "ip" | "ip6", table: string, chain: string): Promise<{ packets: number; bytes: number } | undefined> {
  const r = await runCommand(["nft", "-j", "list", "chain", family, table, chain], { timeoutMs: 5000 });
  if (r.isErr()) return undefined;
  try {
    const doc = JSON.parse(r.value.stdout) as { nftables?: Array<{ rule?: { expr?: Array<Record<string, unknown>> } }> };
    const rule = (doc.nftables ?? []).find((o) => o.rule !== undefined)?.rule;
    const c = rule?.expr?.find((e) => "counter" in e)?.["counter"] as { packets?: number; bytes?: number } | undefined;
    return c === undefined ? undefined : { packets: c.packets ?? 0, bytes: c.bytes ?? 0 };
  } catch {
    return undefined;
  }
}

/** Create the metrics in a fresh registry. */
export function createEgressMetrics(l: EgressMetricLabels, opts: { readonly processMetrics?: boolean } = {}): EgressMetrics {
  const registry = new Registry();
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry });
  const runtime = createRuntimeMetrics(registry);
  const r = [registry];
  const id = { namespace: l.namespace, pod: l.pod, egress: l.egress };
  const count = new Gauge({ name: "coil_egress_client_pod_count", help: "the number of client pods which use this egress", labelNames: ["namespace", "egress"], registers: r });
  const info = new Gauge({
    name: "coil_egress_client_pod_info",
    help: "information of a client pod which uses this egress",
    labelNames: ["namespace", "pod", "pod_ip", "interface", "egress", "egress_namespace"],
    registers: r,
  });
  count.set({ namespace: l.namespace, egress: l.egress }, 0);
  const procGauge = (name: string, help: string, file: string): Gauge =>
    new Gauge({
      name,
      help,
      labelNames: ["namespace", "pod", "egress"],
      registers: r,
      async collect() {
        const v = await readNumber(`/proc/sys/net/netfilter/${file}`);
        if (v !== undefined) this.set(id, v);
      },
    });
  procGauge("coil_egress_nf_conntrack_entries_count", "the number of entries in the nf_conntrack table", "nf_conntrack_count");
  procGauge("coil_egress_nf_conntrack_entries_limit", "the limit of the nf_conntrack table", "nf_conntrack_max");
  const nftGauge = (name: string, help: string, table: string, chain: string, field: "packets" | "bytes"): Gauge =>
    new Gauge({
      name,
      help,
      labelNames: ["namespace", "pod", "egress", "protocol"],
      registers: r,
      async collect() {
        for (const [family, protocol] of [["ip", "ipv4"], ["ip6", "ipv6"]] as const) {
          const c = await firstRuleCounter(family, table, chain);
          if (c !== undefined) this.set({ ...id, protocol }, c[field]);
        }
      },
    });
  nftGauge("coil_egress_nftables_masqueraded_packets_total", "the number of packets masqueraded by nftables", "nat", "POSTROUTING", "packets");
  nftGauge("coil_egress_nftables_masqueraded_bytes_total", "the number of bytes masqueraded by nftables", "nat", "POSTROUTING", "bytes");
  nftGauge("coil_egress_nftables_invalid_packets_total", "the number of packets dropped as invalid by nftables", "filter", "FORWARD", "packets");
  nftGauge("coil_egress_nftables_invalid_bytes_total", "the number of bytes dropped as invalid by nftables", "filter", "FORWARD", "bytes");
  return {
    registry,
    runtime,
    setClients(clients, link) {
      info.reset();
      const pods = new Set<string>();
      for (const c of clients) {
        for (const p of c.pods) {
          pods.add(p.metadata.name);
          info.set({ namespace: p.namespace, pod: p.podName, pod_ip: c.ip, interface: link(c.ip), egress: l.egress, egress_namespace: l.namespace }, 1);
        }
      }
      count.set({ namespace: l.namespace, egress: l.egress }, pods.size);
    },
  };
}
