// The argv runner: no shell, stdout/stderr captured, errors as values (no root needed).
import t from "tap";
import { inNetns, runCommand, validateNetnsPath } from "../../../adapters/kernel/run.js";

t.test("captures stdout and feeds stdin", async (t) => {
  t.same((await runCommand(["cat"], { input: "hello\n" }))._unsafeUnwrap(), { stdout: "hello\n", stderr: "" });
});

t.test("argv is never a shell string", async (t) => {
  const r = await runCommand(["echo", "$(id -u); echo pwned"]);
  t.equal(r._unsafeUnwrap().stdout, "$(id -u); echo pwned\n");
});

t.test("non-zero exit carries code and stderr", async (t) => {
  const r = await runCommand(["ls", "/definitely/not/here"]);
  t.match(r._unsafeUnwrapErr(), { kind: "exit-nonzero", code: 2, stderr: /No such file/ });
});

t.test("missing executable", async (t) => {
  t.match((await runCommand(["/no/such/binary"]))._unsafeUnwrapErr(), { kind: "spawn-failed", message: /ENOENT/ });
  t.match((await runCommand([]))._unsafeUnwrapErr(), { kind: "spawn-failed", message: "empty argv" });
});

t.test("timeout kills the child", async (t) => {
  const started = Date.now();
  t.match((await runCommand(["sleep", "120"], { timeoutMs: 100 }))._unsafeUnwrapErr(), { kind: "timeout", timeoutMs: 100 });
  t.ok(Date.now() - started < 60_000, "killed at the timeout, not when sleep ended");
});

t.test("namespace entry", async (t) => {
  t.same(inNetns({ kind: "host" }, ["ip", "link"])._unsafeUnwrap(), ["ip", "link"]);
  t.same(inNetns({ kind: "path", path: "/proc/self/ns/net" }, ["ip", "link"])._unsafeUnwrap(), ["nsenter", "--net=/proc/self/ns/net", "--", "ip", "link"]);
  t.match(inNetns({ kind: "path", path: "relative/ns" }, ["ip"])._unsafeUnwrapErr(), { kind: "invalid-netns" });
  t.match(validateNetnsPath("/var/run/netns/absent-coil-ns")._unsafeUnwrapErr(), { kind: "invalid-netns", message: /ENOENT/ });
});
