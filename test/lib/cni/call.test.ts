import t from "tap";
import { convertResult, parseCniCall, parseResult, vethAttachmentResult, type CniCallInput } from "../../../lib/cni/index.js";
import type { Ip } from "../../../lib/net/index.js";

const input = (over: Partial<CniCallInput> = {}): CniCallInput => ({
  containerId: "c1",
  netns: "/var/run/netns/p1",
  ifname: "eth0",
  args: { K8S_POD_NAMESPACE: "default", K8S_POD_NAME: "web-0", K8S_POD_INFRA_CONTAINER_ID: "c1", IS_CHAINED: "false" },
  ips: [],
  interfaces: {},
  ...over,
});

t.test("a valid call is parsed once into the domain shape", async (t) => {
  t.same(parseCniCall(input(), "ADD")._unsafeUnwrap(), { containerId: "c1", ifname: "eth0", netns: "/var/run/netns/p1", pod: { namespace: "default", name: "web-0" } });
  t.same(parseCniCall(input({ netns: "" }), "DEL")._unsafeUnwrap(), { containerId: "c1", ifname: "eth0", pod: { namespace: "default", name: "web-0" } }, "DEL without a netns");
  t.same(parseCniCall(input({ args: {} }), "CHECK")._unsafeUnwrap().pod, { namespace: "", name: "" }, "pod keys not sent");
  const chained = parseCniCall(input({ args: { IS_CHAINED: "true" }, ips: ["10.1.0.5", "fd01::5"], interfaces: { eth0: true, veth1: false } }), "ADD")._unsafeUnwrap();
  t.same(chained.chained, { ips: ["10.1.0.5", "fd01::5"], interfaces: { eth0: true, veth1: false } }, "chained: prevResult's addresses and interfaces");
  for (const v of ["1", "t", "T", "TRUE", "True"]) t.ok(parseCniCall(input({ args: { IS_CHAINED: v } }), "ADD")._unsafeUnwrap().chained, `IS_CHAINED=${v} (Go ParseBool)`);
  for (const v of ["0", "f", "F", "FALSE", "False", "false"]) t.equal(parseCniCall(input({ args: { IS_CHAINED: v } }), "ADD")._unsafeUnwrap().chained, undefined, `IS_CHAINED=${v}`);
});

t.test("bad input: a precise CNI error, in the order the fields are read", async (t) => {
  const bad: [Partial<CniCallInput>, "ADD" | "DEL" | "CHECK", object][] = [
    [{ containerId: "" }, "ADD", { code: 4, msg: /CNI_CONTAINERID/ }],
    [{ containerId: "-x" }, "DEL", { code: 4, msg: /CNI_CONTAINERID/, details: '"-x"' }],
    [{ containerId: "a".repeat(1025) }, "CHECK", { code: 4, msg: "CNI_CONTAINERID is too long" }],
    [{ ifname: "" }, "ADD", { code: 4, msg: /invalid CNI_IFNAME/ }],
    [{ ifname: "a/b" }, "DEL", { code: 4, msg: /invalid CNI_IFNAME/ }],
    [{ ifname: "x".repeat(16) }, "ADD", { code: 4, msg: /invalid CNI_IFNAME/ }],
    [{ netns: "" }, "ADD", { code: 4, msg: "invalid CNI_NETNS: must be an absolute path" }],
    [{ netns: "" }, "CHECK", { code: 4, msg: "invalid CNI_NETNS: must be an absolute path" }],
    [{ netns: "relative/ns" }, "DEL", { code: 4, msg: "invalid CNI_NETNS: must be an absolute path" }],
    [{ netns: "/var/run/netns/\nx" }, "ADD", { code: 4, msg: "invalid CNI_NETNS: path contains control characters" }],
    [{ args: { K8S_POD_NAMESPACE: "Team_A" } }, "ADD", { code: 4, msg: "failed to load CNI_ARGS", details: /K8S_POD_NAMESPACE "Team_A" is not a valid namespace name/ }],
    [{ args: { K8S_POD_NAME: "web..0" } }, "ADD", { code: 4, msg: "failed to load CNI_ARGS", details: /K8S_POD_NAME "web\.\.0" is not a valid pod name/ }],
    [{ args: { IS_CHAINED: "yes" } }, "ADD", { code: 999, msg: "failed to get CNI arguments", details: 'IS_CHAINED "yes" is not a boolean' }],
    [{ args: { IS_CHAINED: "true" }, ips: ["10.1.0.500"] }, "ADD", { code: 6, msg: "failed to parse prevResult", details: /"10\.1\.0\.500"/ }],
  ];
  for (const [over, cmd, want] of bad) {
    const r = cmd === "DEL" ? parseCniCall(input(over), cmd) : parseCniCall(input(over), cmd);
    t.match(r.isErr() ? r.error : r.value, { kind: "cni-error", ...want }, `${cmd} ${JSON.stringify(over).slice(0, 80)}`);
  }
  t.ok(parseCniCall(input({ args: { K8S_POD_NAMESPACE: "Team_A", IS_CHAINED: "yes" } }), "DEL").isOk(), "DEL does not read what it does not use (pod names, chaining), as Coil");
  t.ok(parseCniCall(input({ args: { K8S_POD_NAME: "Bad_Name" } }), "CHECK").isOk(), "nor does CHECK");
});

t.test("a veth attachment's result is built in Coil's shape and prints as the daemon always answered", async (t) => {
  const r = vethAttachmentResult({ ifname: "eth0", sandbox: "/var/run/netns/p1", hostIfname: "veth0a1b2c3d", ipv4: "10.2.0.5" as Ip, ipv6: "fd02::5" as Ip });
  t.same(convertResult(r, "1.1.0")._unsafeUnwrap(), {
    cniVersion: "1.1.0",
    interfaces: [{ name: "eth0", sandbox: "/var/run/netns/p1" }, { name: "veth0a1b2c3d" }],
    ips: [{ address: "10.2.0.5/32", interface: 0 }, { address: "fd02::5/128", interface: 0 }],
  });
  t.equal(
    JSON.stringify(convertResult(r, "1.1.0")._unsafeUnwrap()),
    '{"cniVersion":"1.1.0","interfaces":[{"name":"eth0","sandbox":"/var/run/netns/p1"},{"name":"veth0a1b2c3d"}],"ips":[{"address":"10.2.0.5/32","interface":0},{"address":"fd02::5/128","interface":0}]}',
    "byte for byte what coild sent before (a literal)",
  );
  t.same(parseResult(convertResult(r, "1.1.0")._unsafeUnwrap())._unsafeUnwrap(), r, "parses back to the same value");
  const v6 = vethAttachmentResult({ ifname: "net1", sandbox: "/p", hostIfname: "vethx", ipv6: "fd02::7" as Ip });
  t.same(v6.ips, [{ address: "fd02::7/128", interface: 0 }], "single stack");
});
