import t from "tap";
import { parseIp, parseCidr, cidrSubnet, cidrContains, ipAdd, cidrNetwork } from "../../../lib/net/index.js";

t.test("parseIp", async (t) => {
  const cases = [
    { in: "10.0.0.1", ok: "10.0.0.1" },
    { in: "FD02::0900:0101", ok: "fd02::900:101" },
    { in: "010.0.0.1", ok: null },
    { in: "1.2.3", ok: null },
    { in: "fe80::1%eth0", ok: null },
    { in: "a.b.c.d", ok: null },
    { in: "", ok: null },
  ];
  for (const c of cases) {
    const r = parseIp(c.in);
    if (c.ok === null) t.ok(r.isErr(), `${c.in} rejected`);
    else t.equal(r._unsafeUnwrap(), c.ok, c.in);
  }
});

t.test("parseCidr and arithmetic", async (t) => {
  t.ok(parseCidr("10.0.0.0/33").isErr());
  t.ok(parseCidr("10.0.0.0").isErr());
  t.ok(parseCidr("fd02::/129").isErr());
  t.ok(parseCidr("10.0.0.0/08").isErr());
  const c = parseCidr("10.2.0.0/24")._unsafeUnwrap();
  t.equal(cidrSubnet(c, 30, 3)._unsafeUnwrap(), "10.2.0.12/30");
  t.ok(cidrSubnet(c, 30, 64).isErr());
  const v6 = parseCidr("fd02::900:0/116")._unsafeUnwrap();
  t.equal(cidrSubnet(v6, 128, 257)._unsafeUnwrap(), "fd02::900:101/128");
  t.ok(cidrContains(c, parseIp("10.2.0.255")._unsafeUnwrap()));
  t.notOk(cidrContains(c, parseIp("10.2.1.0")._unsafeUnwrap()));
  t.notOk(cidrContains(c, parseIp("::1")._unsafeUnwrap()));
  t.ok(ipAdd(parseIp("255.255.255.255")._unsafeUnwrap(), 1).isErr());
  t.equal(cidrNetwork(parseCidr("10.1.2.3/16")._unsafeUnwrap()), "10.1.0.0/16");
});
