/**
 * coild's `GET /allocations` on its health port, from a whole in-process coild (runCoild over a
 * FakeKernel and the local store): the allocator's blocks and addresses after ADDs and a DEL, the
 * kernel part (table 116 routes, table 119 exports, Coil host veths), the pod of each ADD (kept in
 * memory only: after a restart the recovered allocations have none, a new ADD has its pod), a
 * restart (recovered from the kernel), and only GET/HEAD answered.
 */
import t from "tap";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:net";
import { netnsPath } from "../../../../lib/changeset/index.js";
import { parseNodeAllocations, type NodeAllocations } from "../../../../lib/report/index.js";
import { encodeLine } from "../../../../adapters/common/fast-protocol.js";
import { runCoild, type RunningCoild } from "../../../../adapters/daemon/run.js";
import { inProcessCoild, poolDoc } from "../harness.js";

function call(sock: string, method: "Add" | "Del", id: string): Promise<{ ok: boolean }> {
  const args = { containerId: id, netns: `/run/netns/${id}`, ifname: "eth0", args: { K8S_POD_NAMESPACE: "default", K8S_POD_NAME: id }, path: "", stdinData: "", ips: [], interfaces: {} };
  return new Promise((resolve, reject) => {
    const s = connect(sock);
    let out = "";
    s.on("data", (b: Buffer) => (out += b.toString()));
    s.on("end", () => resolve(JSON.parse(out) as { ok: boolean }));
    s.on("error", reject);
    s.write(encodeLine({ v: 1, method, args }));
  });
}

t.test("GET /allocations: the allocator's blocks and addresses and the kernel's routes and veths", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "coild-alloc-"));
  writeFileSync(join(dir, "pools.yaml"), poolDoc("default", { blockSizeBits: 1, subnets: [{ ipv4: "10.2.0.0/24", ipv6: "fd02::/120" }] }));
  const sock = join(dir, "coild.sock");
  const { flags, kernel, deps } = inProcessCoild(dir, ["--node-ipv6=fd10::41"]);
  let running: RunningCoild = (await runCoild(flags, deps))._unsafeUnwrap();
  t.teardown(() => running.close());
  const url = (): string => `http://127.0.0.1:${running.healthPort ?? 0}/allocations`;
  const view = async (): Promise<NodeAllocations> => {
    const res = await fetch(url());
    t.equal(res.status, 200);
    t.equal(res.headers.get("content-type"), "application/json");
    const parsed = parseNodeAllocations(await res.json());
    if (parsed.isErr()) throw new Error(JSON.stringify(parsed.error));
    return parsed.value;
  };

  const empty = await view();
  t.equal(empty.node, "node1");
  t.match(empty.generatedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  t.same([empty.blocks, empty.addresses], [[], []], "nothing allocated yet");
  t.same(empty.kernel, { podRoutes: [], exportedRoutes: [], hostVeths: [] });

  for (const id of ["c1", "c2", "c3"]) {
    kernel.addNetns(netnsPath(`/run/netns/${id}`));
    t.match(await call(sock, "Add", id), { ok: true }, `ADD ${id}`);
  }
  const v = await view();
  t.same(v.blocks, [
    { name: "default-0", pool: "default", ipv4: "10.2.0.0/31", ipv6: "fd02::/127", used: 2, size: 2 },
    { name: "default-1", pool: "default", ipv4: "10.2.0.2/31", ipv6: "fd02::2/127", used: 1, size: 2 },
  ]);
  t.same(
    v.addresses.map((a) => [a.block, a.containerId, a.ifname, a.ipv4, a.ipv6, a.pool]),
    [["default-0", "c1", "eth0", "10.2.0.0", "fd02::", "default"], ["default-0", "c2", "eth0", "10.2.0.1", "fd02::1", "default"], ["default-1", "c3", "eth0", "10.2.0.2", "fd02::2", "default"]],
  );
  const k = v.kernel;
  if (k === null) throw new Error(`no kernel part: ${v.kernelError ?? ""}`);
  t.same(k.hostVeths.map((h) => `${h.name} ${h.pool}:${h.containerId}:${h.ifname}`), ["veth00000001 default:c1:eth0", "veth00000002 default:c2:eth0", "veth00000003 default:c3:eth0"]);
  t.same(v.addresses.map((a) => a.hostVeth), ["veth00000001", "veth00000002", "veth00000003"], "each address names its host veth");
  t.same(v.addresses.map((a) => a.pod), [{ namespace: "default", name: "c1" }, { namespace: "default", name: "c2" }, { namespace: "default", name: "c3" }], "each address names the pod of its ADD");
  t.same(k.podRoutes.map((r) => `${r.dst} ${r.dev ?? ""}`).sort(), [
    "10.2.0.0/32 veth00000001", "10.2.0.1/32 veth00000002", "10.2.0.2/32 veth00000003", "fd02::/128 veth00000001", "fd02::1/128 veth00000002", "fd02::2/128 veth00000003",
  ]);
  t.same([...k.exportedRoutes].sort(), ["10.2.0.0/31", "10.2.0.2/31", "fd02::/127", "fd02::2/127"], "both blocks exported");

  t.match(await call(sock, "Del", "c3"), { ok: true });
  const after = await view();
  t.same(after.blocks.map((b) => b.name), ["default-0"], "the emptied block is returned");
  t.same(after.addresses.map((a) => a.containerId), ["c1", "c2"]);
  t.same(running.node.podOf("c3", "eth0"), undefined, "DEL forgets the pod");
  t.same(after.kernel?.hostVeths.map((h) => h.containerId), ["c1", "c2"]);

  await running.close();
  running = (await runCoild(flags, deps))._unsafeUnwrap();
  const recovered = await view();
  t.same(recovered.addresses.map((a) => `${a.containerId} ${a.ipv4 ?? ""} ${a.ipv6 ?? ""} ${a.hostVeth ?? ""}`), ["c1 10.2.0.0 fd02:: veth00000001", "c2 10.2.0.1 fd02::1 veth00000002"], "after a restart: recovered from the kernel");
  t.same(recovered.addresses.map((a) => a.pod), [null, null], "after a restart the pods are unknown: the kernel alias records only pool, container ID and interface");
  kernel.addNetns(netnsPath("/run/netns/c4"));
  t.match(await call(sock, "Add", "c4"), { ok: true });
  t.same((await view()).addresses.map((a) => `${a.containerId} ${a.pod === null || a.pod === undefined ? "-" : `${a.pod.namespace}/${a.pod.name}`}`), ["c1 -", "c2 -", "c4 default/c4"], "an ADD after the restart has its pod");

  const post = await fetch(url(), { method: "POST" });
  t.equal(post.status, 405, "POST refused");
  t.equal(post.headers.get("allow"), "GET, HEAD");
  const head = await fetch(url(), { method: "HEAD" });
  t.equal(head.status, 200, "HEAD answered");
  t.equal((await fetch(`${url()}?x=1`)).status, 200, "a query string is ignored");
});

t.test("the kernel part is null with the reason when the host cannot be observed", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "coild-alloc-"));
  writeFileSync(join(dir, "pools.yaml"), poolDoc("default", { blockSizeBits: 1, subnets: [{ ipv4: "10.2.0.0/24" }] }));
  const { flags, kernel, deps } = inProcessCoild(dir);
  const failing = { ...deps, kernel: { apply: kernel.apply.bind(kernel), observeNft: kernel.observeNft.bind(kernel), observe: kernel.observe.bind(kernel) } };
  const running = (await runCoild(flags, failing))._unsafeUnwrap();
  t.teardown(() => running.close());
  failing.kernel.observe = () => kernel.observe(netnsPath("/run/netns/no-such-ns"));
  const body = (await (await fetch(`http://127.0.0.1:${running.healthPort ?? 0}/allocations`)).json()) as Record<string, unknown>;
  const v = parseNodeAllocations(body)._unsafeUnwrap();
  t.equal(v.kernel, null);
  t.match(v.kernelError, /command-failed/, "the observation error is named");
  t.same(v.blocks, [], "the allocator part is still served");
});
