// The --pools file names pools with Kubernetes' DNS-1123 subdomain rule (lib/net's one rule).
import t from "tap";
import { parsePools } from "../../../../adapters/daemon/store/pools-file.js";

const doc = (name: string): string =>
  JSON.stringify([{ apiVersion: "coil.cybozu.com/v2", kind: "AddressPool", metadata: { name }, spec: { subnets: [{ ipv4: "10.0.0.0/24" }] } }]);

t.test("pool names are DNS-1123 subdomains", async (t) => {
  for (const name of ["default", "pool-1", "a.b", "x".repeat(253)]) t.ok(parsePools(doc(name), "p.json").isOk(), name);
  // "a..b" and "a.-b" passed the earlier pools-file pattern, which allowed any run of dots and dashes.
  for (const name of ["Default", "a..b", "a.-b", "a-.b", "-a", "a:b", "x".repeat(254)]) {
    const r = parsePools(doc(name), "p.json");
    t.match(r.isErr() && r.error.problems.join("\n"), /metadata\.name: must be a DNS-1123 subdomain/, name);
  }
});
