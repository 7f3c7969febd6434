// The rendered manifests (config/rendered/*.yaml) against a REAL kube-apiserver + etcd: every object
// is accepted by server-side apply (CRDs first, Established before the rest), a second apply changes
// nothing, the pod templates pass Pod validation and admission (dry run), and the ServiceAccounts get
// the access their code needs plus Coil v2's same-named roles, nothing more (SubjectAccessReview;
// rbac.test.ts derives the former from the source and reads the latter from the Go module).
import t from "tap";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import {
  ApiextensionsV1Api,
  AuthorizationV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  loadAllYaml,
  type KubernetesObject,
  type V1PodTemplateSpec,
} from "@kubernetes/client-node";
import { startControlPlane, type ControlPlaneBinaries } from "../../helpers/envtest.js";
import { resolveControlPlaneBinaries, skipOrFail, waitFor } from "../../helpers/coil-envtest.js";
import { errorText } from "../../helpers/wait.js";

const RENDERED = ["coil.yaml", "coil-router.yaml"].map((f) => fileURLToPath(new URL(`../../../config/rendered/${f}`, import.meta.url)));
const FIELD_MANAGER = "coil-manifests-test";

const idOf = (o: KubernetesObject): string => `${o.kind}/${o.metadata?.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata?.name ?? "?"}`;

async function run(bins: ControlPlaneBinaries): Promise<void> {
  const started = Date.now();
  const cp = await startControlPlane({ binaries: bins });
  t.teardown(() => cp.stop());
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
  const objects = kc.makeApiClient(KubernetesObjectApi);
  const ext = kc.makeApiClient(ApiextensionsV1Api);
  const authz = kc.makeApiClient(AuthorizationV1Api);
  const core = kc.makeApiClient(CoreV1Api);

  // loadAllYaml gives client-node's model form, which its serializer maps back to wire names
  // (a plain YAML parse would lose e.g. x-kubernetes-preserve-unknown-fields on the way out).
  const all: KubernetesObject[] = [];
  for (const f of RENDERED) all.push(...(loadAllYaml(await readFile(f, "utf8")) as KubernetesObject[]).filter((o) => o !== null));
  const crds = all.filter((o) => o.kind === "CustomResourceDefinition");
  const rest = all.filter((o) => o.kind !== "CustomResourceDefinition");
  const apply = (o: KubernetesObject) => objects.patch(o, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);

  await t.test("every rendered object is accepted (server-side apply)", async (t) => {
    t.equal(crds.length, 4, "four CRDs");
    for (const o of crds) t.ok(await apply(o), `applied ${idOf(o)}`);
    for (const o of crds) t.ok(await waitEstablished(ext, o.metadata?.name ?? ""), `${o.metadata?.name} Established`);
    for (const o of rest) {
      try {
        await apply(o);
        t.pass(`applied ${idOf(o)}`);
      } catch (e) {
        t.fail(`applied ${idOf(o)}: ${errorText((e as { body?: unknown }).body ?? e)}`);
      }
    }
    const kinds = new Set(all.map((o) => o.kind));
    for (const k of ["ConfigMap", "DaemonSet", "Deployment", "Service", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"]) {
      t.ok(kinds.has(k), `stream has a ${k}`);
    }
    const webhooks = all.filter((o) => o.kind?.endsWith("WebhookConfiguration")).map((o) => o.metadata?.name);
    t.comment(webhooks.length > 0 ? `webhook configurations applied: ${webhooks.join(", ")}` : "no webhook configurations in the stream");
  });

  await t.test("a second apply changes nothing", async (t) => {
    for (const o of all) {
      const before = await objects.read({ apiVersion: o.apiVersion ?? "", kind: o.kind ?? "", metadata: { name: o.metadata?.name ?? "", namespace: o.metadata?.namespace ?? "" } });
      const after = await apply(o);
      t.equal(after.metadata?.resourceVersion, before.metadata?.resourceVersion, `${idOf(o)} unchanged`);
    }
  });

  await t.test("pod templates pass Pod validation and admission (dry run in kube-system)", async (t) => {
    for (const o of all.filter((x) => x.kind === "DaemonSet" || x.kind === "Deployment")) {
      const template = (o as KubernetesObject & { spec: { template: V1PodTemplateSpec } }).spec.template;
      const body = { apiVersion: "v1", kind: "Pod", metadata: { ...template.metadata, name: `dry-${o.metadata?.name}` }, spec: { ...template.spec!, nodeName: "node1" } };
      const pod = await core.createNamespacedPod({ namespace: "kube-system", body, dryRun: "All" });
      t.ok(pod.spec?.priority !== undefined && pod.spec.priority >= 2_000_000_000, `${idOf(o)}: priority class resolved (${pod.spec?.priority})`);
    }
  });

  /** Whether the API server allows case `c` (a SubjectAccessReview). */
  const reviewAllowed = async (c: RbacCase): Promise<boolean> => {
    const [sa, , verb, resource, extra] = c;
    const [res, sub] = resource.split("/");
    const group = CORE_RESOURCES.has(res ?? "") ? "" : (OTHER_GROUPS[res ?? ""] ?? (res?.endsWith("webhookconfigurations") ? "admissionregistration.k8s.io" : "coil.cybozu.com"));
    const review = await authz.createSubjectAccessReview({
      body: {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SubjectAccessReview",
        spec: {
          user: `system:serviceaccount:kube-system:${sa}`,
          groups: ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"],
          resourceAttributes: { group, resource: res ?? "", verb, ...(sub === undefined ? {} : { subresource: sub }), ...extra },
        },
      },
    });
    return review.status?.allowed ?? false;
  };

  await t.test("RBAC: each ServiceAccount gets what its code uses and Go Coil's programs need, nothing more", async (t) => {
    // The RBAC authorizer sees new (Cluster)Roles and bindings through its informers, a moment after
    // the apply: wait until every grant is in effect, then check each case (the denials included).
    let denied: RbacCase[] = [];
    await waitFor(
      "every granted RBAC case allowed (the authorizer's cache caught up with the apply)",
      async () => {
        denied = [];
        for (const c of RBAC_CASES) if (c[1] && !(await reviewAllowed(c))) denied.push(c);
        return denied.length === 0;
      },
      { describe: () => ({ stillDenied: denied }) },
    );
    for (const c of RBAC_CASES) {
      const [sa, allowed, verb, resource, extra] = c;
      const where = extra === undefined ? "" : ` ${JSON.stringify(extra)}`;
      t.equal(await reviewAllowed(c), allowed, `${sa} ${allowed ? "can" : "cannot"} ${verb} ${resource}${where}`);
    }
  });

  t.comment(`${all.length} objects; total ${Date.now() - started} ms`);
}

const CORE_RESOURCES = new Set(["pods", "namespaces", "services", "nodes", "secrets", "events", "configmaps", "serviceaccounts"]);
const OTHER_GROUPS: Readonly<Record<string, string>> = { leases: "coordination.k8s.io", deployments: "apps", poddisruptionbudgets: "policy", clusterrolebindings: "rbac.authorization.k8s.io", clusterroles: "rbac.authorization.k8s.io" };
const KS = { namespace: "kube-system" };
type RbacCase = readonly [sa: string, allowed: boolean, verb: string, resource: string, extra?: Record<string, string>];

/** [ServiceAccount, expected, verb, resource[/subresource], extra resourceAttributes]. */
const RBAC_CASES: readonly RbacCase[] = [
  // coild: requests blocks, never creates them; watches namespaces, gets its Node. "Go": granted only for Go
  // coild (Coil v2.15.0's role, kept for a live swap either way; rbac.test.ts).
  ["coild", true, "create", "blockrequests"],
  ["coild", true, "delete", "blockrequests"],
  ["coild", true, "watch", "blockrequests"],
  ["coild", true, "get", "blockrequests/status"], // Go
  ["coild", true, "patch", "addressblocks"],
  ["coild", true, "update", "addressblocks"], // Go
  ["coild", true, "delete", "addressblocks"],
  ["coild", true, "list", "pods"], // Go (egress)
  ["coild", true, "watch", "namespaces"],
  ["coild", true, "get", "services", { namespace: "default" }], // Go (egress)
  ["coild", true, "get", "nodes"],
  ["coild", true, "watch", "egresses", { namespace: "default" }], // Go (egress)
  ["coild", false, "create", "addressblocks"],
  ["coild", true, "watch", "addressblocks"],
  ["coild", true, "list", "addresspools"],
  ["coild", false, "update", "blockrequests"],
  ["coild", false, "update", "blockrequests/status"],
  ["coild", false, "list", "nodes"],
  ["coild", false, "create", "pods", KS],
  ["coild", false, "update", "addresspools"],
  ["coild", false, "get", "secrets", KS],
  ["coild", false, "create", "leases", KS],
  ["coild", false, "update", "egresses", { namespace: "default" }],
  // coil-ipam-controller: carves blocks, writes BlockRequest status, pool finalizers, its Lease, its CA; watches Nodes.
  ["coil-ipam-controller", true, "update", "blockrequests/status"],
  ["coil-ipam-controller", true, "patch", "blockrequests/status"], // Go
  ["coil-ipam-controller", true, "watch", "blockrequests"],
  ["coil-ipam-controller", true, "create", "addressblocks"],
  ["coil-ipam-controller", true, "delete", "addressblocks"],
  ["coil-ipam-controller", true, "watch", "addressblocks"],
  ["coil-ipam-controller", true, "patch", "addresspools"],
  ["coil-ipam-controller", true, "update", "addresspools"], // Go
  ["coil-ipam-controller", true, "list", "nodes"],
  ["coil-ipam-controller", true, "watch", "nodes"],
  ["coil-ipam-controller", true, "get", "nodes"], // Go
  ["coil-ipam-controller", true, "create", "leases", KS],
  ["coil-ipam-controller", true, "update", "leases", { ...KS, name: "coil-ipam-leader" }],
  ["coil-ipam-controller", true, "create", "events", KS], // Go (leader election Role)
  ["coil-ipam-controller", true, "get", "validatingwebhookconfigurations", { name: "coilv2-validating-ipam-webhook-configuration" }],
  ["coil-ipam-controller", true, "update", "validatingwebhookconfigurations", { name: "coilv2-validating-ipam-webhook-configuration" }],
  ["coil-ipam-controller", true, "get", "mutatingwebhookconfigurations", { name: "coilv2-mutating-ipam-webhook-configuration" }],
  ["coil-ipam-controller", true, "update", "mutatingwebhookconfigurations", { name: "coilv2-mutating-ipam-webhook-configuration" }],
  ["coil-ipam-controller", false, "create", "blockrequests"],
  ["coil-ipam-controller", false, "update", "blockrequests"],
  ["coil-ipam-controller", false, "create", "addresspools"],
  ["coil-ipam-controller", false, "delete", "addresspools"],
  ["coil-ipam-controller", false, "delete", "nodes"],
  ["coil-ipam-controller", false, "list", "secrets", KS],
  ["coil-ipam-controller", false, "get", "secrets", { ...KS, name: "coilv2-ipam-webhook-server-cert" }],
  ["coil-ipam-controller", false, "delete", "validatingwebhookconfigurations", { name: "coilv2-validating-ipam-webhook-configuration" }],
  ["coil-ipam-controller", false, "list", "mutatingwebhookconfigurations"],
  ["coil-ipam-controller", false, "create", "leases", { namespace: "default" }],
  ["coil-ipam-controller", false, "create", "validatingwebhookconfigurations"],
  ["coil-ipam-controller", false, "update", "validatingwebhookconfigurations", { name: "someone-elses-webhook" }],
  ["coil-ipam-controller", true, "get", "configmaps", KS], // Go (leader election Role)
  ["coil-ipam-controller", false, "get", "configmaps", { namespace: "default" }],
  // coil-egress-controller: per Egress a ServiceAccount, Deployment, Service, PDB in the Egress namespace; the
  // Egress status; the subjects of ClusterRoleBinding coil-egress; its Lease, its own Pod, its CA.
  ["coil-egress-controller", true, "create", "serviceaccounts", { namespace: "default" }],
  ["coil-egress-controller", true, "create", "deployments", { namespace: "default" }],
  ["coil-egress-controller", true, "update", "deployments", { namespace: "default" }],
  ["coil-egress-controller", true, "watch", "deployments"],
  ["coil-egress-controller", true, "update", "services", { namespace: "default" }],
  ["coil-egress-controller", true, "create", "poddisruptionbudgets", { namespace: "default" }],
  ["coil-egress-controller", true, "delete", "poddisruptionbudgets", { namespace: "default" }], // Go
  ["coil-egress-controller", true, "update", "egresses/status", { namespace: "default" }],
  ["coil-egress-controller", true, "watch", "egresses"],
  ["coil-egress-controller", true, "update", "clusterrolebindings", { name: "coil-egress" }],
  ["coil-egress-controller", true, "get", "pods", KS],
  ["coil-egress-controller", true, "update", "leases", { ...KS, name: "coil-egress-leader" }],
  ["coil-egress-controller", true, "update", "validatingwebhookconfigurations", { name: "coilv2-validating-egress-webhook-configuration" }],
  ["coil-egress-controller", true, "update", "mutatingwebhookconfigurations", { name: "coilv2-mutating-egress-webhook-configuration" }],
  ["coil-egress-controller", false, "update", "validatingwebhookconfigurations", { name: "coilv2-validating-ipam-webhook-configuration" }],
  ["coil-egress-controller", false, "update", "egresses", { namespace: "default" }],
  ["coil-egress-controller", false, "delete", "deployments", { namespace: "default" }],
  ["coil-egress-controller", false, "create", "clusterrolebindings"],
  ["coil-egress-controller", false, "bind", "clusterroles", { name: "coil-egress" }],
  ["coil-egress-controller", false, "create", "pods", { namespace: "default" }],
  ["coil-egress-controller", false, "get", "secrets", KS],
  ["coil-egress-controller", false, "update", "addressblocks"],
  // coil-router: reads only.
  ["coil-router", true, "list", "nodes"],
  ["coil-router", true, "get", "addressblocks"], // Go
  ["coil-router", true, "list", "addressblocks"],
  ["coil-router", true, "watch", "addressblocks"],
  ["coil-router", false, "get", "nodes"],
  ["coil-router", false, "patch", "nodes"],
  ["coil-router", false, "create", "addressblocks"],
  ["coil-router", false, "update", "addressblocks"],
  ["coil-router", false, "delete", "addressblocks"],
  ["coil-router", false, "list", "blockrequests"],
  ["coil-router", false, "list", "pods"],
];

async function waitEstablished(ext: ApiextensionsV1Api, name: string): Promise<boolean> {
  await waitFor(`CRD ${name} Established`, async () => {
    const crd = await ext.readCustomResourceDefinition({ name });
    return crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True") === true;
  }, { intervalMs: 100 });
  return true;
}

// Last: the module-level constants above must be initialised before run() uses them.
const binaries = await resolveControlPlaneBinaries(t);
if (typeof binaries === "string") skipOrFail(t, `kube-apiserver/etcd missing and could not be built: ${binaries}`);
else await run(binaries);
