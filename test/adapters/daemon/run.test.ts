import t from "tap";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, type ServiceError } from "@grpc/grpc-js";
import { netnsPath, type NetnsState } from "../../../lib/changeset/index.js";
import { CNIArgs, CNIClient, type AddResponse } from "../../../adapters/proto/gen/cni.js";
import { formatCoildStartError, runCoild, startCoild } from "../../../adapters/daemon/run.js";
import { inProcessCoild, poolDoc } from "./harness.js";

function setup(extra: string[] = [], poolsText = poolDoc("default", { blockSizeBits: 2, subnets: [{ ipv4: "10.2.0.0/28" }] })) {
  const dir = mkdtempSync(join(tmpdir(), "coild-run-"));
  writeFileSync(join(dir, "pools.yaml"), poolsText);
  return { dir, ...inProcessCoild(dir, extra) };
}

t.test("runCoild: host init, socket, health, metrics, restart", async (t) => {
  const { dir, flags, kernel, deps } = setup();
  const running = (await runCoild(flags, deps))._unsafeUnwrap();
  const host = () => kernel.dump()["host"] as NetnsState;
  t.same(host().rules.map((r) => `${r.family} ${r.priority} ${r.table}`), ["4 2000 116"], "lookup 116 pref 2000 (IPv4 node only)");
  t.equal(host().sysctls["net.ipv4.ip_forward"], "1");
  const hp = running.healthPort ?? 0;
  t.equal((await fetch(`http://127.0.0.1:${hp}/healthz`)).status, 200);
  t.equal((await fetch(`http://127.0.0.1:${hp}/readyz`)).status, 200);
  kernel.addNetns(netnsPath("/run/netns/p1"));
  const client = new CNIClient(`unix:${join(dir, "coild.sock")}`, credentials.createInsecure());
  const q = CNIArgs.fromPartial({ containerId: "p1", netns: "/run/netns/p1", ifname: "eth0", args: { K8S_POD_NAMESPACE: "default", K8S_POD_NAME: "p1" } });
  const r = await new Promise<{ e: ServiceError | null; v: AddResponse }>((resolve) => client.add(q, (e, v) => resolve({ e, v })));
  t.equal(r.e, null);
  t.match(r.v.result.toString(), /10\.2\.0\.0\/32/);
  const pod = kernel.dump()["/run/netns/p1"] as NetnsState;
  t.equal(pod.links.find((l) => l.name === "eth0")?.mtu, 1400, "detected MTU applied");
  const text = await (await fetch(`http://127.0.0.1:${running.metricsPort ?? 0}/metrics`)).text();
  t.match(text, /grpc_server_handled_total\{grpc_type="unary",grpc_service="pkg.cnirpc.CNI",grpc_method="Add",grpc_code="OK"\} 1/);
  t.match(text, /coil_node_allocated_addresses\{pool="default"\} 1/);
  t.match(text, /coil_node_blocks\{pool="default"\} 1/);
  client.close();
  await running.close();

  // Restart over the same kernel and state dir: the pod is recovered, the block kept.
  const again = (await runCoild(flags, deps))._unsafeUnwrap();
  t.same(again.node.ipam.allocations().map((a) => `${a.containerId} ${a.ipv4}`), ["p1 10.2.0.0"]);
  t.equal(again.node.ipam.blocks().length, 1);
  await again.close();
});

t.test("startup errors are clear", async (t) => {
  const bad = setup([], poolDoc("default", { blockSizeBits: 4, subnets: [{ ipv4: "10.2.0.0/30" }] }));
  const r = await runCoild(bad.flags, bad.deps);
  t.match(r.isErr() && formatCoildStartError(r.error), /pool "default".*spec\.subnets\[0\].*too narrow/s);
  t.equal(r.isErr() && r.error.kind, "pools-file-invalid", "a kind, formatted only for the operator");
  const k = setup(["--store=kubernetes", "--kubeconfig=/nonexistent/kubeconfig"]);
  t.match(formatCoildStartError((await runCoild(k.flags, k.deps))._unsafeUnwrapErr()), /--store=kubernetes: cannot load a kubeconfig: .*nonexistent/);
  const e = setup(["--enable-ipam=false"]);
  t.match(formatCoildStartError((await startCoild(e.flags, e.deps))._unsafeUnwrapErr()), /egress-only mode \(--enable-ipam=false\) needs --store=kubernetes/, "egress-only mode needs the API server");
  t.equal((await runCoild(e.flags, e.deps))._unsafeUnwrapErr().kind, "ipam-disabled", "runCoild starts IPAM mode only");
  const np = setup(["--namespace-pools=/dev/null"]);
  writeFileSync(join(np.dir, "ns.yaml"), "team-a: missing\n");
  const np2 = setup([`--namespace-pools=${join(np.dir, "ns.yaml")}`]);
  t.match(formatCoildStartError((await runCoild(np2.flags, np2.deps))._unsafeUnwrapErr()), /namespace "team-a": pool "missing" is not defined/);
  // A second coild in the same network namespace (same lock name) is refused, whatever its socket
  // and state dir; one in another namespace is refused when it shares the socket or the state dir.
  const a = setup();
  const first = (await runCoild(a.flags, a.deps))._unsafeUnwrap();
  const before = JSON.stringify(a.kernel.dump());
  const b = setup();
  const sameNetns = await runCoild(b.flags, { ...b.deps, kernel: a.kernel, netnsLockName: a.deps.netnsLockName });
  t.match(sameNetns.isErr() && formatCoildStartError(sameNetns.error), new RegExp(`another coild \\(pid ${process.pid}, node node1, socket ${a.flags.socket}, state dir ${a.flags.stateDir}\\) already runs in this network namespace`));
  const sameSocket = await runCoild({ ...b.flags, socket: a.flags.socket }, { ...b.deps, kernel: a.kernel });
  t.match(sameSocket.isErr() && formatCoildStartError(sameSocket.error), /in use/);
  const sameDir = await runCoild({ ...b.flags, stateDir: a.flags.stateDir }, { ...b.deps, kernel: a.kernel });
  t.match(sameDir.isErr() && formatCoildStartError(sameDir.error), new RegExp(`another coild \\(pid ${process.pid}\\b.*uses the state directory ${a.flags.stateDir}`));
  t.equal(JSON.stringify(a.kernel.dump()), before, "the refused instances touched nothing");
  t.notOk(existsSync(b.flags.socket), "the refused instances created no socket");
  t.notOk(existsSync(b.flags.stateDir), "nor the state dir of the instance refused by the network namespace lock");
  await first.close();
  // Released on close: the second one starts now.
  const later = (await runCoild(b.flags, { ...b.deps, kernel: a.kernel, netnsLockName: a.deps.netnsLockName }))._unsafeUnwrap();
  await later.close();
});

t.test("pools the node cannot serve (a family without a node address) are refused at start-up, before anything is touched", async (t) => {
  const dual = poolDoc("default", { blockSizeBits: 2, subnets: [{ ipv4: "10.2.0.0/28", ipv6: "fd02::/124" }] });
  const a = setup([], dual);
  const before = JSON.stringify(a.kernel.dump());
  t.match(formatCoildStartError((await runCoild(a.flags, a.deps))._unsafeUnwrapErr()), /pool default needs IPv6 addresses but node node1 has no IPv6 node address/);
  t.equal(JSON.stringify(a.kernel.dump()), before, "nothing applied to the kernel");
  t.notOk(existsSync(join(a.flags.stateDir, "blocks.json")), "no block taken");
  t.notOk(existsSync(a.flags.socket), "no socket");

  // A pool a namespace is mapped to (--namespace-pools) counts too: IPv6-only on an IPv4-only node.
  const nsDir = mkdtempSync(join(tmpdir(), "coild-run-ns-"));
  writeFileSync(join(nsDir, "ns.yaml"), "team-6: six\n");
  const pools = [poolDoc("default", { blockSizeBits: 2, subnets: [{ ipv4: "10.2.0.0/28" }] }), poolDoc("six", { blockSizeBits: 2, subnets: [{ ipv6: "fd06::/124" }] })].join("\n---\n");
  const b = setup([`--namespace-pools=${join(nsDir, "ns.yaml")}`], pools);
  t.match(formatCoildStartError((await runCoild(b.flags, b.deps))._unsafeUnwrapErr()), /pool six needs IPv6 addresses but node node1 has no IPv6 node address/);
  t.notOk(existsSync(join(b.flags.stateDir, "blocks.json")), "no block taken");

  // With an IPv6 node address both start.
  const c = setup(["--node-ipv6=fd10::41"], dual);
  const running = (await runCoild(c.flags, c.deps))._unsafeUnwrap();
  await running.close();
});
