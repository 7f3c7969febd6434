/**
 * A real control plane with Coil's CRDs applied and the `kube-system` namespace created, for
 * controller tests. Fails the calling test when the control-plane binaries are not built (`npm test`
 * builds them before the tests; COIL_TEST_ALLOW_SKIP=1 skips instead). Also the binary lookup for
 * tests that start a bare control plane themselves.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  loadYaml,
  type V1CustomResourceDefinition,
} from "@kubernetes/client-node";
import { missingPrerequisite } from "./prerequisites.js";
import type { Test } from "tap";
import { findControlPlaneBinaries, startControlPlane, type ControlPlane, type ControlPlaneBinaries, type ControlPlaneOptions } from "./envtest.js";
import { waitFor } from "./wait.js";

export { eventually, waitFor, type WaitOptions } from "./wait.js";

const CRD_DIR = fileURLToPath(new URL("../../config/crd/", import.meta.url));

/** A started control plane plus a loaded KubeConfig. */
export interface CoilControlPlane {
  /** The control plane (kubeconfig path, stop()). */
  readonly cp: ControlPlane;
  /** Admin kubeconfig, loaded. */
  readonly kc: KubeConfig;
}

/**
 * Start a control plane, apply every `config/crd/coil.cybozu.com_*.yaml` (through `loadYaml`, so
 * `default`/`x-kubernetes-*` survive), wait until Established, create `kube-system`. Returns a
 * string (the reason) when the binaries are unavailable and may not be built.
 */
export async function startCoilControlPlane(opts: Pick<ControlPlaneOptions, "serviceClusterIPRange" | "apiserverFlags"> = {}): Promise<CoilControlPlane | string> {
  let binaries;
  try {
    binaries = await findControlPlaneBinaries({ build: process.env["COIL_ENVTEST_BUILD"] === "1" });
  } catch (e) {
    return (e as Error).message;
  }
  const cp = await startControlPlane({ binaries, ...opts });
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    await applyCoilCrds(kc);
    // The API server creates kube-system itself a moment after start; make sure it exists.
    await kc
      .makeApiClient(CoreV1Api)
      .createNamespace({ body: { metadata: { name: "kube-system" } } })
      .catch((e: { code?: number }) => {
        if (e.code !== 409) throw e;
      });
    return { cp, kc };
  } catch (e) {
    await cp.stop();
    throw e;
  }
}

/**
 * A test that needs a control plane cannot run: fail it with the reason and how to get the binaries,
 * or skip it (`1..0 # reason`) under `COIL_TEST_ALLOW_SKIP=1` ({@link missingPrerequisite}).
 */
export function skipOrFail(t: Test, reason: string): void {
  missingPrerequisite(t, reason);
}

/**
 * {@link startCoilControlPlane}, or, when the control plane is unavailable, {@link skipOrFail}
 * `t` (`control plane unavailable: <reason>`) and return `undefined`.
 */
export async function startCoilControlPlaneOrSkip(t: Test, opts: Pick<ControlPlaneOptions, "serviceClusterIPRange" | "apiserverFlags"> = {}): Promise<CoilControlPlane | undefined> {
  const started = await startCoilControlPlane(opts);
  if (typeof started !== "string") return started;
  skipOrFail(t, `control plane unavailable: ${started}`);
  return undefined;
}

/**
 * The control-plane binaries prepared by `npm test` (scripts/test-prepare.sh runs
 * scripts/envtest/build.sh before the tests), or a string (the reason) when they are missing. A test
 * never builds them itself, unless `COIL_ENVTEST_BUILD=1` (many minutes: `t`'s timeout is raised
 * and the build log goes to `t.comment`).
 */
export async function resolveControlPlaneBinaries(t: Test): Promise<ControlPlaneBinaries | string> {
  const build = process.env["COIL_ENVTEST_BUILD"] === "1";
  if (build) t.setTimeout(45 * 60_000);
  try {
    return await findControlPlaneBinaries({ build, ...(build ? { log: (l: string) => t.comment(l) } : {}) });
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * Apply Coil's CRDs (the `coil.cybozu.com_*.yaml` files of `crdDir`, default this checkout's
 * config/crd/) and wait for them to be Established. A bundled program (a VM guest) passes the
 * directory: its own location says nothing about the checkout's.
 */
export async function applyCoilCrds(kc: KubeConfig, crdDir: string = CRD_DIR): Promise<void> {
  const ext = kc.makeApiClient(ApiextensionsV1Api);
  const files = (await readdir(crdDir)).filter((f) => f.startsWith("coil.cybozu.com_") && f.endsWith(".yaml"));
  const crds: V1CustomResourceDefinition[] = [];
  for (const f of files) {
    const body = loadYaml<V1CustomResourceDefinition>(await readFile(join(crdDir, f), "utf8"));
    await ext.createCustomResourceDefinition({ body });
    crds.push(body);
  }
  const custom = kc.makeApiClient(CustomObjectsApi);
  for (const crd of crds) {
    const name = crd.metadata?.name ?? "";
    await waitFor(`CRD ${name} Established`, async () => {
      const read = await ext.readCustomResourceDefinition({ name });
      return read.status?.conditions?.some((c) => c.type === "Established" && c.status === "True") === true;
    });
    // Established is not served: until the resource's storage (watch cache) is initialized the API
    // server answers 429 "storage is (re)initializing" to requests for it, creates included; a LIST at
    // resourceVersion 0 is served by that cache, so its success says the cache is ready.
    const version = crd.spec.versions.find((v) => v.storage)?.name ?? "";
    await waitFor(`CRD ${name} served`, () =>
      custom.listClusterCustomObject({ group: crd.spec.group, version, plural: crd.spec.names.plural, resourceVersion: "0" }).then(() => true, () => false),
    );
  }
}
