import t from "tap";
import fc from "fast-check";
import { IFNAME_MAX_BYTES, utf8Length, validateIfName } from "../../../lib/net/index.js";
import { validateIfName as renderIfName } from "../../../lib/changeset/index.js";
import { CNI_ERROR, validateIfName as cniIfName } from "../../../lib/cni/index.js";
import { validateLinkName } from "../../../lib/plan/index.js";

t.test("the shared interface-name rule", async (t) => {
  const cases: readonly [string, string | null][] = [
    ["eth0", null],
    ["veth3a9f01c2", null],
    ["fou4_0a010101", null],
    ["eth0.100", null],
    ["x".repeat(15), null],
    ["-x", null],
    ["", "empty"],
    ["x".repeat(16), "too-long"],
    ["ééééééééé", "too-long"],
    [".", "reserved"],
    ["..", "reserved"],
    ["a b", "invalid-character"],
    ["a/b", "invalid-character"],
    ["a:b", "invalid-character"],
    ["a;b", "invalid-character"],
    ["a#b", "invalid-character"],
    ["é", "invalid-character"],
    ["eth\n", "invalid-character"],
  ];
  for (const [name, problem] of cases) {
    const r = validateIfName(name);
    if (problem === null) t.same(r._unsafeUnwrap(), name, `accepts ${JSON.stringify(name)}`);
    else {
      const e = r._unsafeUnwrapErr();
      t.same([e.kind, e.problem, e.input], ["invalid-ifname", problem, name], `refuses ${JSON.stringify(name)}`);
      t.ok(e.message.startsWith("interface name "), "message explains");
    }
  }
  t.equal(IFNAME_MAX_BYTES, 15);
  t.equal(utf8Length("é€😀a"), 2 + 3 + 4 + 1);
});

t.test("callers map the neutral error to their own kinds", async (t) => {
  t.same(renderIfName("a b")._unsafeUnwrapErr(), { kind: "invalid-name", what: "ifname", value: "a b", reason: "only [A-Za-z0-9_.-] are allowed" });
  t.same(renderIfName("")._unsafeUnwrapErr(), { kind: "invalid-name", what: "ifname", value: "", reason: "empty" });
  const c = cniIfName("a b", "K8S_IFNAME")._unsafeUnwrapErr();
  t.equal(c.code, CNI_ERROR.INVALID_ENVIRONMENT_VARIABLES);
  t.equal(c.msg, "invalid K8S_IFNAME: interface name may contain only [A-Za-z0-9_.-]");
  t.equal(c.details, '"a b"');
  t.equal(validateLinkName("ifname", "a b")._unsafeUnwrapErr().kind, "invalid-name");
});

t.test("every layer agrees with the shared rule (the planner also refuses a leading . or -)", async (t) => {
  const name = fc.oneof(fc.string({ maxLength: 18 }), fc.stringMatching(/^[A-Za-z0-9_.-]{0,17}$/));
  fc.assert(
    fc.property(name, (n) => {
      const ok = validateIfName(n).isOk();
      return (
        renderIfName(n).isOk() === ok &&
        cniIfName(n).isOk() === ok &&
        validateLinkName("f", n).isOk() === (ok && !/^[.-]/.test(n))
      );
    }),
  );
  t.pass("property held");
});
