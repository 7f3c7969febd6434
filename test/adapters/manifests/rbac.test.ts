/**
 * Each program's RBAC grants in the rendered manifests (config/rendered/coil.yaml) are exactly the
 * API requests its code can make, as derived from the source by api-usage.ts: nothing the code uses
 * is missing (a missing verb is a `Forbidden` in a real cluster — the controller's Node watch was
 * one), nothing granted goes unused. Namespaces and resourceNames are not compared (the scan cannot
 * know them; apply.test.ts checks those with SubjectAccessReviews), and rbac-envtest.test.ts runs
 * the programs under these roles against a real API server.
 */
import t from "tap";
import { fileURLToPath } from "node:url";
import { ApiUsageScanner, PROGRAM_ENTRIES, type ApiUse, type ProgramName } from "./api-usage.js";
import { grantKey, grantsOf, readManifests } from "./rbac-model.js";

const RENDERED = fileURLToPath(new URL("../../../config/rendered/coil.yaml", import.meta.url));
/** The ServiceAccount each program runs as (config/pod, config/router). */
const SERVICE_ACCOUNTS: Readonly<Record<ProgramName, string>> = { coild: "coild", "coil-ipam-controller": "coil-ipam-controller", "coil-router": "coil-router" };

const t0 = performance.now();
const scanner = new ApiUsageScanner();
const objects = await readManifests(RENDERED);
t.comment(`TypeScript program for ${Object.keys(PROGRAM_ENTRIES).length} entries built in ${Math.round(performance.now() - t0)} ms`);

const fmt = (u: { group: string; resource: string; verb: string }): string => `${u.verb} ${u.group === "" ? "" : `${u.group}/`}${u.resource}`;

for (const program of Object.keys(PROGRAM_ENTRIES) as ProgramName[]) {
  t.test(`${program}: ServiceAccount kube-system/${SERVICE_ACCOUNTS[program]} is granted exactly what the code requests`, async (t) => {
    const started = performance.now();
    const used: ApiUse[] = scanner.scan(program);
    t.comment(`scanned from ${PROGRAM_ENTRIES[program]} in ${Math.round(performance.now() - started)} ms:`);
    for (const u of used) t.comment(`  ${fmt(u)}  (${u.where})`);
    t.ok(used.length > 0, "the scan found API requests");
    const grants = grantsOf(objects, "kube-system", SERVICE_ACCOUNTS[program]);
    const granted = new Set(grants.map(grantKey));
    const usedKeys = new Set(used.map(grantKey));
    const missing = used.filter((u) => !granted.has(grantKey(u))).map((u) => `${fmt(u)} (used at ${u.where})`);
    const unused = [...new Map(grants.filter((g) => !usedKeys.has(grantKey(g))).map((g) => [grantKey(g), `${fmt(g)} (granted by ${g.role})`])).values()];
    t.same(missing, [], "every request the code makes is granted (else: Forbidden at run time)");
    t.same(unused, [], "every grant is used by the code (least privilege)");
  });
}

t.test("the scan maps client-node calls as the API server's RBAC sees them", async (t) => {
  // Spot checks of the mapping on calls whose verb is easy to get wrong.
  const byKey = (p: ProgramName): Set<string> => new Set(scanner.scan(p).map(fmt));
  const controller = byKey("coil-ipam-controller");
  t.ok(controller.has("update coil.cybozu.com/blockrequests/status"), "replaceClusterCustomObjectStatus → update of the status subresource");
  t.ok(controller.has("update coordination.k8s.io/leases"), "replaceNamespacedLease → update");
  t.ok(controller.has("watch nodes"), "the Node informer's path → watch nodes");
  t.ok(controller.has("patch coil.cybozu.com/addresspools"), "removeFinalizer → merge patch");
  t.notOk(controller.has("get nodes"), "the controller never GETs a Node");
  const coild = byKey("coild");
  t.ok(coild.has("watch coil.cybozu.com/blockrequests"), "the BlockRequest watch (Watch on ClusterResource.path)");
  t.ok(coild.has("get nodes"), "readNode → get");
});
