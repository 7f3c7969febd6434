import t from "tap";
import { parseCniArgs, CNI_ERROR } from "../../../lib/cni/index.js";

t.test("Coil §9.2.1: Kubernetes CNI_ARGS", async (t) => {
  const id = "c8f4a9c50c85b36eff718aab2ac39209e541a4551420488c33d9216cf1795b3a";
  const a = parseCniArgs(`IgnoreUnknown=1;K8S_POD_NAMESPACE=test;K8S_POD_NAME=testhttpd-host1;K8S_POD_INFRA_CONTAINER_ID=${id}`)._unsafeUnwrap();
  t.equal(a.podNamespace, "test");
  t.equal(a.podName, "testhttpd-host1");
  t.equal(a.podInfraContainerId, id);
  t.equal(a.ignoreUnknown, true);
  t.equal(a.podUid, "");
});

t.test("libcni LoadArgs semantics", async (t) => {
  const empty = parseCniArgs("")._unsafeUnwrap();
  t.same([empty.podName, empty.podNamespace, empty.ignoreUnknown], ["", "", false]);
  const withUnknown = parseCniArgs("IgnoreUnknown=true;K8S_POD_UID=1234-abcd;FOO=bar;K8S_POD_NAME=p")._unsafeUnwrap();
  t.equal(withUnknown.podUid, "1234-abcd");
  t.equal(withUnknown.pairs["FOO"], "bar");
  t.equal(parseCniArgs("K8S_POD_NAME=a;K8S_POD_NAME=b")._unsafeUnwrap().podName, "b", "last duplicate wins");
  t.equal(parseCniArgs("IgnoreUnknown=TRUE;x=1")._unsafeUnwrap().ignoreUnknown, true, "case-insensitive bool");
  const proto = parseCniArgs("IgnoreUnknown=1;__proto__=x")._unsafeUnwrap();
  t.equal(Object.getPrototypeOf(proto.pairs), Object.prototype, "__proto__ key does not change the prototype");
  t.equal(proto.pairs["__proto__"], "x");
});

t.test("errors: code 4 failed to load CNI_ARGS", async (t) => {
  const cases: [string, RegExp][] = [
    ["FOO=bar", /unknown args \["FOO=bar"\]/],
    ["IgnoreUnknown=0;FOO=bar", /unknown args/],
    ["K8S_POD_NAME", /invalid pair "K8S_POD_NAME"/],
    ["K8S_POD_NAME=a=b", /invalid pair "K8S_POD_NAME=a=b"/],
    ["K8S_POD_NAME=a;", /invalid pair ""/],
    ["IgnoreUnknown=yes", /boolean unmarshal error: invalid input "yes"/],
    ["K8S_POD_NAMESPACE=Bad_NS", /K8S_POD_NAMESPACE "Bad_NS" is not a valid namespace/],
    ["K8S_POD_NAMESPACE=" + "a".repeat(64), /not a valid namespace/],
    ["K8S_POD_NAME=../../etc/passwd", /K8S_POD_NAME .* not a valid pod name/],
    ["K8S_POD_INFRA_CONTAINER_ID=-x", /K8S_POD_INFRA_CONTAINER_ID/],
    ["K8S_POD_UID=a\u0000b", /K8S_POD_UID .* control characters/],
  ];
  for (const [input, details] of cases) {
    const r = parseCniArgs(input);
    t.ok(r.isErr(), JSON.stringify(input));
    if (r.isErr()) {
      t.equal(r.error.code, CNI_ERROR.INVALID_ENVIRONMENT_VARIABLES);
      t.equal(r.error.msg, "failed to load CNI_ARGS");
      t.match(r.error.details, details);
    }
  }
});

t.test("issue 7: a 100,000-byte CNI_ARGS value is never echoed whole", async (t) => {
  const big = "a".repeat(100_000);
  const cases: [string, string][] = [
    [`FOO=${big}`, "unknown key"],
    [`IgnoreUnknown=0;FOO=${big};BAR=${big}`, "two unknown keys"],
    [Array.from({ length: 5000 }, (_, i) => `K${i}=v`).join(";"), "5000 unknown keys"],
    [`FOO${big}`, "pair without ="],
    [`K8S_POD_NAME=${big}`, "pod name"],
    [`K8S_POD_NAMESPACE=${big}`, "namespace"],
    [`K8S_POD_INFRA_CONTAINER_ID=${big}`, "infra container ID"],
    [`K8S_POD_INFRA_CONTAINER_ID=-${big.slice(0, 900)}`, "infra container ID, bad characters"],
    [`K8S_POD_UID=\u0001${big}`, "pod UID"],
    [`IgnoreUnknown=${big}`, "IgnoreUnknown"],
  ];
  for (const [input, name] of cases) {
    const r = parseCniArgs(input);
    if (r.isOk()) {
      t.fail(name);
      continue;
    }
    t.equal(r.error.code, CNI_ERROR.INVALID_ENVIRONMENT_VARIABLES, name);
    t.ok(r.error.details.length < 2500, `${name}: details bounded (${r.error.details.length} chars)`);
  }
  t.match(parseCniArgs(`FOO=${big}`)._unsafeUnwrapErr().details, /^ARGS: unknown args \["FOO=a{252}"… \(100004 bytes\)\]$/);
  t.match(parseCniArgs(`K8S_POD_NAME=${big}`)._unsafeUnwrapErr().details, /^K8S_POD_NAME "a{256}"… \(100000 bytes\) is not a valid pod name/);
});
