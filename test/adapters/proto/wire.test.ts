import t from "tap";
import * as grpc from "@grpc/grpc-js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AddResponse,
  CNIArgs,
  CNIClient,
  CNIError,
  CNIService,
  ErrorCode,
  GCRequest,
  type CNIServer,
} from "../../../adapters/proto/gen/cni.js";
import * as messages from "../../../adapters/proto/gen/messages/cni.js";
import { Status } from "../../../adapters/proto/gen/messages/google/rpc/status.js";
import {
  CNI_ERROR_TYPE_URL,
  STATUS_DETAILS_KEY,
  decodeCniErrorStatus,
  encodeCniErrorStatus,
} from "../../../adapters/proto/cni-error-status.js";
import { CNI_ERROR } from "../../../lib/cni/index.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const str = (s: string) => Buffer.from(s).toString("hex");

t.test("CNIArgs encoding matches hand-computed protobuf bytes", async (t) => {
  const args = {
    containerId: "abc",
    netns: "/ns",
    ifname: "eth0",
    args: { K: "V" },
    path: "/p",
    stdinData: Buffer.from([1, 2]),
    ips: ["10.0.0.1"],
    interfaces: { eth0: true },
  };
  const want =
    "0a03" + str("abc") + // 1: container_id (tag 0x0a = 1<<3|2)
    "1203" + str("/ns") + // 2: netns
    "1a04" + str("eth0") + // 3: ifname
    "2206" + "0a01" + str("K") + "1201" + str("V") + // 4: map<string,string> entry {1:key, 2:value}
    "2a02" + str("/p") + // 5: path
    "32020102" + // 6: bytes stdin_data
    "3a08" + str("10.0.0.1") + // 7: repeated string ips
    "4208" + "0a04" + str("eth0") + "1001"; // 8: map<string,bool> entry {1:"eth0", 2:true}
  t.equal(hex(CNIArgs.encode(args).finish()), want, "grpc-js variant");
  t.equal(hex(messages.CNIArgs.encode(args).finish()), want, "messages-only variant");
  const back = CNIArgs.decode(Buffer.from(want, "hex"));
  t.same({ ...back, stdinData: [...back.stdinData] }, { ...args, stdinData: [1, 2] });
  t.equal(hex(CNIArgs.encode({ ...args, args: {}, interfaces: {}, ips: [], stdinData: Buffer.alloc(0), path: "", netns: "" }).finish()), "0a03" + str("abc") + "1a04" + str("eth0"), "proto3 defaults are not sent");
});

t.test("CNIError / AddResponse / enum values", async (t) => {
  const e = { code: ErrorCode.INTERNAL, msg: "x", details: "d" };
  const bytes = CNIError.encode(e).finish();
  t.equal(hex(bytes), "08e707" + "1201" + str("x") + "1a01" + str("d"), "999 is varint e7 07");
  t.same(CNIError.decode(bytes), e, "round trip");
  t.equal(hex(AddResponse.encode({ result: Buffer.from("{}") }).finish()), "0a02" + str("{}"));
  t.same(
    [ErrorCode.UNKNOWN, ErrorCode.INCOMPATIBLE_CNI_VERSION, ErrorCode.UNSUPPORTED_FIELD, ErrorCode.UNKNOWN_CONTAINER,
      ErrorCode.INVALID_ENVIRONMENT_VARIABLES, ErrorCode.IO_FAILURE, ErrorCode.DECODING_FAILURE, ErrorCode.INVALID_NETWORK_CONFIG,
      ErrorCode.TRY_AGAIN_LATER, ErrorCode.PLUGIN_NOT_AVAILABLE, ErrorCode.PLUGIN_NOT_AVAILABLE_LIMITED_CONNECTIVITY, ErrorCode.INTERNAL],
    Object.values(CNI_ERROR),
    "proto enum and lib/cni constants agree",
  );
  t.equal(hex(GCRequest.encode({ stdinData: Buffer.alloc(0), path: "/p", validAttachments: [{ containerId: "c", ifname: "e" }] }).finish()),
    "1202" + str("/p") + "1a06" + "0a01" + str("c") + "1201" + str("e"));
});

t.test("google.rpc.Status with an Any(CNIError) detail, byte exact", async (t) => {
  const e = { code: ErrorCode.TRY_AGAIN_LATER, msg: "m", details: "" };
  const inner = "080b" + "1201" + str("m");
  const any = "0a" + (CNI_ERROR_TYPE_URL.length).toString(16).padStart(2, "0") + str(CNI_ERROR_TYPE_URL) + "12" + "05" + inner;
  const want = "080d" + "1201" + str("s") + "1a" + (any.length / 2).toString(16).padStart(2, "0") + any;
  t.equal(hex(encodeCniErrorStatus(grpc.status.INTERNAL, "s", e)), want);
  t.same(decodeCniErrorStatus(Buffer.from(want, "hex")), { code: 13, message: "s", detailCount: 1, cniError: e });
  const two = Status.encode({ code: 13, message: "s", details: [{ typeUrl: CNI_ERROR_TYPE_URL, value: Buffer.alloc(0) }, { typeUrl: "x", value: Buffer.alloc(0) }] }).finish();
  t.same(decodeCniErrorStatus(two), { code: 13, message: "s", detailCount: 2 }, "two details: no CNIError (Coil → 999)");
  const other = Status.encode({ code: 13, message: "s", details: [{ typeUrl: "type.googleapis.com/google.rpc.DebugInfo", value: Buffer.alloc(0) }] }).finish();
  t.equal(decodeCniErrorStatus(other)?.cniError, undefined, "foreign detail type ignored");
  t.equal(decodeCniErrorStatus(Buffer.from([0xff, 0xff])), undefined, "garbage");
});

t.test("grpc-js round trip over a UNIX socket", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "cnirpc-"));
  const sock = join(dir, "coild.sock");
  const seen: string[] = [];
  const fail = (code: grpc.status, message: string, e: CNIError): Partial<grpc.StatusObject> => {
    const metadata = new grpc.Metadata();
    metadata.set(STATUS_DETAILS_KEY, encodeCniErrorStatus(code, message, e));
    return { code, details: message, metadata };
  };
  const impl: CNIServer = {
    add: (call, cb) => {
      seen.push(`add ${call.request.containerId} ${call.request.args["K8S_POD_NAME"]} ${call.request.interfaces["eth0"]}`);
      cb(null, { result: Buffer.from('{"cniVersion":"1.1.0"}') });
    },
    del: (_call, cb) => cb(fail(grpc.status.INTERNAL, "failed to destroy pod network", { code: ErrorCode.INTERNAL, msg: "failed to destroy pod network", details: "link busy" })),
    check: (_call, cb) => cb(null, {}),
    status: (_call, cb) => cb(fail(grpc.status.UNAVAILABLE, "no addresses", { code: ErrorCode.PLUGIN_NOT_AVAILABLE, msg: "pool exhausted", details: "" })),
    gc: (call, cb) => {
      seen.push(`gc ${call.request.validAttachments.map((a) => `${a.containerId}/${a.ifname}`).join(",")}`);
      cb(null, {});
    },
  };
  const server = new grpc.Server();
  server.addService(CNIService, impl);
  await new Promise<void>((res, rej) => server.bindAsync(`unix:${sock}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())));
  const client = new CNIClient(`unix:${sock}`, grpc.credentials.createInsecure());
  t.teardown(() => {
    client.close();
    server.forceShutdown();
    rmSync(dir, { recursive: true, force: true });
  });
  const base = { containerId: "c1", netns: "/var/run/netns/p", ifname: "eth0", args: { K8S_POD_NAME: "p" }, path: "/opt/cni/bin", stdinData: Buffer.from("{}"), ips: [], interfaces: { eth0: true } };
  type Reply<T> = { err: grpc.ServiceError | null; res: T };
  type Cb<T> = (err: grpc.ServiceError | null, res: T) => void;
  const unary = <T>(call: (cb: Cb<T>) => unknown) => new Promise<Reply<T>>((res) => call((err, r) => res({ err, res: r })));

  const add = await unary<AddResponse>((cb) => client.add(base, cb));
  t.equal(add.err, null);
  t.equal(Buffer.from(add.res.result).toString(), '{"cniVersion":"1.1.0"}');
  t.equal((await unary((cb) => client.check(base, cb))).err, null);

  const del = await unary((cb) => client.del(base, cb));
  t.equal(del.err?.code, grpc.status.INTERNAL);
  t.equal(del.err?.details, "failed to destroy pod network");
  const raw = del.err?.metadata.get(STATUS_DETAILS_KEY)[0];
  t.ok(Buffer.isBuffer(raw), "grpc-status-details-bin arrives as binary trailer");
  const st = decodeCniErrorStatus(raw as Buffer);
  t.equal(st?.code, grpc.status.INTERNAL, "Status.code equals grpc-status (grpc-go checks this)");
  t.same(st?.cniError, { code: ErrorCode.INTERNAL, msg: "failed to destroy pod network", details: "link busy" });

  const status = await unary((cb) => client.status({ stdinData: Buffer.from("{}"), path: "" }, cb));
  t.equal(status.err?.code, grpc.status.UNAVAILABLE);
  t.equal(decodeCniErrorStatus(status.err?.metadata.get(STATUS_DETAILS_KEY)[0] as Buffer)?.cniError?.code, 50);

  const gc = await unary((cb) => client.gc({ stdinData: Buffer.from("{}"), path: "/opt/cni/bin", validAttachments: [{ containerId: "c1", ifname: "eth0" }] }, cb));
  t.equal(gc.err, null);
  t.same(seen, ["add c1 p true", "gc c1/eth0"]);
});

t.test("messages-only variant does not import grpc-js", async (t) => {
  const { readdirSync, readFileSync, statSync } = await import("node:fs");
  const dir = new URL("../../../adapters/proto/gen/messages/", import.meta.url).pathname;
  const walk = (d: string): string[] => readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [join(d, n)]));
  const files = walk(dir);
  t.ok(files.length >= 4);
  for (const f of files) t.notMatch(readFileSync(f, "utf8"), /@grpc\/grpc-js/, f);
  t.notMatch(readFileSync(new URL("../../../adapters/proto/cni-error-status.ts", import.meta.url), "utf8"), /@grpc\/grpc-js/, "cni-error-status.ts");
});
