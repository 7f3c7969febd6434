/**
 * The built `dist/bin/coil` and `dist/bin/coil-qjs` against coild's real CNI endpoint (`serveCni` from adapters/daemon:
 * one socket, protocol sniffing, grpc-js via connection injector), with handlers backed by the
 * FakeCoild model. Proves both sides of the fast protocol and the gRPC path agree. Needs
 * `dist/bin/coil` (built by executable.test.ts's `before`, or `scripts/build-cni.sh`).
 */
import t from "tap";
import { execFile, execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { err, ok, type Result } from "neverthrow";
import { serveCni, type CniCallHandlers } from "../../../adapters/daemon/endpoint/server.js";
import { NULL_LOGGER } from "../../../adapters/daemon/log.js";
import type { FastRequest } from "../../../adapters/common/fast-protocol.js";
import { cniError, type CniError } from "../../../lib/cni/index.js";
import { FakeCoild } from "./fake-coild.js";
import { VERSIONS, netconf, podEnv } from "./helpers.js";
import { argsJson, tempSocket } from "./servers.js";

const ROOT = resolve(import.meta.dirname, "../../..");
const EXECUTABLES = [join(ROOT, "dist/bin/coil"), join(ROOT, "dist/bin/coil-qjs")] as const;
t.before(() => {
  if (!existsSync(EXECUTABLES[0])) execFileSync(join(ROOT, "scripts/build-cni.sh"), ["--bun-only"], { stdio: "inherit" });
  if (!existsSync(EXECUTABLES[1])) execFileSync(join(ROOT, "scripts/build-cni.sh"), ["--qjs-only"], { stdio: "inherit" });
});

function handlers(coild: FakeCoild): CniCallHandlers {
  const run = <T>(req: FastRequest, okValue: (result: Buffer) => T): Promise<Result<T, CniError>> => {
    const r = coild.handle(req);
    if (r.ok) return Promise.resolve(ok(okValue(Buffer.from(r.result ?? "", "base64"))));
    const e = r.error ?? { code: 999, msg: r.message ?? "", details: "" };
    return Promise.resolve(err(cniError(e.code, e.msg, e.details)));
  };
  const b64 = (b: Uint8Array): string => Buffer.from(b).toString("base64");
  return {
    add: (q) => run({ v: 1, method: "Add", args: argsJson(q) }, (result) => ({ result })),
    del: (q) => run({ v: 1, method: "Del", args: argsJson(q) }, () => ({})),
    check: (q) => run({ v: 1, method: "Check", args: argsJson(q) }, () => ({})),
    status: (q) => run({ v: 1, method: "Status", args: { stdinData: b64(q.stdinData), path: q.path } }, () => ({})),
    gc: (q) => run({ v: 1, method: "GC", args: { stdinData: b64(q.stdinData), path: q.path, validAttachments: q.validAttachments } }, () => ({})),
  };
}

function exec(bin: string, env: Record<string, string | undefined>, stdin: unknown): Promise<{ code: number | null; stdout: string }> {
  const clean = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
  return new Promise((done) => {
    const c = execFile(bin, [], { env: clean, timeout: 30_000 }, (_e, stdout) => done({ code: c.exitCode, stdout: String(stdout) }));
    c.stdin?.end(JSON.stringify(stdin));
  });
}

for (const [bin, rpc] of EXECUTABLES.flatMap((b) => (["auto", "grpc"] as const).map((r) => [b, r] as const))) {
  t.test(`${bin.split("/").pop() ?? bin} → coild serveCni, rpc ${rpc}`, async (t) => {
    const coild = new FakeCoild({ status: 51 });
    const { socket } = tempSocket();
    const srv = await serveCni({ socketPath: socket, handlers: handlers(coild), log: NULL_LOGGER });
    if (srv.isErr()) return t.fail(srv.error.message);
    t.teardown(() => srv.value.close());
    for (const v of VERSIONS) {
      const conf = netconf(v, { socket, rpc });
      const add = await exec(bin, podEnv("ADD"), conf);
      t.equal(add.code, 0, add.stdout);
      t.equal((JSON.parse(add.stdout) as { cniVersion?: unknown }).cniVersion, v);
      const dup = await exec(bin, podEnv("ADD"), conf);
      t.match(JSON.parse(dup.stdout), { code: 999, msg: "failed to setup pod network IPAM" }, "CNIError from coild");
      t.same(await exec(bin, podEnv("DEL"), conf), { code: 0, stdout: "" });
    }
    const st = await exec(bin, { CNI_COMMAND: "STATUS" }, netconf("1.1.0", { socket, rpc }));
    t.same(JSON.parse(st.stdout), { cniVersion: "1.1.0", code: 51, msg: "no address block available" });
    t.equal(coild.attachments.size, 0);
  });
}
