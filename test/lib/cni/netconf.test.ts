import t from "tap";
import { parseNetConf, CNI_ERROR, DEFAULT_SOCKET_PATH, MAX_NETCONF_BYTES, checkNetConfSize, convertResult } from "../../../lib/cni/index.js";

t.test("Coil §9.2.2: parseConfig", async (t) => {
  const a = parseNetConf(Buffer.from('{"cniVersion":"0.4.0","name":"k8s","type":"coil"}'))._unsafeUnwrap();
  t.equal(a.cniVersion, "0.4.0");
  t.equal(a.name, "k8s");
  t.equal(a.type, "coil");
  t.equal(a.prevResult, undefined);
  t.equal(a.socket, DEFAULT_SOCKET_PATH);
  t.equal(a.socket, "/run/coild.sock");
  const b = parseNetConf('{"cniVersion":"0.4.0","name":"k8s","type":"coil","socket":"/tmp/coild.sock"}')._unsafeUnwrap();
  t.equal(b.socket, "/tmp/coild.sock");
  const c = parseNetConf(`{
    "cniVersion": "0.4.0", "name": "k8s", "type": "coil",
    "prevResult": {
      "ips": [ { "version": "4", "address": "10.0.0.5/32", "interface": 2 } ],
      "interfaces": [
        { "name": "cni0", "mac": "00:11:22:33:44:55" },
        { "name": "veth3243", "mac": "55:44:33:22:11:11" },
        { "name": "eth0", "mac": "99:88:77:66:55:44", "sandbox": "/var/run/netns/blue" }
      ],
      "dns": { "nameservers": [ "10.1.0.1" ] }
    }
  }`)._unsafeUnwrap();
  t.not(c.prevResult, undefined);
  t.equal(c.prevResult?.interfaces.length, 3);
  t.same(c.prevResult?.ips, [{ address: "10.0.0.5/32", interface: 2 }]);
  t.same(convertResult(c.prevResult!, "0.4.0")._unsafeUnwrap(), {
    cniVersion: "0.4.0",
    interfaces: [
      { name: "cni0", mac: "00:11:22:33:44:55" },
      { name: "veth3243", mac: "55:44:33:22:11:11" },
      { name: "eth0", mac: "99:88:77:66:55:44", sandbox: "/var/run/netns/blue" },
    ],
    ips: [{ version: "4", interface: 2, address: "10.0.0.5/32" }],
    dns: { nameservers: ["10.1.0.1"] },
  }, "pass-through prints the same prevResult");
});

t.test("full 1.1.0 config with GC and runtime keys", async (t) => {
  const conf = parseNetConf(JSON.stringify({
    cniVersion: "1.1.0", cniVersions: ["1.0.0", "1.1.0"], name: "k8s-pod-network", type: "coil",
    capabilities: { portMappings: true }, runtimeConfig: { portMappings: [{ hostPort: 80 }] },
    "cni.dev/valid-attachments": [{ containerID: "abc", ifname: "eth0" }],
    "cni.dev/attachments": [{ containerID: "zzz", ifname: "eth0" }],
    ipam: { anything: 1 },
  }))._unsafeUnwrap();
  t.same(conf.cniVersions, ["1.0.0", "1.1.0"]);
  t.same(conf.capabilities, { portMappings: true });
  t.same(conf.runtimeConfig, { portMappings: [{ hostPort: 80 }] });
  t.same(conf.validAttachments, [{ containerID: "abc", ifname: "eth0" }], "valid-attachments wins");
  t.same(conf.raw["ipam"], { anything: 1 });
  const old = parseNetConf('{"cniVersion":"1.1.0","name":"n","type":"coil","cni.dev/attachments":[{"containerID":"x","ifname":"eth1"}]}')._unsafeUnwrap();
  t.same(old.validAttachments, [{ containerID: "x", ifname: "eth1" }], "falls back to cni.dev/attachments");
});

t.test("errors by code", async (t) => {
  const ok = { cniVersion: "1.0.0", name: "n", type: "coil" };
  const cases: [string | Uint8Array, number, RegExp][] = [
    ["", CNI_ERROR.DECODING_FAILURE, /error unmarshalling network config/],
    ["{", CNI_ERROR.DECODING_FAILURE, /error unmarshalling/],
    ["[1,2]", CNI_ERROR.DECODING_FAILURE, /error unmarshalling/],
    ["null", CNI_ERROR.DECODING_FAILURE, /error unmarshalling/],
    [new Uint8Array([0x7b, 0xff, 0x7d]), CNI_ERROR.DECODING_FAILURE, /error unmarshalling/],
    [JSON.stringify({ ...ok, cniVersion: undefined }), CNI_ERROR.INCOMPATIBLE_CNI_VERSION, /incompatible CNI versions/],
    [JSON.stringify({ ...ok, cniVersion: "" }), CNI_ERROR.INCOMPATIBLE_CNI_VERSION, /incompatible/],
    [JSON.stringify({ ...ok, cniVersion: "0.3.0" }), CNI_ERROR.INCOMPATIBLE_CNI_VERSION, /incompatible/],
    [JSON.stringify({ ...ok, cniVersion: "1.2.0" }), CNI_ERROR.INCOMPATIBLE_CNI_VERSION, /incompatible/],
    [JSON.stringify({ ...ok, cniVersion: 1 }), CNI_ERROR.INVALID_NETWORK_CONFIG, /"cniVersion" must be a string/],
    [JSON.stringify({ ...ok, name: undefined }), CNI_ERROR.INVALID_NETWORK_CONFIG, /missing name/],
    [JSON.stringify({ ...ok, name: "bad name" }), CNI_ERROR.INVALID_NETWORK_CONFIG, /invalid characters found in network name/],
    [JSON.stringify({ ...ok, name: 5 }), CNI_ERROR.INVALID_NETWORK_CONFIG, /"name" must be a string/],
    [JSON.stringify({ ...ok, type: undefined }), CNI_ERROR.INVALID_NETWORK_CONFIG, /missing type/],
    [JSON.stringify({ ...ok, socket: 7 }), CNI_ERROR.INVALID_NETWORK_CONFIG, /"socket" must be a string/],
    [JSON.stringify({ ...ok, socket: "" }), CNI_ERROR.INVALID_NETWORK_CONFIG, /missing socket/],
    [JSON.stringify({ ...ok, capabilities: { a: "yes" } }), CNI_ERROR.INVALID_NETWORK_CONFIG, /"capabilities" must be an object of booleans/],
    [JSON.stringify({ ...ok, capabilities: [true] }), CNI_ERROR.INVALID_NETWORK_CONFIG, /capabilities/],
    [JSON.stringify({ ...ok, runtimeConfig: "x" }), CNI_ERROR.INVALID_NETWORK_CONFIG, /runtimeConfig/],
    [JSON.stringify({ ...ok, cniVersions: "1.1.0" }), CNI_ERROR.INVALID_NETWORK_CONFIG, /cniVersions/],
    [JSON.stringify({ ...ok, "cni.dev/valid-attachments": [{ containerID: 1 }] }), CNI_ERROR.INVALID_NETWORK_CONFIG, /valid-attachments/],
    [JSON.stringify({ ...ok, prevResult: [] }), CNI_ERROR.INVALID_NETWORK_CONFIG, /"prevResult" must be an object/],
    [JSON.stringify({ ...ok, prevResult: { ips: [{ address: "10.0.0.300/32" }] } }), CNI_ERROR.DECODING_FAILURE, /failed to parse prevResult/],
    [JSON.stringify({ ...ok, prevResult: { cniVersion: "0.4.0" } }), CNI_ERROR.DECODING_FAILURE, /failed to parse prevResult/],
  ];
  for (const [input, code, msg] of cases) {
    const r = parseNetConf(input);
    t.ok(r.isErr(), `rejected ${typeof input === "string" ? input.slice(0, 70) : "bytes"}`);
    if (r.isErr()) {
      t.equal(r.error.code, code);
      t.match(r.error.msg, msg);
    }
  }
});

t.test("issue 7: stdin larger than MAX_NETCONF_BYTES is refused before decoding (code 7)", async (t) => {
  t.equal(MAX_NETCONF_BYTES, 1024 * 1024);
  const conf = (name: string): string => JSON.stringify({ cniVersion: "1.0.0", name, type: "coil" });
  const pad = MAX_NETCONF_BYTES - conf("").length;
  t.equal(parseNetConf(Buffer.from(conf("a".repeat(pad))))._unsafeUnwrap().name.length, pad, "exactly the limit parses");
  for (const input of [Buffer.from(conf("a".repeat(pad + 1))), conf("a".repeat(pad + 1)), conf("é".repeat(pad / 2 + 1)), Buffer.alloc(64 * 1024 * 1024, 0x20)]) {
    const e = parseNetConf(input)._unsafeUnwrapErr();
    t.same([e.code, e.msg], [CNI_ERROR.INVALID_NETWORK_CONFIG, "network config is too large"]);
    t.match(e.details, /^read \d+ bytes from stdin, at most 1048576 are accepted$/);
  }
  t.ok(checkNetConfSize(MAX_NETCONF_BYTES).isOk());
  t.equal(checkNetConfSize(MAX_NETCONF_BYTES + 1)._unsafeUnwrapErr().details, "read 1048577 bytes from stdin, at most 1048576 are accepted");
});

t.test("issue 7: errors quote netconf values bounded", async (t) => {
  const big = "x".repeat(500_000);
  const ok = { cniVersion: "1.0.0", name: "n", type: "coil" };
  const cases: [string, Record<string, unknown>][] = [
    ["name with a bad character", { ...ok, name: `${big}!` }],
    ["cniVersion", { ...ok, cniVersion: big }],
    ["cniVersion of the wrong type", { ...ok, cniVersion: [big] }],
    ["capabilities", { ...ok, capabilities: { a: big } }],
    ["cniVersions", { ...ok, cniVersions: [1, big] }],
    ["valid-attachments", { ...ok, "cni.dev/valid-attachments": [{ containerID: big }] }],
    ["prevResult address", { ...ok, prevResult: { ips: [{ address: big }] } }],
    ["prevResult address with a slash", { ...ok, prevResult: { ips: [{ address: `${big}/24` }] } }],
    ["prevResult gateway", { ...ok, prevResult: { ips: [{ address: "10.0.0.1/32", gateway: big }] } }],
    ["prevResult mac", { ...ok, prevResult: { interfaces: [{ name: "eth0", mac: [big] }] } }],
    ["prevResult ips not a list", { ...ok, prevResult: { ips: big } }],
    ["prevResult version", { ...ok, prevResult: { cniVersion: big } }],
  ];
  for (const [name, conf] of cases) {
    const e = parseNetConf(JSON.stringify(conf))._unsafeUnwrapErr();
    t.ok(e.msg.length + e.details.length < 1000, `${name}: code ${e.code}, ${e.msg.length}+${e.details.length} chars`);
    t.match(`${e.msg} ${e.details}`, /… \(\d+ bytes\)/, `${name}: says the size`);
  }
  const json = parseNetConf(`{"name":"${big}`)._unsafeUnwrapErr();
  t.ok(json.details.length < 400, `JSON syntax error bounded (${json.details.length} chars)`);
  t.match(parseNetConf(JSON.stringify({ ...ok, prevResult: { ips: [{ address: "10.0.0.1" }] } }))._unsafeUnwrapErr().details, /invalid CIDR "10.0.0.1": missing \/prefix/, "the CIDR reason is kept");
});
