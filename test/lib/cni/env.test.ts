import t from "tap";
import { parseCniEnv, parseCniCommand, CNI_ERROR, validateIfName, utf8Length } from "../../../lib/cni/index.js";

const base = {
  CNI_CONTAINERID: "c8f4a9c50c85",
  CNI_NETNS: "/var/run/netns/pod1",
  CNI_IFNAME: "eth0",
  CNI_ARGS: "IgnoreUnknown=1",
  CNI_PATH: "/opt/cni/bin:/usr/lib/cni",
};

t.test("valid environments per verb", async (t) => {
  const add = parseCniEnv({ ...base, CNI_COMMAND: "ADD" })._unsafeUnwrap();
  t.same(add, { command: "ADD", ...{ containerId: "c8f4a9c50c85", ifname: "eth0", netns: "/var/run/netns/pod1", args: "IgnoreUnknown=1", path: "/opt/cni/bin:/usr/lib/cni", pathList: ["/opt/cni/bin", "/usr/lib/cni"] } });
  const del = parseCniEnv({ ...base, CNI_COMMAND: "DEL", CNI_NETNS: undefined })._unsafeUnwrap();
  t.equal(del.command, "DEL");
  t.equal("netns" in del ? del.netns : "x", "", "DEL without netns is fine");
  t.same(parseCniEnv({ CNI_COMMAND: "VERSION" })._unsafeUnwrap(), { command: "VERSION" });
  t.same(parseCniEnv({ CNI_COMMAND: "GC", CNI_PATH: "/opt/cni/bin" })._unsafeUnwrap(), { command: "GC", path: "/opt/cni/bin", pathList: ["/opt/cni/bin"] });
  t.same(parseCniEnv({ CNI_COMMAND: "STATUS" })._unsafeUnwrap(), { command: "STATUS", path: "", pathList: [] });
  t.ok(parseCniEnv({ ...base, CNI_COMMAND: "ADD", CNI_PATH: undefined }).isOk(), "spec: CNI_PATH optional for ADD");
  t.ok(parseCniEnv({ ...base, CNI_COMMAND: "CHECK", CNI_ARGS: "" }).isOk());
  t.ok(parseCniEnv({ CNI_COMMAND: "VERSION", CNI_CONTAINERID: "/../bad" }).isOk(), "VERSION ignores the rest");
});

t.test("errors: code 4 naming the variables", async (t) => {
  const cases: { env: Record<string, string | undefined>; msg: RegExp; opts?: { requirePathForAttachments: boolean } }[] = [
    { env: {}, msg: /^required env variables \[CNI_COMMAND\] missing$/ },
    { env: { CNI_COMMAND: "" }, msg: /\[CNI_COMMAND\] missing/ },
    { env: { CNI_COMMAND: "add" }, msg: /^unknown CNI_COMMAND: "add"$/ },
    { env: { CNI_COMMAND: "ADD\n" }, msg: /^unknown CNI_COMMAND: "ADD\\n"$/ },
    { env: { CNI_COMMAND: "ADD" }, msg: /^required env variables \[CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME\] missing$/ },
    { env: { ...base, CNI_COMMAND: "ADD", CNI_NETNS: "" }, msg: /\[CNI_NETNS\] missing/ },
    { env: { ...base, CNI_COMMAND: "CHECK", CNI_NETNS: undefined }, msg: /\[CNI_NETNS\] missing/ },
    { env: { ...base, CNI_COMMAND: "DEL", CNI_IFNAME: undefined, CNI_CONTAINERID: undefined }, msg: /\[CNI_CONTAINERID,CNI_IFNAME\] missing/ },
    { env: { CNI_COMMAND: "GC" }, msg: /\[CNI_PATH\] missing/ },
    { env: { ...base, CNI_COMMAND: "ADD", CNI_PATH: undefined }, msg: /\[CNI_PATH\] missing/, opts: { requirePathForAttachments: true } },
    { env: { ...base, CNI_COMMAND: "ADD", CNI_CONTAINERID: "-abc" }, msg: /invalid characters in CNI_CONTAINERID/ },
    { env: { ...base, CNI_COMMAND: "ADD", CNI_CONTAINERID: "abc;rm -rf /" }, msg: /invalid characters in CNI_CONTAINERID/ },
    { env: { ...base, CNI_COMMAND: "ADD", CNI_CONTAINERID: "a/../../etc" }, msg: /invalid characters in CNI_CONTAINERID/ },
    { env: { ...base, CNI_COMMAND: "ADD", CNI_CONTAINERID: "a".repeat(1025) }, msg: /CNI_CONTAINERID is too long/ },
    { env: { ...base, CNI_COMMAND: "ADD", CNI_IFNAME: "eth0:1" }, msg: /invalid CNI_IFNAME: interface name may contain only \[A-Za-z0-9_.-\]/ },
    { env: { ...base, CNI_COMMAND: "ADD", CNI_IFNAME: "a/b" }, msg: /invalid CNI_IFNAME/ },
    { env: { ...base, CNI_COMMAND: "ADD", CNI_IFNAME: "e th" }, msg: /may contain only/ },
    { env: { ...base, CNI_COMMAND: "ADD", CNI_IFNAME: ".." }, msg: /is \. or \.\./ },
    { env: { ...base, CNI_COMMAND: "ADD", CNI_IFNAME: "abcdefghijklmnop" }, msg: /longer than 15 bytes/ },
    { env: { ...base, CNI_COMMAND: "ADD", CNI_IFNAME: "ééééééééé" }, msg: /longer than 15 bytes/ },
    { env: { ...base, CNI_COMMAND: "ADD", CNI_IFNAME: "eth\u0001" }, msg: /may contain only/ },
    { env: { ...base, CNI_COMMAND: "ADD", CNI_NETNS: "var/run/netns/x" }, msg: /invalid CNI_NETNS: must be an absolute path/ },
    { env: { ...base, CNI_COMMAND: "ADD", CNI_NETNS: "/proc/1/ns/net\u0000x" }, msg: /invalid CNI_NETNS: path contains control characters/ },
    { env: { ...base, CNI_COMMAND: "DEL", CNI_NETNS: "/" + "a".repeat(5000) }, msg: /longer than 4095 bytes/ },
    { env: { ...base, CNI_COMMAND: "ADD", CNI_PATH: "/opt/cni/bin\n/x" }, msg: /invalid CNI_PATH/ },
  ];
  for (const c of cases) {
    const r = parseCniEnv(c.env, c.opts ?? {});
    t.ok(r.isErr(), `rejected: ${JSON.stringify(c.env).slice(0, 80)}`);
    if (r.isErr()) {
      t.equal(r.error.code, CNI_ERROR.INVALID_ENVIRONMENT_VARIABLES);
      t.match(r.error.msg, c.msg);
      t.ok(r.error.details.length <= 300, "details are bounded");
    }
  }
});

t.test("interface names at the limits", async (t) => {
  t.ok(validateIfName("abcdefghijklmno").isOk(), "15 bytes");
  t.ok(validateIfName("eth0.100").isOk());
  t.ok(validateIfName("é").isErr(), "non-ASCII is refused (the shared [A-Za-z0-9_.-] rule)");
  t.equal(utf8Length("é€😀a"), 2 + 3 + 4 + 1);
  t.ok(validateIfName("a\u00a0b").isErr(), "no-break space counts as whitespace");
  t.ok(parseCniCommand("STATUS").isOk());
});
