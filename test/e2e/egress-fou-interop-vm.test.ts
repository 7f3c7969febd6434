/**
 * Egress interop with Coil v2.15.0 over FoU, both directions (issue 10), on a kernel with FoU,
 * IPIP and ip6tnl: one VM (scripts/vm/run-in-vm.sh, docs/vm-tests.md) runs
 * test/e2e/vm/egress-fou-interop-guest.ts, which starts etcd and kube-apiserver inside the VM (it
 * has no network card) and every daemon whole:
 *
 * - direction 1: OUR coild (`--store=kubernetes --tunnel=fou --backend=nftables`) sets up the
 *   egress pod and a client pod annotated `egress.coil.cybozu.com/internet: egress-go` through OUR
 *   `coil` executable; Coil v2.15.0's Go `coil-egress` (scripts/coil-v2/build.sh) serves the client;
 * - direction 2: Coil v2.15.0's Go `coild` takes the node over, sets up a second egress pod and a
 *   client annotated for `egress-ts` through Go's `coil`; OUR `coil-egress` serves it.
 *
 * kube-proxy's Service DNAT (ClusterIP:5555/udp → the egress pod) is an nft DNAT rule in the node,
 * as in the other egress tests. Checked for each direction: the client's tunnels to the Service's
 * ClusterIPs and the egress pod's tunnels back to the client named and configured alike (Coil's
 * `fou4_<hex>`/`fou6_<sha1>`, TTL 225, encap fou sport/dport 5555) and routed (table 118), the
 * egress pod's masquerade counting the client's flows, and IPv4 and IPv6 1 MiB transfers through
 * the egress with only the egress pod's address seen by the "internet" (the node drops a client
 * packet sent there directly). Timings (VM boot, API server start in the VM, daemon start-ups,
 * transfers) are reported as comments (bench/RESULTS-egress.md).
 */
import t, { type Test } from "tap";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import type { Ip } from "../../lib/net/index.js";
import { fouLinkName } from "../../lib/plan/index.js";
import { findControlPlaneBinaries } from "../helpers/envtest.js";
import { requireRoot } from "../helpers/netns.js";
import { missingPrerequisite } from "../helpers/prerequisites.js";
import { REPO_ROOT } from "../helpers/test-host.js";
import { bundleForVm, requireVm, runInVm } from "../helpers/vm.js";
import { scaledTimeout, TIMEOUT_SCALE } from "../helpers/wait.js";
import type { DirectionReport, InteropReport } from "./vm/egress-fou-interop-guest.js";
import type { LinkView, Transfer } from "./vm/guest-tools.js";

// Nominal 6 min for the VM run (≈4.5 min at load 10 on 2 cores under TCG); scaled for slower machines.
const VM_TIMEOUT_MS = scaledTimeout(360_000);
t.setTimeout(VM_TIMEOUT_MS + 180_000);

const ROUNDS = 5;
const CLUSTER = { goEgress: { v4: "10.96.0.10", v6: "fd00:10:96::10" }, ourEgress: { v4: "10.96.0.20", v6: "fd00:10:96::20" } } as const;

/** Coil v2's Go `coil`, `coild` and `coil-egress` (scripts/coil-v2/build.sh in no-build mode), or why they are missing. */
function goBinaries(): { readonly coil: string; readonly coild: string; readonly coilEgress: string } | { readonly missing: string } {
  try {
    const out = execFileSync("bash", [join(REPO_ROOT, "scripts/coil-v2/build.sh"), "coil", "coild", "coil-egress"], { env: { ...process.env, COIL_V2_NO_BUILD: "1" }, stdio: ["ignore", "pipe", "pipe"] }).toString();
    const line = (v: string): string | undefined => new RegExp(`^${v}=(.+)$`, "m").exec(out)?.[1];
    const [coil, coild, coilEgress] = [line("COIL_V2_COIL"), line("COIL_V2_COILD"), line("COIL_V2_COIL_EGRESS")];
    if (coil === undefined || coild === undefined || coilEgress === undefined) return { missing: `scripts/coil-v2/build.sh printed no COIL_V2_COIL/COILD/COIL_EGRESS lines: ${out}` };
    return { coil, coild, coilEgress };
  } catch (e) {
    const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim() ?? String(e);
    return { missing: `Coil v2's Go coil, coild and coil-egress must be built for the egress interop test: ${stderr}` };
  }
}

function link(views: readonly LinkView[], name: string): LinkView {
  const v = views.find((l) => l.name === name);
  if (v === undefined) throw new Error(`link ${name} missing`);
  return v;
}
const rate = (x: Transfer): string => (x.seconds > 0 ? `${(x.ok / x.seconds).toFixed(1)} transfers/s` : "n/a");
const esc = (s: string): string => s.replace(/[.]/g, "\\.");

/**
 * One direction's checks. `clientBy`/`egressBy` name who laid the client pod and the egress pod
 * out; the layouts must be Coil's whoever made them.
 */
function checkDirection(t: Test, d: DirectionReport, cluster: { readonly v4: string; readonly v6: string }, clientBy: string, egressBy: string): void {
  const { clientPod: c, egressPod: e } = d;
  const c4 = fouLinkName(cluster.v4 as Ip);
  const c6 = fouLinkName(cluster.v6 as Ip);
  t.test(`client pod (set up by ${clientBy}): tunnels to the Service's ClusterIPs, destinations routed into them`, async (t) => {
    const f4 = link(d.clientLinks, c4);
    t.equal(f4.kind, "ipip", `${c4} is ipip`);
    t.ok(f4.up, `${c4} up`);
    t.match(f4.text, new RegExp(`remote ${esc(cluster.v4)} local ${esc(c.v4)} ttl 225 .*encap fou encap-sport 5555 encap-dport 5555`));
    const f6 = link(d.clientLinks, c6);
    t.equal(f6.kind, "ip6tnl", `${c6} is ip6tnl`);
    t.ok(f6.up, `${c6} up`);
    t.match(f6.text, new RegExp(`remote ${esc(cluster.v6)} local ${esc(c.v6)} hoplimit 225 .*encap fou encap-sport 5555 encap-dport 5555`));
    t.ok(d.clientLinkNames.includes("fou-dummy"), "FoU initialised in the pod (fou-dummy)");
    t.same(
      d.clientTable118.map((r) => `${r.dst} ${r.dev ?? ""}`).sort(),
      [`2606:4700:4700::9999 ${c6}`, `9.9.9.9 ${c4}`],
      "table 118: the Egress destinations through the tunnels",
    );
  });
  t.test(`egress pod (served by ${egressBy}): tunnels back to the client, routed in table 118, NAT counted`, async (t) => {
    const e4 = fouLinkName(c.v4 as Ip);
    const e6 = fouLinkName(c.v6 as Ip);
    t.match(link(d.egressLinks, e4).text, new RegExp(`remote ${esc(c.v4)} local ${esc(e.v4)} ttl 225 .*encap fou encap-sport 5555 encap-dport 5555`), `${e4}: ipip to the client`);
    t.match(link(d.egressLinks, e6).text, new RegExp(`remote ${esc(c.v6)} local ${esc(e.v6)} hoplimit 225 .*encap fou encap-sport 5555 encap-dport 5555`), `${e6}: ip6tnl to the client`);
    t.ok(d.egressLinks.every((l) => l.up), "both up");
    t.same(d.egressTable118.map((r) => `${r.dst} ${r.dev ?? ""}`).sort(), [`${c.v4} ${e4}`, `${c.v6} ${e6}`].sort(), "table 118: the client's addresses through its tunnels");
    t.match(d.fouPorts, /port 5555 ipproto 4\b/, "FoU receive port for IPIP");
    t.match(d.fouPorts, /port 5555 ipproto 41 -6/, "FoU receive port for ip6tnl");
    for (const f of ["ip", "ip6"]) {
      const masq = new RegExp(`table ${f} nat \\{[^]*?counter packets (\\d+) [^]*?masquerade`).exec(d.egressNft);
      t.ok(masq !== null && Number(masq[1]) > 0, `${f} masquerade counted the client's flows (${masq?.[1] ?? "no rule"})`);
    }
  });
  t.test(`1 MiB transfers: ${clientBy}'s client pod → the egress pod of ${egressBy}`, async (t) => {
    for (const [family, x, src] of [["IPv4", d.transfers.v4, e.v4], ["IPv6", d.transfers.v6, e.v6]] as const) {
      t.equal(x.ok, ROUNDS, `${family}: ${x.ok}/${ROUNDS} echoed intact ${x.error ?? ""}`);
      t.same(x.sources, [src], `${family}: the internet saw only the egress pod (${x.sources.join(", ")})`);
    }
  });
}

t.test("egress over FoU with Coil v2.15.0, both directions, in a VM", async (t) => {
  if (!requireRoot(t)) return;
  if (!(await requireVm(t))) return;
  const go = goBinaries();
  if ("missing" in go) return missingPrerequisite(t, go.missing, "build them with `bash scripts/coil-v2/build.sh` (npm test prepares them)");
  let cp;
  try {
    cp = await findControlPlaneBinaries({ build: false });
  } catch (e) {
    return missingPrerequisite(t, `control plane unavailable: ${(e as Error).message}`);
  }
  // Bundled on the host: under emulation a bundle starts in seconds, `node --import tsx` compiles for tens of seconds.
  const [guest, coild, coilEgress, coil] = await Promise.all(
    ["test/e2e/vm/egress-fou-interop-guest.ts", "adapters/daemon/main.ts", "adapters/egress/main.ts", "adapters/cni/main.ts"].map((e) => bundleForVm(t, e)),
  );
  t.comment(`Go: ${go.coild}, ${go.coil}, ${go.coilEgress}; control plane: ${cp.kubeApiserver}`);
  const run = await runInVm(["node", guest ?? ""], {
    timeoutMs: VM_TIMEOUT_MS,
    env: {
      COIL_VM_ETCD: cp.etcd,
      COIL_VM_KUBE_APISERVER: cp.kubeApiserver,
      COIL_VM_GO_COIL: go.coil,
      COIL_VM_GO_COILD: go.coild,
      COIL_VM_GO_COIL_EGRESS: go.coilEgress,
      COIL_VM_OUR_COIL: coil ?? "",
      COIL_VM_OUR_COILD: coild ?? "",
      COIL_VM_OUR_COIL_EGRESS: coilEgress ?? "",
      COIL_VM_INTEROP_ROUNDS: String(ROUNDS),
      COIL_TEST_TIMEOUT_SCALE: String(TIMEOUT_SCALE),
    },
  });
  const line = run.output.split("\n").find((l) => l.startsWith("COIL-VM-RESULT "));
  if (run.code !== 0 || line === undefined) {
    t.fail(`the guest failed (exit ${String(run.code)})`, { output: run.output.slice(-12000), stderr: run.stderr.slice(-4000) });
    return;
  }
  const r = JSON.parse(line.slice("COIL-VM-RESULT ".length)) as InteropReport;
  const s = r.timings;
  if (run.timing !== undefined) t.comment(`VM: boot ${run.timing.bootS}s, guest program ${run.timing.commandS}s, total ${run.timing.totalS}s; ${r.memAvailableMiB} MiB of 2 GiB still available at the end`);
  t.comment(`in the VM: etcd + kube-apiserver ready ${s["apiServer"]}s, CRDs ${s["crds"]}s; our coild ${s["goEgress.coildStart"]}s, Go coild ${s["ourEgress.coildStart"]}s to start`);
  t.comment(`all steps (s): ${JSON.stringify(s)}`);
  t.comment(
    `${ROUNDS} × 1 MiB (TCG): our client → Go egress v4 ${rate(r.goEgress.transfers.v4)}, v6 ${rate(r.goEgress.transfers.v6)}; Go client → our egress v4 ${rate(r.ourEgress.transfers.v4)}, v6 ${rate(r.ourEgress.transfers.v6)}`,
  );
  t.match(r.kernel, /^6\./, `booted Debian's kernel ${r.kernel}`);

  await t.test("direction 1: our coild's client pod served by Coil v2.15.0's Go coil-egress", async (t) => {
    checkDirection(t, r.goEgress, CLUSTER.goEgress, "our coild", "Go coil-egress");
  });
  await t.test("direction 2: Coil v2.15.0's Go coild's client pod served by our coil-egress", async (t) => {
    t.equal(r.goCoildRegistered, 2, "Go coild took the node over and registered direction 1's two pods");
    checkDirection(t, r.ourEgress, CLUSTER.ourEgress, "Go coild", "our coil-egress");
  });
  t.equal(r.directDrops, 0, "no client packet went to the Egress destinations outside the tunnel (the node would drop it)");
});
