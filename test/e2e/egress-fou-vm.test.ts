/**
 * The egress data path over FoU, as Coil builds it, on a real kernel with FoU, IPIP and ip6tnl
 * (issue 10 item 4). This machine's kernel has none of them, so the test boots Debian's stock
 * kernel in qemu (scripts/vm/run-in-vm.sh, docs/vm-tests.md) and runs test/e2e/vm/egress-fou-guest.ts
 * inside it; the guest's header says which parts run as coild and coil-egress run them in
 * production (their planners, coild's NAT hook and EgressWatcher steps, the kernel executor) and
 * which are driven directly (no API server or daemon process; kube-proxy's DNAT is an nft rule).
 * It checks: the client tunnels named and configured as Coil's (`fou4_<hex>` ipip, `fou6_<sha1>`
 * ip6tnl, TTL 225, encap fou sport/dport 5555, the flow-based `coil_ipip4/6` catch-alls), IPv4
 * and IPv6 1 MiB transfers through the egress with only the egress pod's address seen by the
 * "internet", and `fouSourcePortAuto: true` applied to the running pod: both links recreated with
 * `encap-sport auto`, traffic still flowing, the replies now decapsulated by the catch-alls.
 * Measures the VM's boot and the FoU transfers against direct ones (bench/RESULTS-egress.md).
 */
import t from "tap";
import type { Ip } from "../../lib/net/index.js";
import { fouLinkName } from "../../lib/plan/index.js";
import { requireRoot } from "../helpers/netns.js";
import { bundleForVm, requireVm, runInVm } from "../helpers/vm.js";
import { scaledTimeout } from "../helpers/wait.js";
import type { GuestReport, LinkView, Transfer } from "./vm/egress-fou-guest.js";

// Nominal 5 min for the VM run (≈1 min on a quiet machine, 3.5 min at load 20 on 2 cores).
const VM_TIMEOUT_MS = scaledTimeout(300_000);
t.setTimeout(VM_TIMEOUT_MS + 120_000);

const ROUNDS = 10;
const CLIENT = { v4: "10.100.0.5", v6: "fd10:100::5" };
const EGRESS_POD = { v4: "10.100.0.11", v6: "fd10:100::11" };
const FOU4 = fouLinkName("10.96.0.10" as Ip);
const FOU6 = fouLinkName("fd00:10:96::10" as Ip);

function link(views: readonly LinkView[], name: string): LinkView {
  const v = views.find((l) => l.name === name);
  if (v === undefined) throw new Error(`link ${name} missing`);
  return v;
}
const rate = (x: Transfer): string => (x.seconds > 0 ? `${(x.ok / x.seconds).toFixed(1)} MiB/s` : "n/a");

t.test("FoU egress in a VM: Coil's tunnels, SNAT through the egress pod, fouSourcePortAuto applied live", async (t) => {
  if (!requireRoot(t)) return;
  if (!(await requireVm(t))) return;
  // Bundled on the host: the guest program starts at once instead of compiling its imports under emulation.
  const guest = await bundleForVm(t, "test/e2e/vm/egress-fou-guest.ts");
  const run = await runInVm(["node", guest], { timeoutMs: VM_TIMEOUT_MS, env: { COIL_VM_FOU_ROUNDS: String(ROUNDS) } });
  const line = run.output.split("\n").find((l) => l.startsWith("COIL-VM-RESULT "));
  if (run.code !== 0 || line === undefined) {
    t.fail(`the guest failed (exit ${String(run.code)})`, { output: run.output.slice(-4000), stderr: run.stderr.slice(-4000) });
    return;
  }
  const r = JSON.parse(line.slice("COIL-VM-RESULT ".length)) as GuestReport;
  if (run.timing !== undefined) t.comment(`VM: boot ${run.timing.bootS}s, guest program ${run.timing.commandS}s, total ${run.timing.totalS}s; guest steps ${JSON.stringify(r.timings)}`);
  t.match(r.kernel, /^6\./, `booted Debian's kernel ${r.kernel}`);

  t.test("client pod: the tunnels coild lays out for --tunnel=fou", async (t) => {
    const f4 = link(r.client.before, FOU4);
    t.equal(f4.kind, "ipip");
    t.ok(f4.up, `${FOU4} up`);
    t.match(f4.text, /remote 10\.96\.0\.10 local 10\.100\.0\.5 ttl 225 .*encap fou encap-sport 5555 encap-dport 5555/);
    const f6 = link(r.client.before, FOU6);
    t.equal(f6.kind, "ip6tnl");
    t.ok(f6.up, `${FOU6} up`);
    t.match(f6.text, /remote fd00:10:96::10 local fd10:100::5 hoplimit 225 .*encap fou encap-sport 5555 encap-dport 5555/);
    for (const [name, kind] of [["coil_ipip4", "ipip"], ["coil_ipip6", "ip6tnl"]] as const) {
      const c = link(r.client.before, name);
      t.equal(c.kind, kind);
      t.ok(c.up, `${name} up`);
      t.match(c.text, new RegExp(`${kind} external`), `${name} is flow-based`);
    }
    t.ok(r.client.linkNames.includes("fou-dummy"), "FoU initialised (the fou-dummy marker)");
    for (const [pod, names] of [["client", r.client.linkNames], ["egress", r.egress.linkNames]] as const) {
      t.ok(names.includes("coil_tunl") && !names.includes("tunl0"), `${pod} pod: the kernel's fallback tunl0 renamed coil_tunl, as Coil does`);
      t.ok(names.includes("coil_ip6tnl") && !names.includes("ip6tnl0"), `${pod} pod: ip6tnl0 renamed coil_ip6tnl`);
    }
  });

  t.test("egress pod: NAT server and the client's tunnels as coil-egress lays them out", async (t) => {
    t.match(r.egress.fouPorts, /port 5555 ipproto 4\b/);
    t.match(r.egress.fouPorts, /port 5555 ipproto 41 -6/);
    t.match(link(r.egress.links, fouLinkName(CLIENT.v4 as Ip)).text, /remote 10\.100\.0\.5 local 10\.100\.0\.11 ttl 225 .*encap fou encap-sport 5555 encap-dport 5555/);
    t.match(link(r.egress.links, fouLinkName(CLIENT.v6 as Ip)).text, /remote fd10:100::5 local fd10:100::11 hoplimit 225 .*encap fou/);
    for (const f of ["ip", "ip6"]) {
      const masq = new RegExp(`table ${f} nat \\{[^]*?counter packets (\\d+) [^]*?masquerade comment "coil-masquerade-eth0"`).exec(r.egress.nft);
      t.ok(masq !== null && Number(masq[1]) > 0, `${f} masquerade rule counted the client's flows (${masq?.[1] ?? "no rule"})`);
    }
  });

  t.test("1 MiB transfers through the FoU egress: only the egress pod's address is seen", async (t) => {
    for (const [name, x, src] of [
      ["IPv4", r.transfers.fou4, EGRESS_POD.v4],
      ["IPv6", r.transfers.fou6, EGRESS_POD.v6],
      ["IPv4 after sport auto", r.transfers.fou4Auto, EGRESS_POD.v4],
      ["IPv6 after sport auto", r.transfers.fou6Auto, EGRESS_POD.v6],
    ] as const) {
      t.equal(x.ok, ROUNDS, `${name}: ${x.ok}/${ROUNDS} echoed intact ${x.error ?? ""}`);
      t.same(x.sources, [src], `${name}: the internet saw ${x.sources.join(", ")}`);
    }
    t.same(r.transfers.direct4.sources, [CLIENT.v4], "a destination outside the Egress is reached directly (v4)");
    t.same(r.transfers.direct6.sources, [CLIENT.v6], "a destination outside the Egress is reached directly (v6)");
    t.equal(r.directDrops, 0, "no client packet went to the Egress destinations outside the tunnel (node A would drop it)");
    t.ok(r.rx.fixed[FOU4]! > r.rx.start[FOU4]! && r.rx.fixed[FOU6]! > r.rx.start[FOU6]!, "sport fixed: replies (un-DNATed by conntrack) arrive on the fou links");
    t.comment(
      `1 MiB transfers/s (${ROUNDS} each, TCG): FoU v4 ${rate(r.transfers.fou4)}, v6 ${rate(r.transfers.fou6)}; after sport auto v4 ${rate(r.transfers.fou4Auto)}, v6 ${rate(r.transfers.fou6Auto)}; direct v4 ${rate(r.transfers.direct4)}, v6 ${rate(r.transfers.direct6)}`,
    );
  });

  t.test("fouSourcePortAuto: true applied by the EgressWatcher's steps recreates both links with encap sport 0", async (t) => {
    for (const name of [FOU4, FOU6]) {
      const before = link(r.client.before, name);
      const after = link(r.client.after, name);
      t.not(after.ifindex, before.ifindex, `${name} recreated (ifindex ${before.ifindex} → ${after.ifindex})`);
      t.match(after.text, /encap fou encap-sport auto encap-dport 5555/, `${name}: encap-sport auto`);
      t.ok(after.up, `${name} up again`);
    }
    t.ok(r.rx.auto["coil_ipip4"]! > r.rx.fixed["coil_ipip4"]!, "IPv4 replies from the egress pod's own address decapsulated by coil_ipip4");
    t.ok(r.rx.auto["coil_ipip6"]! > r.rx.fixed["coil_ipip6"]!, "IPv6 replies decapsulated by coil_ipip6");
  });
});
