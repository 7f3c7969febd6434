/**
 * `npm run cluster -- <command>`: the local multi-node cluster for people (docs/cluster.md).
 *
 *   up [--nodes N] [--cni ptp|coil] [--variant NAME]
 *                                build what is missing, start the control plane and N nodes (default 3),
 *                                wait until every node is Ready, print how to use kubectl; with --cni coil,
 *                                --variant deploys config/variants/NAME (e.g. vxlan) instead of config/rendered
 *   down                         stop and remove everything, then check nothing is left
 *   status                       processes, nodes and pods of the running cluster
 *   check                        a test-image pod on each of two nodes: time to Ready, addresses, HTTP
 *                                from one to the other; the pods are deleted afterwards
 *   kubectl ARGS...              kubectl against the cluster (inside its control-plane namespace)
 *   snapshot FILE                write the host state `down` must leave unchanged (compare with diff)
 *
 * Environment: COIL_CLUSTER_DIR (state directory, default <tmpdir>/coil-cluster).
 *
 * @module
 */
import { writeFile } from "node:fs/promises";
import { TEST_IMAGE_HTTP_PORT } from "../../scripts/cluster/images.js";
import { clusterAttach, clusterDefaults, clusterDown, clusterUp, hostSnapshot, leftovers, procAlive, readState, until, type Cluster } from "./harness.js";

const log = (m: string): void => {
  process.stderr.write(`[cluster ${new Date().toISOString().slice(11, 23)}] ${m}\n`);
};

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

async function requireCluster(): Promise<Cluster> {
  const c = await clusterAttach();
  if (c === undefined) throw new Error(`no cluster recorded in ${clusterDefaults().dir} (npm run cluster -- up)`);
  return c;
}

/** Pods on two nodes: time from creation to Ready, addresses, and an HTTP request from one to the other. */
async function check(c: Cluster): Promise<void> {
  const nodes = c.nodeNames.slice(0, 2);
  const pods = nodes.map((node, i) => ({ node, name: `check-${i + 1}` }));
  const manifest = pods
    .map(
      (p) => `apiVersion: v1
kind: Pod
metadata: {name: ${p.name}, namespace: default, labels: {app: cluster-check}}
spec:
  nodeName: ${p.node}
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 1
  containers:
  - name: echo
    image: ${c.bins.testImageName}
    imagePullPolicy: Never
    readinessProbe: {tcpSocket: {port: ${TEST_IMAGE_HTTP_PORT}}, periodSeconds: 1}
`,
    )
    .join("---\n");
  const t0 = Date.now();
  const applied = await c.kubectl(["apply", "-f", "-"], manifest);
  if (applied.code !== 0) throw new Error(`kubectl apply: ${applied.stderr}`);
  const readyAt = new Map<string, number>();
  const ips = new Map<string, string>();
  await until(
    "check pods Ready",
    async () => {
      const r = await c.kubectl(["get", "pods", "-l", "app=cluster-check", "-o", 'jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status} {range .status.podIPs[*]}{.ip},{end}{"\\n"}{end}']);
      for (const line of r.stdout.split("\n")) {
        const [name, ready, ip] = line.split(" ");
        if (name !== undefined && ready === "True" && !readyAt.has(name)) {
          readyAt.set(name, Date.now() - t0);
          ips.set(name, (ip ?? "").replace(/,$/, ""));
        }
      }
      return readyAt.size === pods.length ? true : undefined;
    },
    120_000,
    undefined,
    100,
  );
  for (const p of pods) log(`pod ${p.name} on ${p.node}: Ready ${readyAt.get(p.name)} ms after apply, IP ${ips.get(p.name)}`);
  const [a, b] = pods;
  if (a !== undefined && b !== undefined) {
    // Every address of the second pod (IPv4 and, with a dual-stack pool, IPv6), from the first.
    for (const target of (ips.get(b.name) ?? "").split(",").filter((x) => x !== "")) {
      const r = await c.kubectl(["exec", a.name, "--", "sh", "-c", `printf 'GET /check HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${target} ${TEST_IMAGE_HTTP_PORT}`]);
      const body = r.stdout.trim().split("\n").pop() ?? "";
      const ok = r.code === 0 && body.startsWith(b.name);
      log(`HTTP ${a.name} -> ${b.name} (${target} port ${TEST_IMAGE_HTTP_PORT}): ${ok ? "ok" : "FAILED"}: ${body}${r.stderr}`);
      if (!ok) process.exitCode = 1;
    }
  }
  const td = Date.now();
  await c.kubectl(["delete", "pods", "-l", "app=cluster-check", "--wait=true"]);
  log(`check pods deleted in ${Date.now() - td} ms`);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...args] = argv;
  switch (command) {
    case "up": {
      const nodes = flag(args, "--nodes");
      const cni = flag(args, "--cni") ?? "ptp";
      if (cni !== "ptp" && cni !== "coil") throw new Error(`--cni must be ptp or coil, got ${cni}`);
      const variant = flag(args, "--variant");
      let c: Cluster;
      try {
        c = await clusterUp({ nodes: nodes === undefined ? 3 : Number(nodes), cni, ...(variant === undefined ? {} : { variant }), log });
      } catch (e) {
        log(`up failed: ${e instanceof Error ? e.message : String(e)}`);
        log("run `npm run cluster -- down` to remove what was started (logs stay in the state directory)");
        process.exitCode = 1;
        return;
      }
      process.stdout.write(
        [
          `cluster up in ${c.state.upMs} ms: ${c.nodeNames.join(", ")} (CNI ${c.state.cni}${c.state.variant === undefined ? "" : `, config/variants/${c.state.variant}`}), state in ${c.state.dir}`,
          "The API server (https://10.20.30.1:6443) is reachable from the cluster's namespaces only. Use kubectl as:",
          `  ${c.kubectlScript} get nodes -o wide`,
          "  npm run cluster -- kubectl get pods -A",
          `  nsenter --net=/run/netns/${c.state.prefix}-cp -- ${c.bins.kubectl} --kubeconfig=${c.kubeconfig} ...`,
          `Test image: ${c.bins.testImageName} (imagePullPolicy: Never; /bin/http-echo on :8080, busybox applets; no wget).`,
          "Stop and remove everything: npm run cluster -- down",
          "",
        ].join("\n"),
      );
      return;
    }
    case "down": {
      const t0 = Date.now();
      await clusterDown({ log });
      const left = await leftovers();
      if (left.length > 0) {
        log(`LEFT OVER after down:\n  ${left.join("\n  ")}`);
        process.exitCode = 1;
      } else {
        log(`down in ${Date.now() - t0} ms; nothing left (netns, mounts, cgroups, processes)`);
      }
      return;
    }
    case "status": {
      const s = readState(clusterDefaults().dir);
      if (s === undefined) {
        process.stdout.write("no cluster\n");
        return;
      }
      for (const p of s.procs) process.stdout.write(`${procAlive(p) ? "running" : "EXITED "} ${p.name} pid ${p.pid} log ${p.log}\n`);
      const c = await requireCluster();
      for (const what of [["get", "nodes", "-o", "wide"], ["get", "pods", "-A", "-o", "wide"]]) process.stdout.write((await c.kubectl(what)).stdout);
      return;
    }
    case "check":
      await check(await requireCluster());
      return;
    case "kubectl": {
      const r = await (await requireCluster()).kubectl(args);
      process.stdout.write(r.stdout);
      process.stderr.write(r.stderr);
      process.exitCode = r.code;
      return;
    }
    case "snapshot": {
      const file = args[0];
      if (file === undefined) throw new Error("snapshot FILE");
      await writeFile(file, await hostSnapshot());
      return;
    }
    default:
      process.stderr.write("usage: npm run cluster -- up [--nodes N] [--cni ptp|coil] [--variant NAME] | down | status | check | kubectl ARGS... | snapshot FILE\n");
      process.exitCode = 2;
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  log(`error: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
