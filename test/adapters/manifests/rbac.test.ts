/**
 * Each program's RBAC grants in the rendered manifests (config/rendered/coil.yaml) are Coil v2's
 * same-named roles plus the API requests our code makes, and nothing else:
 *  (a) every request the code makes, as derived from the source by api-usage.ts, is granted (a
 *      missing verb is a `Forbidden` in a real cluster — the controller's Node watch was one);
 *  (b) every grant of Coil v2's role of the same name (read from its Go module at test time,
 *      coil-v2-rbac.ts) is granted, so Go Coil's programs run under our manifests during a live swap
 *      either way;
 *  (c) nothing is granted beyond the two together. The grants that exist only for Go Coil are listed
 *      as comments.
 * Namespaces are not compared (the scan cannot know them; apply.test.ts checks those with
 * SubjectAccessReviews); resourceNames are compared only for (b) (a Coil grant on any name needs
 * ours on any name). rbac-envtest.test.ts runs our programs under these roles against a real API
 * server.
 */
import t from "tap";
import { fileURLToPath } from "node:url";
import { missingPrerequisite } from "../../helpers/prerequisites.js";
import { ApiUsageScanner, PROGRAM_ENTRIES, type ApiUse, type ProgramName } from "./api-usage.js";
import { COIL_V2_MODULE, loadCoilV2Roles } from "./coil-v2-rbac.js";
import { grantKey, grantsOf, readManifests, roleKindName, rolesIn, type Grant } from "./rbac-model.js";

const RENDERED = fileURLToPath(new URL("../../../config/rendered/coil.yaml", import.meta.url));
/** The ServiceAccount each program runs as (config/pod, config/router). */
const SERVICE_ACCOUNTS: Readonly<Record<ProgramName, string>> = { coild: "coild", "coil-ipam-controller": "coil-ipam-controller", "coil-router": "coil-router" };

const fmt = (u: { group: string; resource: string; verb: string }): string => `${u.verb} ${u.group === "" ? "" : `${u.group}/`}${u.resource}`;
/** Whether grant `ours` covers grant `theirs` of the same key: any name covers every name list. */
const covers = (ours: Grant, theirs: Grant): boolean => ours.resourceNames.length === 0 || (theirs.resourceNames.length > 0 && theirs.resourceNames.every((n) => ours.resourceNames.includes(n)));

const coilV2 = loadCoilV2Roles();
if ("missing" in coilV2) {
  missingPrerequisite(t, coilV2.missing, `download it: \`go mod download -json ${COIL_V2_MODULE}\` (bash scripts/coil-v2/build.sh and npm run test:prepare do)`);
} else {
  const coilKeys = (roleRef: string): Set<string> => new Set((coilV2.roles.get(roleKindName(roleRef)) ?? []).map(grantKey));
  t.comment(`Coil v2 roles from ${coilV2.dir}/config/rbac (${coilV2.files.join(", ")}): ${[...coilV2.roles.keys()].join(", ")}`);

  const t0 = performance.now();
  const scanner = new ApiUsageScanner();
  const objects = await readManifests(RENDERED);
  const ourRoles = rolesIn(objects);
  t.comment(`TypeScript program for ${Object.keys(PROGRAM_ENTRIES).length} entries built in ${Math.round(performance.now() - t0)} ms`);
  /** The roles bound to some program's ServiceAccount. */
  const boundToPrograms = new Set<string>();

  for (const program of Object.keys(PROGRAM_ENTRIES) as ProgramName[]) {
    const grants = grantsOf(objects, "kube-system", SERVICE_ACCOUNTS[program]);
    for (const g of grants) boundToPrograms.add(g.role);
    t.test(`${program}: ServiceAccount kube-system/${SERVICE_ACCOUNTS[program]} is granted what the code requests plus Coil v2's same-named roles, nothing else`, async (t) => {
      const started = performance.now();
      const used: ApiUse[] = scanner.scan(program);
      t.comment(`scanned from ${PROGRAM_ENTRIES[program]} in ${Math.round(performance.now() - started)} ms:`);
      for (const u of used) t.comment(`  ${fmt(u)}  (${u.where})`);
      t.ok(used.length > 0, "the scan found API requests");
      const granted = new Set(grants.map(grantKey));
      const usedKeys = new Set(used.map(grantKey));
      const missing = used.filter((u) => !granted.has(grantKey(u))).map((u) => `${fmt(u)} (used at ${u.where})`);
      const unused = grants.filter((g) => !usedKeys.has(grantKey(g)));
      const beyond = [...new Set(unused.filter((g) => !coilKeys(g.role).has(grantKey(g))).map((g) => `${fmt(g)} (granted by ${g.role}; neither used nor in Coil v2's ${roleKindName(g.role)})`))];
      const compat = [...new Set(unused.filter((g) => coilKeys(g.role).has(grantKey(g))).map((g) => `${fmt(g)} (${g.role})`))];
      t.same(missing, [], "(a) every request the code makes is granted (else: Forbidden at run time)");
      t.same(beyond, [], "(c) every grant is used by the code or granted by Coil v2's role of the same name");
      t.comment(`only for Go Coil compatibility (${compat.length}): ${compat.length === 0 ? "none" : compat.join(", ")}`);
    });
  }

  t.test(`every role with a Coil v2 counterpart grants all that ${COIL_V2_MODULE}'s does`, async (t) => {
    let compared = 0;
    for (const [ref, grants] of ourRoles) {
      const theirs = coilV2.roles.get(roleKindName(ref));
      if (theirs === undefined) continue;
      compared++;
      const lacking = theirs.filter((c) => !grants.some((g) => grantKey(g) === grantKey(c) && covers(g, c)));
      t.same(lacking.map((c) => `${fmt(c)}${c.resourceNames.length === 0 ? "" : ` [${c.resourceNames.join(", ")}]`}`), [], `(b) ${ref} ⊇ Coil v2 ${roleKindName(ref)}`);
    }
    for (const name of ["ClusterRole/coild", "ClusterRole/coil-ipam-controller", "ClusterRole/coil-router", "Role/coil-leader-election"]) {
      t.ok([...ourRoles.keys()].some((r) => roleKindName(r) === name), `${name} is shipped (and so compared)`);
    }
    const notShipped = [...coilV2.roles.keys()].filter((c) => ![...ourRoles.keys()].some((r) => roleKindName(r) === c));
    t.comment(`${compared} roles compared; Coil v2 roles not shipped here (no such program): ${notShipped.join(", ") || "none"}`);
  });

  t.test("roles bound to no program grant nothing beyond Coil v2's role of the same name", async (t) => {
    for (const [ref, grants] of ourRoles) {
      if (boundToPrograms.has(ref)) continue;
      const theirs = coilKeys(ref);
      t.same([...new Set(grants.filter((g) => !theirs.has(grantKey(g))).map(fmt))], [], `(c) ${ref} ⊆ Coil v2 ${roleKindName(ref)}`);
    }
  });

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
}
