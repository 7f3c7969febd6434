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
 * Programs: coild, coil-ipam-controller, coil-router and coil-egress-controller run as their
 * ServiceAccounts in kube-system; coil-egress runs in the egress pods as ServiceAccount `coil-egress`
 * of each Egress namespace, bound by ClusterRoleBinding `coil-egress`, whose subjects the manifests
 * leave empty and the controller fills in: the test adds them as the controller computes them
 * (lib/egress `egressCrbSubjects`). The controller may write those subjects only while it holds every
 * permission of the roles those bindings refer to (the API server's escalation check; it has no
 * `bind` verb): checked too.
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
import { grantKey, grantsOf, readManifests, roleKindName, rolesIn, type Grant, type Obj } from "./rbac-model.js";
import { CRB_EGRESS, CRB_EGRESS_PSP, EGRESS_SERVICE_ACCOUNT, egressCrbSubjects } from "../../../lib/egress/index.js";

const RENDERED = fileURLToPath(new URL("../../../config/rendered/coil.yaml", import.meta.url));
/** A namespace holding an Egress (any name: the controller binds the ServiceAccount of each such namespace). */
const EGRESS_NS = "egress-test";
/** The ServiceAccount each program runs as (config/pod, config/router; coil-egress: made by the controller). */
const SERVICE_ACCOUNTS: Readonly<Record<ProgramName, { readonly namespace: string; readonly name: string }>> = {
  coild: { namespace: "kube-system", name: "coild" },
  "coil-ipam-controller": { namespace: "kube-system", name: "coil-ipam-controller" },
  "coil-router": { namespace: "kube-system", name: "coil-router" },
  "coil-egress-controller": { namespace: "kube-system", name: "coil-egress-controller" },
  "coil-egress": { namespace: EGRESS_NS, name: EGRESS_SERVICE_ACCOUNT },
};

/**
 * The manifests as they are once coil-egress-controller has reconciled an Egress in {@link EGRESS_NS}:
 * the subjects of its ClusterRoleBindings set as the controller sets them.
 */
function withEgressSubjects(objects: readonly Obj[]): Obj[] {
  return objects.map((o) =>
    o.kind === "ClusterRoleBinding" && (o.metadata?.name === CRB_EGRESS || o.metadata?.name === CRB_EGRESS_PSP) ? { ...o, subjects: egressCrbSubjects([EGRESS_NS]) } : o,
  );
}

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
  const shipped = await readManifests(RENDERED);
  const objects = withEgressSubjects(shipped);
  const ourRoles = rolesIn(objects);
  t.comment(`TypeScript program for ${Object.keys(PROGRAM_ENTRIES).length} entries built in ${Math.round(performance.now() - t0)} ms`);
  /** The roles bound to some program's ServiceAccount. */
  const boundToPrograms = new Set<string>();

  for (const program of Object.keys(PROGRAM_ENTRIES) as ProgramName[]) {
    const sa = SERVICE_ACCOUNTS[program];
    const grants = grantsOf(objects, sa.namespace, sa.name);
    for (const g of grants) boundToPrograms.add(g.role);
    t.test(`${program}: ServiceAccount ${sa.namespace}/${sa.name} is granted what the code requests plus Coil v2's same-named roles, nothing else`, async (t) => {
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
    for (const name of ["ClusterRole/coild", "ClusterRole/coil-ipam-controller", "ClusterRole/coil-router", "ClusterRole/coil-egress-controller", "ClusterRole/coil-egress", "Role/coil-leader-election"]) {
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

  t.test(`ClusterRoleBinding ${CRB_EGRESS}: shipped without subjects, refers to a shipped ClusterRole that coil-egress-controller may bind (it holds every permission of it)`, async (t) => {
    const crb = shipped.find((o) => o.kind === "ClusterRoleBinding" && o.metadata?.name === CRB_EGRESS);
    t.ok(crb !== undefined, `ClusterRoleBinding ${CRB_EGRESS} is shipped (the controller's Egress reconcile fails without it)`);
    t.same(crb?.subjects ?? [], [], "no subjects: the controller sets them");
    t.same(crb?.roleRef, { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "coil-egress" }, "bound to ClusterRole coil-egress, as Coil");
    t.notOk(shipped.some((o) => o.kind === "ClusterRoleBinding" && o.metadata?.name === CRB_EGRESS_PSP), `${CRB_EGRESS_PSP} is not shipped (PSP is gone; the controller tolerates its absence, as Coil's manifests)`);
    // The API server lets a subject write a binding only if it already holds every permission of the
    // role (cluster-wide, for a ClusterRoleBinding) or has `bind` on it.
    const controller = grantsOf(shipped, SERVICE_ACCOUNTS["coil-egress-controller"].namespace, SERVICE_ACCOUNTS["coil-egress-controller"].name);
    t.notOk(controller.some((g) => g.verb === "bind" || g.verb === "escalate"), "the controller has no bind/escalate: the escalation check applies");
    const held = (g: Grant): boolean => controller.some((c) => c.role.startsWith("ClusterRole/") && grantKey(c) === grantKey(g) && covers(c, g));
    for (const name of [CRB_EGRESS, CRB_EGRESS_PSP]) {
      const binding = shipped.find((o) => o.kind === "ClusterRoleBinding" && o.metadata?.name === name);
      if (binding === undefined) continue;
      const role = ourRoles.get(`ClusterRole/${binding.roleRef?.name ?? ""}`);
      t.ok(role !== undefined && role.length > 0, `ClusterRole/${binding.roleRef?.name} is shipped and grants something`);
      t.same((role ?? []).filter((g) => !held(g)).map(fmt), [], `coil-egress-controller holds every permission of ClusterRole/${binding.roleRef?.name} (else its update of ${name} is Forbidden)`);
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
    const egressController = byKey("coil-egress-controller");
    t.ok(egressController.has("update coil.cybozu.com/egresses/status"), "NamespacedResource.replaceStatus → update of the status subresource");
    t.ok(egressController.has("list coil.cybozu.com/egresses"), "NamespacedResource.list → list");
    t.ok(egressController.has("watch coil.cybozu.com/egresses"), "the Egress informer (Watch on NamespacedResource.path)");
    t.ok(egressController.has("update rbac.authorization.k8s.io/clusterrolebindings"), "replaceClusterRoleBinding → update");
    t.ok(egressController.has("get pods"), "its own Pod, read for the default image");
    t.same([...byKey("coil-egress")].sort(), ["list pods", "watch pods"], "coil-egress lists and watches Pods, nothing else");
    if (scanner.scan("coild").some((u) => u.where.startsWith("adapters/daemon/egress/"))) {
      t.ok(coild.has("get coil.cybozu.com/egresses"), "coild's EgressWatcher: getNamespacedCustomObject({ group, plural: \"egresses\" }) → get egresses");
      t.ok(coild.has("watch coil.cybozu.com/egresses"), "coild's EgressWatcher: the Egress informer's path → watch egresses");
    } else {
      t.comment("coild does not reach adapters/daemon/egress yet: its direct CustomObjectsApi calls are mapped once it does");
    }
  });
}
