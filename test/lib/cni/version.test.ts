import t from "tap";
import {
  CNI_ERROR,
  SUPPORTED_VERSIONS,
  checkCommandVersion,
  compareVersions,
  negotiateVersion,
  versionResult,
  cniError,
  cniErrorJson,
} from "../../../lib/cni/index.js";

t.test("negotiateVersion: highest supported of cniVersion ∪ cniVersions", async (t) => {
  const cases: [string, string[] | undefined, string | null][] = [
    ["0.4.0", undefined, "0.4.0"],
    ["0.4.0", ["1.0.0", "1.1.0"], "1.1.0"],
    ["1.1.0", ["0.3.1"], "1.1.0"],
    ["2.0.0", ["1.0.0", "0.9.9"], "1.0.0"],
    ["0.3.0", ["0.2.0"], null],
    ["garbage", ["1.1.0", "x.y"], "1.1.0"],
    ["0.10.0", undefined, null],
  ];
  for (const [v, vs, want] of cases) {
    const r = negotiateVersion(vs === undefined ? { cniVersion: v } : { cniVersion: v, cniVersions: vs });
    if (want === null) {
      t.ok(r.isErr(), `${v} ${JSON.stringify(vs)} refused`);
      if (r.isErr()) t.equal(r.error.code, CNI_ERROR.INCOMPATIBLE_CNI_VERSION);
    } else t.equal(r._unsafeUnwrap(), want, `${v} ${JSON.stringify(vs)}`);
  }
  t.equal(negotiateVersion({ cniVersion: "0.10.0", cniVersions: ["0.9.0"] }, ["0.9.0", "0.10.0"])._unsafeUnwrap(), "0.10.0", "numeric, not lexical");
});

t.test("compareVersions", async (t) => {
  t.ok(compareVersions("0.10.0", "0.9.0")._unsafeUnwrap() > 0);
  t.equal(compareVersions("1.0", "1.0.0")._unsafeUnwrap(), 0);
  t.equal(compareVersions("1.x", "1.0.0")._unsafeUnwrapErr().code, CNI_ERROR.DECODING_FAILURE);
});

t.test("verb gating: CHECK >= 0.4.0, GC/STATUS >= 1.1.0 (code 1)", async (t) => {
  const cases: [string, string, boolean][] = [
    ["CHECK", "0.3.1", false],
    ["CHECK", "0.4.0", true],
    ["CHECK", "1.0.0", true],
    ["GC", "1.0.0", false],
    ["GC", "1.1.0", true],
    ["STATUS", "0.4.0", false],
    ["STATUS", "1.1.0", true],
    ["ADD", "0.3.1", true],
    ["DEL", "0.3.1", true],
  ];
  for (const [cmd, v, allowed] of cases) {
    const r = checkCommandVersion(cmd, v);
    t.equal(r.isOk(), allowed, `${cmd} with ${v}`);
    if (r.isErr()) {
      t.equal(r.error.code, CNI_ERROR.INCOMPATIBLE_CNI_VERSION);
      t.equal(r.error.msg, `config version does not allow ${cmd}`);
    }
  }
});

t.test("VERSION result and error JSON", async (t) => {
  t.same(versionResult("1.1.0"), { cniVersion: "1.1.0", supportedVersions: ["0.3.1", "0.4.0", "1.0.0", "1.1.0"] });
  t.same(versionResult("0.4.0").cniVersion, "0.4.0");
  t.same(versionResult().cniVersion, "1.1.0");
  t.same(versionResult("nonsense").cniVersion, "1.1.0");
  t.same(SUPPORTED_VERSIONS, ["0.3.1", "0.4.0", "1.0.0", "1.1.0"]);
  t.equal(
    JSON.stringify(cniErrorJson(cniError(7, "Invalid Configuration", "Network 192.168.0.0/31 too small to allocate from."), "1.1.0")),
    '{"cniVersion":"1.1.0","code":7,"msg":"Invalid Configuration","details":"Network 192.168.0.0/31 too small to allocate from."}',
  );
  t.same(cniErrorJson(cniError(999, "boom"), "0.4.0"), { cniVersion: "0.4.0", code: 999, msg: "boom" }, "empty details omitted");
  t.same(
    Object.values(CNI_ERROR),
    [0, 1, 2, 3, 4, 5, 6, 7, 11, 50, 51, 999],
  );
});
