// The endpoint's edge: every request (fast path and gRPC) is parsed once into a domain call; bad
// input is answered with a precise CNI error and never reaches an operation; operation errors
// become Coil's CNI errors.
import t from "tap";
import { connect } from "node:net";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, type ServiceError } from "@grpc/grpc-js";
import { err, ok } from "neverthrow";
import { vethAttachmentResult, type CniCall } from "../../../../lib/cni/index.js";
import type { Ip } from "../../../../lib/net/index.js";
import { CNIArgs, CNIClient } from "../../../../adapters/proto/gen/cni.js";
import { encodeLine, parseResponseLine } from "../../../../adapters/common/fast-protocol.js";
import { wireHandlers } from "../../../../adapters/daemon/endpoint/cni-calls.js";
import { addFailure, checkFailure, delFailure, gcFailure, statusFailure } from "../../../../adapters/daemon/endpoint/failures.js";
import { cniErrorFromServiceError } from "../../../../adapters/daemon/endpoint/grpc-status.js";
import { serveCni } from "../../../../adapters/daemon/endpoint/server.js";
import { NULL_LOGGER } from "../../../../adapters/daemon/log.js";
import type { AddError, CniOperations } from "../../../../adapters/daemon/node/cni.js";

function recordingOps(addError?: AddError): { ops: CniOperations; calls: [string, unknown][] } {
  const calls: [string, unknown][] = [];
  const ops: CniOperations = {
    add: async (c) => {
      calls.push(["add", c]);
      return addError !== undefined ? err(addError) : ok(vethAttachmentResult({ ifname: c.ifname, sandbox: c.netns, hostIfname: "veth0000abcd", ipv4: "10.2.0.9" as Ip }));
    },
    del: async (c) => (calls.push(["del", c]), ok(undefined)),
    check: async (c) => (calls.push(["check", c]), ok(undefined)),
    status: async () => (calls.push(["status", undefined]), ok(undefined)),
    gc: async (k) => (calls.push(["gc", k]), ok(undefined)),
  };
  return { ops, calls };
}

const args = (over: Partial<CNIArgs> = {}): CNIArgs =>
  CNIArgs.fromPartial({ containerId: "c1", netns: "/var/run/netns/p1", ifname: "eth0", args: { K8S_POD_NAMESPACE: "team-a", K8S_POD_NAME: "web-0", IS_CHAINED: "false" }, ...over });

function fast(path: string, method: "Add" | "Del" | "Check", q: CNIArgs): Promise<ReturnType<typeof parseResponseLine>> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    let out = "";
    s.on("data", (b) => (out += b.toString()));
    s.on("end", () => resolve(parseResponseLine(out.trimEnd())));
    s.on("error", reject);
    s.write(encodeLine({ v: 1, method, args: CNIArgs.toJSON(q) as never }));
  });
}

t.test("both transports: bad input is refused at the edge, good input reaches the operation as a domain call", async (t) => {
  const { ops, calls } = recordingOps();
  const path = join(mkdtempSync(join(tmpdir(), "coild-edge-")), "coild.sock");
  const srv = (await serveCni({ socketPath: path, handlers: wireHandlers(ops), log: NULL_LOGGER }))._unsafeUnwrap();
  t.teardown(() => srv.close());
  const client = new CNIClient(`unix:${path}`, credentials.createInsecure());
  t.teardown(() => client.close());
  const grpcAdd = (q: CNIArgs): Promise<{ e: ServiceError | null; v: { result: Buffer } }> => new Promise((resolve) => client.add(q, (e, v) => resolve({ e, v })));

  const bad: [Partial<CNIArgs>, RegExp][] = [
    [{ containerId: "" }, /CNI_CONTAINERID/],
    [{ ifname: "bad/name" }, /CNI_IFNAME/],
    [{ netns: "relative" }, /CNI_NETNS/],
    [{ args: { K8S_POD_NAMESPACE: "Team_A" } }, /failed to load CNI_ARGS/],
  ];
  for (const [over, msg] of bad) {
    const f = await fast(path, "Add", args(over));
    t.match(f, { ok: false, grpcCode: 3, error: { code: 4, msg } }, `fast path: ${JSON.stringify(over)}`);
    const g = await grpcAdd(args(over));
    t.equal(g.e?.code, 3, "gRPC: INVALID_ARGUMENT");
    t.match(g.e && cniErrorFromServiceError(g.e), { code: 4, msg }, `gRPC: ${JSON.stringify(over)}`);
  }
  t.same(calls, [], "no operation was called for bad input");

  const good = await fast(path, "Add", args());
  const call: CniCall = { containerId: "c1", ifname: "eth0", netns: "/var/run/netns/p1", pod: { namespace: "team-a", name: "web-0" } };
  t.same(calls.shift(), ["add", call], "ADD reached the operation once, parsed");
  t.same(good, { ok: true, result: Buffer.from('{"cniVersion":"1.1.0","interfaces":[{"name":"eth0","sandbox":"/var/run/netns/p1"},{"name":"veth0000abcd"}],"ips":[{"address":"10.2.0.9/32","interface":0}]}').toString("base64") });
  const g = await grpcAdd(args({ args: { IS_CHAINED: "true" }, ips: ["10.1.0.5"], interfaces: { eth0: true } }));
  t.equal(g.e, null);
  t.same(calls.shift(), ["add", { containerId: "c1", ifname: "eth0", netns: "/var/run/netns/p1", pod: { namespace: "", name: "" }, chained: { ips: ["10.1.0.5"], interfaces: { eth0: true } } }], "gRPC ADD, chained");
  t.match(await fast(path, "Del", args({ netns: "" })), { ok: true });
  t.same(calls.shift(), ["del", { containerId: "c1", ifname: "eth0", pod: { namespace: "team-a", name: "web-0" } }], "DEL without a netns");
  t.match(await fast(path, "Check", args({ netns: "" })), { ok: false, error: { code: 4, msg: /CNI_NETNS/ } }, "CHECK needs the netns");
  t.same(calls, []);
});

t.test("operation errors become Coil's CNI errors", async (t) => {
  const { ops } = recordingOps({ kind: "chained" });
  const chained = await wireHandlers(ops).add(args());
  t.match(chained.isErr() && chained.error, { code: 999, msg: "coil must be called as the first plugin when IPAM related features are enabled" });
  const applyFailed = (retryable: boolean) =>
    ({ kind: "apply-failed", cause: { kind: "apply-failed", failedOp: { kind: "nft", step: 0, commands: [] }, reason: retryable ? "busy" : "exists", stderr: "RTNETLINK answers: x\n", applied: [], rolledBack: true, rollbackProblems: [], retryable } }) as const;
  t.match(addFailure(applyFailed(true)), { code: 11, msg: "failed to setup pod network IPAM", details: "RTNETLINK answers: x (rolled back: true)" }, "transient → TRY_AGAIN_LATER");
  t.match(addFailure(applyFailed(false)), { code: 999 });
  t.match(delFailure(applyFailed(false)), { code: 999, msg: "failed to destroy pod network" });
  t.match(addFailure({ kind: "allocate-failed", cause: { kind: "store", cause: { kind: "pool-exhausted", pool: "p", message: "pool p does not have free blocks" } } }), { code: 11, msg: "failed to allocate address" });
  t.match(addFailure({ kind: "allocate-failed", cause: { kind: "store", cause: { kind: "pool-not-found", pool: "p", message: "no pool p" } } }), { code: 999 });
  t.match(addFailure({ kind: "observe-failed", netns: "host", cause: { kind: "invalid-sysctl-key", key: "x" } }), { code: 11 }, "host unreadable: try again");
  t.match(addFailure({ kind: "observe-failed", netns: "pod", cause: { kind: "invalid-sysctl-key", key: "x" } }), { code: 999, details: /^observe pod netns:/ });
  t.match(addFailure({ kind: "no-veth-name", cause: { kind: "names-exhausted", tries: 8 } }), { code: 999, details: /unused host veth name/ });
  t.match(checkFailure({ containerId: "c1", ifname: "eth0" }, { kind: "no-host-link" }), { code: 999, msg: "check failed", details: "no host link with alias for c1:eth0" });
  t.match(checkFailure({ containerId: "c1", ifname: "eth0" }, { kind: "observe-failed", netns: "host", cause: { kind: "invalid-sysctl-key", key: "x" } }), { code: 999, msg: "check failed" }, "CHECK is always 999");
  t.match(statusFailure({ kind: "starting" }), { code: 50, msg: "coild is starting" });
  t.match(statusFailure({ kind: "pool-exhausted", pool: "default" }), { code: 50, msg: "pool default is exhausted" });
  t.match(statusFailure({ kind: "export-failed", cause: { kind: "observe-failed", cause: { kind: "invalid-sysctl-key", key: "x" } } }), { code: 51, msg: "route export failed", details: /^observe:/ });
  t.match(gcFailure({ kind: "observe-failed", cause: { kind: "invalid-sysctl-key", key: "x" } }), { code: 11, msg: "gc failed" });
  t.match(gcFailure({ kind: "incomplete", attachments: [{ key: { containerId: "a", ifname: "eth0" }, cause: applyFailed(false) }], blocks: { kind: "store-io", message: "disk full" } }), {
    code: 999,
    msg: "gc failed",
    details: "a:eth0: failed to destroy pod network RTNETLINK answers: x (rolled back: true)\nblocks: disk full",
  });
});
