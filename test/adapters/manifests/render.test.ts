// scripts/render-manifests.ts (the kustomize subset) and the facts the rendered manifests must carry
// (spec §1.3/§1.4/§1.7/§1.8/§1.10, §7.1, §8). The apiserver-side checks are in apply.test.ts.
import t from "tap";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PORTS } from "../../../lib/constants.js";
import { validateConflist } from "../../../adapters/installer/conflist.js";
import {
  REPO_ROOT,
  RENDER_TARGETS,
  orderObjects,
  parseObjects,
  renderAll,
  renderKustomization,
  type K8sObject,
} from "../../../scripts/render-manifests.js";

const rendered = await renderAll();

t.test("committed config/rendered/*.yaml are up to date (npx tsx scripts/render-manifests.ts)", async (t) => {
  for (const [path, { text }] of rendered) t.equal(await readFile(path, "utf8"), text, path);
});

t.test("no resource directory is missing except possibly config/webhook", async (t) => {
  for (const { skipped } of rendered.values()) t.same(skipped.filter((s) => !s.endsWith("config/webhook")), []);
});

const objectsOf = (output: string): K8sObject[] => parseObjects(rendered.get(join(REPO_ROOT, output))?.text ?? "", output);
const all = RENDER_TARGETS.flatMap((x) => objectsOf(x.output));
const find = (kind: string, name: string): K8sObject => {
  const o = all.find((x) => x.kind === kind && x.metadata.name === name);
  if (o === undefined) throw new Error(`${kind}/${name} not rendered`);
  return o;
};

type Container = {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: Array<{ name: string; valueFrom?: unknown }>;
  ports?: Array<{ name: string; containerPort: number }>;
  securityContext?: Record<string, unknown>;
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean; mountPropagation?: string }>;
  readinessProbe?: { httpGet: { path: string; port: string } };
  livenessProbe?: { httpGet: { path: string; port: string } };
};
type PodSpec = Record<string, unknown> & {
  containers: Container[];
  initContainers?: Container[];
  volumes?: Array<{ name: string; hostPath?: { path: string }; emptyDir?: unknown }>;
};
const podSpec = (o: K8sObject): PodSpec => (o["spec"] as { template: { spec: PodSpec } }).template.spec;
const ports = (c: Container | undefined): Record<string, number> => Object.fromEntries((c?.ports ?? []).map((p) => [p.name, p.containerPort]));
const mounts = (c: Container | undefined): Record<string, string> => Object.fromEntries((c?.volumeMounts ?? []).map((m) => [m.mountPath, m.name]));
const probes = (c: Container | undefined) => ({ ready: c?.readinessProbe?.httpGet, live: c?.livenessProbe?.httpGet });
const HEALTH_PROBES = { ready: { path: "/readyz", port: "health", host: "localhost" }, live: { path: "/healthz", port: "health", host: "localhost" } };

t.test("every object: label app.kubernetes.io/name=coil; namespaced ones in kube-system; image localhost/coil-ts:0.1.0", async (t) => {
  t.ok(all.length >= 25, `${all.length} objects`);
  for (const o of all) {
    t.equal(o.metadata.labels?.["app.kubernetes.io/name"], "coil", `${o.kind}/${o.metadata.name} labelled`);
    if (o.metadata.namespace !== undefined) t.equal(o.metadata.namespace, "kube-system", `${o.kind}/${o.metadata.name} namespace`);
  }
  for (const w of all.filter((o) => o.kind === "DaemonSet" || o.kind === "Deployment")) {
    const s = podSpec(w);
    for (const c of [...(s.initContainers ?? []), ...s.containers]) t.equal(c.image, "localhost/coil-ts:0.1.0", `${w.metadata.name}/${c.name} image`);
  }
});

t.test("ConfigMap coil-config: Coil's netconf, accepted by coil-installer", async (t) => {
  const data = (find("ConfigMap", "coil-config")["data"] as Record<string, string>)["cni_netconf"] ?? "";
  t.same(JSON.parse(data), {
    cniVersion: "0.4.0",
    name: "k8s-pod-network",
    plugins: [{ type: "coil", socket: "/run/coild.sock" }, { type: "portmap", capabilities: { portMappings: true } }],
  });
  t.ok(validateConflist(data).isOk(), "installer validation passes");
});

t.test("coild DaemonSet", async (t) => {
  const ds = find("DaemonSet", "coild");
  const s = podSpec(ds);
  t.match(s, { hostNetwork: true, hostPID: true, priorityClassName: "system-node-critical", serviceAccountName: "coild", terminationGracePeriodSeconds: 30 });
  t.same(s["tolerations"], [{ effect: "NoSchedule", operator: "Exists" }, { effect: "NoExecute", operator: "Exists" }]);
  const coild = s.containers.find((c) => c.name === "coild");
  t.same(coild?.command, ["coild"]);
  t.ok(coild?.args?.includes("--store=kubernetes"), "--store=kubernetes");
  t.ok(coild?.args?.includes("--enable-ipam=true"));
  t.same(coild?.securityContext, { privileged: true });
  t.same(coild?.env, [{ name: "COIL_NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } }]);
  t.same(ports(coild), { metrics: PORTS.coildMetrics, health: PORTS.coildHealth });
  t.same(probes(coild), HEALTH_PROBES);
  t.match(coild?.volumeMounts, [{ mountPath: "/run", name: "run", mountPropagation: "HostToContainer" }, { mountPath: "/lib/modules", readOnly: true }]);
  const installer = s.initContainers?.find((c) => c.name === "coil-installer");
  t.same(installer?.command, ["coil-installer"]);
  t.same(installer?.env, [{ name: "CNI_NETCONF", valueFrom: { configMapKeyRef: { name: "coil-config", key: "cni_netconf" } } }]);
  t.same(mounts(installer), { "/host/opt/cni/bin": "cni-bin-dir", "/host/etc/cni/net.d": "cni-net-dir" });
  const hostPaths = Object.fromEntries((s.volumes ?? []).map((v) => [v.name, v.hostPath?.path]));
  t.same(hostPaths, { run: "/run", modules: "/lib/modules", "cni-bin-dir": "/opt/cni/bin", "cni-net-dir": "/etc/cni/net.d" });
});

t.test("coil-ipam-controller Deployment and webhook Service", async (t) => {
  const dep = find("Deployment", "coil-ipam-controller");
  t.equal((dep["spec"] as { replicas: number }).replicas, 2);
  const s = podSpec(dep);
  t.match(s, { hostNetwork: true, serviceAccountName: "coil-ipam-controller", securityContext: { runAsUser: 10000, runAsGroup: 10000 } });
  t.match(s["tolerations"], [{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }]);
  t.match(s["affinity"], { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ podAffinityTerm: { topologyKey: "kubernetes.io/hostname" } }] } });
  const c = s.containers[0];
  t.ok(c?.args?.includes("--enable-cert-rotation=true"));
  t.same(ports(c), { metrics: PORTS.ipamControllerMetrics, health: PORTS.ipamControllerHealth, "webhook-server": PORTS.ipamControllerWebhook });
  t.same(probes(c), HEALTH_PROBES);
  t.same(mounts(c), { "/certs": "cert" });
  t.ok(c?.volumeMounts?.every((m) => m.readOnly !== true), "/certs writable (the rotator writes there)");
  t.match(s.volumes?.find((v) => v.name === "cert"), { emptyDir: {} }, "/certs is an emptyDir");
  t.notOk(all.some((o) => o.kind === "Secret"), "no Secret shipped");

  const svc = find("Service", "coilv2-ipam-webhook-service")["spec"] as { ports: Array<{ port: number; targetPort: number }>; selector: Record<string, string> };
  t.match(svc.ports, [{ port: 443, targetPort: PORTS.ipamControllerWebhook }]);
  const podLabels = (dep["spec"] as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
  for (const [k, v] of Object.entries(svc.selector)) t.equal(podLabels[k], v, `Service selector ${k} matches the controller pods`);
});

t.test("coil-router DaemonSet (config/rendered/coil-router.yaml)", async (t) => {
  const router = objectsOf("config/rendered/coil-router.yaml");
  t.same(router.map((o) => `${o.kind}/${o.metadata.name}`), ["DaemonSet/coil-router"]);
  const s = podSpec(find("DaemonSet", "coil-router"));
  t.match(s, { hostNetwork: true, serviceAccountName: "coil-router" });
  t.same(s.containers[0]?.securityContext, { capabilities: { add: ["NET_ADMIN"] } });
  t.same(ports(s.containers[0]), { metrics: PORTS.routerMetrics, health: PORTS.routerHealth });
});

t.test("RBAC: no wildcards; viewer roles aggregate to admin, edit and view", async (t) => {
  for (const o of all.filter((x) => x.kind === "ClusterRole" || x.kind === "Role")) {
    for (const r of o["rules"] as Array<{ verbs: string[]; resources: string[]; apiGroups: string[] }>) {
      t.notOk([...r.verbs, ...r.resources, ...r.apiGroups].includes("*"), `${o.metadata.name}: no wildcard`);
    }
  }
  for (const k of ["addressblock", "addresspool", "blockrequest", "egress"]) {
    const role = find("ClusterRole", `coilv2-${k}-viewer-role`);
    for (const agg of ["admin", "edit", "view"]) t.equal(role.metadata.labels?.[`rbac.authorization.k8s.io/aggregate-to-${agg}`], "true", `${k} -> ${agg}`);
    const verbs = (role["rules"] as Array<{ verbs: string[] }>).flatMap((r) => r.verbs);
    t.same([...new Set(verbs)].sort(), ["get", "list", "watch"], `${k} viewer only reads`);
  }
});

t.test("kustomize subset", async (t) => {
  const root = await mkdtemp(join(tmpdir(), "coil-render-"));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const write = async (rel: string, text: string): Promise<void> => {
    await mkdir(join(root, rel, ".."), { recursive: true });
    await writeFile(join(root, rel), text);
  };
  const ds = "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: d\nspec:\n  selector:\n    matchLabels: {c: d}\n  template:\n    metadata:\n      labels: {c: d}\n    spec: {containers: []}\n";
  const svc = "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  selector: {c: d}\n";
  const crb = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: b}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: r}\nsubjects: [{kind: ServiceAccount, name: sa}]\n";
  await write("base/kustomization.yaml", "resources: [ds.yaml, more.yaml]\n");
  await write("base/ds.yaml", ds);
  await write("base/more.yaml", `${svc}---\n${crb}`);
  await write("top/kustomization.yaml", "namespace: ns1\ncommonLabels: {app: x}\nresources: [../base, ../absent]\nconfigMapGenerator:\n- name: cm\n  files: [k=f.txt]\n  literals: [a=b]\ngeneratorOptions: {disableNameSuffixHash: true}\n");
  await write("top/f.txt", "hello\n");
  const r = await renderKustomization(join(root, "top"));
  t.same(r.skipped, [join(root, "absent")], "a missing resource directory is skipped and reported");
  const byKind = Object.fromEntries(r.objects.map((o) => [o.kind, o]));
  t.match(byKind["DaemonSet"], {
    metadata: { namespace: "ns1", labels: { app: "x" } },
    spec: { selector: { matchLabels: { c: "d", app: "x" } }, template: { metadata: { labels: { c: "d", app: "x" } } } },
  });
  t.same((byKind["Service"]?.["spec"] as { selector: unknown }).selector, { c: "d", app: "x" });
  t.equal(byKind["ClusterRoleBinding"]?.metadata.namespace, undefined, "cluster-scoped objects get no namespace");
  t.same(byKind["ClusterRoleBinding"]?.["subjects"], [{ kind: "ServiceAccount", name: "sa", namespace: "ns1" }]);
  t.same(byKind["ConfigMap"]?.["data"], { k: "hello\n", a: "b" });
  t.same(orderObjects(r.objects).map((o) => o.kind), ["ClusterRoleBinding", "ConfigMap", "Service", "DaemonSet"], "kustomize legacy order");

  const bad: ReadonlyArray<{ name: string; text: string; why: RegExp }> = [
    { name: "unsupported key", text: "resources: []\npatches: []\n", why: /unsupported Kustomization keys patches/ },
    { name: "hashed generator", text: "configMapGenerator:\n- name: cm\n  literals: [a=b]\n", why: /disableNameSuffixHash/ },
    { name: "missing file", text: "resources: [nope.yaml]\n", why: /resource file nope.yaml does not exist/ },
  ];
  for (const b of bad) {
    await write(`bad-${b.name.replace(/ /g, "-")}/kustomization.yaml`, b.text);
    await t.rejects(renderKustomization(join(root, `bad-${b.name.replace(/ /g, "-")}`)), b.why, b.name);
  }
  t.throws(() => orderObjects(parseObjects(`${svc}---\n${svc}`, "x")), /duplicate object \/Service\/\/s/);
});
