// `kubectl apply -k config/default` works, with real kustomize (`kubectl kustomize`, kustomize v5
// built into kubectl) instead of scripts/render-manifests.ts's subset: its output is object for object
// the committed config/rendered/*.yaml (same objects, same order), and `kubectl apply -k` of both
// layouts succeeds against a real kube-apiserver, after which `kubectl diff -k` finds nothing to change.
// The variants (config/variants: originating-only, nftables, vxlan; not rendered into config/rendered) are
// rendered by both and compared the same way, their flags checked in kubectl's output, and applied
// one after the other over config/default (each then diff-clean).
//
// kubectl: $COIL_KUBECTL, else the cluster harness's build (~/.cache/coil-cluster/<version>/kubectl,
// scripts/cluster/build.sh; never built here), else `kubectl` on PATH.
import t from "tap";
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { isDeepStrictEqual } from "node:util";
import { parseAllDocuments } from "yaml";
import { startControlPlane } from "../../helpers/envtest.js";
import { resolveControlPlaneBinaries, skipOrFail } from "../../helpers/coil-envtest.js";
import { EGRESS_ONLY_VARIANTS, REPO_ROOT, VARIANTS, orderObjects, renderKustomization, type K8sObject } from "../../../scripts/render-manifests.js";

const exec = promisify(execFile);
const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const LAYOUTS = [
  { dir: "config/default", rendered: "config/rendered/coil.yaml" },
  { dir: "config/router", rendered: "config/rendered/coil-router.yaml" },
];

/** The kubectl to use, or undefined. */
async function findKubectl(): Promise<string | undefined> {
  const given = process.env["COIL_KUBECTL"];
  if (given !== undefined && given !== "") return given;
  const cache = join(homedir(), ".cache", "coil-cluster");
  if (existsSync(cache)) {
    const built = readdirSync(cache)
      .filter((v) => /^v\d/.test(v))
      .sort()
      .reverse()
      .map((v) => join(cache, v, "kubectl"))
      .find((p) => existsSync(p));
    if (built !== undefined) return built;
  }
  return exec("kubectl", ["version", "--client"]).then(
    () => "kubectl",
    () => undefined,
  );
}

interface Obj {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
}
const load = (text: string): Obj[] =>
  parseAllDocuments(text)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);
const id = (o: Obj): string => `${o.apiVersion} ${o.kind} ${o.metadata.namespace ?? ""}/${o.metadata.name}`;

const kubectl = await findKubectl();
if (kubectl === undefined) {
  skipOrFail(t, "no kubectl: set COIL_KUBECTL, build the cluster binaries (scripts/cluster/build.sh) or install kubectl");
} else {
  const version = (await exec(kubectl, ["version", "--client"])).stdout.trim().replace(/\n/g, ", ");
  t.comment(`${kubectl}: ${version}`);

  t.test("kubectl kustomize renders exactly config/rendered", async (t) => {
    for (const l of LAYOUTS) {
      const out = await exec(kubectl, ["kustomize", join(ROOT, l.dir)], { maxBuffer: 64 << 20 });
      const real = load(out.stdout);
      const ours = load(readFileSync(join(ROOT, l.rendered), "utf8"));
      t.same(real.map(id), ours.map(id), `${l.dir}: same objects in the same order`);
      const ourById = new Map(ours.map((o) => [id(o), o]));
      for (const o of real) t.ok(isDeepStrictEqual(o, ourById.get(id(o))), `${l.dir}: ${id(o)} identical`);
    }
  });

  /** The args of the first container of workload `kind/name` in `objs`. */
  const argsOf = (objs: readonly Obj[], kind: string, name: string): string[] => {
    const o = objs.find((x) => x.kind === kind && x.metadata.name === name) as (Obj & { spec?: { template?: { spec?: { containers?: Array<{ args?: string[] }>; terminationGracePeriodSeconds?: number } } } }) | undefined;
    return o?.spec?.template?.spec?.containers?.[0]?.args ?? [];
  };
  const graceOf = (objs: readonly Obj[]): number | undefined =>
    (objs.find((x) => x.kind === "DaemonSet" && x.metadata.name === "coild") as (Obj & { spec?: { template?: { spec?: { terminationGracePeriodSeconds?: number } } } }) | undefined)?.spec?.template?.spec?.terminationGracePeriodSeconds;

  t.test("variants: kubectl kustomize renders what scripts/render-manifests.ts renders; their flags", async (t) => {
    const flags: Record<string, { coild: string[]; controller: string[]; grace: number }> = {
      "config/variants/originatingonly": { coild: ["--enable-originating-only=true"], controller: [], grace: 1 },
      "config/variants/nftables": { coild: ["--backend=nftables"], controller: ["--backend=nftables"], grace: 30 },
      "config/variants/nftables-originatingonly": { coild: ["--backend=nftables", "--enable-originating-only=true"], controller: ["--backend=nftables"], grace: 1 },
      "config/variants/vxlan": { coild: ["--tunnel=vxlan"], controller: ["--tunnel=vxlan"], grace: 30 },
    };
    const base = load((await exec(kubectl, ["kustomize", join(ROOT, "config/default")], { maxBuffer: 64 << 20 })).stdout);
    for (const dir of VARIANTS) {
      const real = load((await exec(kubectl, ["kustomize", join(ROOT, dir)], { maxBuffer: 64 << 20 })).stdout);
      const ours = orderObjects((await renderKustomization(join(REPO_ROOT, dir))).objects) as unknown as Obj[];
      t.same(real.map(id), ours.map(id), `${dir}: same objects in the same order`);
      const ourById = new Map(ours.map((o) => [id(o), o as unknown as K8sObject]));
      const differing = real.filter((o) => !isDeepStrictEqual(o, ourById.get(id(o)))).map(id);
      t.same(differing, [], `${dir}: every object identical`);
      const f = flags[dir];
      t.ok(f !== undefined, `${dir}: expected flags known`);
      if (f === undefined) continue;
      t.same(argsOf(real, "DaemonSet", "coild"), [...argsOf(base, "DaemonSet", "coild"), ...f.coild], `${dir}: coild args`);
      t.same(argsOf(real, "Deployment", "coil-egress-controller"), [...argsOf(base, "Deployment", "coil-egress-controller"), ...f.controller], `${dir}: coil-egress-controller args`);
      t.equal(graceOf(real), f.grace, `${dir}: coild terminationGracePeriodSeconds`);
    }
  });

  t.test("egress-only variants: kubectl kustomize renders what scripts/render-manifests.ts renders ($patch: delete included)", async (t) => {
    for (const dir of EGRESS_ONLY_VARIANTS) {
      const real = load((await exec(kubectl, ["kustomize", join(ROOT, dir)], { maxBuffer: 64 << 20 })).stdout);
      const ours = orderObjects((await renderKustomization(join(REPO_ROOT, dir))).objects) as unknown as Obj[];
      t.same(real.map(id), ours.map(id), `${dir}: same objects in the same order`);
      const ourById = new Map(ours.map((o) => [id(o), o as unknown as K8sObject]));
      t.same(real.filter((o) => !isDeepStrictEqual(o, ourById.get(id(o)))).map(id), [], `${dir}: every object identical`);
      t.notOk(real.some((o) => o.kind === "Deployment" && o.metadata.name === "coil-ipam-controller"), `${dir}: no ipam controller`);
      t.ok(argsOf(real, "DaemonSet", "coild").includes("--enable-ipam=false"), `${dir}: coild --enable-ipam=false`);
    }
  });

  t.test("kubectl apply -k of each egress-only variant on its own control plane, then diff-clean", async (t) => {
    const bins = await resolveControlPlaneBinaries(t);
    if (typeof bins === "string") return skipOrFail(t, `control plane unavailable: ${bins}`);
    const cp = await startControlPlane({ binaries: bins });
    t.teardown(() => cp.stop());
    for (const dir of EGRESS_ONLY_VARIANTS) {
      const applied = await exec(kubectl, ["--kubeconfig", cp.kubeconfigPath, "apply", "-k", join(ROOT, dir)], { maxBuffer: 16 << 20 });
      t.match(applied.stdout, /daemonset.apps\/coild (created|configured)/, `${dir}: applied`);
      const diff = await exec(kubectl, ["--kubeconfig", cp.kubeconfigPath, "diff", "-k", join(ROOT, dir)], { maxBuffer: 16 << 20 }).then(
        (r) => ({ code: 0, out: r.stdout }),
        (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? -1, out: `${e.stdout ?? ""}${e.stderr ?? ""}` }),
      );
      t.same(diff, { code: 0, out: "" }, `${dir}: kubectl diff -k is then empty`);
    }
  });

  t.test("kubectl apply -k config/default and config/router against kube-apiserver", async (t) => {
    const bins = await resolveControlPlaneBinaries(t);
    if (typeof bins === "string") return skipOrFail(t, `control plane unavailable: ${bins}`);
    const cp = await startControlPlane({ binaries: bins });
    t.teardown(() => cp.stop());
    for (const l of LAYOUTS) {
      const first = await exec(kubectl, ["--kubeconfig", cp.kubeconfigPath, "apply", "-k", join(ROOT, l.dir)], { maxBuffer: 16 << 20 });
      t.match(first.stdout, /created/, `${l.dir}: applied (${first.stdout.split("\n").length - 1} objects)`);
      // kubectl diff: what an apply now would change on the server (exit 0 = nothing, 1 = differences).
      const diff = await exec(kubectl, ["--kubeconfig", cp.kubeconfigPath, "diff", "-k", join(ROOT, l.dir)], { maxBuffer: 16 << 20 }).then(
        (r) => ({ code: 0, out: r.stdout }),
        (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? -1, out: `${e.stdout ?? ""}${e.stderr ?? ""}` }),
      );
      t.same(diff, { code: 0, out: "" }, `${l.dir}: applied state = manifests (kubectl diff -k is empty)`);
    }
    // The variants over the installed system: kubectl diff names only coild and coil-egress-controller
    // (`kubectl apply` itself reports webhook configurations as "configured" on every run, changed or not).
    const diffK = (dir: string) =>
      exec(kubectl, ["--kubeconfig", cp.kubeconfigPath, "diff", "-k", join(ROOT, dir)], { maxBuffer: 16 << 20 }).then(
        (r) => ({ code: 0, out: r.stdout }),
        (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? -1, out: `${e.stdout ?? ""}${e.stderr ?? ""}` }),
      );
    let previous = "config/default";
    for (const dir of VARIANTS) {
      const before = await diffK(dir);
      const changed = [...before.out.matchAll(/^\+\+\+ \S*\/([^/\s]+)\s/gm)].map((m) => m[1]).sort();
      const expected = ["apps.v1.DaemonSet.kube-system.coild", "apps.v1.Deployment.kube-system.coil-egress-controller"];
      t.ok(before.code === 1 && changed.length > 0 && changed.every((c) => c !== undefined && expected.includes(c)), `${dir} over ${previous}: kubectl diff -k names only ${changed.join(", ")}`);
      await exec(kubectl, ["--kubeconfig", cp.kubeconfigPath, "apply", "-k", join(ROOT, dir)], { maxBuffer: 16 << 20 });
      t.same(await diffK(dir), { code: 0, out: "" }, `${dir}: applied; kubectl diff -k is then empty`);
      previous = dir;
    }
  });
}
