import t from "tap";
import fc from "fast-check";
import { isDns1123Label, isDns1123Subdomain } from "../../../lib/net/index.js";

t.test("DNS-1123 labels (Namespace names)", async (t) => {
  for (const ok of ["a", "default", "kube-system", "0", "a1-b2", "x".repeat(63)]) t.ok(isDns1123Label(ok), ok);
  for (const bad of ["", "-a", "a-", "A", "a.b", "a_b", "a b", "x".repeat(64), "ü"]) t.notOk(isDns1123Label(bad), JSON.stringify(bad));
});

t.test("DNS-1123 subdomains (Pod, AddressPool names)", async (t) => {
  for (const ok of ["a", "default", "pod-1.example", "a.b.c", `${"x".repeat(63)}.${"y".repeat(63)}`, `${"a.".repeat(126)}a`]) {
    t.ok(isDns1123Subdomain(ok), ok);
  }
  for (const bad of ["", ".a", "a.", "a..b", "a.-b", "a-.b", "A.b", "a:b", "a_b", `${"a.".repeat(126)}ab`]) {
    t.notOk(isDns1123Subdomain(bad), JSON.stringify(bad));
  }
});

t.test("every label is a subdomain; a subdomain is dot-joined labels", async () => {
  fc.assert(fc.property(fc.stringMatching(/^[a-z0-9.-]{0,70}$/), (s) => {
    if (isDns1123Label(s)) return isDns1123Subdomain(s);
    const parts = s.split(".");
    return isDns1123Subdomain(s) === (s.length <= 253 && parts.every((p) => p.length > 0 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(p)));
  }));
});
