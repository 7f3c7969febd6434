// Coil's end-to-end suite (coil-v2-behaviour.md §9.11 items 1–8, the egress controller and items 9–13)
// in a real cluster on this machine: the harness's three kubelet + containerd nodes with Coil deployed as
// users deploy it (its image imported into every node's containerd, `kubectl apply` of the manifests, the
// default dual-stack AddressPool through the webhook). The manifests are config/variants/vxlan (the
// default ones plus `--tunnel=vxlan` on coild and the egress controller): this kernel has no FoU/IPIP, so
// egress runs over VXLAN; nothing else differs. The egress scenario is in ./egress.ts. Plus: a node
// drained and deleted has its blocks collected; a rolling update of the coild DaemonSet with pods running
// loses no pod address and no more than one second of traffic; a static address (beyond Coil,
// docs/static-addresses.md) follows its pod from one node to another and is refused to other pods while
// held; and the host's sysctls, routes, rules, ruleset and cgroup tree are the same before and after.
//
// One cluster for the whole file (its own name prefix and state directory, so it never meets a cluster a
// person started with `npm run cluster`); each test deletes what it created. Families: the default pool
// is dual stack (IPv4 + IPv6 on every pod, both checked), and one test runs pods from an IPv4-only and an
// IPv6-only pool (namespace annotation) — so single-stack IPv4, single-stack IPv6 and dual stack are all
// exercised in the same cluster.
//
// Needs root, the cluster binaries (scripts/envtest/build.sh, scripts/cluster/build.sh) and the image
// (`npm run image`), which `npm test` prepares (scripts/test-prepare.sh). A missing one, or a cluster that
// cannot start, fails the file (under CI=true always; COIL_TEST_ALLOW_SKIP=1 skips it elsewhere).
import t, { type Test } from "tap";
import { existsSync, mkdtempSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TEST_IMAGE_HTTP_PORT, TEST_IMAGE_NAME } from "../../scripts/cluster/images.js";
import { isRoot } from "../helpers/netns.js";
import { missingPrerequisite } from "../helpers/prerequisites.js";
import { eventually } from "../helpers/wait.js";
import { clusterDown, clusterUp, cmd, coilImage, findClusterBinaries, hostSnapshot, leftovers, must, nodeIp, nodeIp6, type Cluster, type ClusterOptions } from "./harness.js";
import { egressTests } from "./egress.js";
import { coilPods, getJson, ipFamily, ok, podIps, podMetrics, podReady, type Meta, type PodJson } from "./kube.js";

/** Everything here waits for a condition; these bound the waits on a loaded 2-core machine. */
const LONG = 300_000;
const MEDIUM = 120_000;

// The whole file: start-up (1–3 min, much longer under load), the tests (22 min beside a full-suite run, 12 of
// them the egress tests), and down.
t.setTimeout(90 * 60_000);

const opts: ClusterOptions = {
  prefix: `e2e${randomBytes(3).toString("hex").slice(0, 5)}`,
  dir: mkdtempSync(join(tmpdir(), "coil-e2e-cluster-")),
  nodes: 3,
  cni: "coil",
  variant: "vxlan",
  log: (m) => t.comment(`[cluster ${new Date().toISOString().slice(11, 23)}] ${m}`),
};

// ---------------------------------------------------------------------------------------------------
// kubectl helpers

interface BlockJson {
  metadata: Meta;
  index: number;
  ipv4?: string;
  ipv6?: string;
}

const blockNode = (b: BlockJson): string => b.metadata.labels?.["coil.cybozu.com/node"] ?? "";
const blocks = (c: Cluster): Promise<BlockJson[]> => getJson<BlockJson>(c, ["addressblocks"]);

/** A pod of the test image (HTTP echo on :8080, busybox) pinned to `node` through the scheduler. */
function podManifest(name: string, node: string, namespace = "default", labels: Record<string, string> = {}, annotations: Record<string, string> = {}): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace, labels: { "e2e.coil": "1", ...labels }, annotations },
    spec: {
      nodeSelector: { "kubernetes.io/hostname": node },
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: "echo",
          image: TEST_IMAGE_NAME,
          imagePullPolicy: "Never",
          readinessProbe: { tcpSocket: { port: TEST_IMAGE_HTTP_PORT }, periodSeconds: 1 },
        },
      ],
    },
  });
}

/** Create pods and wait until all are Ready; return them by name. */
async function runPods(c: Cluster, specs: readonly { name: string; node: string; namespace?: string; annotations?: Record<string, string> }[]): Promise<Map<string, PodJson>> {
  for (const s of specs) await ok(c, ["apply", "-f", "-"], podManifest(s.name, s.node, s.namespace, {}, s.annotations));
  const out = new Map<string, PodJson>();
  for (const s of specs) {
    const p = await eventually(
      `pod ${s.namespace ?? "default"}/${s.name} Ready on ${s.node}`,
      async () => {
        const [pod] = await getJson<PodJson>(c, ["pod", "-n", s.namespace ?? "default", "--field-selector", `metadata.name=${s.name}`]);
        return pod !== undefined && podReady(pod) && podIps(pod).length > 0 ? pod : undefined;
      },
      { timeoutMs: LONG, intervalMs: 500 },
    );
    out.set(s.name, p);
  }
  return out;
}

async function deletePods(c: Cluster, namespace = "default"): Promise<void> {
  await ok(c, ["delete", "pods", "-n", namespace, "-l", "e2e.coil=1", "--wait=true", "--timeout=300s"]);
}

/** An HTTP request from pod `from` to `ip`:8080 with busybox nc; returns the answer's body line. */
async function http(c: Cluster, from: string, ip: string, namespace = "default"): Promise<string> {
  const r = await c.kubectl(["exec", "-n", namespace, from, "--", "sh", "-c", `printf 'GET /e2e HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${ip} ${TEST_IMAGE_HTTP_PORT}`]);
  if (r.code !== 0) throw new Error(`HTTP ${from} -> ${ip}: exit ${r.code}: ${r.stderr.trim()}`);
  return r.stdout.trim().split("\n").pop() ?? "";
}

/** Every address of `to` answers `from` over HTTP with `to`'s name (the echo server's hostname). */
async function checkHttp(t: Test, c: Cluster, from: string, to: PodJson, namespace = "default"): Promise<void> {
  for (const ip of podIps(to)) {
    const body = await eventually(`HTTP ${from} -> ${to.metadata.name} (${ip})`, async () => {
      const b = await http(c, from, ip, namespace);
      return b.startsWith(to.metadata.name) ? b : undefined;
    }, { timeoutMs: 60_000, intervalMs: 1000 });
    t.match(body, new RegExp(`^${to.metadata.name} GET /e2e from `), `HTTP ${from} -> ${to.metadata.name} at ${ip}`);
  }
}

/** Whether `ip` lies in `cidr` (IPv4 dotted or IPv6; enough for the pools used here). */
function inCidr(ip: string, cidr: string): boolean {
  const [net, bitsText] = cidr.split("/");
  const bits = Number(bitsText);
  const toBig = (a: string): bigint => {
    if (!a.includes(":")) return a.split(".").reduce((acc, o) => (acc << 8n) | BigInt(o), 0n);
    const [head, tail] = a.split("::");
    const h = head === "" || head === undefined ? [] : head.split(":");
    const tl = tail === undefined || tail === "" ? [] : tail.split(":");
    const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - tl.length).fill("0"), ...tl];
    return groups.reduce((acc, g) => (acc << 16n) | BigInt(`0x${g}`), 0n);
  };
  if (net === undefined || ipFamily(ip) !== ipFamily(net)) return false;
  const width = ipFamily(ip) === 4 ? 32n : 128n;
  const shift = width - BigInt(bits);
  return toBig(ip) >> shift === toBig(net) >> shift;
}

// ---------------------------------------------------------------------------------------------------
// Start

const snapshotBefore = isRoot() ? await hostSnapshot() : "";
let cluster: Cluster | undefined;
let prerequisite: string | undefined;
if (!isRoot()) prerequisite = "needs root (network namespaces, mount namespaces, cgroups)";
else if (!existsSync(coilImage().archive)) prerequisite = `the image ${coilImage().archive} is missing (npm run image)`;
else {
  try {
    await findClusterBinaries(true);
  } catch (e) {
    prerequisite = `cluster binaries missing: ${e instanceof Error ? e.message : String(e)}`;
  }
}

if (prerequisite !== undefined) {
  missingPrerequisite(t, prerequisite);
} else {
  const t0 = Date.now();
  try {
    cluster = await clusterUp(opts);
    t.comment(`cluster ${opts.prefix} up with Coil in ${Date.now() - t0} ms`);
  } catch (e) {
    t.comment(`cluster start failed after ${Date.now() - t0} ms`);
    missingPrerequisite(t, `the cluster could not start: ${e instanceof Error ? e.message : String(e)}`, `see the logs in ${opts.dir}/logs`);
  }
}

t.teardown(async () => {
  if (prerequisite !== undefined) return;
  await clusterDown(opts);
});

if (cluster !== undefined) {
  const c = cluster;
  const [n1, n2, n3] = c.nodeNames as [string, string, string];

  t.test("setup: coil-ipam-controller with --gc-interval=10s (as Coil's e2e kustomization patches it)", async (t) => {
    await ok(c, ["-n", "kube-system", "patch", "deployment", "coil-ipam-controller", "--type=json", "-p", JSON.stringify([{ op: "add", path: "/spec/template/spec/containers/0/args/-", value: "--gc-interval=10s" }])]);
    await ok(c, ["-n", "kube-system", "rollout", "status", "deployment/coil-ipam-controller", "--timeout=600s"]);
    t.pass("rolled out");
  });

  t.test("1. every Coil pod in kube-system becomes Ready", async (t) => {
    const pods = await eventually(
      "every app.kubernetes.io/name=coil pod Ready (3 coild, 3 coil-router, 2 coil-ipam-controller, 2 coil-egress-controller)",
      async () => {
        const ps = await getJson<PodJson>(c, ["pods", "-n", "kube-system", "-l", "app.kubernetes.io/name=coil"]);
        return ps.length === 10 && ps.every(podReady) ? ps : undefined;
      },
      { timeoutMs: LONG, intervalMs: 1000 },
    );
    t.equal(pods.length, 10, pods.map((p) => p.metadata.name).join(" "));
  });

  t.test("2–6. pods on different nodes, coild restarts, table 119, metrics, release", async (t) => {
    t.teardown(() => deletePods(c));
    const pods = await runPods(c, [
      { name: "httpd", node: n1 },
      { name: "client", node: n2 },
    ]);
    const httpd = pods.get("httpd")!;
    const client = pods.get("client")!;
    const families = podIps(httpd).map(ipFamily).sort();
    t.same(families, [4, 6], `httpd has an IPv4 and an IPv6 address: ${podIps(httpd).join(" ")}`);
    t.not(httpd.spec.nodeName, client.spec.nodeName, "the pods run on different nodes");

    await t.test("2. HTTP between pods on different nodes, every family", async (t) => {
      await checkHttp(t, c, "client", httpd);
      await checkHttp(t, c, "httpd", client);
    });

    await t.test("3. deleting every coild pod keeps the blocks and the pod addresses", async (t) => {
      const before = await blocks(c);
      const mine = (bs: BlockJson[]): string[] => bs.filter((b) => [n1, n2].includes(blockNode(b))).map((b) => `${b.metadata.name}@${blockNode(b)}`).sort();
      t.equal(mine(before).length, 2, `one block each on ${n1} and ${n2}: ${mine(before).join(" ")}`);
      const oldUids = new Set((await coilPods(c, "coild")).map((p) => p.metadata.uid));
      t.equal(oldUids.size, 3);
      await ok(c, ["-n", "kube-system", "delete", "pods", "-l", "app.kubernetes.io/component=coild", "--wait=true", "--timeout=300s"]);
      await eventually(
        "coild recreated (3 new pods Ready)",
        async () => {
          const ps = await coilPods(c, "coild");
          return ps.length === 3 && ps.every((p) => !oldUids.has(p.metadata.uid) && podReady(p)) ? true : undefined;
        },
        { timeoutMs: LONG, intervalMs: 1000 },
      );
      t.same(mine(await blocks(c)), mine(before), "the same blocks after coild was recreated");
      const [httpdNow] = await getJson<PodJson>(c, ["pod", "--field-selector", "metadata.name=httpd"]);
      t.same(podIps(httpdNow!), podIps(httpd), "httpd kept its addresses");
      // The restarted coild knows its block: a new pod on the node gets an address from it, no new block.
      const another = (await runPods(c, [{ name: "another-httpd", node: n1 }])).get("another-httpd")!;
      const n1Block = before.find((b) => blockNode(b) === n1)!;
      for (const ip of podIps(another)) t.ok(inCidr(ip, (ipFamily(ip) === 4 ? n1Block.ipv4 : n1Block.ipv6) ?? ""), `another-httpd's ${ip} is in ${n1}'s block ${n1Block.metadata.name}`);
      t.same(mine(await blocks(c)), mine(before), "no new block for the new pod");
      await checkHttp(t, c, "client", another);
      await checkHttp(t, c, "client", httpd);
    });

    await t.test(`4. table 119 on ${n1} is non-empty (IPv4 and IPv6)`, async (t) => {
      for (const fam of ["-4", "-6"]) {
        const r = await cmd(["ip", "-n", `${c.state.prefix}-n1`, "-j", fam, "route", "show", "table", "119"]);
        t.equal(r.code, 0, r.stderr);
        const routes = JSON.parse(r.stdout === "" ? "[]" : r.stdout) as { dst: string }[];
        t.ok(routes.length > 0, `ip ${fam} route show table 119: ${routes.map((x) => x.dst).join(" ")}`);
      }
    });

    await t.test("6. coild and coil-router metrics on a node are non-empty", async (t) => {
      const onN1 = async (component: string): Promise<string> => (await coilPods(c, component)).find((p) => p.spec.nodeName === n1)!.metadata.name;
      const coild = await podMetrics(c, "kube-system", await onN1("coild"), 9384);
      t.match(coild, /^# (HELP|TYPE) /m, "coild :9384/metrics");
      const router = await podMetrics(c, "kube-system", await onN1("coil-router"), 9388);
      t.match(router, /^# (HELP|TYPE) /m, "coil-router :9388/metrics");
    });

    await t.test("5. deleting the pods releases their nodes' blocks", async (t) => {
      await deletePods(c);
      const left = await eventually(
        `no AddressBlock left on ${n1} and ${n2}`,
        async () => {
          const bs = (await blocks(c)).filter((b) => [n1, n2].includes(blockNode(b)));
          return bs.length === 0 ? bs : undefined;
        },
        { timeoutMs: MEDIUM, intervalMs: 1000 },
      );
      t.same(left, []);
    });
  });

  t.test("single-stack pools: IPv4-only and IPv6-only pods reach each other across nodes", async (t) => {
    const pools = [
      { name: "e2e-v4", ns: "e2e-v4", subnet: { ipv4: "10.101.0.0/24" }, want: 4 },
      { name: "e2e-v6", ns: "e2e-v6", subnet: { ipv6: "fd00:10:101::/112" }, want: 6 },
    ] as const;
    t.teardown(async () => {
      for (const p of pools) {
        await c.kubectl(["delete", "namespace", p.ns, "--wait=true", "--timeout=300s"]);
        await c.kubectl(["delete", "addresspool", p.name, "--wait=true", "--timeout=120s"]);
      }
    });
    for (const p of pools) {
      await ok(c, ["apply", "-f", "-"], JSON.stringify({ apiVersion: "coil.cybozu.com/v2", kind: "AddressPool", metadata: { name: p.name }, spec: { blockSizeBits: 4, subnets: [p.subnet] } }));
      await ok(c, ["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: p.ns, annotations: { "coil.cybozu.com/pool": p.name } } }));
      const pods = await runPods(c, [
        { name: "httpd", node: n1, namespace: p.ns },
        { name: "client", node: n2, namespace: p.ns },
      ]);
      const httpd = pods.get("httpd")!;
      t.same(podIps(httpd).map(ipFamily), [p.want], `${p.ns}/httpd is IPv${p.want} only: ${podIps(httpd).join(" ")}`);
      const cidr = "ipv4" in p.subnet ? p.subnet.ipv4 : p.subnet.ipv6;
      t.ok(inCidr(podIps(httpd)[0]!, cidr), `from pool ${p.name} (${cidr})`);
      await checkHttp(t, c, "client", httpd, p.ns);
      await deletePods(c, p.ns);
    }
  });

  t.test(`static address (beyond Coil, docs/static-addresses.md): kept when its pod moves from ${n1} to ${n2}; refused to other pods while held`, async (t) => {
    // A dedicated blockSizeBits: 0 pool (the design's recommended set-up): the static address is a block
    // of its own, which coild on the pod's node asks the controller for by index and returns when the
    // pod goes. Dual stack, as the cluster is: the pod names both families, a second pod one.
    const pool = "e2e-static";
    const ns = "e2e-static";
    const want = ["10.102.0.9", "fd00:10:102::9"] as const;
    const blockName = `${pool}-9`;
    const log = (m: string): void => t.comment(`[static ${new Date().toISOString().slice(11, 23)}] ${m}`);
    t.teardown(async () => {
      await c.kubectl(["delete", "namespace", ns, "--ignore-not-found", "--wait=true", "--timeout=300s"]);
      await deletePods(c);
      await c.kubectl(["delete", "addresspool", pool, "--ignore-not-found", "--wait=true", "--timeout=120s"]);
    });
    const poolBlocks = async (): Promise<string[]> =>
      (await getJson<BlockJson>(c, ["addressblocks", "-l", `coil.cybozu.com/pool=${pool}`])).map((b) => `${b.metadata.name}@${blockNode(b)}`).sort();
    const staticRequests = async (): Promise<string[]> =>
      (await getJson<{ metadata: Meta }>(c, ["blockrequests"])).map((r) => r.metadata.name).filter((n) => n.includes("-static-")).sort();
    const nodeNs = (node: string): string => `${c.state.prefix}-n${c.nodeNames.indexOf(node) + 1}`;
    /** Every route to `ip` in every table of the node, as `table <t> <type> via <gw> | dev <dev> proto <p>`. */
    const routesTo = async (node: string, ip: string): Promise<string[]> => {
      const r = await cmd(["ip", "-n", nodeNs(node), "-j", ipFamily(ip) === 4 ? "-4" : "-6", "route", "show", "table", "all"]);
      if (r.code !== 0) throw new Error(`ip route on ${node}: ${r.stderr}`);
      const rs = JSON.parse(r.stdout === "" ? "[]" : r.stdout) as { dst: string; type?: string; gateway?: string; dev?: string; protocol?: string | number; table?: string }[];
      return rs
        .filter((x) => x.dst === ip || x.dst === `${ip}/${ipFamily(ip) === 4 ? 32 : 128}`)
        .map((x) => `table ${x.table ?? "main"}${x.type === undefined || x.type === "unicast" ? "" : ` ${x.type}`} ${x.gateway === undefined ? `dev ${x.dev ?? "-"}` : `via ${x.gateway}`} proto ${String(x.protocol ?? "-")}`)
        .sort();
    };
    const neighbours = async (node: string): Promise<string[]> => {
      const r = await cmd(["ip", "-n", nodeNs(node), "-j", "neigh", "show"]);
      if (r.code !== 0) throw new Error(`ip neigh on ${node}: ${r.stderr}`);
      return (JSON.parse(r.stdout === "" ? "[]" : r.stdout) as { dst: string; dev: string }[]).filter((x) => (want as readonly string[]).includes(x.dst)).map((x) => `${x.dst} dev ${x.dev}`);
    };
    const links = async (node: string): Promise<string[]> => (JSON.parse(await must(["ip", "-n", nodeNs(node), "-j", "link", "show"])) as { ifname: string }[]).map((l) => l.ifname);
    /** The route coil-router puts on every other node: the block via its owner's address of the family. */
    const viaOwner = (owner: string, ip: string): string => {
      const n = c.nodeNames.indexOf(owner) + 1;
      return `table main via ${ipFamily(ip) === 4 ? nodeIp(n) : nodeIp6(n)} proto 31`;
    };
    /**
     * The kernel of every node agrees that `owner` holds the addresses: on `owner` coild's route to the
     * pod's host veth in table 116 (Coil's pod table) and the block in table 119 (its export), nothing
     * else; on every other node only coil-router's main-table route via `owner`. Returns the host veth.
     */
    const routedTo = async (owner: string): Promise<string> =>
      eventually(`every node routes ${want.join(" and ")} to ${owner}`, async () => {
        let veth: string | undefined;
        for (const node of c.nodeNames) {
          for (const ip of want) {
            const rs = await routesTo(node, ip);
            if (node === owner) {
              const m = rs.length === 2 && rs[1] === "table 119 dev lo proto 30" ? /^table 116 dev (\S+) proto 30$/.exec(rs[0]!) : null;
              if (m === null || (veth !== undefined && veth !== m[1])) return undefined;
              veth = m[1];
            } else if (rs.join(",") !== viaOwner(owner, ip)) return undefined;
          }
        }
        return veth;
      }, { timeoutMs: MEDIUM, intervalMs: 500 });
    const inPod = async (name: string): Promise<string[]> => {
      const out = await ok(c, ["exec", "-n", ns, name, "--", "ip", "addr", "show", "dev", "eth0"]);
      return [...out.matchAll(/inet6? (\S+) scope global/g)].map((m) => m[1]!).sort();
    };
    const podNow = async (name: string): Promise<PodJson | undefined> => (await getJson<PodJson>(c, ["pod", "-n", ns, "--field-selector", `metadata.name=${name}`]))[0];

    await ok(c, ["apply", "-f", "-"], JSON.stringify({
      apiVersion: "coil.cybozu.com/v2",
      kind: "AddressPool",
      metadata: { name: pool, annotations: { "coil-ts.cybozu.com/static-ranges": "10.102.0.8-10.102.0.15,fd00:10:102::8-fd00:10:102::f" } },
      spec: { blockSizeBits: 0, subnets: [{ ipv4: "10.102.0.0/28", ipv6: "fd00:10:102::/124" }] },
    }));
    await ok(c, ["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns, annotations: { "coil.cybozu.com/pool": pool } } }));
    const clients = await runPods(c, [
      { name: "sclient-1", node: n1 },
      { name: "sclient-2", node: n2 },
    ]);
    t.ok(clients.size === 2, "client pods (default pool) on both nodes");
    const annotations = { "coil-ts.cybozu.com/static-ip": want.join(",") };

    // 2. On node A.
    let t0 = Date.now();
    const webA = (await runPods(c, [{ name: "web", node: n1, namespace: ns, annotations }])).get("web")!;
    log(`web Ready on ${n1} ${Date.now() - t0} ms after it was created`);
    t.equal(webA.spec.nodeName, n1, `web runs on ${n1}`);
    t.same(podIps(webA), [...want], `status.podIPs is the annotated address: ${podIps(webA).join(" ")}`);
    t.same(await inPod("web"), [`${want[0]}/32`, `${want[1]}/128`], "eth0 in the pod's network namespace holds it");
    t.same(await poolBlocks(), [`${blockName}@${n1}`], `its one-address block ${blockName} belongs to ${n1}`);
    const vethA = await routedTo(n1);
    t.pass(`routed: on ${n1} to ${vethA} (table 116) and exported (table 119); on ${n2} and ${n3} via ${n1} (coil-router)`);

    // 3. Reachable from another node.
    await checkHttp(t, c, "sclient-2", webA);

    // 5. Pods asking for the same address while web holds it: on a third node (IPv4 only: the IPv6 half is
    // the same slot) the controller refuses the block, naming its owner; on web's own node (IPv6 only) coild
    // refuses the slot, naming its holder. Both sandboxes fail, and the DEL that follows each failed ADD must
    // not free web's address.
    const blockBefore = await ok(c, ["get", "addressblock", blockName, "-o", "jsonpath={.metadata.resourceVersion}"]);
    const esc = (x: string): string => x.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const dups = [
      { name: "web-dup", node: n3, ask: want[0], expected: new RegExp(esc(`static address ${want[0]} of pool ${pool}: block ${blockName} (${want[0]}/32, ${want[1]}/128) is owned by node ${n1} (BlockRequest req-${pool}-${n3}-static-9: block in use)`)) },
      { name: "web-dup-a", node: n1, ask: want[1], expected: new RegExp(`${esc(`${want[0]}, ${want[1]} is in use by `)}[0-9a-f]{64}:eth0$`) },
    ] as const;
    t0 = Date.now();
    for (const d of dups) await ok(c, ["apply", "-f", "-"], podManifest(d.name, d.node, ns, {}, { "coil-ts.cybozu.com/static-ip": d.ask }));
    for (const d of dups) {
      const event = await eventually(
        `${d.name}'s FailedCreatePodSandBox event`,
        async () => {
          const evs = await getJson<{ message: string }>(c, ["events", "-n", ns, "--field-selector", `involvedObject.name=${d.name},reason=FailedCreatePodSandBox`]);
          return evs.find((e) => d.expected.test(e.message))?.message;
        },
        { timeoutMs: MEDIUM, intervalMs: 1000 },
      );
      log(`${d.name} on ${d.node} refused ${Date.now() - t0} ms after it was created: ${event}`);
      t.match(event, /^Failed to create pod sandbox: .*plugin type="coil" failed \(add\): failed to allocate address; /, `${d.name}: kubelet's sandbox error carries coild's CNI error`);
      t.match(event, d.expected, `${d.name} on ${d.node}: the design's message`);
      const dup = await podNow(d.name);
      t.same(dup === undefined ? ["gone"] : podIps(dup), [], `${d.name} has no address`);
      t.notOk(dup !== undefined && podReady(dup), `${d.name} is not Ready`);
    }
    await ok(c, ["delete", "pod", "-n", ns, ...dups.map((d) => d.name), "--wait=true", "--timeout=300s"]);
    await eventually("no static BlockRequest left", async () => ((await staticRequests()).length === 0 ? true : undefined), { timeoutMs: MEDIUM, intervalMs: 500 });
    const webStill = (await podNow("web"))!;
    t.equal(webStill.metadata.uid, webA.metadata.uid, "web is the same pod");
    t.same(podIps(webStill), podIps(webA), "web kept its addresses");
    t.same(webStill.status.containerStatuses?.map((s) => [s.containerID, s.restartCount]), webA.status.containerStatuses?.map((s) => [s.containerID, s.restartCount]), "web's container is the same, not restarted");
    t.equal(await ok(c, ["get", "addressblock", blockName, "-o", "jsonpath={.metadata.resourceVersion}"]), blockBefore, `block ${blockName} unchanged (resourceVersion)`);
    t.same(await poolBlocks(), [`${blockName}@${n1}`], `no other block of ${pool}`);
    t.equal(await routedTo(n1), vethA, "routes unchanged");
    await checkHttp(t, c, "sclient-2", webA);

    // 4. Moved to node B.
    t0 = Date.now();
    await ok(c, ["delete", "pod", "-n", ns, "web", "--wait=true", "--timeout=300s"]);
    log(`web on ${n1} deleted in ${Date.now() - t0} ms`);
    t0 = Date.now();
    const webB = (await runPods(c, [{ name: "web", node: n2, namespace: ns, annotations }])).get("web")!;
    const refusedB = await getJson<{ message: string }>(c, ["events", "-n", ns, "--field-selector", `involvedObject.uid=${webB.metadata.uid},reason=FailedCreatePodSandBox`]);
    log(`web Ready on ${n2} ${Date.now() - t0} ms after it was created (${refusedB.length} sandbox failures first${refusedB.length === 0 ? "" : `: ${refusedB[0]!.message}`})`);
    t.equal(webB.spec.nodeName, n2, `web runs on ${n2}`);
    t.same(podIps(webB), [...want], `the same addresses on ${n2}`);
    t.same(await inPod("web"), [`${want[0]}/32`, `${want[1]}/128`], "eth0 in the new pod's network namespace holds them");
    t.same(await poolBlocks(), [`${blockName}@${n2}`], `block ${blockName} now belongs to ${n2}, none left on ${n1}`);
    const vethB = await routedTo(n2);
    t.pass(`routed: on ${n2} to ${vethB} (table 116) and exported (table 119); on ${n1} and ${n3} via ${n2} (coil-router); nothing else on ${n1}`);
    t.same(await neighbours(n1), [], `${n1} has no neighbour entry for the addresses`);
    if (vethA !== vethB) t.notOk((await links(n1)).includes(vethA), `${n1}'s host veth ${vethA} is gone`);
    else t.notOk((await links(n1)).includes(vethA), `${n1} has no host veth ${vethA} (the name is the pod's, the same on ${n2})`);
    await checkHttp(t, c, "sclient-1", webB);

    // 6. Clean up and wait for it.
    t0 = Date.now();
    await ok(c, ["delete", "namespace", ns, "--wait=true", "--timeout=300s"]);
    await eventually(`no block of ${pool} left`, async () => ((await poolBlocks()).length === 0 ? true : undefined), { timeoutMs: MEDIUM, intervalMs: 500 });
    await ok(c, ["delete", "addresspool", pool, "--wait=true", "--timeout=120s"]);
    await deletePods(c);
    t.equal((await c.kubectl(["get", "addresspool", pool])).code, 1, `pool ${pool} gone`);
    t.same(await staticRequests(), [], "no static BlockRequest");
    const routed = async (): Promise<string[]> => {
      const out: string[] = [];
      for (const node of c.nodeNames) for (const ip of want) out.push(...(await routesTo(node, ip)).map((r) => `${node}: ${ip} ${r}`));
      return out;
    };
    t.same(await eventually("no node routes the addresses any more", async () => ((await routed()).length === 0 ? [] : undefined), { timeoutMs: MEDIUM, intervalMs: 500 }), [], "no route to them on any node");
    log(`cleaned up in ${Date.now() - t0} ms`);
  });

  t.test("7. a pool is created and deleted", async (t) => {
    await ok(c, ["apply", "-f", "-"], "apiVersion: coil.cybozu.com/v2\nkind: AddressPool\nmetadata: {name: dummy}\nspec:\n  blockSizeBits: 0\n  subnets:\n  - ipv4: 10.225.0.0/30\n");
    const names = async (): Promise<string[]> => (await getJson<{ metadata: Meta }>(c, ["addresspools"])).map((p) => p.metadata.name).sort();
    t.same(await names(), ["default", "dummy"]);
    await ok(c, ["delete", "addresspool", "dummy", "--wait=true", "--timeout=120s"]);
    t.same(await names(), ["default"], "only the default pool remains");
  });

  t.test("8. controller: leader lease, invalid pool rejected, two replicas, metrics, orphan block collected (within 20 s, scaled for load)", async (t) => {
    const lease = await c.kubectl(["-n", "kube-system", "get", "lease", "coil-ipam-leader", "-o", "jsonpath={.spec.holderIdentity}"]);
    t.equal(lease.code, 0, lease.stderr);
    t.ok(lease.stdout.length > 0, `lease kube-system/coil-ipam-leader held by ${lease.stdout}`);

    const invalid = await c.kubectl(["apply", "-f", "-"], "apiVersion: coil.cybozu.com/v2\nkind: AddressPool\nmetadata: {name: invalid}\nspec:\n  blockSizeBits: 5\n  subnets:\n  - ipv4: 10.224.0.0/30\n");
    t.not(invalid.code, 0, "the invalid pool is rejected");
    t.match(invalid.stderr, /is invalid: .*too narrow subnet/, "rejected by the webhook: too narrow subnet");
    t.equal((await c.kubectl(["get", "addresspool", "invalid"])).code, 1, "and not stored");

    const ctrl = (await coilPods(c, "coil-ipam-controller")).filter(podReady);
    t.equal(ctrl.length, 2, "two coil-ipam-controller replicas Ready");
    for (const p of ctrl) t.match(await podMetrics(c, "kube-system", p.metadata.name, 9386), /^# (HELP|TYPE) /m, `${p.metadata.name} :9386/metrics`);

    t.teardown(async () => {
      // Only when the test failed does the block outlive it: drop the finalizer so it can go.
      await c.kubectl(["patch", "addressblock", "default-100", "--type=merge", "-p", '{"metadata":{"finalizers":null}}']);
      await c.kubectl(["delete", "addressblock", "default-100", "--ignore-not-found", "--wait=false"]);
    });
    await ok(c, ["apply", "-f", "-"], "apiVersion: coil.cybozu.com/v2\nkind: AddressBlock\nmetadata:\n  name: default-100\n  finalizers: [coil.cybozu.com]\n  labels: {coil.cybozu.com/node: coil-worker100, coil.cybozu.com/pool: default}\nindex: 100\nipv4: 10.224.0.100/32\n");
    const t0 = Date.now();
    await eventually(
      "orphan block default-100 (node coil-worker100) removed",
      async () => ((await getJson<BlockJson>(c, ["addressblocks", "-l", "coil.cybozu.com/node=coil-worker100"])).length === 0 ? true : undefined),
      { timeoutMs: 20_000, intervalMs: 250 },
    );
    t.pass(`orphan block collected ${Date.now() - t0} ms after it was created`);
  });

  t.test("coild rolling update with pods running: addresses kept, no ping loss beyond one second", async (t) => {
    t.teardown(() => deletePods(c));
    const pods = await runPods(c, [
      { name: "pinger", node: n1 },
      { name: "target", node: n2 },
    ]);
    const target = pods.get("target")!;
    const ipsBefore = new Map([...pods].map(([n, p]) => [n, podIps(p)]));
    const intervalS = 0.2;
    const pings = podIps(target).map((ip) => ({ ip, fam: ipFamily(ip), log: `/tmp/ping${ipFamily(ip)}` }));
    for (const p of pings) {
      await ok(c, ["exec", "pinger", "--", "sh", "-c", `ping -${p.fam} -i ${intervalS} ${p.ip} >${p.log} 2>&1 & echo $! >${p.log}.pid`]);
    }
    const replies = async (p: (typeof pings)[number]): Promise<number[]> => {
      const r = await ok(c, ["exec", "pinger", "--", "cat", p.log]);
      return [...r.matchAll(/seq=(\d+) /g)].map((m) => Number(m[1]));
    };
    for (const p of pings) await eventually(`ping ${p.ip} answering`, async () => ((await replies(p)).length >= 5 ? true : undefined), { timeoutMs: 60_000, intervalMs: 500 });
    const oldUids = new Set((await coilPods(c, "coild")).map((p) => p.metadata.uid));
    const t0 = Date.now();
    await ok(c, ["-n", "kube-system", "rollout", "restart", "daemonset/coild"]);
    await ok(c, ["-n", "kube-system", "rollout", "status", "daemonset/coild", "--timeout=900s"]);
    const newPods = await coilPods(c, "coild");
    t.ok(newPods.length === 3 && newPods.every((p) => !oldUids.has(p.metadata.uid) && podReady(p)), `every coild pod replaced (rollout ${Date.now() - t0} ms)`);
    // Five more replies after the rollout, then stop (SIGINT makes busybox ping print its summary).
    for (const p of pings) {
      const seen = (await replies(p)).length;
      await eventually(`ping ${p.ip} answering after the rollout`, async () => ((await replies(p)).length >= seen + 5 ? true : undefined), { timeoutMs: 60_000, intervalMs: 500 });
      await ok(c, ["exec", "pinger", "--", "sh", "-c", `kill -INT $(cat ${p.log}.pid)`]);
      const out = await eventually(`ping ${p.ip} summary`, async () => {
        const r = await ok(c, ["exec", "pinger", "--", "cat", p.log]);
        return r.includes("packet loss") ? r : undefined;
      }, { timeoutMs: 30_000, intervalMs: 500 });
      const seqs = [...out.matchAll(/seq=(\d+) /g)].map((m) => Number(m[1]));
      let worst = 0;
      for (let i = 1; i < seqs.length; i++) worst = Math.max(worst, seqs[i]! - seqs[i - 1]! - 1);
      const summary = /(\d+) packets transmitted, (\d+) packets received/.exec(out);
      t.ok(worst * intervalS <= 1, `IPv${p.fam} ${p.ip}: longest run of lost pings ${worst} × ${intervalS} s ≤ 1 s (${summary?.[0] ?? "no summary"})`);
    }
    for (const [name, ips] of ipsBefore) {
      const [now] = await getJson<PodJson>(c, ["pod", "--field-selector", `metadata.name=${name}`]);
      t.same(podIps(now!), ips, `${name} kept its addresses`);
    }
    await checkHttp(t, c, "pinger", target);
  });

  egressTests(t, c, (m) => t.comment(`[egress ${new Date().toISOString().slice(11, 23)}] ${m}`));

  t.test(`a drained and deleted node (${n3}) has its blocks collected`, async (t) => {
    // A DaemonSet pod on the pod network keeps the node's block through the drain (drain leaves
    // DaemonSet pods), so what removes the block is the node's deletion.
    const ds = JSON.stringify({
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      metadata: { name: "e2e-keep", namespace: "default" },
      spec: {
        selector: { matchLabels: { app: "e2e-keep" } },
        template: {
          metadata: { labels: { app: "e2e-keep" } },
          spec: {
            nodeSelector: { "kubernetes.io/hostname": n3 },
            terminationGracePeriodSeconds: 1,
            automountServiceAccountToken: false,
            containers: [{ name: "echo", image: TEST_IMAGE_NAME, imagePullPolicy: "Never" }],
          },
        },
      },
    });
    t.teardown(async () => {
      await c.kubectl(["delete", "daemonset", "e2e-keep", "--ignore-not-found", "--wait=true", "--timeout=120s"]);
      await deletePods(c);
    });
    await ok(c, ["apply", "-f", "-"], ds);
    await runPods(c, [{ name: "evicted", node: n3 }]);
    const n3Blocks = await eventually(`a block on ${n3}`, async () => {
      const bs = (await blocks(c)).filter((b) => blockNode(b) === n3);
      const dsPods = (await getJson<PodJson>(c, ["pods", "-l", "app=e2e-keep"])).filter(podReady);
      return bs.length > 0 && dsPods.length === 1 ? bs : undefined;
    }, { timeoutMs: LONG, intervalMs: 1000 });
    await ok(c, ["drain", n3, "--ignore-daemonsets", "--delete-emptydir-data", "--force", "--timeout=300s"]);
    t.ok((await blocks(c)).some((b) => blockNode(b) === n3), `after the drain ${n3} still holds ${n3Blocks.map((b) => b.metadata.name).join(" ")} (its DaemonSet pod)`);
    const t0 = Date.now();
    await ok(c, ["delete", "node", n3, "--wait=true", "--timeout=120s"]);
    await eventually(
      `no AddressBlock of ${n3} left`,
      async () => ((await blocks(c)).some((b) => blockNode(b) === n3) ? undefined : true),
      { timeoutMs: MEDIUM, intervalMs: 500 },
    );
    t.pass(`${n3}'s blocks collected ${Date.now() - t0} ms after the node was deleted`);
  });

  t.test("down leaves nothing, and the host's state is what it was before up", async (t) => {
    await clusterDown(opts);
    t.same(await leftovers(opts), [], "no network namespace, mount, cgroup or process of the cluster left");
    const after = await hostSnapshot();
    const diff = snapshotDiff(snapshotBefore, after, opts.prefix ?? "");
    t.same(diff, [], "host links, addresses, routes, rules, nft and iptables rulesets, sysctls and top-level cgroups unchanged");
  });
}

/**
 * Lines of the host snapshot present in only one of the two. Top-level cgroups of another cluster
 * (`<prefix>-n<N>` of a `npm run cluster` someone else started meanwhile) are not this test's doing
 * and are left out; everything else counts.
 */
function snapshotDiff(before: string, after: string, prefix: string): string[] {
  const a = new Set(before.split("\n"));
  const b = new Set(after.split("\n"));
  const foreign = (l: string): boolean => {
    const m = /^\/sys\/fs\/cgroup\/[^/]+\/([a-z][a-z0-9]{1,10})-n[1-9]$/.exec(l);
    return m !== null && m[1] !== prefix;
  };
  return [...[...a].filter((l) => !b.has(l)).map((l) => `- ${l}`), ...[...b].filter((l) => !a.has(l)).map((l) => `+ ${l}`)].filter((l) => !foreign(l.slice(2)));
}
