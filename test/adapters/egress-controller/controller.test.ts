// coil-egress-controller against a REAL kube-apiserver (no controller-manager: Deployments are not rolled out and
// nothing is garbage-collected): Coil's §9.9.5 cases — generated objects, template merges, Service affinity,
// re-creation of deleted objects, ClusterRoleBinding subjects across namespaces, PDB, status, the scale subresource.
import t from "tap";
import { AppsV1Api, CoreV1Api, CustomObjectsApi, PolicyV1Api, RbacAuthorizationV1Api, type V1Deployment } from "@kubernetes/client-node";
import { SILENT_LOGGER } from "../../../adapters/k8s/index.js";
import { parseEgressControllerFlags, type EgressControllerFlags } from "../../../adapters/egress-controller/flags.js";
import { runEgressController } from "../../../adapters/egress-controller/run.js";
import { eventually, startCoilControlPlaneOrSkip, waitFor } from "../../helpers/coil-envtest.js";

const GROUP = "coil.cybozu.com";
const VERSION = "v2";

function flags(extra: readonly string[] = []): EgressControllerFlags {
  const f = parseEgressControllerFlags(["--metrics-addr=127.0.0.1:0", "--health-addr=127.0.0.1:0", "--leader-elect=false", ...extra])._unsafeUnwrap();
  if (typeof f === "string") throw new Error(f);
  return f;
}

const started = await startCoilControlPlaneOrSkip(t);
if (started !== undefined) {
  const { cp, kc } = started;
  t.teardown(() => cp.stop());
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const policy = kc.makeApiClient(PolicyV1Api);
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  const co = kc.makeApiClient(CustomObjectsApi);
  for (const ns of ["egtest", "nftest"]) await core.createNamespace({ body: { metadata: { name: ns } } });
  await waitFor("namespace default", async () => (await core.listNamespace()).items.some((n) => n.metadata?.name === "default"));
  const crb = (name: string) => ({ metadata: { name }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "coil-egress" }, subjects: [] });
  await rbac.createClusterRoleBinding({ body: crb("coil-egress") });

  const egApi = (namespace: string) => ({ group: GROUP, version: VERSION, namespace, plural: "egresses" });
  const createEgress = (namespace: string, name: string, spec: Record<string, unknown>) =>
    co.createNamespacedCustomObject({ ...egApi(namespace), body: { apiVersion: `${GROUP}/${VERSION}`, kind: "Egress", metadata: { name, namespace }, spec } });
  type Eg = { metadata: { resourceVersion: string }; spec: Record<string, unknown>; status?: { replicas?: number; selector?: string } };
  const getEgress = async (namespace: string, name: string) => (await co.getNamespacedCustomObject({ ...egApi(namespace), name })) as Eg;
  const patchSpec = async (namespace: string, name: string, f: (s: Record<string, unknown>) => Record<string, unknown>) => {
    const eg = await getEgress(namespace, name);
    await co.replaceNamespacedCustomObject({ ...egApi(namespace), name, body: { ...eg, spec: f(eg.spec) } });
  };
  const deployment = (namespace: string, name: string, ok: (d: V1Deployment) => boolean) =>
    eventually(`deployment ${namespace}/${name}`, async () => {
      const d = await apps.readNamespacedDeployment({ name, namespace }).catch(() => undefined);
      return d !== undefined && ok(d) ? d : undefined;
    });
  const selector = (name: string) => ({ "app.kubernetes.io/name": "coil", "app.kubernetes.io/instance": name, "app.kubernetes.io/component": "egress" });

  const run = (await runEgressController(flags(), { kc, log: SILENT_LOGGER, identity: "test", image: "coil:dev", processMetrics: false }))._unsafeUnwrap();
  t.teardown(() => run.close());

  await t.test("Egress → Deployment, Service, ServiceAccount, status.selector (§9.9.5)", async (t) => {
    await createEgress("default", "egress", { destinations: ["10.1.2.0/24"] });
    const d = await deployment("default", "egress", () => true);
    t.equal(d.metadata?.ownerReferences?.length, 1, "one ownerRef");
    t.equal(d.metadata?.ownerReferences?.[0]?.kind, "Egress");
    t.equal(d.metadata?.ownerReferences?.[0]?.controller, true);
    t.equal(d.spec?.replicas, 1);
    t.same(d.spec?.selector.matchLabels, selector("egress"));
    const ps = d.spec?.template.spec;
    t.equal(ps?.serviceAccountName, "coil-egress");
    t.equal(ps?.volumes?.length, 2, "run + modules");
    t.equal(ps?.containers.length, 1);
    const c = ps?.containers[0];
    t.equal(c?.name, "egress");
    t.equal(c?.image, "coil:dev");
    t.same(c?.command, ["coil-egress"]);
    t.same(c?.args, ["--zap-stacktrace-level=panic", "--backend=iptables"]);
    t.equal(c?.env?.length, 3);
    t.equal(c?.env?.[2]?.valueFrom?.fieldRef?.fieldPath, "status.podIPs");
    t.equal(c?.volumeMounts?.length, 2);
    t.equal(c?.securityContext?.readOnlyRootFilesystem, true);
    t.equal(c?.securityContext?.privileged, true);
    t.same(c?.securityContext?.capabilities?.add, ["NET_ADMIN"]);
    t.same(c?.resources?.requests, { cpu: "100m", memory: "200Mi" });
    t.equal(c?.ports?.length, 2);
    t.equal(c?.livenessProbe?.httpGet?.path, "/healthz");
    t.equal(c?.readinessProbe?.httpGet?.path, "/readyz");
    const svc = await eventually("service", () => core.readNamespacedService({ name: "egress", namespace: "default" }).catch(() => undefined));
    t.equal(svc.metadata?.ownerReferences?.length, 1);
    t.same(svc.spec?.selector, selector("egress"));
    t.same(
      svc.spec?.ports?.map((p) => [p.port, p.targetPort, p.protocol]),
      [[5555, 5555, "UDP"]],
    );
    t.equal(svc.spec?.sessionAffinity, "ClientIP");
    t.equal(svc.spec?.ipFamilyPolicy, "PreferDualStack");
    await eventually("service account", () => core.readNamespacedServiceAccount({ name: "coil-egress", namespace: "default" }).catch(() => undefined));
    const eg = await eventually("status.selector", async () => {
      const e = await getEgress("default", "egress");
      return e.status?.selector === undefined ? undefined : e;
    });
    t.equal(eg.status?.selector, "app.kubernetes.io/component=egress,app.kubernetes.io/instance=egress,app.kubernetes.io/name=coil");
  });

  await t.test("customisation, then a template with only the egress container", async (t) => {
    await patchSpec("default", "egress", (s) => ({
      ...s,
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 3, maxUnavailable: 2 } },
      template: {
        metadata: { annotations: { ann1: "foo" }, labels: { label1: "bar", "app.kubernetes.io/name": "hoge" } },
        spec: {
          schedulerName: "hoge-scheduler",
          containers: [{ name: "sidecar", image: "nginx" }],
          volumes: [{ name: "dummy", emptyDir: {} }],
        },
      },
    }));
    const d = await deployment("default", "egress", (d) => d.spec?.template.spec?.schedulerName === "hoge-scheduler");
    t.same(d.spec?.strategy, { type: "RollingUpdate", rollingUpdate: { maxSurge: 3, maxUnavailable: 2 } });
    t.same(d.spec?.template.metadata?.annotations, { ann1: "foo" });
    t.same(d.spec?.template.metadata?.labels, { label1: "bar", ...selector("egress") }, "app.kubernetes.io/name overridden to coil");
    t.same(d.spec?.template.spec?.containers.map((c) => c.name), ["egress", "sidecar"], "egress container inserted first");
    t.equal(d.spec?.template.spec?.volumes?.length, 3);

    // kubectl rollout restart's annotation must survive the next reconcile
    const cur = await apps.readNamespacedDeployment({ name: "egress", namespace: "default" });
    const tmd = cur.spec?.template.metadata ?? {};
    tmd.annotations = { ...tmd.annotations, "kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z" };
    await apps.replaceNamespacedDeployment({ name: "egress", namespace: "default", body: cur });
    await patchSpec("default", "egress", (s) => ({ ...s, template: { spec: { containers: [{ name: "egress", image: "mycoil", resources: { requests: { cpu: "2" } } }] } } }));
    const d2 = await deployment("default", "egress", (d) => d.spec?.template.spec?.containers[0]?.image === "mycoil");
    t.same(d2.spec?.template.spec?.containers.map((c) => c.name), ["egress"]);
    t.same(d2.spec?.template.metadata?.labels, selector("egress"), "extra label removed");
    t.equal(d2.spec?.template.metadata?.annotations?.["kubectl.kubernetes.io/restartedAt"], "2026-01-01T00:00:00Z", "restart annotation kept");
    t.equal(d2.spec?.template.spec?.schedulerName, "default-scheduler", "schedulerName back to the default");
    const c = d2.spec?.template.spec?.containers[0];
    t.same(c?.command, ["coil-egress"]);
    t.equal(c?.env?.length, 3);
    t.same(c?.resources?.requests, { cpu: "2", memory: "200Mi" }, "user cpu request kept, memory default");
    t.equal(c?.ports?.length, 2);
    t.ok(c?.livenessProbe !== undefined && c.readinessProbe !== undefined);
  });

  await t.test("Service affinity None, then ClientIP with a timeout", async (t) => {
    await patchSpec("default", "egress", (s) => ({ ...s, sessionAffinity: "None" }));
    await eventually("affinity None", async () => ((await core.readNamespacedService({ name: "egress", namespace: "default" })).spec?.sessionAffinity === "None" ? true : undefined));
    await patchSpec("default", "egress", (s) => ({ ...s, sessionAffinity: "ClientIP", sessionAffinityConfig: { clientIP: { timeoutSeconds: 100 } } }));
    const svc = await eventually("affinity ClientIP 100", async () => {
      const s = await core.readNamespacedService({ name: "egress", namespace: "default" });
      return s.spec?.sessionAffinityConfig?.clientIP?.timeoutSeconds === 100 ? s : undefined;
    });
    t.equal(svc.spec?.sessionAffinity, "ClientIP");
  });

  await t.test("deleted Deployment and Service are re-created", async (t) => {
    const d0 = await apps.readNamespacedDeployment({ name: "egress", namespace: "default" });
    const s0 = await core.readNamespacedService({ name: "egress", namespace: "default" });
    await apps.deleteNamespacedDeployment({ name: "egress", namespace: "default" });
    await core.deleteNamespacedService({ name: "egress", namespace: "default" });
    const d1 = await deployment("default", "egress", (d) => d.metadata?.uid !== d0.metadata?.uid);
    const s1 = await eventually("service re-created", async () => {
      const s = await core.readNamespacedService({ name: "egress", namespace: "default" }).catch(() => undefined);
      return s !== undefined && s.metadata?.uid !== s0.metadata?.uid ? s : undefined;
    });
    t.ok(d1.metadata?.uid !== undefined && s1.metadata?.uid !== undefined);
  });

  await t.test("ClusterRoleBinding subjects across namespaces; psp-coil-egress gets them when created", async (t) => {
    await createEgress("egtest", "egress2", { destinations: ["0.0.0.0/0"] });
    const want = [
      { kind: "ServiceAccount", name: "coil-egress", namespace: "default" },
      { kind: "ServiceAccount", name: "coil-egress", namespace: "egtest" },
    ];
    const subjects = async (name: string) => ((await rbac.readClusterRoleBinding({ name })).subjects ?? []).map((s) => ({ kind: s.kind, name: s.name, namespace: s.namespace }));
    await waitFor("coil-egress subjects", async () => JSON.stringify(await subjects("coil-egress")) === JSON.stringify(want));
    t.same(await subjects("coil-egress"), want);
    await rbac.createClusterRoleBinding({ body: crb("psp-coil-egress") });
    await waitFor("psp-coil-egress subjects", async () => JSON.stringify(await subjects("psp-coil-egress")) === JSON.stringify(want));
    t.same(await subjects("psp-coil-egress"), want, "the CRB reconciler fills a new binding");
    // someone clears the subjects: the CRB reconciler restores them
    const cur = await rbac.readClusterRoleBinding({ name: "coil-egress" });
    await rbac.replaceClusterRoleBinding({ name: "coil-egress", body: { ...cur, subjects: [] } });
    await waitFor("coil-egress restored", async () => JSON.stringify(await subjects("coil-egress")) === JSON.stringify(want));
  });

  await t.test("PodDisruptionBudget: added with the field, left when the field goes", async (t) => {
    await patchSpec("egtest", "egress2", (s) => ({ ...s, podDisruptionBudget: { minAvailable: 1 } }));
    const pdb = await eventually("pdb", () => policy.readNamespacedPodDisruptionBudget({ name: "egress2", namespace: "egtest" }).catch(() => undefined));
    t.equal(pdb.spec?.minAvailable, 1);
    t.same(pdb.spec?.selector?.matchLabels, selector("egress2"));
    t.equal(pdb.metadata?.ownerReferences?.[0]?.name, "egress2");
    await patchSpec("egtest", "egress2", (s) => ({ ...s, podDisruptionBudget: { maxUnavailable: 1 } }));
    await waitFor("pdb maxUnavailable", async () => (await policy.readNamespacedPodDisruptionBudget({ name: "egress2", namespace: "egtest" })).spec?.maxUnavailable === 1);
    // The field goes together with a replicas change: once the Deployment shows it, a reconcile has
    // seen the Egress without the field, and every later one will (one key never runs twice at
    // once). Deleting the PDB before that could race a reconcile still working from the older
    // Egress, which recreates it.
    await patchSpec("egtest", "egress2", (s) => {
      const { podDisruptionBudget: _drop, ...rest } = s;
      return { ...rest, replicas: 2 };
    });
    await deployment("egtest", "egress2", (d) => d.spec?.replicas === 2);
    // Coil leaves the PDB (and the owner GC would delete it only with the Egress)
    t.equal(await policy.readNamespacedPodDisruptionBudget({ name: "egress2", namespace: "egtest" }).then(() => "exists", () => "absent"), "exists", "the PDB is left when the field goes");
    await policy.deleteNamespacedPodDisruptionBudget({ name: "egress2", namespace: "egtest" });
    await patchSpec("egtest", "egress2", (s) => ({ ...s, replicas: 3 }));
    await deployment("egtest", "egress2", (d) => d.spec?.replicas === 3);
    t.equal(await policy.readNamespacedPodDisruptionBudget({ name: "egress2", namespace: "egtest" }).then(() => "exists", () => "absent"), "absent", "no PDB without the field");
  });

  await t.test("status.replicas follows the Deployment's availableReplicas; scale subresource drives replicas", async (t) => {
    const d = await apps.readNamespacedDeployment({ name: "egress2", namespace: "egtest" });
    await apps.replaceNamespacedDeploymentStatus({ name: "egress2", namespace: "egtest", body: { ...d, status: { replicas: 2, availableReplicas: 2, readyReplicas: 2 } } });
    const eg = await eventually("status.replicas 2", async () => {
      const e = await getEgress("egtest", "egress2");
      return e.status?.replicas === 2 ? e : undefined;
    });
    t.equal(eg.status?.selector, "app.kubernetes.io/component=egress,app.kubernetes.io/instance=egress2,app.kubernetes.io/name=coil");
    const scale = (await co.getNamespacedCustomObjectScale({ ...egApi("egtest"), name: "egress2" })) as { spec: { replicas: number }; status: { replicas: number; selector: string } };
    t.same(scale.status, { replicas: 2, selector: eg.status?.selector }, "scale status for kubectl scale / HPA");
    await co.replaceNamespacedCustomObjectScale({ ...egApi("egtest"), name: "egress2", body: { ...scale, spec: { replicas: 4 } } });
    await deployment("egtest", "egress2", (d) => d.spec?.replicas === 4);
    t.pass("kubectl scale through the scale subresource reaches the Deployment");
  });

  await t.test("--backend=nftables, --tunnel=vxlan and fouSourcePortAuto reach the egress container's args", async (t) => {
    await run.close();
    const nft = (await runEgressController(flags(["--backend=nftables", "--egress-port=5566", "--tunnel=vxlan"]), { kc, log: SILENT_LOGGER, identity: "test2", image: "coil:dev", processMetrics: false }))._unsafeUnwrap();
    t.teardown(() => nft.close());
    await createEgress("nftest", "eg", { destinations: ["0.0.0.0/0"], fouSourcePortAuto: true });
    const d = await deployment("nftest", "eg", () => true);
    t.same(d.spec?.template.spec?.containers[0]?.args, ["--zap-stacktrace-level=panic", "--enable-sport-auto=true", "--backend=nftables", "--tunnel=vxlan"]);
    const svc = await eventually("service", () => core.readNamespacedService({ name: "eg", namespace: "nftest" }).catch(() => undefined));
    t.equal(svc.spec?.ports?.[0]?.port, 5566, "--egress-port sets the Service port");
  });
}
