import t from "tap";
import { createServer } from "node:net";
import { join } from "node:path";
import { socketClient, type AnsweredBy, type RpcCall } from "../../../adapters/cni/client.js";
import { callFast } from "../../../adapters/cni/fast-client.js";
import { decodeCniErrorDetail, frame, unframe } from "../../../adapters/cni/grpc-wire.js";
import { CNI_ERROR_TYPE_URL } from "../../../adapters/proto/cni-error-status.js";
import { grpcErrorText } from "../../../adapters/cni/outcome.js";
import { CNIError } from "../../../adapters/proto/gen/messages/cni.js";
import { Status } from "../../../adapters/proto/gen/messages/google/rpc/status.js";
import { FakeCoild } from "./fake-coild.js";
import { startFastServer, startGrpcServer, tempSocket } from "./servers.js";

const addCall = (socket: string, mode: RpcCall["mode"] = "auto", timeoutMs = 5000): RpcCall => ({
  socket,
  mode,
  timeoutMs,
  request: {
    v: 1,
    method: "Add",
    args: { containerId: "c1", netns: "/run/netns/x", ifname: "eth0", args: { K8S_POD_NAME: "p", K8S_POD_NAMESPACE: "n", IS_CHAINED: "false" }, path: "", stdinData: "", ips: [], interfaces: {} },
  },
});

t.test("auto mode: fast daemon answers on the fast path, grpc-only daemon through the fallback", async (t) => {
  for (const [start, want] of [[startFastServer, "fast"], [startGrpcServer, "grpc"]] as const) {
    const coild = new FakeCoild();
    const d = await start(coild);
    let by: AnsweredBy | undefined;
    const o = await socketClient({ onAnswer: (b) => (by = b) }).call(addCall(d.socket));
    t.equal(by, want);
    t.equal(o.kind, "ok");
    t.match(JSON.parse(Buffer.from(o.kind === "ok" ? o.result ?? [] : []).toString()), { cniVersion: "1.1.0" });
    t.equal(coild.attachments.size, 1);
    await d.close();
  }
});

t.test("forced modes do not cross over", async (t) => {
  const fast = await startFastServer(new FakeCoild());
  const grpc = await startGrpcServer(new FakeCoild());
  t.teardown(async () => void (await Promise.all([fast.close(), grpc.close()])));
  t.match(await socketClient().call(addCall(grpc.socket, "fast")), { kind: "rpc-error", message: /does not speak the fast protocol/ });
  t.match(await socketClient().call(addCall(fast.socket, "grpc")), { kind: "rpc-error" });
});

t.test("node:net fast client: unreachable, silent daemon (timeout), garbage answer", async (t) => {
  const { socket } = tempSocket();
  t.match(await callFast(join(socket, "missing"), addCall(socket).request, 1000, "node"), { kind: "unreachable" });
  const silent = createServer(() => undefined);
  await new Promise<void>((r) => silent.listen(socket, r));
  t.match(await callFast(socket, addCall(socket).request, 200, "node"), { kind: "timeout" });
  silent.close();
  const { socket: s2 } = tempSocket();
  const http1 = createServer((c) => c.end("HTTP/1.1 400 Bad Request\r\n\r\n"));
  await new Promise<void>((r) => http1.listen(s2, r));
  t.match(await callFast(s2, addCall(s2).request, 1000, "node"), { kind: "not-fast" });
  t.match(await socketClient().call(addCall(s2)), { kind: "rpc-error" }, "auto falls back to gRPC, which fails too");
  http1.close();
});

t.test("gRPC framing and the CNIError detail", async (t) => {
  const msg = Buffer.from([1, 2, 3]);
  t.same(Buffer.from(unframe(frame(msg)) as Uint8Array), msg);
  t.equal(unframe(Buffer.from([0, 0, 0, 0, 9, 1])), "truncated gRPC frame");
  t.equal(unframe(Buffer.from([1, 0, 0, 0, 0])), "compressed gRPC frame not supported");
  const detail = CNIError.encode({ code: 11, msg: "busy", details: "d" }).finish();
  const st = (details: { typeUrl: string; value: Buffer }[]) => Buffer.from(Status.encode({ code: 14, message: "m", details }).finish()).toString("base64");
  t.same(decodeCniErrorDetail(st([{ typeUrl: CNI_ERROR_TYPE_URL, value: Buffer.from(detail) }])), { code: 11, msg: "busy", details: "d" });
  t.same(decodeCniErrorDetail(st([{ typeUrl: CNI_ERROR_TYPE_URL, value: Buffer.from(detail) }]).replace(/=+$/, "")), { code: 11, msg: "busy", details: "d" }, "unpadded base64 (grpc-go)");
  t.equal(decodeCniErrorDetail(st([])), undefined, "no detail");
  t.equal(decodeCniErrorDetail(st([{ typeUrl: "type.googleapis.com/google.rpc.RetryInfo", value: Buffer.alloc(0) }])), undefined, "other detail type");
  t.equal(decodeCniErrorDetail("!!!"), undefined);
  t.equal(grpcErrorText(14, "x"), "rpc error: code = Unavailable desc = x");
});
