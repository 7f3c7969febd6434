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
  VARIANTS,
  EGRESS_ONLY_VARIANTS,
  applyPatchOp,
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

t.test("coil-egress-controller Deployment (Coil's, §1.5), egress webhooks and their Service", async (t) => {
  const dep = find("Deployment", "coil-egress-controller");
  t.equal((dep["spec"] as { replicas: number }).replicas, 2);
  t.same((dep["spec"] as { selector: unknown }).selector, { matchLabels: { "app.kubernetes.io/component": "coil-egress-controller", "app.kubernetes.io/name": "coil" } });
  const s = podSpec(dep);
  t.match(s, { hostNetwork: true, priorityClassName: "system-cluster-critical", serviceAccountName: "coil-egress-controller", terminationGracePeriodSeconds: 10, securityContext: { runAsUser: 10000, runAsGroup: 10000 } });
  t.match(s["tolerations"], [{ key: "node-role.kubernetes.io/master" }, { key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }, { key: "node.kubernetes.io/not-ready" }]);
  t.match(s["affinity"], { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ podAffinityTerm: { topologyKey: "kubernetes.io/hostname" } }] } });
  t.equal(s.containers.length, 1);
  const c = s.containers[0];
  t.equal(c?.name, "coil-egress-controller", "container name = Coil's (the egress pods' default image is containers[0].image)");
  t.same(c?.command, ["coil-egress-controller"]);
  t.same(c?.args, ["--zap-stacktrace-level=panic", "--enable-cert-rotation=true"]);
  t.same(c?.env, [
    { name: "COIL_POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
    { name: "COIL_POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
  ]);
  t.same(ports(c), { metrics: PORTS.egressControllerMetrics, health: PORTS.egressControllerHealth, "webhook-server": PORTS.egressControllerWebhook });
  t.same(probes(c), { ready: { path: "/readyz", port: "health" }, live: { path: "/healthz", port: "health" } }, "Coil's probes (no host: the pod IP is the node's)");
  t.same(mounts(c), { "/certs": "cert" });
  t.match(s.volumes?.find((v) => v.name === "cert"), { emptyDir: {} }, "/certs is an emptyDir the rotator writes");

  const svc = find("Service", "coilv2-egress-webhook-service")["spec"] as { ports: Array<{ port: number; targetPort: number }>; selector: Record<string, string> };
  t.match(svc.ports, [{ port: 443, targetPort: PORTS.egressControllerWebhook }]);
  const podLabels = (dep["spec"] as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
  for (const [k, v] of Object.entries(svc.selector)) t.equal(podLabels[k], v, `Service selector ${k} matches the controller pods`);
  for (const [kind, name, hook, path] of [
    ["MutatingWebhookConfiguration", "coilv2-mutating-egress-webhook-configuration", "megress.kb.io", "/mutate-coil-cybozu-com-v2-egress"],
    ["ValidatingWebhookConfiguration", "coilv2-validating-egress-webhook-configuration", "vegress.kb.io", "/validate-coil-cybozu-com-v2-egress"],
  ] as const) {
    const w = find(kind, name)["webhooks"] as Array<{ name: string; clientConfig: { service: unknown }; failurePolicy: string }>;
    t.match(w, [{ name: hook, failurePolicy: "Fail", clientConfig: { service: { name: "coilv2-egress-webhook-service", namespace: "kube-system", path } } }], `${kind} ${name}`);
  }

  t.same((find("ClusterRoleBinding", "coil-egress") as K8sObject & { subjects?: unknown }).subjects, undefined, "ClusterRoleBinding coil-egress ships without subjects (the controller sets them)");
  t.match(find("RoleBinding", "coil-leader-election")["subjects"], [{ name: "coil-ipam-controller" }, { name: "coil-egress-controller", namespace: "kube-system" }], "both controllers may take their Lease");
  t.ok(find("ServiceAccount", "coil-egress-controller"));
});

t.test("variants (config/variants): config/default with only their coild/controller flags changed", async (t) => {
  type Expect = { coild: string[]; controller: string[]; grace: number };
  const expected: Record<string, Expect> = {
    "config/variants/originatingonly": { coild: ["--enable-originating-only=true"], controller: [], grace: 1 },
    "config/variants/nftables": { coild: ["--backend=nftables"], controller: ["--backend=nftables"], grace: 30 },
    "config/variants/nftables-originatingonly": { coild: ["--backend=nftables", "--enable-originating-only=true"], controller: ["--backend=nftables"], grace: 1 },
    "config/variants/vxlan": { coild: ["--tunnel=vxlan"], controller: ["--tunnel=vxlan"], grace: 30 },
  };
  t.same([...VARIANTS].sort(), Object.keys(expected).sort(), "every variant is checked");
  const base = orderObjects((await renderKustomization(join(REPO_ROOT, "config/default"))).objects);
  const baseArgs = (o: K8sObject | undefined): string[] => (o === undefined ? [] : podSpec(o).containers[0]?.args ?? []);
  const at = (objs: K8sObject[], kind: string, name: string): K8sObject | undefined => objs.find((o) => o.kind === kind && o.metadata.name === name);
  for (const dir of VARIANTS) {
    const e = expected[dir];
    if (e === undefined) continue;
    const r = await renderKustomization(join(REPO_ROOT, dir));
    t.same(r.skipped, [], `${dir}: nothing skipped`);
    const objs = orderObjects(r.objects);
    const id = (o: K8sObject): string => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;
    t.same(objs.map(id), base.map(id), `${dir}: the same objects as config/default`);
    const coild = at(objs, "DaemonSet", "coild");
    const controller = at(objs, "Deployment", "coil-egress-controller");
    t.same(baseArgs(coild), [...baseArgs(at(base, "DaemonSet", "coild")), ...e.coild], `${dir}: coild args`);
    t.same(baseArgs(controller), [...baseArgs(at(base, "Deployment", "coil-egress-controller")), ...e.controller], `${dir}: coil-egress-controller args`);
    t.equal(coild === undefined ? undefined : podSpec(coild)["terminationGracePeriodSeconds"], e.grace, `${dir}: coild terminationGracePeriodSeconds`);
    // Everything else identical.
    const changed = objs.filter((o) => JSON.stringify(o) !== JSON.stringify(at(base, o.kind, o.metadata.name))).map(id);
    const want = [...(e.coild.length > 0 ? ["DaemonSet/kube-system/coild"] : []), ...(e.controller.length > 0 ? ["Deployment/kube-system/coil-egress-controller"] : [])];
    t.same(changed.sort(), want.sort(), `${dir}: no other object changed`);
  }
});

t.test("egress-only variants (config/variants/egress-only*): config/default without the IPAM parts, coild --enable-ipam=false", async (t) => {
  type Expect = { coild: string[]; controller: string[] };
  const expected: Record<string, Expect> = {
    "config/variants/egress-only": { coild: [], controller: [] },
    "config/variants/egress-only-nftables": { coild: ["--backend=nftables"], controller: ["--backend=nftables"] },
    "config/variants/egress-only-originatingonly": { coild: ["--enable-originating-only=true"], controller: [] },
    "config/variants/egress-only-nftables-originatingonly": { coild: ["--backend=nftables", "--enable-originating-only=true"], controller: ["--backend=nftables"] },
  };
  t.same([...EGRESS_ONLY_VARIANTS].sort(), Object.keys(expected).sort(), "every egress-only variant is checked");
  // What Coil's egress-only kustomization leaves out (config/default/egress/*: crd/egress, rbac/egress, pod/egress, webhook/egress).
  const removed = [
    "CustomResourceDefinition//addressblocks.coil.cybozu.com", "CustomResourceDefinition//addresspools.coil.cybozu.com", "CustomResourceDefinition//blockrequests.coil.cybozu.com",
    "ClusterRole//coil-ipam-controller", "ClusterRole//coil-router", "ClusterRole//coilv2-addressblock-viewer-role", "ClusterRole//coilv2-addresspool-viewer-role", "ClusterRole//coilv2-blockrequest-viewer-role",
    "Deployment/kube-system/coil-ipam-controller", "Service/kube-system/coilv2-ipam-webhook-service",
    "MutatingWebhookConfiguration//coilv2-mutating-ipam-webhook-configuration", "ValidatingWebhookConfiguration//coilv2-validating-ipam-webhook-configuration",
    "ConfigMap/kube-system/coil-config",
  ];
  const id = (o: K8sObject): string => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;
  const base = orderObjects((await renderKustomization(join(REPO_ROOT, "config/default"))).objects);
  const at = (objs: K8sObject[], kind: string, name: string): K8sObject | undefined => objs.find((o) => o.kind === kind && o.metadata.name === name);
  const args = (o: K8sObject | undefined): string[] => (o === undefined ? [] : podSpec(o).containers[0]?.args ?? []);
  for (const [dir, e] of Object.entries(expected)) {
    const r = await renderKustomization(join(REPO_ROOT, dir));
    t.same(r.skipped, [], `${dir}: nothing skipped`);
    const objs = orderObjects(r.objects);
    t.same(objs.map(id), base.map(id).filter((x) => !removed.includes(x)), `${dir}: config/default's objects but the IPAM ones`);
    const coild = at(objs, "DaemonSet", "coild");
    const baseArgs = args(at(base, "DaemonSet", "coild"));
    t.ok(baseArgs.includes("--enable-ipam=true"), "config/default's coild has --enable-ipam=true");
    t.same(args(coild), [...baseArgs.map((a) => (a === "--enable-ipam=true" ? "--enable-ipam=false" : a)), ...e.coild], `${dir}: coild args`);
    t.same(args(at(objs, "Deployment", "coil-egress-controller")), [...args(at(base, "Deployment", "coil-egress-controller")), ...e.controller], `${dir}: coil-egress-controller args`);
    const s = coild === undefined ? undefined : podSpec(coild);
    t.equal(s?.["terminationGracePeriodSeconds"], 1, `${dir}: coild grace period 1 s (Coil's egress variants)`);
    const installer = s?.initContainers?.find((c) => c.name === "coil-installer");
    t.same(installer?.env, [{ name: "CNI_NETCONF", valueFrom: { configMapKeyRef: { name: "coil-config", key: "cni_netconf" } } }, { name: "COIL_CHAINED", value: "true" }], `${dir}: the installer expects a chained conflist`);
    for (const w of objs.filter((o) => o.kind === "DaemonSet" || o.kind === "Deployment")) {
      for (const c of [...(podSpec(w).initContainers ?? []), ...podSpec(w).containers]) t.equal(c.image, "localhost/coil-ts:0.1.0", `${dir}: ${w.metadata.name}/${c.name} image is the one the image script builds`);
    }
    const changed = objs.filter((o) => JSON.stringify(o) !== JSON.stringify(at(base, o.kind, o.metadata.name))).map(id);
    t.same(changed.sort(), ["DaemonSet/kube-system/coild", ...(e.controller.length > 0 ? ["Deployment/kube-system/coil-egress-controller"] : [])].sort(), `${dir}: no other object changed`);
  }
  const chained = JSON.stringify({ cniVersion: "1.0.0", name: "k8s-pod-network", plugins: [{ type: "ptp", ipam: { type: "host-local" } }, { type: "coil", socket: "/run/coild.sock" }, { type: "portmap" }] });
  t.ok(validateConflist(chained, { chained: true }).isOk(), "the README's chained conflist shape passes the installer with COIL_CHAINED=true");
});

t.test("kustomize subset: $patch: delete removes its target; other strategic merge patches are refused", async (t) => {
  const root = await mkdtemp(join(tmpdir(), "coil-render-del-"));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const write = async (rel: string, text: string): Promise<void> => {
    await mkdir(join(root, rel, ".."), { recursive: true });
    await writeFile(join(root, rel), text);
  };
  await write("base/kustomization.yaml", "resources: [objs.yaml]\n");
  await write("base/objs.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: b}\n");
  const del = (name: string): string => `resources: [../base]\npatches:\n- target: {kind: Service, name: ${name}}\n  patch: |-\n    $patch: delete\n    apiVersion: v1\n    kind: Service\n    metadata:\n      name: ${name}\n`;
  await write("del/kustomization.yaml", del("a"));
  t.same((await renderKustomization(join(root, "del"))).objects.map((o) => o.metadata.name), ["b"], "Service a deleted");
  await write("none/kustomization.yaml", del("c"));
  await t.rejects(renderKustomization(join(root, "none")), /selects no object/, "a delete that selects nothing is an error");
  await write("smp/kustomization.yaml", "resources: [../base]\npatches:\n- target: {kind: Service, name: a}\n  patch: |-\n    apiVersion: v1\n    kind: Service\n    metadata: {name: a, labels: {x: y}}\n");
  await t.rejects(renderKustomization(join(root, "smp")), /not other strategic merge patches/, "a merging strategic merge patch is refused");
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
  await write("overlay/kustomization.yaml", "resources: [../top]\npatches:\n- target: {kind: DaemonSet, name: d}\n  patch: |-\n    - {op: add, path: /spec/template/spec/containers/-, value: {name: c}}\n    - {op: replace, path: /metadata/namespace, value: ns2}\n- target: {kind: Service, group: '', version: v1}\n  path: svc-patch.yaml\n");
  await write("overlay/svc-patch.yaml", "- op: remove\n  path: /spec/selector/c\n");
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

  const o = await renderKustomization(join(root, "overlay"));
  const oByKind = Object.fromEntries(o.objects.map((x) => [x.kind, x]));
  t.match(oByKind["DaemonSet"], { metadata: { namespace: "ns2" }, spec: { template: { spec: { containers: [{ name: "c" }] } } } }, "JSON 6902 add (array append) and replace");
  t.same((oByKind["Service"]?.["spec"] as { selector: unknown }).selector, { app: "x" }, "remove, from a patch file, selected by group and version");
  const doc = (): Record<string, unknown> => ({ a: { b: [1, 2] } });
  const applied = (op: Parameters<typeof applyPatchOp>[1]): unknown => {
    const d = doc();
    applyPatchOp(d, op);
    return d;
  };
  t.same(applied({ op: "add", path: "/a/b/0", value: 0 }), { a: { b: [0, 1, 2] } }, "add at an index inserts");
  t.same(applied({ op: "replace", path: "/a/b/1", value: 9 }), { a: { b: [1, 9] } });
  t.same(applied({ op: "add", path: "/a/c~1d", value: true }), { a: { b: [1, 2], "c/d": true } }, "~1 escapes /");
  t.throws(() => applied({ op: "replace", path: "/a/x", value: 1 }), /replace \/a\/x: x does not exist/);
  t.throws(() => applied({ op: "remove", path: "/a/b/2" }), /no array index 2/);
  t.throws(() => applied({ op: "add", path: "/x/y", value: 1 }), /x does not exist/);

  const bad: ReadonlyArray<{ name: string; text: string; why: RegExp }> = [
    { name: "unsupported key", text: "resources: []\nimages: []\n", why: /unsupported Kustomization keys images/ },
    { name: "hashed generator", text: "configMapGenerator:\n- name: cm\n  literals: [a=b]\n", why: /disableNameSuffixHash/ },
    { name: "missing file", text: "resources: [nope.yaml]\n", why: /resource file nope.yaml does not exist/ },
    { name: "strategic merge patch", text: "resources: [../base]\npatches:\n- target: {kind: DaemonSet}\n  patch: |-\n    kind: DaemonSet\n", why: /only JSON 6902 patches/ },
    { name: "patch without target", text: "resources: [../base]\npatches:\n- patch: '[]'\n", why: /a target with at least a kind is required/ },
    { name: "patch selecting nothing", text: "resources: [../base]\npatches:\n- target: {kind: DaemonSet, name: gone}\n  patch: '[{op: remove, path: /spec}]'\n", why: /selects no object/ },
    { name: "unsupported op", text: "resources: [../base]\npatches:\n- target: {kind: DaemonSet}\n  patch: '[{op: move, from: /a, path: /spec}]'\n", why: /only add, replace and remove/ },
    { name: "failing op", text: "resources: [../base]\npatches:\n- target: {kind: DaemonSet}\n  patch: '[{op: replace, path: /spec/nope, value: 1}]'\n", why: /DaemonSet\/d: replace \/spec\/nope: nope does not exist/ },
  ];
  for (const b of bad) {
    await write(`bad-${b.name.replace(/ /g, "-")}/kustomization.yaml`, b.text);
    await t.rejects(renderKustomization(join(root, `bad-${b.name.replace(/ /g, "-")}`)), b.why, b.name);
  }
  t.throws(() => orderObjects(parseObjects(`${svc}---\n${svc}`, "x")), /duplicate object \/Service\/\/s/);
});
