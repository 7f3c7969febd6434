import t from "tap";
import { isTransient, reasonOfErrno, reasonOfExecError, reasonOfText } from "../../../adapters/kernel/failure.js";

t.test("tool texts are classified once", async (t) => {
  const cases: [string, string][] = [
    ["RTNETLINK answers: File exists\nCommand failed -:1\n", "exists"],
    ['Cannot find device "veth0"\nCommand failed -:2\n', "not-found"],
    ["RTNETLINK answers: No such device\n", "not-found"],
    ["RTNETLINK answers: No such process\n", "not-found"],
    ["Error: Could not process rule: No such file or directory\n", "not-found"],
    ["RTNETLINK answers: Cannot assign requested address\n", "not-found"],
    ["ENOENT: no such file or directory, open '/proc/sys/net/ipv6/conf/x/accept_ra'", "not-found"],
    ["RTNETLINK answers: Operation not permitted\n", "permission"],
    ["EACCES: permission denied, open '/proc/sys/net/ipv4/ip_forward'", "permission"],
    ["RTNETLINK answers: Device or resource busy\n", "busy"],
    ["RTNETLINK answers: No buffer space available\n", "busy"],
    ["RTNETLINK answers: Resource temporarily unavailable\n", "busy"],
    ["RTNETLINK answers: Invalid argument\n", "invalid"],
    ["RTNETLINK answers: Network is unreachable\n", "invalid"],
    ["something else entirely", "unknown"],
    ["", "unknown"],
  ];
  for (const [text, reason] of cases) t.equal(reasonOfText(text), reason, JSON.stringify(text));
});

t.test("errno codes (the lib model's, the fake kernel's) map to the same reasons", async (t) => {
  t.same(
    ["EEXIST", "ENOENT", "ENODEV", "ESRCH", "EADDRNOTAVAIL", "EPERM", "EACCES", "EBUSY", "ENOBUFS", "EINVAL", "ENETUNREACH", "ENETDOWN", "EWHAT"].map(reasonOfErrno),
    ["exists", "not-found", "not-found", "not-found", "not-found", "permission", "permission", "busy", "busy", "invalid", "invalid", "invalid", "unknown"],
  );
});

t.test("a command that did not run or did not finish has a reason of its own", async (t) => {
  t.equal(reasonOfExecError({ kind: "timeout", argv: ["ip"], timeoutMs: 1, stderr: "" }), "timeout");
  t.equal(reasonOfExecError({ kind: "spawn-failed", argv: ["ip"], message: "ENOENT" }), "unavailable");
  t.equal(reasonOfExecError({ kind: "invalid-netns", path: "/x", message: "gone" }), "not-found");
  t.equal(reasonOfExecError({ kind: "exit-nonzero", argv: ["ip"], code: 2, signal: null, stdout: "", stderr: "RTNETLINK answers: File exists" }), "exists");
  t.same(["busy", "timeout", "unavailable", "exists", "not-found", "permission", "invalid", "unknown"].map((r) => isTransient(r as never)), [true, true, true, false, false, false, false, false]);
});
