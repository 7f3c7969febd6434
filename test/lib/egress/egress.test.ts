// lib/egress: Coil's Egress rules (api/v2/egress_types.go, egress_webhook.go) and what coil-egress-controller makes
// of an Egress (controllers/egress_controller.go, clusterrolebinding_controller.go).
import t from "tap";
import {
  crbSubjectsNeedUpdate,
  egressCrbSubjects,
  egressDefaultingPatch,
  egressStatusUpdate,
  formatEgressFieldError,
  jsonEqual,
  labelKeyErrors,
  mutateEgressDeployment,
  mutateEgressPdb,
  mutateEgressService,
  parseEgress,
  validateEgressSpec,
  type Egress,
  type EgressSpec,
  type JsonObject,
} from "../../../lib/egress/index.js";

const settings = { image: "coil:dev", port: 5555, backend: "iptables" as const, tunnel: "fou" as const };
const eg = (spec: Partial<EgressSpec>, name = "eg", namespace = "internet"): Egress => ({
  metadata: { name, namespace, uid: "u-1" },
  spec: { destinations: ["10.2.0.0/16"], replicas: 1, sessionAffinity: "ClientIP", ...spec },
});
const msgs = (spec: Partial<EgressSpec>): string[] => validateEgressSpec(eg(spec).spec).map(formatEgressFieldError);
type C = { name: string; image?: string; command?: string[]; args?: string[]; env?: JsonObject[]; volumeMounts?: JsonObject[]; resources?: JsonObject; ports?: JsonObject[] };
const podSpec = (d: JsonObject): JsonObject & { containers: C[]; volumes: JsonObject[] } =>
  ((d["spec"] as JsonObject)["template"] as JsonObject)["spec"] as JsonObject & { containers: C[]; volumes: JsonObject[] };

t.test("validation: Coil §9.1.7 cases with apimachinery's messages", async (t) => {
  t.same(msgs({ destinations: ["10.2.0.0/16", "fd02::/120"] }), []);
  t.same(msgs({ destinations: ["127.0.0.1"] }), ['spec.destinations[0]: Invalid value: "127.0.0.1": invalid CIDR address: 127.0.0.1']);
  t.same(msgs({ destinations: ["10.0.0.0/8", "a.b.c.d/20"] }), ['spec.destinations[1]: Invalid value: "a.b.c.d/20": invalid CIDR address: a.b.c.d/20']);
  t.same(msgs({ strategy: { type: "hoge" } }), ['spec.strategy.type: Unsupported value: "hoge": supported values: "Recreate", "RollingUpdate"']);
  t.same(msgs({ strategy: { type: "Recreate" } }), []);
  t.same(msgs({ template: { metadata: { annotations: { "bad bad": "x" } } } }), [
    `spec.template.metadata.annotations: Invalid value: "bad bad": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName', or 'my.name', or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
  ]);
  t.same(msgs({ template: { metadata: { labels: { ok: "bad value" } } } }), [
    `spec.template.metadata.labels: Invalid value: "bad value": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue', or 'my_value', or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
  ]);
  t.same(msgs({ template: { metadata: { labels: { "example.com/a": "b" }, annotations: { "kubectl.kubernetes.io/restartedAt": "now" } }, spec: { tolerations: [] } } }), []);
  t.same(msgs({ podDisruptionBudget: { maxUnavailable: 1 } }), []);
  t.same(msgs({ podDisruptionBudget: { minAvailable: 1, maxUnavailable: 1 } }), [
    'spec.podDisruptionBudget: Invalid value: {"minAvailable":1,"maxUnavailable":1}: minAvailable and maxUnavailable cannot be both set',
  ]);
  t.same(msgs({ podDisruptionBudget: { maxUnavailable: "120%" } }), ['spec.podDisruptionBudget.maxUnavailable: Invalid value: "120%": must not be greater than 100%']);
  t.same(msgs({ podDisruptionBudget: { minAvailable: -1 } }), ["spec.podDisruptionBudget.minAvailable: Invalid value: -1: must be greater than or equal to 0"]);
  t.same(msgs({ podDisruptionBudget: { minAvailable: "5" } }), [
    `spec.podDisruptionBudget.minAvailable: Invalid value: "5": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%', or '93%', regex used for validation is '[0-9]+%')`,
  ]);
  t.same(labelKeyErrors("a/b/c").length, 1, "more than one slash: one message");
  t.match(labelKeyErrors("Bad_Prefix/x")[0], /^prefix part a lowercase RFC 1123 subdomain/);
  t.same(labelKeyErrors("/x"), ["prefix part must be non-empty"]);
  t.match(labelKeyErrors("x".repeat(64))[0], /^name part must be no more than 63 bytes/);
});

t.test("defaulting: a template without containers gets the egress container", async (t) => {
  t.same(egressDefaultingPatch(eg({}).spec), []);
  t.same(egressDefaultingPatch(eg({ template: {} }).spec), [{ op: "add", path: "/spec/template/spec", value: { containers: [{ name: "egress" }] } }]);
  t.same(egressDefaultingPatch(eg({ template: { spec: { containers: [] } } }).spec), [{ op: "add", path: "/spec/template/spec/containers", value: [{ name: "egress" }] }]);
  t.same(egressDefaultingPatch(eg({ template: { spec: { containers: [{ name: "x" }] } } }).spec), []);
});

t.test("parseEgress checks types and names the field", async (t) => {
  t.ok(parseEgress({ metadata: { name: "a", namespace: "n" }, spec: { destinations: ["0.0.0.0/0"] } }).isOk());
  t.same(parseEgress({ metadata: { name: "a" }, spec: null })._unsafeUnwrap().spec.destinations, []);
  t.equal(parseEgress({ metadata: { name: "a" }, spec: { replicas: "x" } })._unsafeUnwrapErr().path, "spec.replicas");
  t.equal(parseEgress({ metadata: { name: "a" }, spec: { template: { metadata: { labels: { a: 1 } } } } })._unsafeUnwrapErr().path, "spec.template.metadata.labels");
  t.equal(parseEgress({ metadata: {} })._unsafeUnwrapErr().path, "metadata.name");
});

t.test("Deployment: defaults of Coil's egress container (§9.9.5)", async (t) => {
  const d = mutateEgressDeployment(undefined, eg({}), settings);
  const md = d["metadata"] as JsonObject;
  t.same(md["ownerReferences"], [{ apiVersion: "coil.cybozu.com/v2", kind: "Egress", name: "eg", uid: "u-1", controller: true, blockOwnerDeletion: true }]);
  const sel = { "app.kubernetes.io/name": "coil", "app.kubernetes.io/instance": "eg", "app.kubernetes.io/component": "egress" };
  t.same(md["labels"], sel);
  t.same((d["spec"] as JsonObject)["selector"], { matchLabels: sel });
  t.equal((d["spec"] as JsonObject)["replicas"], 1);
  const ps = podSpec(d);
  t.equal(ps["serviceAccountName"], "coil-egress");
  t.same(ps.volumes, [{ name: "run", emptyDir: {} }, { name: "modules", hostPath: { path: "/lib/modules" } }]);
  t.equal(ps.containers.length, 1);
  const c = ps.containers[0] as C & JsonObject;
  t.equal(c.name, "egress");
  t.equal(c.image, "coil:dev");
  t.same(c.command, ["coil-egress"]);
  t.same(c.args, ["--zap-stacktrace-level=panic", "--backend=iptables"]);
  t.same(c.env, [
    { name: "COIL_POD_NAMESPACE", value: "internet" },
    { name: "COIL_EGRESS_NAME", value: "eg" },
    { name: "COIL_POD_ADDRESSES", valueFrom: { fieldRef: { fieldPath: "status.podIPs" } } },
  ]);
  t.same(c.volumeMounts, [{ mountPath: "/run", name: "run" }, { mountPath: "/lib/modules", name: "modules", readOnly: true }]);
  t.same(c["securityContext"], { privileged: true, readOnlyRootFilesystem: true, capabilities: { add: ["NET_ADMIN"] } });
  t.same(c.resources, { requests: { cpu: "100m", memory: "200Mi" } });
  t.same(c.ports, [
    { name: "metrics", containerPort: 8080, protocol: "TCP" },
    { name: "health", containerPort: 8081, protocol: "TCP" },
  ]);
  t.same(c["livenessProbe"], { httpGet: { path: "/healthz", port: "health", scheme: "HTTP" } });
  t.same(c["readinessProbe"], { httpGet: { path: "/readyz", port: "health", scheme: "HTTP" } });
  const auto = podSpec(mutateEgressDeployment(undefined, eg({ fouSourcePortAuto: true }), { ...settings, backend: "nftables" })).containers[0];
  t.same(auto?.args, ["--zap-stacktrace-level=panic", "--enable-sport-auto=true", "--backend=nftables"]);
  // The controller's --tunnel=vxlan (ours) reaches the egress pods; with fou (Coil's only tunnel) the args stay Coil's.
  const vxlan = podSpec(mutateEgressDeployment(undefined, eg({ fouSourcePortAuto: true }), { ...settings, tunnel: "vxlan" })).containers[0];
  t.same(vxlan?.args, ["--zap-stacktrace-level=panic", "--enable-sport-auto=true", "--backend=iptables", "--tunnel=vxlan"]);
  const userArgs = podSpec(mutateEgressDeployment(undefined, eg({ template: { spec: { containers: [{ name: "egress", args: ["--fou-port=6000"] }] } } }), { ...settings, tunnel: "vxlan" })).containers[0];
  t.same(userArgs?.args, ["--fou-port=6000"], "the user's args replace every default, --tunnel included (as Coil's --backend)");
});

t.test("Deployment: customisation and the template merge (§9.9.5)", async (t) => {
  const custom = eg({
    replicas: 3,
    strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 3, maxUnavailable: 2 } },
    template: {
      metadata: { annotations: { ann: "x" }, labels: { foo: "bar", "app.kubernetes.io/name": "hoge" } },
      spec: {
        schedulerName: "my-scheduler",
        volumes: [{ name: "extra", emptyDir: {} }],
        containers: [{ name: "sidecar", image: "side" }, { name: "egress", args: ["--x"], resources: { requests: { cpu: "2" } }, env: [{ name: "A", value: "1" }] }],
      },
    },
  });
  const first = mutateEgressDeployment(undefined, custom, settings);
  // the API server stores it and kubectl rollout restart adds an annotation
  const stored = JSON.parse(JSON.stringify(first)) as JsonObject;
  (stored["metadata"] as JsonObject)["creationTimestamp"] = "2026-01-01T00:00:00Z";
  const tmd = ((stored["spec"] as JsonObject)["template"] as JsonObject)["metadata"] as JsonObject;
  tmd["annotations"] = { ...(tmd["annotations"] as JsonObject), "kubectl.kubernetes.io/restartedAt": "now" };
  t.same(tmd["labels"], { foo: "bar", "app.kubernetes.io/name": "coil", "app.kubernetes.io/instance": "eg", "app.kubernetes.io/component": "egress" }, "selector labels win");
  t.same((first["spec"] as JsonObject)["strategy"], { type: "RollingUpdate", rollingUpdate: { maxSurge: 3, maxUnavailable: 2 } });
  t.equal((first["spec"] as JsonObject)["replicas"], 3);
  const ps = podSpec(first);
  t.equal(ps["schedulerName"], "my-scheduler");
  t.same(ps.containers.map((c) => c.name), ["sidecar", "egress"], "sidecar kept, egress in place");
  t.equal(ps.volumes.length, 3);
  const e = ps.containers[1];
  t.same(e?.args, ["--x"], "user args replace Coil's");
  t.same(e?.resources, { requests: { cpu: "2", memory: "200Mi" } }, "user cpu request kept");
  t.equal(e?.env?.length, 4, "user env first, then Coil's three");

  const onlyEgress = eg({ template: { spec: { containers: [{ name: "egress", image: "mycoil", resources: { requests: { cpu: "2" } } }] } } });
  const second = mutateEgressDeployment(stored, onlyEgress, settings);
  const tmd2 = ((second["spec"] as JsonObject)["template"] as JsonObject)["metadata"] as JsonObject;
  t.same(tmd2["labels"], { "app.kubernetes.io/name": "coil", "app.kubernetes.io/instance": "eg", "app.kubernetes.io/component": "egress" }, "extra label removed");
  t.same(tmd2["annotations"], { ann: "x", "kubectl.kubernetes.io/restartedAt": "now" }, "foreign annotation (and the old one) kept");
  const ps2 = podSpec(second);
  t.same(ps2.containers.map((c) => c.name), ["egress"]);
  t.equal(ps2["schedulerName"], undefined, "schedulerName gone (the API server defaults it back)");
  t.equal(ps2.containers[0]?.image, "mycoil");
  t.same((second["spec"] as JsonObject)["strategy"], { type: "RollingUpdate", rollingUpdate: { maxSurge: 3, maxUnavailable: 2 } }, "strategy kept when no longer given");
  t.same((second["metadata"] as JsonObject)["ownerReferences"], (first["metadata"] as JsonObject)["ownerReferences"], "ownerRef untouched on update");
  t.ok(jsonEqual(mutateEgressDeployment(second, onlyEgress, settings), second), "idempotent");
});

t.test("Service and PDB", async (t) => {
  const s = mutateEgressService(undefined, eg({}), settings);
  t.same(s["spec"], {
    type: "ClusterIP",
    selector: { "app.kubernetes.io/name": "coil", "app.kubernetes.io/instance": "eg", "app.kubernetes.io/component": "egress" },
    ports: [{ port: 5555, targetPort: 5555, protocol: "UDP" }],
    sessionAffinity: "ClientIP",
    ipFamilyPolicy: "PreferDualStack",
  });
  const s2 = mutateEgressService(s, eg({ sessionAffinity: "ClientIP", sessionAffinityConfig: { clientIP: { timeoutSeconds: 100 } } }), settings);
  t.same((s2["spec"] as JsonObject)["sessionAffinityConfig"], { clientIP: { timeoutSeconds: 100 } });
  t.equal(mutateEgressPdb(undefined, eg({})), undefined, "no PDB without podDisruptionBudget");
  const p = mutateEgressPdb(undefined, eg({ podDisruptionBudget: { minAvailable: 1 } }));
  t.same(p?.["spec"], { minAvailable: 1, selector: { matchLabels: { "app.kubernetes.io/name": "coil", "app.kubernetes.io/instance": "eg", "app.kubernetes.io/component": "egress" } } });
  const switched = mutateEgressPdb(p, eg({ podDisruptionBudget: { maxUnavailable: "50%" } }));
  t.same(switched?.["spec"], { maxUnavailable: "50%", selector: { matchLabels: { "app.kubernetes.io/name": "coil", "app.kubernetes.io/instance": "eg", "app.kubernetes.io/component": "egress" } } }, "minAvailable dropped when maxUnavailable replaces it");
});

t.test("ClusterRoleBinding subjects and Coil's DeepDerivative comparison", async (t) => {
  const want = egressCrbSubjects(["egtest", "default", "egtest"]);
  t.same(want, [
    { kind: "ServiceAccount", name: "coil-egress", namespace: "default" },
    { kind: "ServiceAccount", name: "coil-egress", namespace: "egtest" },
  ]);
  t.ok(crbSubjectsNeedUpdate(want, undefined));
  t.ok(crbSubjectsNeedUpdate(want, [{ kind: "ServiceAccount", name: "coil-egress", namespace: "default" }]));
  const asJson = (x: readonly object[]): JsonObject[] => JSON.parse(JSON.stringify(x)) as JsonObject[];
  t.notOk(crbSubjectsNeedUpdate(want, asJson([...want, { kind: "ServiceAccount", name: "coil-egress", namespace: "zzz" }])), "a prefix counts as equal (Coil)");
  t.notOk(crbSubjectsNeedUpdate([], asJson(want)), "no Egress left: the binding is not cleared (Coil)");
});

t.test("status", async (t) => {
  const d: JsonObject = { spec: { selector: { matchLabels: { "app.kubernetes.io/name": "coil", "app.kubernetes.io/instance": "eg", "app.kubernetes.io/component": "egress" } } }, status: { availableReplicas: 2 } };
  const up = egressStatusUpdate(eg({}), d);
  t.same(up, { replicas: 2, selector: "app.kubernetes.io/component=egress,app.kubernetes.io/instance=eg,app.kubernetes.io/name=coil" });
  t.equal(egressStatusUpdate({ ...eg({}), status: up ?? {} }, d), undefined, "unchanged: no write");
});
