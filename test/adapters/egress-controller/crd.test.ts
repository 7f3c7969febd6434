// The Egress CRD (config/crd/coil.cybozu.com_egresses.yaml) is Coil v2.15.0's: the same file as Coil's generated one,
// and through a REAL kube-apiserver it accepts, rejects, prunes and defaults Egresses as Coil's does (issue 10 part 5).
import t from "tap";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CoreV1Api, CustomObjectsApi, loadAllYaml, loadYaml } from "@kubernetes/client-node";
import { startCoilControlPlaneOrSkip } from "../../helpers/coil-envtest.js";
import { missingPrerequisite } from "../../helpers/prerequisites.js";
import { coilV2ModuleDir } from "./coil-v2-module.js";

const CRD = fileURLToPath(new URL("../../../config/crd/coil.cybozu.com_egresses.yaml", import.meta.url));
const GROUP = "coil.cybozu.com";
const VERSION = "v2";

type Obj = Record<string, unknown>;

const mod = coilV2ModuleDir();
if ("missing" in mod) missingPrerequisite(t, mod.missing);
else await run(mod.dir);

async function run(coilDir: string): Promise<void> {
  await t.test("the CRD is Coil v2.15.0's generated CRD", async (t) => {
    const ours = loadYaml(await readFile(CRD, "utf8"));
    const coil = loadYaml(await readFile(join(coilDir, "config/crd/bases/coil.cybozu.com_egresses.yaml"), "utf8"));
    t.same(ours, coil, "same object");
    t.notMatch(await readFile(CRD, "utf8"), /x-kubernetes-preserve-unknown-fields/, "no preserve-unknown-fields anywhere");
  });

  const started = await startCoilControlPlaneOrSkip(t);
  if (started === undefined) return;
  t.teardown(() => started.cp.stop());
  const { kc } = started;
  const co = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: "internet" } } });
  await core.createNamespace({ body: { metadata: { name: "crd" } } });
  const api = (namespace: string) => ({ group: GROUP, version: VERSION, namespace, plural: "egresses" });
  const egress = (name: string, spec: unknown) => ({ apiVersion: `${GROUP}/${VERSION}`, kind: "Egress", metadata: { name, namespace: "crd" }, spec });
  const create = (name: string, spec: unknown) => co.createNamespacedCustomObject({ ...api("crd"), body: egress(name, spec) }) as Promise<Obj & { spec: Obj }>;
  const rejected = async (name: string, spec: unknown, why: RegExp): Promise<void> => {
    try {
      await create(name, spec);
      t.fail(`${name}: accepted, expected a rejection`);
    } catch (e) {
      const x = e as { code?: number; body?: unknown };
      t.equal(x.code, 422, `${name}: HTTP 422`);
      t.match(typeof x.body === "string" ? x.body : JSON.stringify(x.body), why, `${name}: reason`);
    }
  };
  const template = (spec: Obj): Obj => ({ spec });

  await t.test("Coil's own Egress manifests are accepted and stored as given, plus Coil's schema defaults only", async (t) => {
    for (const f of ["egress.yaml", "egress-sport-auto.yaml", "egress-updated.yaml"]) {
      const docs = loadAllYaml(await readFile(join(coilDir, "e2e/manifests", f), "utf8")) as Obj[];
      const eg = docs.find((d) => d["kind"] === "Egress") as Obj & { metadata: { name: string; namespace: string }; spec: Obj };
      const name = `${eg.metadata.name}-${f.replace(/\.yaml$/, "").replace(/[^a-z0-9-]/g, "-")}`;
      await co.createNamespacedCustomObject({ ...api("internet"), body: { ...eg, metadata: { ...eg.metadata, name } } });
      const got = (await co.getNamespacedCustomObject({ ...api("internet"), name })) as { spec: Obj };
      t.same(got.spec, { ...eg.spec, sessionAffinity: "ClientIP" }, `${f}: stored spec = given + sessionAffinity default`);
      t.strictSame(Object.keys(got.spec).sort(), Object.keys({ ...eg.spec, sessionAffinity: "" }).sort(), `${f}: no other field added`);
    }
  });

  await t.test("defaults: replicas 1, sessionAffinity ClientIP, no fouSourcePortAuto added", async (t) => {
    const got = await create("minimal", { destinations: ["0.0.0.0/0"] });
    t.strictSame(got.spec, { destinations: ["0.0.0.0/0"], replicas: 1, sessionAffinity: "ClientIP" });
  });

  await t.test("the PodSpec schema rejects what Coil's rejects", async () => {
    await rejected("dup-containers", { destinations: ["10.0.0.0/8"], template: template({ containers: [{ name: "egress" }, { name: "egress" }] }) }, /spec\.template\.spec\.containers\[1\].*Duplicate value/);
    await rejected("string-node-selector", { destinations: ["10.0.0.0/8"], template: template({ nodeSelector: "zone=a", containers: [{ name: "egress" }] }) }, /spec\.template\.spec\.nodeSelector.*must be of type object/);
    await rejected("no-container-name", { destinations: ["10.0.0.0/8"], template: template({ containers: [{ image: "x" }] }) }, /spec\.template\.spec\.containers\[0\]\.name.*Required value/);
    await rejected("bad-quantity", { destinations: ["10.0.0.0/8"], template: template({ containers: [{ name: "egress", resources: { limits: { memory: "lots" } } }] }) }, /spec\.template\.spec\.containers\[0\]\.resources\.limits\.memory.*should match/);
    await rejected("no-containers", { destinations: ["10.0.0.0/8"], template: template({}) }, /spec\.template\.spec\.containers.*Required value/);
    await rejected("replicas0", { destinations: ["10.0.0.0/8"], replicas: 0 }, /spec\.replicas.*greater than or equal to 1/);
    await rejected("affinity", { destinations: ["10.0.0.0/8"], sessionAffinity: "Sticky" }, /spec\.sessionAffinity.*Unsupported value/);
    await rejected("no-dest", { destinations: [] }, /spec\.destinations.*at least 1 items/);
  });

  await t.test("a numeric memory limit is accepted and kept a number (int-or-string quantity, as in Coil's CRD)", async (t) => {
    const got = await create("numeric-memory", { destinations: ["10.0.0.0/8"], template: template({ containers: [{ name: "egress", resources: { limits: { memory: 268435456 } } }] }) });
    const c = ((got.spec["template"] as Obj)["spec"] as { containers: Array<{ resources: { limits: Obj } }> }).containers[0];
    t.equal(c?.resources.limits["memory"], 268435456);
  });

  await t.test("misspelled and unknown fields are pruned", async (t) => {
    const got = await create("pruned", {
      destinations: ["10.0.0.0/8"],
      destination: ["typo"],
      template: { metadata: { labels: { a: "b" }, name: "dropped" }, spec: { nodeSelectr: { x: "y" }, containers: [{ name: "egress", imagee: "typo", image: "img" }] } },
    });
    t.strictSame(got.spec, {
      destinations: ["10.0.0.0/8"],
      replicas: 1,
      sessionAffinity: "ClientIP",
      template: { metadata: { labels: { a: "b" } }, spec: { containers: [{ name: "egress", image: "img" }] } },
    });
  });

  await t.test("PodSpec field defaults of Coil's schema apply (container port protocol TCP)", async (t) => {
    const got = await create("port-default", { destinations: ["10.0.0.0/8"], template: template({ containers: [{ name: "egress", ports: [{ containerPort: 80 }] }] }) });
    const c = ((got.spec["template"] as Obj)["spec"] as { containers: Array<{ ports: Obj[] }> }).containers[0];
    t.strictSame(c?.ports, [{ containerPort: 80, protocol: "TCP" }]);
  });
}
