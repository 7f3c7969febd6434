/**
 * The Grafana dashboard (config/dashboard/coil.json) against what the programs really serve: a real
 * kube-apiserver + etcd, coil-ipam-controller and coil-egress-controller in-process (leader election,
 * process metrics), a real coild process (`--store=kubernetes`) in a test host netns and the real
 * `coil` executable doing an ADD. After some work (a pod's address, an Egress) every program's
 * `/metrics` is scraped, and every metric name of every panel target and template query must have
 * at least one sample in some program's output. A panel naming a metric nobody serves fails here.
 *
 * PromQL is read minimally: label matchers, strings, ranges, Grafana variables and `by (...)`-style
 * label lists are dropped, and every remaining identifier that is not a function call or keyword is
 * a metric name.
 */
import t from "tap";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { SILENT_LOGGER } from "../../adapters/k8s/index.js";
import { runIpamController } from "../../adapters/ipam-controller/run.js";
import { parseEgressControllerFlags } from "../../adapters/egress-controller/flags.js";
import { runEgressController } from "../../adapters/egress-controller/run.js";
import { relayApiIntoNetns, type ApiRelay } from "../helpers/api-relay.js";
import { eventually, startCoilControlPlaneOrSkip } from "../helpers/coil-envtest.js";
import { requireRoot, withNetns } from "../helpers/netns.js";
import { REPO_ROOT, addNodeAddresses, runCoil, startCoildInNetns, stopProcess, type CoildProcess } from "../helpers/test-host.js";
import { api, createPool, createRequest, testFlags, waitCompleted } from "../adapters/ipam-controller/harness.js";

const run = promisify(execFile);

/** PromQL words that are not metric names. */
const KEYWORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset", "inf", "nan"]);

/** The metric names a PromQL expression (or a Grafana `label_values(...)` query) reads. */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, " ") // strings
    .replace(/\$\{[^}]*\}|\$\w+/g, " ") // Grafana variables
    .replace(/\{[^}]*\}/g, " ") // label matchers
    .replace(/\[[^\]]*\]/g, " ") // ranges, subqueries
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " "); // label lists
  const names = new Set<string>();
  for (const m of stripped.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?/g)) {
    const word = m[1] ?? "";
    if (m[2] !== undefined || KEYWORDS.has(word.toLowerCase())) continue; // a function call or keyword
    // label_values(metric, label): the second argument is a label.
    if (/label_values\s*\(/.test(expr) && new RegExp(`,\\s*${word}\\s*\\)`).test(stripped)) continue;
    names.add(word);
  }
  return [...names];
}

/** Metric names that have at least one sample line in a Prometheus text exposition. */
function sampled(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split("\n")) {
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{.*\})? \S+/.exec(line);
    if (m?.[1] !== undefined) names.add(m[1]);
  }
  return names;
}

/** Every target of the dashboard: `{ where, expr }` for panel targets (rows included) and template queries. */
function dashboardQueries(): Array<{ where: string; expr: string }> {
  type Panel = { title?: string; targets?: Array<{ expr?: string }>; panels?: Panel[] };
  const d = JSON.parse(readFileSync(join(REPO_ROOT, "config/dashboard/coil.json"), "utf8")) as { panels: Panel[]; templating?: { list?: Array<{ name: string; query?: unknown }> } };
  const out: Array<{ where: string; expr: string }> = [];
  const walk = (ps: readonly Panel[]): void => {
    for (const p of ps) {
      for (const tg of p.targets ?? []) out.push({ where: `panel ${JSON.stringify(p.title)}`, expr: tg.expr ?? "" });
      walk(p.panels ?? []);
    }
  };
  walk(d.panels);
  for (const v of d.templating?.list ?? []) {
    const q = typeof v.query === "string" ? v.query : (v.query as { query?: string } | undefined)?.query;
    if (q !== undefined && /label_values|query_result/.test(q)) out.push({ where: `variable $${v.name}`, expr: q });
  }
  return out;
}

t.test("metric names are read out of PromQL", async (t) => {
  t.same(metricNames('histogram_quantile(0.95, sum(rate(x_bucket{job="coil", a=~"$v"}[5m])) by (le, controller))'), ["x_bucket"]);
  t.same(metricNames('sum(rate(a_total{code!="OK"}[5m])) by (instance) * 300 / on(instance) group_left b'), ["a_total", "b"]);
  t.same(metricNames("label_values(coil_controller_max_blocks, pool)"), ["coil_controller_max_blocks"]);
  t.same(metricNames('irate(process_cpu_seconds_total{component=~"${component}"}[1m])'), ["process_cpu_seconds_total"]);
});

t.test("every panel of config/dashboard/coil.json has data when the programs are scraped", async (t) => {
  const queries = dashboardQueries();
  t.ok(queries.length >= 20, `the dashboard has its panels (${queries.length} queries)`);
  for (const q of queries) t.not(metricNames(q.expr).length, 0, `${q.where} reads a metric: ${q.expr}`);
  if (!requireRoot(t)) return;
  const started = await startCoilControlPlaneOrSkip(t);
  if (started === undefined) return;
  const { cp, kc } = started;
  const a = api(kc);
  const dir = mkdtempSync(join(tmpdir(), "coil-dashboard-"));
  const held: { relay?: ApiRelay; coild?: CoildProcess } = {};
  const ipam = (await runIpamController(testFlags(), { kc, log: SILENT_LOGGER, identity: "dash-ipam", processMetrics: true }))._unsafeUnwrap();
  const egressFlags = parseEgressControllerFlags(["--metrics-addr=127.0.0.1:0", "--health-addr=127.0.0.1:0", "--leader-elect-lease-duration=10s", "--leader-elect-renew-deadline=6s", "--leader-elect-retry-period=300ms"])._unsafeUnwrap();
  if (typeof egressFlags === "string") throw new Error(egressFlags);
  const egress = (await runEgressController(egressFlags, { kc, log: SILENT_LOGGER, identity: "dash-egress", image: "coil:dev", processMetrics: true }))._unsafeUnwrap();
  t.teardown(async () => {
    if (held.coild !== undefined) await stopProcess(held.coild.child, "SIGKILL");
    await held.relay?.close();
    await Promise.all([ipam.close(), egress.close()]);
    a.clients.destroy();
    await cp.stop();
  });
  await a.core.createNode({ body: { metadata: { name: "dash" }, status: { addresses: [{ type: "InternalIP", address: "10.20.30.41" }] } } });
  await createPool(a, "default", 3, [{ ipv4: "10.100.0.0/24" }]);
  await eventually("both controllers lead", () => (ipam.isLeader() && egress.isLeader() ? true : undefined));

  // Work: a BlockRequest, an Egress, and a pod's ADD through coild.
  await createRequest(a, "dash-r0", "default", "dash");
  await waitCompleted(a, "dash-r0");
  // The Egress reconcile fills in ClusterRoleBinding coil-egress (the manifests install it).
  const crb = { metadata: { name: "coil-egress" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "coil-egress" }, subjects: [] };
  await a.clients.rbac.createClusterRoleBinding({ body: crb });
  await eventually("namespace default", async () => ((await a.core.readNamespace({ name: "default" }).catch(() => undefined)) === undefined ? undefined : true));
  await a.clients.custom.createNamespacedCustomObject({
    group: "coil.cybozu.com",
    version: "v2",
    namespace: "default",
    plural: "egresses",
    body: { apiVersion: "coil.cybozu.com/v2", kind: "Egress", metadata: { name: "dash", namespace: "default" }, spec: { destinations: ["10.1.2.0/24"] } },
  });
  await eventually("the egress Deployment", () => a.clients.apps.readNamespacedDeployment({ name: "dash", namespace: "default" }).catch(() => undefined));
  const host = withNetns(t, "coiltest-host");
  addNodeAddresses(host.name);
  held.relay = await relayApiIntoNetns(host, cp.server, dir);
  const sock = join(dir, "coild.sock");
  held.coild = await startCoildInNetns({
    netnsPath: host.path,
    nodeName: "dash",
    timeoutMs: 40_000,
    flags: ["--store=kubernetes", `--kubeconfig=${cp.kubeconfigPath}`, `--socket=${sock}`, "--metrics-addr=127.0.0.1:9384", "--health-addr=127.0.0.1:9385", "--enable-egress=false", "--enable-static-ip=false"],
  });
  const pod = withNetns(t, "coiltest-pod");
  const added = await runCoil({ cmd: "ADD", containerId: "dash-c1", netns: pod.path, socket: sock, rpc: "grpc" });
  t.equal(added.code, 0, added.stdout);

  // coild's metrics listen inside the host netns: fetch them from there.
  const scrapeCoild = async (): Promise<string> => {
    const script = "fetch('http://127.0.0.1:9384/metrics').then((r) => r.text()).then((s) => process.stdout.write(s))";
    return (await run("nsenter", [`--net=${host.path}`, "--", process.execPath, "-e", script], { maxBuffer: 16 << 20 })).stdout;
  };
  const scrape = async (port: number | undefined): Promise<string> => (await fetch(`http://127.0.0.1:${port ?? 0}/metrics`)).text();
  const served = new Map<string, Set<string>>();
  // Scrape until the allocation shows in the controller's gauges and coild has counted its call.
  await eventually("every program counted the work", async () => {
    const texts = { "coil-ipam-controller": await scrape(ipam.metricsPort), "coil-egress-controller": await scrape(egress.metricsPort), coild: await scrapeCoild() };
    for (const [k, v] of Object.entries(texts)) served.set(k, sampled(v));
    const ok =
      /^coil_controller_allocated_blocks\{pool="default"\} [1-9]/m.test(texts["coil-ipam-controller"]) &&
      /^controller_runtime_reconcile_total\{controller="egress",result="success"\} [1-9]/m.test(texts["coil-egress-controller"]) &&
      /^grpc_server_handled_total\{[^}]*grpc_method="Add"[^}]*grpc_code="OK"\} [1-9]/m.test(texts.coild);
    return ok ? true : undefined;
  });
  const servedBy = (name: string): string[] => [...served].filter(([, names]) => names.has(name)).map(([prog]) => prog);
  const missing: string[] = [];
  for (const q of queries) {
    for (const name of metricNames(q.expr)) {
      if (servedBy(name).length === 0) missing.push(`${q.where}: ${name}`);
    }
  }
  t.same(missing, [], "every metric a panel reads has samples");
  // The check itself: a name nobody serves is reported.
  t.same(servedBy("nobody_serves_this_total"), [], "an unknown name is not found");
  t.same(servedBy("rest_client_requests_total").sort(), ["coil-egress-controller", "coil-ipam-controller", "coild"], "every program counts its API requests");
  t.same(servedBy("leader_election_master_status").sort(), ["coil-egress-controller", "coil-ipam-controller"], "both controllers report their Lease");
  t.same(servedBy("workqueue_depth").sort(), ["coil-egress-controller", "coil-ipam-controller"]);
  await stopProcess(held.coild.child, "SIGTERM");
});
