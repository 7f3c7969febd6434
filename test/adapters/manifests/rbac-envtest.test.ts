/**
 * The programs run under their own RBAC against a REAL kube-apiserver (RBAC authorization on): the
 * rendered ServiceAccounts, (Cluster)Roles and bindings are applied, each program gets a token of
 * its ServiceAccount, and talks to the API server through a recording proxy (api-recorder.ts), so
 * every request is authorized by the real RBAC authorizer and recorded as (group, resource, verb).
 *
 * Flows: coil-ipam-controller (leader election, CA injection into its webhook configurations,
 * a BlockRequest carved into a block, a deleted Node's block collected because the Node WATCH
 * reports the deletion — the periodic GC is 1 h away —, an AddressPool's finalizer removed on
 * deletion); coild's Kubernetes store (open: Node, Namespaces, its blocks; pools listed; a block
 * requested through a BlockRequest and released); coil-router (Nodes and blocks listed and watched);
 * coil-egress-controller (leader election, CA injection into the egress webhook configurations, its
 * own Pod read for the default image, an Egress made into a ServiceAccount, Deployment, Service and
 * PDB, the status written, and the subjects of ClusterRoleBinding `coil-egress` set — which the API
 * server allows only because the controller holds every permission of ClusterRole `coil-egress`),
 * after which ServiceAccount `coil-egress` of the Egress namespace may list and watch Pods.
 *
 * Asserted: no request is refused (401/403); every recorded request is one the source scan
 * (api-usage.ts) derives for that program — the scan under-approximating would show here. Scanned
 * requests the run did not exercise are listed as comments.
 */
import t from "tap";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  AdmissionregistrationV1Api,
  AppsV1Api,
  AuthorizationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  KubernetesObjectApi,
  PatchStrategy,
  PolicyV1Api,
  RbacAuthorizationV1Api,
  loadAllYaml,
  type KubernetesObject,
  type V1MutatingWebhookConfiguration,
  type V1ValidatingWebhookConfiguration,
} from "@kubernetes/client-node";
import { HOST_NETNS } from "../../../lib/changeset/index.js";
import { LABEL_NODE, LABEL_POOL } from "../../../lib/constants.js";
import { FakeKernel } from "../../../adapters/kernel/fake-kernel.js";
import { coilClient, createJsonLogger, loadKubeConfig, makeClients, type Logger } from "../../../adapters/k8s/index.js";
import { parseIpamControllerFlags } from "../../../adapters/ipam-controller/flags.js";
import { runIpamController } from "../../../adapters/ipam-controller/run.js";
import { makeStartIpamWebhook } from "../../../adapters/ipam-controller/webhook-start.js";
import { parseRouterFlags } from "../../../adapters/router/flags.js";
import { parseEgressControllerFlags } from "../../../adapters/egress-controller/flags.js";
import { runEgressController } from "../../../adapters/egress-controller/run.js";
import { makeStartEgressWebhook } from "../../../adapters/egress-controller/webhook-start.js";
import { runRouter } from "../../../adapters/router/run.js";
import { openKubernetesStore } from "../../../adapters/daemon/store/kubernetes-cluster.js";
import { eventually, startCoilControlPlaneOrSkip } from "../../helpers/coil-envtest.js";
import { kubeconfigCa, startApiRecorder, type ApiRecorder, type RecordedRequest } from "./api-recorder.js";
import { ApiUsageScanner, type ProgramName } from "./api-usage.js";
import { grantKey, grantsOf, readManifests } from "./rbac-model.js";

const RENDERED = fileURLToPath(new URL("../../../config/rendered/coil.yaml", import.meta.url));
const NS = "kube-system";
const FIELD_MANAGER = "coil-rbac-envtest";
const PROGRAMS: readonly ProgramName[] = ["coil-ipam-controller", "coild", "coil-router", "coil-egress-controller"];
const RBAC_KINDS = new Set(["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"]);
const fmt = (u: { group: string; resource: string; verb: string }): string => `${u.verb} ${u.group === "" ? "" : `${u.group}/`}${u.resource}`;
const recordedKey = (r: RecordedRequest): string => grantKey({ group: r.group, resource: r.subresource === "" ? r.resource : `${r.resource}/${r.subresource}`, verb: r.verb });

/** A logger keeping lines (for failure messages). */
function capture(name: string): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: createJsonLogger({ write: (l) => lines.push(l), base: { logger: name } }), lines };
}

const started = await startCoilControlPlaneOrSkip(t);
if (started !== undefined) {
  const { cp, kc } = started;
  t.teardown(() => cp.stop());
  const dir = mkdtempSync(join(tmpdir(), "coil-rbac-envtest-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const objects = kc.makeApiClient(KubernetesObjectApi);
  const core = kc.makeApiClient(CoreV1Api);
  const authz = kc.makeApiClient(AuthorizationV1Api);
  const adm = kc.makeApiClient(AdmissionregistrationV1Api);
  const admin = makeClients(kc);
  t.teardown(() => admin.destroy());
  const coil = coilClient(admin.custom);
  const apply = (o: KubernetesObject): Promise<KubernetesObject> => objects.patch(o, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);

  // The scan runs while the API server is set up (it takes a few seconds of CPU).
  const scanner = new ApiUsageScanner();
  const scanned = new Map(PROGRAMS.map((p) => [p, scanner.scan(p)]));

  const rendered = (loadAllYaml(readFileSync(RENDERED, "utf8")) as KubernetesObject[]).filter((o) => o !== null);
  for (const o of rendered.filter((x) => RBAC_KINDS.has(x.kind ?? ""))) await apply(o);

  // The RBAC authorizer learns new roles through its informers: wait until every grant is in effect.
  const manifests = await readManifests(RENDERED);
  for (const p of PROGRAMS) {
    const grants = grantsOf(manifests, NS, p);
    await eventually(`${p}: every grant in effect`, async () => {
      for (const g of grants) {
        const [resource = "", subresource] = g.resource.split("/");
        const review = await authz.createSubjectAccessReview({
          body: {
            apiVersion: "authorization.k8s.io/v1",
            kind: "SubjectAccessReview",
            spec: {
              user: `system:serviceaccount:${NS}:${p}`,
              groups: ["system:serviceaccounts", `system:serviceaccounts:${NS}`, "system:authenticated"],
              resourceAttributes: {
                group: g.group,
                resource,
                verb: g.verb,
                ...(subresource === undefined ? {} : { subresource }),
                ...(g.role.startsWith("Role/") ? { namespace: NS } : {}),
                ...(g.resourceNames[0] === undefined ? {} : { name: g.resourceNames[0] }),
              },
            },
          },
        });
        if (review.status?.allowed !== true) return undefined;
      }
      return true;
    });
  }

  // Cluster state the flows need (as admin, before the webhooks exist: the API server cannot reach
  // the controller's webhook through its Service here).
  for (const name of ["node-1", "node-2"]) await core.createNode({ body: { metadata: { name } } });
  for (const [name, cidr] of [["default", "10.100.0.0/28"], ["doomed", "10.200.0.0/28"]] as const) {
    (await coil.pools.create({ metadata: { name, finalizers: ["coil.cybozu.com"] }, spec: { blockSizeBits: 2, subnets: [{ ipv4: cidr }] } }))._unsafeUnwrap();
  }
  // The webhook configurations (the controller injects its CA into them), failing open: the API
  // server has no route to the webhook Service in this test.
  for (const o of rendered.filter((x) => x.kind?.endsWith("WebhookConfiguration") === true)) {
    const w = o as V1ValidatingWebhookConfiguration | V1MutatingWebhookConfiguration;
    await apply({ ...w, webhooks: (w.webhooks ?? []).map((h) => ({ ...h, failurePolicy: "Ignore" })) } as unknown as KubernetesObject);
  }

  // One recorder and one token-bearing kubeconfig per program.
  const ca = await kubeconfigCa(cp.kubeconfigPath);
  const recorders = new Map<ProgramName, ApiRecorder>();
  const kubeconfigs = new Map<ProgramName, string>();
  for (const p of PROGRAMS) {
    const tr = await core.createNamespacedServiceAccountToken({ name: p, namespace: NS, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
    const rec = await startApiRecorder({ server: cp.server, ca });
    t.teardown(() => rec.close());
    recorders.set(p, rec);
    const file = join(dir, `${p}.kubeconfig`);
    writeFileSync(file, rec.kubeconfig(tr.status?.token ?? ""), { mode: 0o600 });
    kubeconfigs.set(p, file);
  }
  const kcOf = (p: ProgramName) => loadKubeConfig({ kubeconfig: kubeconfigs.get(p) ?? "", env: {} })._unsafeUnwrap();

  await t.test("coil-ipam-controller under its role", async (t) => {
    const { log, lines } = capture("coil-ipam-controller");
    const flags = parseIpamControllerFlags([
      "--metrics-addr=0",
      "--health-addr=0",
      "--webhook-addr=127.0.0.1:0",
      "--enable-cert-rotation",
      `--cert-dir=${join(dir, "certs")}`,
      "--gc-interval=1h",
      "--leader-elect-lease-duration=10s",
      "--leader-elect-renew-deadline=6s",
      "--leader-elect-retry-period=300ms",
    ])._unsafeUnwrap();
    if (typeof flags === "string") throw new Error(flags);
    const running = (await runIpamController(flags, { kc: kcOf("coil-ipam-controller"), log, identity: "rbac-envtest", startWebhook: makeStartIpamWebhook(), processMetrics: false }))._unsafeUnwrap();
    t.teardown(() => running.close());
    const why = (): string => lines.slice(-20).join("");
    const leases = kc.makeApiClient(CoordinationV1Api);
    await eventually("the controller holds the Lease", async () => ((await leases.readNamespacedLease({ name: "coil-ipam-leader", namespace: NS })).spec?.holderIdentity === "rbac-envtest" ? true : undefined), { timeoutMs: 30_000 });
    t.pass("leader elected (Lease created and renewed)");
    await eventually("the CA injected into both webhook configurations", async () => {
      const v = await adm.readValidatingWebhookConfiguration({ name: "coilv2-validating-ipam-webhook-configuration" });
      const m = await adm.readMutatingWebhookConfiguration({ name: "coilv2-mutating-ipam-webhook-configuration" });
      return (v.webhooks?.[0]?.clientConfig.caBundle ?? "") !== "" && (m.webhooks?.[0]?.clientConfig.caBundle ?? "") !== "" ? true : undefined;
    }, { timeoutMs: 30_000 });
    t.pass("CA injected");

    (await coil.requests.create({ metadata: { name: "for-node-2" }, spec: { nodeName: "node-2", poolName: "default" } }))._unsafeUnwrap();
    const block = await eventually("a block carved for node-2", async () => {
      const l = (await coil.blocks.list({ labelSelector: `${LABEL_NODE}=node-2` }))._unsafeUnwrap();
      return l.items[0];
    }, { timeoutMs: 20_000 });
    t.pass(`block ${block.metadata.name} carved for node-2`);
    await eventually("the BlockRequest's status written", async () => ((await coil.requests.get("for-node-2"))._unsafeUnwrap().status?.addressBlockName === block.metadata.name ? true : undefined));

    // Node deletion: only the Node watch can trigger the collection now (the next periodic GC is 1 h away).
    await core.deleteNode({ name: "node-2" });
    const gone = await eventually("node-2's block collected after the Node's deletion", async () => {
      const l = await coil.blocks.list({ labelSelector: `${LABEL_NODE}=node-2` });
      return l.isOk() && l.value.items.length === 0 ? true : undefined;
    }, { timeoutMs: 15_000 }).catch((e: unknown) => e as Error);
    t.equal(gone, true, `the block of the deleted Node is collected at once (Node watch allowed)${gone === true ? "" : `: ${String(gone)}\n${why()}`}`);

    (await coil.pools.delete("doomed"))._unsafeUnwrap();
    await eventually("the deleted pool's finalizer removed", async () => ((await coil.pools.get("doomed")).isErr() ? true : undefined), { timeoutMs: 20_000 });
    t.pass("unused pool's finalizer removed, pool gone");
  });

  await t.test("coild's Kubernetes store under its role (the controller answers its BlockRequests)", async (t) => {
    const { log: clog } = capture("coil-ipam-controller");
    const flags = parseIpamControllerFlags(["--metrics-addr=0", "--health-addr=0", "--leader-elect=false", "--gc-interval=1h"])._unsafeUnwrap();
    if (typeof flags === "string") throw new Error(flags);
    // The controller again, not recorded for coild: it runs under its own role (admin kubeconfig would hide nothing here).
    const controller = (await runIpamController(flags, { kc: kcOf("coil-ipam-controller"), log: clog, identity: "rbac-envtest-2", processMetrics: false }))._unsafeUnwrap();
    t.teardown(() => controller.close());
    const { log, lines } = capture("coild");
    const opened = await openKubernetesStore({ kubeconfig: kubeconfigs.get("coild") ?? "", env: {}, node: "node-1", log, startupTimeoutMs: 20_000 });
    if (opened.isErr()) {
      t.fail(`store opened: ${JSON.stringify(opened.error)}\n${lines.join("")}`);
      return;
    }
    const setup = opened.value;
    t.teardown(() => setup.close());
    t.equal(setup.poolFor("kube-system"), "default", "pool of a namespace (Namespace watch)");
    const pools = (await setup.store.listPools())._unsafeUnwrap();
    t.ok(pools.some((p) => p.name === "default"), "pools listed");
    const got = await setup.store.acquireBlock("default", "node-1");
    t.ok(got.isOk(), `block acquired through a BlockRequest ${got.isErr() ? JSON.stringify(got.error) : got.value.name}\n${got.isErr() ? lines.join("") : ""}`);
    if (got.isErr()) return;
    t.ok((await setup.store.listBlocks("node-2")).isOk(), "another node's blocks listed");
    t.ok((await setup.store.releaseBlock("default", "node-1", got.value.name)).isOk(), "block released");
    await eventually("the released block deleted", async () => ((await coil.blocks.get(got.value.name)).isErr() ? true : undefined));
  });

  await t.test("coil-router under its role", async (t) => {
    const { log } = capture("coil-router");
    const flags = parseRouterFlags(["--metrics-addr=0", "--health-addr=0"], { COIL_NODE_NAME: "node-1" })._unsafeUnwrap();
    if (typeof flags === "string") throw new Error(flags);
    const kernel = new FakeKernel();
    kernel.addNetns(HOST_NETNS);
    const rec = recorders.get("coil-router");
    // A block of another node: the router syncs on AddressBlock events (and every --update-interval).
    (await coil.blocks.create({ metadata: { name: "default-3", labels: { [LABEL_NODE]: "node-2", [LABEL_POOL]: "default" } }, index: 3, ipv4: "10.100.0.12/30" }))._unsafeUnwrap();
    const running = (await runRouter(flags, { kc: kcOf("coil-router"), log, kernel, processMetrics: false }))._unsafeUnwrap();
    t.teardown(() => running.close());
    const did = (resource: string, verb: string): boolean => rec?.requests.some((r) => r.resource === resource && r.verb === verb) === true;
    await eventually("the router listed and watches Nodes and AddressBlocks", () =>
      did("nodes", "list") && did("nodes", "watch") && did("addressblocks", "watch") ? true : undefined,
    );
    t.pass("synced");
  });

  await t.test("coil-egress-controller under its role; then coil-egress's ServiceAccount may read Pods", async (t) => {
    const { log, lines } = capture("coil-egress-controller");
    const why = (): string => lines.slice(-20).join("");
    // Its own Pod: the first container's image is the egress pods' default image.
    await core.createNamespacedPod({ namespace: NS, body: { metadata: { name: "coil-egress-controller-0" }, spec: { containers: [{ name: "coil-egress-controller", image: "localhost/coil-ts:test" }] } } });
    const flags = parseEgressControllerFlags([
      "--metrics-addr=0",
      "--health-addr=0",
      "--webhook-addr=127.0.0.1:0",
      "--enable-cert-rotation",
      `--cert-dir=${join(dir, "egress-certs")}`,
      "--leader-elect-lease-duration=10s",
      "--leader-elect-renew-deadline=6s",
      "--leader-elect-retry-period=300ms",
    ])._unsafeUnwrap();
    if (typeof flags === "string") throw new Error(flags);
    const started = await runEgressController(flags, {
      kc: kcOf("coil-egress-controller"),
      log,
      identity: "rbac-envtest-egress",
      env: { COIL_POD_NAMESPACE: NS, COIL_POD_NAME: "coil-egress-controller-0" },
      startWebhook: makeStartEgressWebhook(),
      processMetrics: false,
    });
    if (started.isErr()) {
      t.fail(`controller started: ${JSON.stringify(started.error)}\n${why()}`);
      return;
    }
    const running = started.value;
    t.teardown(() => running.close());
    t.equal(running.settings.image, "localhost/coil-ts:test", "own Pod read: default image");
    const leases = kc.makeApiClient(CoordinationV1Api);
    await eventually("the controller holds the Lease", async () => ((await leases.readNamespacedLease({ name: "coil-egress-leader", namespace: NS })).spec?.holderIdentity === "rbac-envtest-egress" ? true : undefined), { timeoutMs: 30_000 });
    t.pass("leader elected (Lease coil-egress-leader)");
    await eventually("the CA injected into both egress webhook configurations", async () => {
      const v = await adm.readValidatingWebhookConfiguration({ name: "coilv2-validating-egress-webhook-configuration" });
      const m = await adm.readMutatingWebhookConfiguration({ name: "coilv2-mutating-egress-webhook-configuration" });
      return (v.webhooks?.[0]?.clientConfig.caBundle ?? "") !== "" && (m.webhooks?.[0]?.clientConfig.caBundle ?? "") !== "" ? true : undefined;
    }, { timeoutMs: 30_000 });
    t.pass("CA injected");

    const ns = "egress-rbac";
    await core.createNamespace({ body: { metadata: { name: ns } } });
    await objects.create({
      apiVersion: "coil.cybozu.com/v2",
      kind: "Egress",
      metadata: { name: "internet", namespace: ns },
      spec: { destinations: ["0.0.0.0/0"], replicas: 2, podDisruptionBudget: { maxUnavailable: 1 } },
    } as KubernetesObject);
    const apps = kc.makeApiClient(AppsV1Api);
    const policy = kc.makeApiClient(PolicyV1Api);
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    const made = await eventually("Deployment, Service, PDB, ServiceAccount and the binding's subject made", async () => {
      const got = await Promise.all([
        apps.readNamespacedDeployment({ name: "internet", namespace: ns }).then(() => true, () => false),
        core.readNamespacedService({ name: "internet", namespace: ns }).then(() => true, () => false),
        policy.readNamespacedPodDisruptionBudget({ name: "internet", namespace: ns }).then(() => true, () => false),
        core.readNamespacedServiceAccount({ name: "coil-egress", namespace: ns }).then(() => true, () => false),
        rbac.readClusterRoleBinding({ name: "coil-egress" }).then((b) => (b.subjects ?? []).some((x) => x.namespace === ns && x.name === "coil-egress"), () => false),
      ]);
      return got.every(Boolean) ? true : undefined;
    }, { timeoutMs: 30_000 }).catch((e: unknown) => e as Error);
    t.equal(made, true, `the Egress's objects made and ClusterRoleBinding coil-egress bound (escalation check passed)${made === true ? "" : `: ${String(made)}\n${why()}`}`);
    const status = await eventually("the Egress status written", async () => {
      const e = await objects.read<KubernetesObject & { status?: { selector?: string } }>({ apiVersion: "coil.cybozu.com/v2", kind: "Egress", metadata: { name: "internet", namespace: ns } });
      return e.status?.selector;
    }, { timeoutMs: 20_000 });
    t.equal(status, "app.kubernetes.io/component=egress,app.kubernetes.io/instance=internet,app.kubernetes.io/name=coil", "status.selector");

    // What the binding gives the egress pods: coil-egress's requests (list and watch Pods everywhere).
    const egressSa = { user: `system:serviceaccount:${ns}:coil-egress`, groups: ["system:serviceaccounts", `system:serviceaccounts:${ns}`, "system:authenticated"] };
    for (const verb of ["list", "watch"]) {
      const ok = await eventually(`coil-egress may ${verb} pods`, async () => {
        const r = await authz.createSubjectAccessReview({ body: { apiVersion: "authorization.k8s.io/v1", kind: "SubjectAccessReview", spec: { ...egressSa, resourceAttributes: { group: "", resource: "pods", verb } } } });
        return r.status?.allowed === true ? true : undefined;
      });
      t.equal(ok, true, `ServiceAccount ${ns}/coil-egress may ${verb} Pods in every namespace (ClusterRoleBinding coil-egress)`);
    }
  });

  await t.test("no request was refused, and every request is one the source scan derives", async (t) => {
    for (const p of PROGRAMS) {
      const rec = recorders.get(p);
      if (rec === undefined) continue;
      const refused = rec.requests.filter((r) => r.status === 401 || r.status === 403).map((r) => `${r.status} ${fmt({ group: r.group, resource: r.resource + (r.subresource === "" ? "" : `/${r.subresource}`), verb: r.verb })} ${r.method} ${r.path}`);
      t.same([...new Set(refused)], [], `${p}: no 401/403 among ${rec.requests.length} requests`);
      const derived = new Set((scanned.get(p) ?? []).map(grantKey));
      const seen = new Set(rec.requests.map(recordedKey));
      const outside = [...seen].filter((k) => !derived.has(k));
      t.same(outside, [], `${p}: every recorded (group|resource|verb) is derived by the scan`);
      const idle = (scanned.get(p) ?? []).filter((u) => !seen.has(grantKey(u)));
      t.comment(`${p}: ${seen.size} kinds of request recorded; scanned but not exercised here: ${idle.length === 0 ? "none" : idle.map((u) => `${fmt(u)} (${u.where})`).join(", ")}`);
      t.same(rec.nonResource.filter((r) => r.status === 401 || r.status === 403), [], `${p}: no refused non-resource request`);
    }
  });
}
