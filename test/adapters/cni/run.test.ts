import t from "tap";
import { runCni, type RunCniInput } from "../../../adapters/cni/run.js";
import { MAX_NETCONF_BYTES } from "../../../lib/cni/index.js";
import type { CniClient } from "../../../adapters/cni/client.js";
import { FakeCoild } from "./fake-coild.js";
import { VERSIONS, fakeClient, json, netconf, podEnv, prevResult } from "./helpers.js";

/** A JSON field that should be a string, or "" (msg and details of a CNI error). */
const text = (v: unknown): string => (typeof v === "string" ? v : "");

const enc = (o: unknown): Uint8Array => Buffer.from(typeof o === "string" ? o : JSON.stringify(o));

function run(env: RunCniInput["env"], stdin: unknown, client: CniClient = fakeClient(new FakeCoild())) {
  return runCni({ env, stdin: stdin instanceof Uint8Array ? stdin : enc(stdin), client });
}

t.test("VERSION is answered locally and echoes the requested version", async (t) => {
  const client = fakeClient(new FakeCoild());
  for (const [stdin, want] of [[{ cniVersion: "0.4.0" }, "0.4.0"], ["", "1.1.0"], [{ cniVersion: "bogus" }, "1.1.0"]] as const) {
    const out = await run({ CNI_COMMAND: "VERSION" }, stdin, client);
    t.equal(out.exitCode, 0);
    t.same(json(out.stdout), { cniVersion: want, supportedVersions: [...VERSIONS] });
  }
  t.equal(client.calls.length, 0, "no daemon call");
});

for (const v of VERSIONS) {
  t.test(`ADD/CHECK/DEL round trip, config ${v}`, async (t) => {
    const coild = new FakeCoild();
    const client = fakeClient(coild);
    const add = await run(podEnv("ADD"), netconf(v), client);
    t.equal(add.exitCode, 0, add.stdout);
    const r = json(add.stdout);
    t.equal(r["cniVersion"], v, "result printed in the config version");
    const ips = r["ips"] as Record<string, unknown>[];
    t.same(ips.map((i) => i["address"]), ["10.100.0.1/32", "fd00::1/128"]);
    t.same(ips.map((i) => "version" in i), v.startsWith("1.") ? [false, false] : [true, true], "ips[].version only before 1.0.0");
    t.equal("dns" in r, !v.startsWith("1."), "dns {} only before 1.0.0");
    t.matchSnapshot(add.stdout, `ADD stdout ${v}`);
    const req = client.calls[0];
    t.equal(req?.socket, "/run/coild.sock", "default socket");
    t.equal(req?.timeoutMs, 60_000);
    t.equal(req?.mode, "auto");
    t.same(req?.request.method, "Add");
    if (req?.request.method === "Add") {
      t.same(req.request.args.args, { K8S_POD_NAMESPACE: "test", K8S_POD_NAME: "testhttpd-host1", K8S_POD_INFRA_CONTAINER_ID: "c8f4a1b2c3d4", IS_CHAINED: "false" });
      t.equal(Buffer.from(req.request.args.stdinData, "base64").toString(), JSON.stringify(netconf(v)), "stdin forwarded byte for byte");
      t.same([req.request.args.containerId, req.request.args.netns, req.request.args.ifname, req.request.args.path], ["c8f4a1b2c3d4", "/var/run/netns/cni-1234", "eth0", "/opt/cni/bin"]);
    }
    const check = await run(podEnv("CHECK"), netconf(v), client);
    if (v === "0.3.1") {
      t.equal(json(check.stdout)["code"], 1, "CHECK needs 0.4.0");
    } else {
      t.same(check, { stdout: "", exitCode: 0 });
    }
    t.same(await run(podEnv("DEL", { CNI_NETNS: undefined }), netconf(v), client), { stdout: "", exitCode: 0 }, "DEL without netns");
    t.equal(coild.attachments.size, 0, "DEL freed the attachment");
    t.same(await run(podEnv("DEL"), netconf(v), client), { stdout: "", exitCode: 0 }, "DEL twice");
  });

  t.test(`chained ADD passes prevResult through unchanged, config ${v}`, async (t) => {
    const client = fakeClient(new FakeCoild({ mode: "egress-only" }));
    const prev = prevResult(v);
    const out = await run(podEnv("ADD"), netconf(v, { prevResult: prev }), client);
    t.equal(out.exitCode, 0, out.stdout);
    const got = json(out.stdout);
    t.same(got["ips"], prev["ips"], "ips unchanged");
    t.same(got["interfaces"], prev["interfaces"]);
    t.same(got["routes"], prev["routes"]);
    t.same(got["dns"], prev["dns"]);
    t.equal(got["cniVersion"], v);
    const req = client.calls[0]?.request;
    if (req?.method !== "Add") return t.fail("no Add");
    t.equal(req.args.args["IS_CHAINED"], "true");
    t.same(req.args.ips, ["10.244.1.5"]);
    t.same(req.args.interfaces, { veth0abc: false, eth0: true });
  });
}

t.test("STATUS and GC (1.1.0)", async (t) => {
  const conf = netconf("1.1.0");
  t.same(await run({ CNI_COMMAND: "STATUS" }, conf), { stdout: "", exitCode: 0 });
  for (const code of [50, 51] as const) {
    const out = await run({ CNI_COMMAND: "STATUS" }, conf, fakeClient(new FakeCoild({ status: code })));
    t.same(json(out.stdout), { cniVersion: "1.1.0", code, msg: "no address block available" });
    t.equal(out.exitCode, 1);
  }
  const goCoild = fakeClient(new FakeCoild({ hasStatusAndGc: false }));
  t.same(await run({ CNI_COMMAND: "STATUS" }, conf, goCoild), { stdout: "", exitCode: 0 }, "UNIMPLEMENTED = available");
  t.same(await run({ CNI_COMMAND: "GC", CNI_PATH: "/opt/cni/bin" }, { ...conf, "cni.dev/valid-attachments": [] }, goCoild), { stdout: "", exitCode: 0 });
  const bad = await run({ CNI_COMMAND: "STATUS" }, conf, fakeClient(new FakeCoild({ bareError: { grpcCode: 13, message: "boom" } })));
  t.equal(json(bad.stdout)["code"], 50, "other failures become 50");

  for (const key of ["cni.dev/valid-attachments", "cni.dev/attachments"]) {
    const coild = new FakeCoild();
    const client = fakeClient(coild);
    await run(podEnv("ADD", { CNI_CONTAINERID: "keep" }), netconf("1.1.0"), client);
    await run(podEnv("ADD", { CNI_CONTAINERID: "stale" }), netconf("1.1.0"), client);
    const gc = await run({ CNI_COMMAND: "GC", CNI_PATH: "/opt/cni/bin" }, { ...conf, [key]: [{ containerID: "keep", ifname: "eth0" }] }, client);
    t.same(gc, { stdout: "", exitCode: 0 }, key);
    t.same([...coild.attachments.keys()], ["keep/eth0"], `GC with ${key} dropped the stale attachment`);
  }
  const noList = await run({ CNI_COMMAND: "GC", CNI_PATH: "/opt/cni/bin" }, conf);
  t.equal(json(noList.stdout)["code"], 7, "GC without an attachment list is refused");
  for (const cmd of ["STATUS", "GC"]) {
    const old = await run({ CNI_COMMAND: cmd, CNI_PATH: "/x" }, netconf("1.0.0"));
    t.equal(json(old.stdout)["code"], 1, `${cmd} needs 1.1.0`);
  }
});

const errorCases: { name: string; env: Record<string, string | undefined>; stdin?: unknown; client?: CniClient; code: number; msg?: RegExp }[] = [
  { name: "no CNI_COMMAND", env: {}, code: 4, msg: /CNI_COMMAND/ },
  { name: "unknown CNI_COMMAND", env: { CNI_COMMAND: "add" }, code: 4, msg: /CNI_COMMAND/ },
  { name: "ADD without CNI_NETNS", env: podEnv("ADD", { CNI_NETNS: undefined }), code: 4, msg: /CNI_NETNS/ },
  { name: "ADD without CNI_CONTAINERID and CNI_IFNAME", env: podEnv("ADD", { CNI_CONTAINERID: "", CNI_IFNAME: undefined }), code: 4, msg: /CNI_CONTAINERID,CNI_IFNAME/ },
  { name: "hostile CNI_CONTAINERID", env: podEnv("ADD", { CNI_CONTAINERID: "x; rm -rf /" }), code: 4, msg: /CNI_CONTAINERID/ },
  { name: "hostile CNI_IFNAME (path)", env: podEnv("ADD", { CNI_IFNAME: "../eth0" }), code: 4, msg: /CNI_IFNAME/ },
  { name: "CNI_IFNAME too long", env: podEnv("ADD", { CNI_IFNAME: "eth0123456789012" }), code: 4, msg: /CNI_IFNAME/ },
  { name: "CNI_IFNAME with newline", env: podEnv("DEL", { CNI_IFNAME: "eth0\nx" }), code: 4, msg: /CNI_IFNAME/ },
  { name: "CNI_NETNS with control characters", env: podEnv("ADD", { CNI_NETNS: "/var/run/netns/x\u0001" }), code: 4, msg: /CNI_NETNS/ },
  { name: "CNI_PATH with control characters", env: podEnv("ADD", { CNI_PATH: "/opt\u0000/bin" }), code: 4, msg: /CNI_PATH/ },
  { name: "GC without CNI_PATH", env: { CNI_COMMAND: "GC" }, stdin: netconf("1.1.0"), code: 4, msg: /CNI_PATH/ },
  { name: "unknown CNI_ARGS key", env: podEnv("ADD", { CNI_ARGS: "FOO=bar" }), code: 4, msg: /failed to load CNI_ARGS/ },
  { name: "hostile K8S_POD_NAME", env: podEnv("ADD", { CNI_ARGS: "K8S_POD_NAME=../../etc;K8S_POD_NAMESPACE=x" }), code: 4, msg: /failed to load CNI_ARGS/ },
  { name: "malformed JSON", env: podEnv("ADD"), stdin: "{\"cniVersion\":", code: 6 },
  { name: "stdin not UTF-8", env: podEnv("ADD"), stdin: new Uint8Array([0x7b, 0xff, 0x7d]), code: 6 },
  { name: "stdin not an object", env: podEnv("ADD"), stdin: "[1]", code: 6 },
  { name: "unknown cniVersion", env: podEnv("ADD"), stdin: netconf("9.9.9"), code: 1 },
  { name: "no cniVersion", env: podEnv("ADD"), stdin: { name: "n", type: "coil" }, code: 1 },
  { name: "no name", env: podEnv("ADD"), stdin: { cniVersion: "1.0.0", type: "coil" }, code: 7 },
  { name: "bad rpc mode", env: podEnv("ADD"), stdin: netconf("1.0.0", { rpc: "http" }), code: 7, msg: /rpc/ },
  { name: "malformed prevResult", env: podEnv("ADD"), stdin: netconf("1.0.0", { prevResult: { ips: "x" } }), code: 6 },
  { name: "ADD, socket missing", env: podEnv("ADD"), stdin: netconf("1.0.0", { socket: "/nonexistent.sock" }), code: 11 },
  { name: "DEL, socket missing", env: podEnv("DEL"), stdin: netconf("1.0.0", { socket: "/nonexistent.sock" }), code: 11 },
  { name: "CHECK, socket missing", env: podEnv("CHECK"), stdin: netconf("1.0.0", { socket: "/nonexistent.sock" }), code: 11 },
  { name: "STATUS, socket missing", env: { CNI_COMMAND: "STATUS" }, stdin: netconf("1.1.0", { socket: "/nonexistent.sock" }), code: 50 },
  { name: "daemon timeout", env: podEnv("ADD"), stdin: netconf("1.0.0"), client: fakeClient(new FakeCoild(), "/run/coild.sock", { kind: "timeout", message: "slow" }), code: 11 },
  { name: "daemon CNIError passes through", env: podEnv("ADD", { CNI_ARGS: "" }), stdin: netconf("1.0.0"), code: 999, msg: /failed to get pod/ },
  { name: "IPAM coild refuses chaining", env: podEnv("ADD"), stdin: netconf("1.0.0", { prevResult: prevResult("1.0.0") }), code: 999, msg: /first plugin/ },
  { name: "bare gRPC error → 999", env: podEnv("ADD"), stdin: netconf("1.0.0"), client: fakeClient(new FakeCoild({ bareError: { grpcCode: 14, message: "connection reset" } })), code: 999, msg: /connection reset/ },
  { name: "daemon result not JSON", env: podEnv("ADD"), stdin: netconf("1.0.0"), client: fakeClient(new FakeCoild({ addResultOverride: "nope" })), code: 6, msg: /failed to unmarshal result/ },
  { name: "daemon result malformed", env: podEnv("ADD"), stdin: netconf("1.0.0"), client: fakeClient(new FakeCoild({ addResultOverride: '{"cniVersion":"1.1.0","ips":[{"address":"x"}]}' })), code: 6, msg: /failed to unmarshal result/ },
];

for (const c of errorCases) {
  t.test(c.name, async (t) => {
    const out = await run(c.env, c.stdin ?? netconf("1.0.0"), c.client);
    t.equal(out.exitCode, 1);
    const e = json(out.stdout);
    t.equal(e["code"], c.code, out.stdout);
    t.type(e["cniVersion"], "string");
    t.type(e["msg"], "string");
    if (c.msg !== undefined) t.match(`${text(e["msg"])} ${text(e["details"])}`, c.msg);
  });
}

t.test("stdin read failure → 5", async (t) => {
  const out = await runCni({ env: podEnv("ADD"), stdin: { readError: "EIO" }, client: fakeClient(new FakeCoild()) });
  t.same({ code: json(out.stdout)["code"], exit: out.exitCode }, { code: 5, exit: 1 });
});

t.test("netconf socket and rpc mode reach the client", async (t) => {
  const client = fakeClient(new FakeCoild(), "/tmp/other.sock");
  const out = await run(podEnv("ADD"), netconf("1.0.0", { socket: "/tmp/other.sock", rpc: "grpc" }), client);
  t.equal(out.exitCode, 0, out.stdout);
  t.same([client.calls[0]?.socket, client.calls[0]?.mode], ["/tmp/other.sock", "grpc"]);
});

t.test("issue 7: stdin over MAX_NETCONF_BYTES → code 7 before anything is decoded or sent", async (t) => {
  const client = fakeClient(new FakeCoild());
  const big = netconf("1.0.0", { name: "a".repeat(MAX_NETCONF_BYTES) });
  for (const env of [podEnv("ADD"), podEnv("DEL"), { CNI_COMMAND: "VERSION" }, { CNI_COMMAND: "STATUS" }]) {
    const out = await run(env, big, client);
    t.equal(out.exitCode, 1);
    t.same(json(out.stdout), {
      cniVersion: "1.1.0",
      code: 7,
      msg: "network config is too large",
      details: `read ${JSON.stringify(big).length} bytes from stdin, at most 1048576 are accepted`,
    }, String(env.CNI_COMMAND));
  }
  const cut = await run(podEnv("ADD"), Buffer.alloc(MAX_NETCONF_BYTES + 1, 0x20), client);
  t.match(json(cut.stdout), { code: 7, details: "read 1048577 bytes from stdin, at most 1048576 are accepted" }, "what main.ts passes after stopping");
  t.equal(client.calls.length, 0, "no daemon call");
  t.equal(json((await run({}, big, client)).stdout)["code"], 4, "a missing CNI_COMMAND is still reported first");
});

t.test("issue 7: error objects never echo unbounded input, whoever built them", async (t) => {
  const huge = "x".repeat(1_000_000);
  const rpc = await run(podEnv("ADD"), netconf("1.0.0", { rpc: huge }));
  t.match(json(rpc.stdout), { code: 7, details: /^got "x{255}… \(1000002 bytes\)$/ }, "rpc key");
  const daemon = fakeClient(new FakeCoild({ bareError: { grpcCode: 13, message: huge } }));
  const fromDaemon = await run(podEnv("ADD"), netconf("1.0.0"), daemon);
  t.ok(fromDaemon.stdout.length < 6000, `a daemon's huge message is cut (${fromDaemon.stdout.length} chars)`);
  t.match(json(fromDaemon.stdout), { code: 999, msg: /… \(1000000 bytes\)$/, details: /… \(\d+ bytes\)$/ });
});
