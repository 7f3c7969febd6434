import t from "tap";
import { createHash } from "node:crypto";
import {
  formatLinkAlias,
  fouLinkName,
  hostVethName,
  parseLinkAlias,
  sysctlIfName,
  validateLinkName,
  vxlanLinkName,
  vxlanVniFor,
} from "../../../lib/plan/index.js";
import { ip } from "./fixtures.js";

t.test("hostVethName: Coil random and Calico-compatible names", async (t) => {
  t.same(hostVethName({ random: "3A9F01C2" })._unsafeUnwrap(), "veth3a9f01c2");
  t.same(hostVethName({ random: Uint8Array.from([0xde, 0xad, 0xbe, 0xef]) })._unsafeUnwrap(), "vethdeadbeef");
  for (const bad of ["", "123", "3a9f01c2zz", "zzzzzzzz", "3a9f01c23"]) {
    t.equal(hostVethName({ random: bad })._unsafeUnwrapErr().kind, "invalid-random", `random ${JSON.stringify(bad)}`);
  }
  t.equal(hostVethName({ random: Uint8Array.from([1, 2, 3]) }).isErr(), true);
  t.equal(hostVethName({}).isErr(), true);
  const calico = hostVethName({ compatCalico: true, podNamespace: "default", podName: "nginx" })._unsafeUnwrap();
  const want = "veth" + createHash("sha1").update("default.nginx").digest("hex").slice(0, 11);
  t.equal(calico, want);
  t.equal(calico.length, 15);
  t.equal(hostVethName({ compatCalico: true, podName: "x" }).isErr(), true);
});

t.test("link alias round trip, egress-only form, hostile fields", async (t) => {
  const a = formatLinkAlias({ pool: "default", containerId: "abc123", ifname: "eth0" })._unsafeUnwrap();
  t.equal(a, "COIL:default:abc123:eth0");
  t.same(parseLinkAlias(a)._unsafeUnwrap(), { pool: "default", containerId: "abc123", ifname: "eth0" });
  t.same(parseLinkAlias("COIL::0f1e-uid:eth0")._unsafeUnwrap(), { pool: "", containerId: "0f1e-uid", ifname: "eth0" });
  const badAliases = ["COIL:a:b", "COIL:a:b:c:d", "CALI:a:b:c", "COIL:p::eth0", "COIL:p:id:", "COIL:p:i d:eth0", "", "COIL:p:id:eth0\n"];
  for (const b of badAliases) t.equal(parseLinkAlias(b)._unsafeUnwrapErr().kind, "invalid-alias", JSON.stringify(b));
  t.equal(formatLinkAlias({ pool: "a:b", containerId: "x", ifname: "eth0" }).isErr(), true);
  t.equal(formatLinkAlias({ pool: "p", containerId: "x".repeat(200), ifname: "eth0" }).isErr(), true);
});

t.test("tunnel link names", async (t) => {
  t.equal(fouLinkName(ip("10.1.1.1")), "fou4_0a010101");
  const v6 = Buffer.from("fd020000000000000000000000000101", "hex");
  t.equal(fouLinkName(ip("fd02::101")), "fou6_" + createHash("sha1").update(v6).digest("hex").slice(0, 8));
  t.equal(vxlanLinkName(ip("10.1.1.1")), "vx4_0a010101");
  t.match(vxlanLinkName(ip("fd02::101")), /^vx6_[0-9a-f]{8}$/);
  const vni = vxlanVniFor(ip("10.2.0.5"));
  t.ok(vni >= 1 && vni <= 0xffffff);
  t.not(vxlanVniFor(ip("10.2.0.5")), vxlanVniFor(ip("10.2.0.6")));
});

t.test("interface names: hostile names rejected", async (t) => {
  for (const good of ["eth0", "veth3a9f01c2", "net1", "eth0.100", "a", "x".repeat(15)]) t.ok(validateLinkName("f", good).isOk(), good);
  const bad = ["", "x".repeat(16), ".", "..", "eth0;reboot", "a b", "a/b", "a:b", "-eth0", "eth0\n", "$(id)", "é"];
  for (const b of bad) t.equal(validateLinkName("f", b)._unsafeUnwrapErr().kind, "invalid-name", JSON.stringify(b));
  t.equal(sysctlIfName("eth0.100"), "eth0/100");
});
