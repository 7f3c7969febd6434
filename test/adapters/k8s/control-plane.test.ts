// Real etcd + kube-apiserver (scripts/envtest/build.sh) with Coil's CRDs from config/crd applied:
// schema defaults, validation, printer columns and subresources as the apiserver enforces them.
import t, { type Test } from "tap";
import { readdir, readFile } from "node:fs/promises";
import { request as httpsRequest, type RequestOptions } from "node:https";
import { fileURLToPath } from "node:url";
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  loadYaml,
  type V1CustomResourceDefinition,
} from "@kubernetes/client-node";
import { startControlPlane, type ControlPlaneBinaries } from "../../helpers/envtest.js";
import { resolveControlPlaneBinaries, skipOrFail, waitFor } from "../../helpers/coil-envtest.js";

const CRD_DIR = fileURLToPath(new URL("../../../config/crd/", import.meta.url));
const GROUP = "coil.cybozu.com";
const VERSION = "v2";

const binaries = await resolveControlPlaneBinaries(t);
if (typeof binaries === "string") skipOrFail(t, `kube-apiserver/etcd missing and could not be built: ${binaries}`);
else await run(binaries);

async function run(bins: ControlPlaneBinaries): Promise<void> {
  const started = Date.now();
  const cp = await startControlPlane({ binaries: bins });
  t.teardown(() => cp.stop());
  t.comment(`control plane ready at ${cp.server} in ${Date.now() - started} ms`);
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
  const ext = kc.makeApiClient(ApiextensionsV1Api);
  const co = kc.makeApiClient(CustomObjectsApi);

  await t.test("apiserver reports the built version", async (t) => {
    const v = JSON.parse(await rawGet(kc, "/version")) as { gitVersion: string };
    t.match(v.gitVersion, /^v1\.35\.\d+$/);
  });

  await t.test("CRDs apply and become Established", async (t) => {
    const files = (await readdir(CRD_DIR)).filter((f) => f.startsWith("coil.cybozu.com_") && f.endsWith(".yaml"));
    t.same(files.sort(), [
      "coil.cybozu.com_addressblocks.yaml",
      "coil.cybozu.com_addresspools.yaml",
      "coil.cybozu.com_blockrequests.yaml",
      "coil.cybozu.com_egresses.yaml",
    ]);
    for (const f of files) {
      // loadYaml maps wire names to client-node's model fields (`default` -> `_default`,
      // `x-kubernetes-*` -> `xKubernetes*`); a plain YAML parse would have those keys silently dropped.
      const body = loadYaml<V1CustomResourceDefinition>(await readFile(CRD_DIR + f, "utf8"));
      await ext.createCustomResourceDefinition({ body });
    }
    for (const plural of ["addresspools", "addressblocks", "blockrequests", "egresses"]) {
      const crd = await waitEstablished(ext, `${plural}.${GROUP}`);
      t.ok(crd, `${plural} Established`);
    }
  });

  const pool = (name: string, spec: unknown) => ({ apiVersion: `${GROUP}/${VERSION}`, kind: "AddressPool", metadata: { name }, spec });
  const createPool = (name: string, spec: unknown) =>
    co.createClusterCustomObject({ group: GROUP, version: VERSION, plural: "addresspools", body: pool(name, spec) });

  await t.test("AddressPool schema", async (t) => {
    const accepted: ReadonlyArray<{ name: string; spec: Record<string, unknown>; bits: number }> = [
      { name: "defaulted", spec: { subnets: [{ ipv4: "10.2.0.0/24" }] }, bits: 5 },
      { name: "zero", spec: { blockSizeBits: 0, subnets: [{ ipv4: "10.3.0.0/24" }] }, bits: 0 },
      { name: "dual", spec: { blockSizeBits: 2, subnets: [{ ipv4: "10.4.0.0/24", ipv6: "fd02::/120" }] }, bits: 2 },
    ];
    for (const c of accepted) {
      await createPool(c.name, c.spec);
      const got = (await co.getClusterCustomObject({ group: GROUP, version: VERSION, plural: "addresspools", name: c.name })) as {
        spec: { blockSizeBits: number; subnets: unknown };
      };
      t.equal(got.spec.blockSizeBits, c.bits, `${c.name}: blockSizeBits stored as ${c.bits}`);
      t.same(got.spec.subnets, c.spec["subnets"], `${c.name}: subnets stored as given`);
    }
    const rejected: ReadonlyArray<{ name: string; spec: unknown; why: RegExp }> = [
      { name: "negative", spec: { blockSizeBits: -1, subnets: [{ ipv4: "10.5.0.0/24" }] }, why: /spec\.blockSizeBits.*greater than or equal to 0/ },
      { name: "empty", spec: { subnets: [] }, why: /spec\.subnets.*at least 1 items/ },
      { name: "missing", spec: { blockSizeBits: 3 }, why: /spec\.subnets.*Required value/ },
      { name: "string-bits", spec: { blockSizeBits: "5", subnets: [{ ipv4: "10.6.0.0/24" }] }, why: /spec\.blockSizeBits.*must be of type integer/ },
    ];
    for (const c of rejected) await rejects(t, createPool(`bad-${c.name}`, c.spec), 422, c.why, `rejects ${c.name}`);
    const table = await printerTable(kc, "/apis/coil.cybozu.com/v2/addresspools/zero");
    t.same(table.columns, ["Name", "BlockSize Bits"]);
    t.equal(table.rows[0]?.[1], 0, "BlockSize Bits column shows 0");
  });

  await t.test("AddressBlock schema and printer columns", async (t) => {
    const block = (name: string, fields: Record<string, unknown>) => ({
      apiVersion: `${GROUP}/${VERSION}`,
      kind: "AddressBlock",
      metadata: { name, labels: { "coil.cybozu.com/node": "node1", "coil.cybozu.com/pool": "default" } },
      ...fields,
    });
    const create = (name: string, fields: Record<string, unknown>) =>
      co.createClusterCustomObject({ group: GROUP, version: VERSION, plural: "addressblocks", body: block(name, fields) });
    await create("default-0", { index: 0, ipv4: "10.2.0.0/27", ipv6: "fd02::/123" });
    await rejects(t, create("default-neg", { index: -1, ipv4: "10.2.0.32/27" }), 422, /index.*greater than or equal to 0/, "negative index");
    await rejects(t, create("default-none", { ipv4: "10.2.0.32/27" }), 422, /index.*Required value/, "missing index");
    const table = await printerTable(kc, "/apis/coil.cybozu.com/v2/addressblocks/default-0");
    t.same(table.columns, ["Name", "Node", "Pool", "IPv4", "IPv6"]);
    t.same(table.rows[0]?.slice(1, 5), ["node1", "default", "10.2.0.0/27", "fd02::/123"]);
  });

  await t.test("BlockRequest schema and status subresource", async (t) => {
    const req = (name: string, spec: unknown, status?: unknown) => ({
      apiVersion: `${GROUP}/${VERSION}`,
      kind: "BlockRequest",
      metadata: { name },
      spec,
      ...(status === undefined ? {} : { status }),
    });
    const api = { group: GROUP, version: VERSION, plural: "blockrequests" };
    await rejects(t, co.createClusterCustomObject({ ...api, body: req("r0", { nodeName: "n1" }) }), 422, /spec\.poolName.*Required value/, "missing poolName");
    const status = { addressBlockName: "default-0", conditions: [{ type: "Complete", status: "True" }] };
    await co.createClusterCustomObject({ ...api, body: req("req-default-n1", { nodeName: "n1", poolName: "default" }, status) });
    const created = (await co.getClusterCustomObject({ ...api, name: "req-default-n1" })) as Record<string, unknown> & {
      metadata: Record<string, unknown>;
    };
    t.equal(created["status"], undefined, "status is dropped on create (status subresource)");
    await co.replaceClusterCustomObjectStatus({ ...api, name: "req-default-n1", body: { ...created, status } });
    const after = (await co.getClusterCustomObject({ ...api, name: "req-default-n1" })) as Record<string, unknown>;
    t.same(after["status"], status, "status written through /status");
    await rejects(
      t,
      co.replaceClusterCustomObjectStatus({ ...api, name: "req-default-n1", body: { ...after, status: { conditions: [{ type: "Failed" }] } } }),
      422,
      /status\.conditions\[0\]\.status.*Required value/,
      "condition without status",
    );
  });

  await t.test("Egress defaults, validation and scale subresource", async (t) => {
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: "egress-test" } } });
    const api = { group: GROUP, version: VERSION, namespace: "egress-test", plural: "egresses" };
    const egress = (name: string, spec: unknown) => ({ apiVersion: `${GROUP}/${VERSION}`, kind: "Egress", metadata: { name }, spec });
    await co.createNamespacedCustomObject({ ...api, body: egress("egress", { destinations: ["0.0.0.0/0"] }) });
    const got = (await co.getNamespacedCustomObject({ ...api, name: "egress" })) as { spec: Record<string, unknown> };
    t.strictSame(got.spec, { destinations: ["0.0.0.0/0"], replicas: 1, sessionAffinity: "ClientIP" });

    const template = {
      metadata: { labels: { a: "b" } },
      spec: { nodeSelector: { x: "y" }, containers: [{ name: "egress", image: "img", resources: { limits: { cpu: "1" } } }] },
    };
    await co.createNamespacedCustomObject({ ...api, body: egress("with-template", { destinations: ["10.0.0.0/8"], template }) });
    const withTemplate = (await co.getNamespacedCustomObject({ ...api, name: "with-template" })) as { spec: { template: unknown } };
    t.same(withTemplate.spec.template, template, "a valid PodSpec body is stored as given");

    const bad: ReadonlyArray<{ name: string; spec: unknown; why: RegExp }> = [
      { name: "no-dest", spec: { destinations: [] }, why: /spec\.destinations.*at least 1 items/ },
      { name: "replicas0", spec: { destinations: ["10.0.0.0/8"], replicas: 0 }, why: /spec\.replicas.*greater than or equal to 1/ },
      { name: "affinity", spec: { destinations: ["10.0.0.0/8"], sessionAffinity: "Sticky" }, why: /spec\.sessionAffinity.*Unsupported value/ },
      { name: "no-containers", spec: { destinations: ["10.0.0.0/8"], template: { spec: {} } }, why: /spec\.template\.spec\.containers.*Required value/ },
    ];
    for (const c of bad) await rejects(t, co.createNamespacedCustomObject({ ...api, body: egress(c.name, c.spec) }), 422, c.why, `rejects ${c.name}`);

    const scale0 = (await co.getNamespacedCustomObjectScale({ ...api, name: "egress" })) as { spec: { replicas: number } };
    t.equal(scale0.spec.replicas, 1, "scale reads .spec.replicas");
    await co.replaceNamespacedCustomObjectScale({ ...api, name: "egress", body: { ...scale0, spec: { replicas: 3 } } });
    const scaled = (await co.getNamespacedCustomObject({ ...api, name: "egress" })) as Record<string, unknown> & { spec: { replicas: number } };
    t.equal(scaled.spec.replicas, 3, "scale writes .spec.replicas");
    await co.replaceNamespacedCustomObjectStatus({ ...api, name: "egress", body: { ...scaled, status: { replicas: 2, selector: "app=egress" } } });
    const scale1 = (await co.getNamespacedCustomObjectScale({ ...api, name: "egress" })) as { status: { replicas: number; selector: string } };
    t.same(scale1.status, { replicas: 2, selector: "app=egress" }, "scale status from .status.replicas/.status.selector");
  });

  t.comment(`total ${Date.now() - started} ms`);
}

async function waitEstablished(ext: ApiextensionsV1Api, name: string): Promise<boolean> {
  await waitFor(`CRD ${name} Established`, async () => {
    const crd = await ext.readCustomResourceDefinition({ name });
    return crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True") === true;
  }, { intervalMs: 100 });
  return true;
}

/** Asserts the request fails with HTTP `code` and a body matching `why`. */
async function rejects(t: Pick<Test, "equal" | "match" | "fail">, p: Promise<unknown>, code: number, why: RegExp, msg: string): Promise<void> {
  try {
    await p;
    t.fail(`${msg}: expected HTTP ${code}, request succeeded`);
  } catch (err) {
    const e = err as { code?: number; body?: unknown };
    t.equal(e.code, code, `${msg}: HTTP ${code}`);
    t.match(typeof e.body === "string" ? e.body : JSON.stringify(e.body), why, `${msg}: reason`);
  }
}

type TableResponse = { columns: string[]; rows: unknown[][] };

/** GET `path` as a meta.k8s.io/v1 Table: the apiserver renders the CRD's printer columns. */
async function printerTable(kc: KubeConfig, path: string): Promise<TableResponse> {
  const raw = JSON.parse(await rawGet(kc, path, "application/json;as=Table;g=meta.k8s.io;v=v1")) as {
    columnDefinitions: Array<{ name: string }>;
    rows: Array<{ cells: unknown[] }>;
  };
  return { columns: raw.columnDefinitions.map((c) => c.name), rows: raw.rows.map((r) => r.cells) };
}

async function rawGet(kc: KubeConfig, path: string, accept = "application/json"): Promise<string> {
  const server = kc.getCurrentCluster()?.server;
  if (server === undefined) throw new Error("no cluster in kubeconfig");
  const opts: RequestOptions = { headers: { accept } };
  await kc.applyToHTTPSOptions(opts);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(new URL(path, server), opts, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (d: string) => (body += d));
      res.on("end", () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${path}: ${res.statusCode} ${body}`))));
    });
    req.on("error", reject);
    req.end();
  });
}
