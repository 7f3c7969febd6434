import t from "tap";
import fc from "fast-check";
import {
  CNI_ERROR,
  SUPPORTED_VERSIONS,
  convertResult,
  decodeUtf8,
  parsePrevResult,
  parseResult,
  prevResultSummary,
  chainedHostInterfaces,
  chainedPodAddresses,
  type CniResult,
} from "../../../lib/cni/index.js";
import { parseCidr, parseIp } from "../../../lib/net/index.js";

const cidr = (s: string) => parseCidr(s)._unsafeUnwrap();
const ip = (s: string) => parseIp(s)._unsafeUnwrap();

/** A dual-stack Coil IPAM result (as coild builds it), plus 1.1.0-only fields. */
const full: CniResult = {
  cniVersion: "1.1.0",
  interfaces: [
    { name: "veth1234", mac: "aa:bb:cc:dd:ee:01" },
    { name: "eth0", mac: "aa:bb:cc:dd:ee:02", sandbox: "/var/run/netns/pod1", mtu: 1450 },
  ],
  ips: [
    { address: cidr("10.100.0.5/32"), interface: 1 },
    { address: cidr("fd02::5/128"), interface: 1, gateway: ip("fd02::1") },
  ],
  routes: [{ dst: cidr("0.0.0.0/0"), gw: ip("169.254.1.1"), mtu: 1400, table: 0 }],
  dns: {},
};

t.test("convertResult: exact JSON per version (golden)", async (t) => {
  const v040 = JSON.stringify(convertResult(full, "0.4.0")._unsafeUnwrap());
  t.equal(
    v040,
    '{"cniVersion":"0.4.0","interfaces":[{"name":"veth1234","mac":"aa:bb:cc:dd:ee:01"},{"name":"eth0","mac":"aa:bb:cc:dd:ee:02","sandbox":"/var/run/netns/pod1"}],' +
      '"ips":[{"version":"4","interface":1,"address":"10.100.0.5/32"},{"version":"6","interface":1,"address":"fd02::5/128","gateway":"fd02::1"}],' +
      '"routes":[{"dst":"0.0.0.0/0","gw":"169.254.1.1","mtu":1400,"table":0}],"dns":{}}',
  );
  const v031 = convertResult(full, "0.3.1")._unsafeUnwrap() as { cniVersion: string };
  t.equal(v031.cniVersion, "0.3.1");
  t.equal(JSON.stringify({ ...v031, cniVersion: "0.4.0" }), v040, "0.3.1 has the 0.4.0 shape");
  const v110 = JSON.stringify(convertResult(full, "1.1.0")._unsafeUnwrap());
  t.equal(
    v110,
    '{"cniVersion":"1.1.0","interfaces":[{"mac":"aa:bb:cc:dd:ee:01","name":"veth1234"},{"mac":"aa:bb:cc:dd:ee:02","mtu":1450,"name":"eth0","sandbox":"/var/run/netns/pod1"}],' +
      '"ips":[{"address":"10.100.0.5/32","interface":1},{"address":"fd02::5/128","gateway":"fd02::1","interface":1}],' +
      '"routes":[{"dst":"0.0.0.0/0","gw":"169.254.1.1","mtu":1400,"table":0}]}',
    "1.x: no ips version, no empty dns, keys sorted as Go's map marshalling",
  );
  const v100 = convertResult(full, "1.0.0")._unsafeUnwrap() as { cniVersion: string };
  t.equal(JSON.stringify({ ...v100, cniVersion: "1.1.0" }), v110);
  for (const v of SUPPORTED_VERSIONS) t.matchSnapshot(convertResult(full, v)._unsafeUnwrap(), `result as ${v}`);
  const empty: CniResult = { cniVersion: "1.1.0", interfaces: [], ips: [], routes: [], dns: {} };
  t.equal(JSON.stringify(convertResult(empty, "1.1.0")._unsafeUnwrap()), '{"cniVersion":"1.1.0"}', "Coil egress-only empty result");
  t.equal(JSON.stringify(convertResult(empty, "0.4.0")._unsafeUnwrap()), '{"cniVersion":"0.4.0","dns":{}}');
  const withDns = { ...empty, dns: { nameservers: ["10.0.0.10"], search: ["svc.cluster.local"] } };
  t.equal(JSON.stringify(convertResult(withDns, "1.0.0")._unsafeUnwrap()), '{"cniVersion":"1.0.0","dns":{"nameservers":["10.0.0.10"],"search":["svc.cluster.local"]}}');
  const bad = convertResult(full, "0.2.0");
  t.equal(bad._unsafeUnwrapErr().code, CNI_ERROR.INCOMPATIBLE_CNI_VERSION);
});

t.test("parseResult / parsePrevResult", async (t) => {
  const fromCoild = parseResult(JSON.parse(JSON.stringify(convertResult(full, "1.1.0")._unsafeUnwrap())))._unsafeUnwrap();
  t.same(fromCoild, full, "1.1.0 JSON parses back to the same result");
  const from040 = parseResult(convertResult(full, "0.4.0")._unsafeUnwrap())._unsafeUnwrap();
  t.same(from040.ips, full.ips, "0.4.0 ips version dropped");
  t.same(from040.interfaces[1], { name: "eth0", mac: "aa:bb:cc:dd:ee:02", sandbox: "/var/run/netns/pod1" }, "0.4.0 has no interface mtu");
  t.same(parseResult({ cniVersion: "1.0.0", ips: [{ address: "FD02::0005/128" }] })._unsafeUnwrap().ips, [{ address: "fd02::5/128" }], "canonical text");
  const bads: [unknown, RegExp][] = [
    [null, /expected a JSON object/],
    [{ cniVersion: "0.2.0" }, /unsupported result version/],
    [{}, /unsupported result version null/],
    [{ cniVersion: "1.1.0", ips: {} }, /ips: expected an array/],
    [{ cniVersion: "1.1.0", ips: [{ address: "10.0.0.1" }] }, /ips\[0\]\.address: invalid CIDR/],
    [{ cniVersion: "1.1.0", ips: [{ address: "10.0.0.1/32", gateway: "x" }] }, /ips\[0\]\.gateway: invalid IP/],
    [{ cniVersion: "1.1.0", ips: [{ address: "10.0.0.1/32", interface: -1 }] }, /interface: expected a non-negative integer/],
    [{ cniVersion: "1.1.0", interfaces: [{ mac: "x" }] }, /interfaces\[0\]: expected an object with a string name/],
    [{ cniVersion: "1.1.0", interfaces: [{ name: "e", mtu: 1.5 }] }, /mtu/],
    [{ cniVersion: "1.1.0", routes: [{ gw: "10.0.0.1" }] }, /routes\[0\]\.dst/],
    [{ cniVersion: "1.1.0", routes: [{ dst: "0.0.0.0/0", table: "main" }] }, /table: expected an integer/],
    [{ cniVersion: "1.1.0", dns: { nameservers: "1.1.1.1" } }, /dns\.nameservers/],
    [{ cniVersion: "1.1.0", dns: [] }, /dns: expected an object/],
  ];
  for (const [json, details] of bads) {
    const r = parseResult(json);
    t.ok(r.isErr(), JSON.stringify(json));
    if (r.isErr()) {
      t.equal(r.error.code, CNI_ERROR.DECODING_FAILURE);
      t.match(r.error.details, details);
    }
  }
  t.equal(parsePrevResult({}, "0.4.0")._unsafeUnwrap().cniVersion, "0.4.0", "missing version means the config's");
  t.ok(parsePrevResult({ cniVersion: "0.3.1" }, "0.4.0").isOk(), "same family");
  t.match(parsePrevResult({ cniVersion: "1.0.0" }, "0.4.0")._unsafeUnwrapErr().details, /does not match config version/);
  t.same(prevResultSummary(full), { ips: ["10.100.0.5", "fd02::5"], interfaces: { veth1234: false, eth0: true } });
});

t.test("egress-only: the pod's addresses and host-side interfaces of a chained call", async (t) => {
  const summary = (ips: string[], interfaces: Record<string, boolean>) => ({ ips: ips.map(ip), interfaces });
  t.same(chainedPodAddresses(summary(["fd02::5", "10.100.0.5", "10.100.0.6", "fd02::6"], {})), { ipv4: "10.100.0.5", ipv6: "fd02::5" }, "first IPv4, first IPv6");
  t.same(chainedPodAddresses(summary(["10.100.0.5", "10.100.0.6"], {})), { ipv4: "10.100.0.5" }, "a second IPv4 address is not taken for IPv6 (Coil's getPodIPs would)");
  t.same(chainedPodAddresses(summary([], {})), {}, "none");
  t.same(chainedHostInterfaces(summary([], { cni0: false, veth1: false, eth0: true })), ["cni0", "veth1"], "no-sandbox interfaces in prevResult order");
  t.same(chainedHostInterfaces(prevResultSummary(full)), ["veth1234"]);
  t.same(chainedHostInterfaces(summary([], { eth0: true })), [], "sandbox only");
});

t.test("property: convert → parse → convert is stable for every version", async () => {
  const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255), fc.integer({ min: 0, max: 32 }))
    .map(([a, b, c, d, p]) => cidr(`${a}.${b}.${c}.${d}/${p}`));
  const arbResult = fc.record({
    interfaces: fc.array(fc.record({ name: fc.constantFrom("eth0", "veth1", "lo"), mac: fc.constantFrom("", "aa:bb:cc:dd:ee:ff") }), { maxLength: 3 }),
    ips: fc.array(fc.record({ address: v4, interface: fc.nat(3) }), { maxLength: 3 }),
    routes: fc.array(fc.record({ dst: v4, priority: fc.nat(10), scope: fc.nat(255) }), { maxLength: 3 }),
  });
  fc.assert(
    fc.property(arbResult, fc.constantFrom(...SUPPORTED_VERSIONS), (r, v) => {
      const res = { cniVersion: "1.1.0" as const, dns: {}, ...r };
      const once = convertResult(res, v)._unsafeUnwrap();
      const again = convertResult(parseResult(once)._unsafeUnwrap(), v)._unsafeUnwrap();
      return JSON.stringify(once) === JSON.stringify(again);
    }),
    { numRuns: 200 },
  );
});

t.test("decodeUtf8 agrees with Node's strict decoder", async (t) => {
  const node = new TextDecoder("utf-8", { fatal: true });
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 16 }), (bytes) => {
      let want: string | undefined;
      try {
        want = node.decode(bytes);
      } catch {
        want = undefined;
      }
      // Node keeps a leading BOM only with ignoreBOM; strip it for comparison.
      const got = decodeUtf8(bytes);
      return got === want || (got !== undefined && got.replace(/^\uFEFF/, "") === want);
    }),
    { numRuns: 3000 },
  );
  fc.assert(fc.property(fc.string({ unit: "grapheme" }), (s) => decodeUtf8(Buffer.from(s, "utf8")) === s));
  t.equal(decodeUtf8(new Uint8Array([0xc0, 0x80])), undefined, "overlong NUL");
  t.equal(decodeUtf8(new Uint8Array([0xed, 0xa0, 0x80])), undefined, "surrogate");
  t.equal(decodeUtf8(new Uint8Array([0xf4, 0x90, 0x80, 0x80])), undefined, "> U+10FFFF");
});
