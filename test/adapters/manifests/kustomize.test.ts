// `kubectl apply -k config/default` works, with real kustomize (`kubectl kustomize`, kustomize v5
// built into kubectl) instead of scripts/render-manifests.ts's subset: its output is object for object
// the committed config/rendered/*.yaml (same objects, same order), and `kubectl apply -k` of both
// layouts succeeds against a real kube-apiserver, after which `kubectl diff -k` finds nothing to change.
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
  });
}
