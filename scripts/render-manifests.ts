/**
 * Renders the kustomize layouts under `config/` into plain YAML streams in `config/rendered/`.
 *
 *   npx tsx scripts/render-manifests.ts           write config/rendered/*.yaml
 *   npx tsx scripts/render-manifests.ts --check   exit 1 if a rendered file is out of date
 *
 * No kustomize binary is available here, so this implements only the subset `config/` uses, and
 * refuses any other Kustomization key:
 * - `resources`: YAML files (multi-document) and directories holding a `kustomization.yaml`,
 *   rendered recursively. A resource *directory* that does not exist is skipped with a warning
 *   and named in the output's header (kustomize would fail); a missing file is an error.
 * - `namespace`: set on every namespaced object, on ServiceAccount subjects without a namespace,
 *   and on webhook `clientConfig.service` references.
 * - `commonLabels`: added to `metadata.labels` of every object, to workload selectors and pod
 *   template labels, and to Service selectors.
 * - `configMapGenerator` (`files: [key=path | path]`, `literals: [k=v]`) with
 *   `generatorOptions.disableNameSuffixHash: true` (no name hashes are computed).
 * - `patches` holding JSON 6902 operations (`add`, `replace`, `remove`), inline (`patch`) or in a file
 *   (`path`), applied to the objects a `target` (`kind`, optional `name`, `namespace`, `group`,
 *   `version`) selects; a target that selects nothing is an error (kustomize ignores it silently, which
 *   hides a renamed object). The one strategic merge patch supported is `$patch: delete` (the whole
 *   patch: `$patch`, `apiVersion`, `kind`, `metadata`), which removes the objects its `target`
 *   selects; other strategic merge patches are refused. As in kustomize, the patches of a
 *   kustomization apply before its `namespace` and `commonLabels`.
 * Output objects are ordered as kustomize's legacy order (CRDs and RBAC first, webhooks last),
 * then by kind, namespace and name; duplicates (same apiVersion group, kind, namespace, name) are errors.
 *
 * @module
 */
import { readFile, stat, writeFile } from "node:fs/promises";
import { basename, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseAllDocuments, stringify } from "yaml";

/** A Kubernetes object as plain data. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

/** The rendered objects of one kustomization and the resource directories that were missing. */
export interface Rendered {
  readonly objects: K8sObject[];
  readonly skipped: string[];
}

/** Repository root (this file lives in `scripts/`). */
export const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));

/** What is rendered where (paths relative to the repository root). */
export const RENDER_TARGETS: ReadonlyArray<{ readonly kustomization: string; readonly output: string }> = [
  { kustomization: "config/default", output: "config/rendered/coil.yaml" },
  { kustomization: "config/router", output: "config/rendered/coil-router.yaml" },
];

/**
 * Overlays of `config/default` (Coil's variants): not rendered into `config/rendered` (each would repeat
 * the whole system); installed with `kubectl apply -k <dir>`. The tests render them with this script
 * and with kubectl's kustomize and compare.
 */
export const VARIANTS: readonly string[] = ["config/variants/originatingonly", "config/variants/nftables", "config/variants/nftables-originatingonly", "config/variants/vxlan"];

/**
 * Coil's egress-only variants (`config/default/egress/*`): overlays of `config/default` without the
 * IPAM parts (ipam controller, its CRDs, roles and webhooks, the IPAM conflist) and coild with
 * `--enable-ipam=false`, for clusters where coil runs chained after another CNI. Not rendered; the
 * tests render them with this script and with kubectl's kustomize and compare.
 */
export const EGRESS_ONLY_VARIANTS: readonly string[] = [
  "config/variants/egress-only",
  "config/variants/egress-only-nftables",
  "config/variants/egress-only-originatingonly",
  "config/variants/egress-only-nftables-originatingonly",
];

const SUPPORTED_KEYS = new Set(["apiVersion", "kind", "resources", "namespace", "commonLabels", "configMapGenerator", "generatorOptions", "patches"]);
const CLUSTER_SCOPED = new Set([
  "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "MutatingWebhookConfiguration",
  "ValidatingWebhookConfiguration", "Namespace", "PriorityClass", "StorageClass", "PersistentVolume", "APIService",
]);
const WORKLOADS = new Set(["Deployment", "DaemonSet", "StatefulSet", "ReplicaSet"]);
const ORDER_FIRST = [
  "Namespace", "ResourceQuota", "StorageClass", "CustomResourceDefinition", "ServiceAccount", "PodSecurityPolicy",
  "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ConfigMap", "Secret", "Endpoints", "Service",
  "LimitRange", "PriorityClass", "PersistentVolume", "PersistentVolumeClaim", "Deployment", "StatefulSet", "CronJob",
  "PodDisruptionBudget",
];
const ORDER_LAST = ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"];

type Kustomization = {
  resources?: string[];
  namespace?: string;
  commonLabels?: Record<string, string>;
  configMapGenerator?: Array<{ name: string; namespace?: string; files?: string[]; literals?: string[] }>;
  generatorOptions?: { disableNameSuffixHash?: boolean };
  patches?: Patch[];
};

/** One entry of `patches`. */
type Patch = {
  path?: string;
  patch?: string;
  target?: { group?: string; version?: string; kind?: string; name?: string; namespace?: string };
};

/** One JSON 6902 operation (what `patches` support). */
export type PatchOp = { op: "add" | "replace" | "remove"; path: string; value?: unknown };

/** What a patch entry does: JSON 6902 operations, or a strategic merge `$patch: delete` of its target. */
type PatchAction = { readonly kind: "json6902"; readonly ops: PatchOp[] } | { readonly kind: "delete" };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

async function exists(path: string): Promise<"file" | "dir" | undefined> {
  const s = await stat(path).catch(() => undefined);
  return s === undefined ? undefined : s.isDirectory() ? "dir" : "file";
}

/** Parse a multi-document YAML file into objects (empty documents dropped). */
export function parseObjects(text: string, source: string): K8sObject[] {
  const out: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors[0]?.message ?? "YAML error"}`);
    const v: unknown = doc.toJS();
    if (v === null || v === undefined) continue;
    if (!isRecord(v) || typeof v["apiVersion"] !== "string" || typeof v["kind"] !== "string" || !isRecord(v["metadata"])) {
      throw new Error(`${source}: a document is not a Kubernetes object (apiVersion, kind, metadata)`);
    }
    if (typeof v["metadata"]["name"] !== "string") throw new Error(`${source}: ${v["kind"]} without metadata.name`);
    out.push(v as K8sObject);
  }
  return out;
}

async function readKustomization(dir: string): Promise<Kustomization> {
  const path = join(dir, "kustomization.yaml");
  const [doc] = parseAllDocuments(await readFile(path, "utf8"));
  const k: unknown = doc?.toJS() ?? {};
  if (!isRecord(k)) throw new Error(`${path}: not a mapping`);
  const unsupported = Object.keys(k).filter((key) => !SUPPORTED_KEYS.has(key));
  if (unsupported.length > 0) throw new Error(`${path}: unsupported Kustomization keys ${unsupported.join(", ")} (see scripts/render-manifests.ts)`);
  if (k["configMapGenerator"] !== undefined && (k["generatorOptions"] as Kustomization["generatorOptions"])?.disableNameSuffixHash !== true) {
    throw new Error(`${path}: configMapGenerator needs generatorOptions.disableNameSuffixHash: true (no name hashes here)`);
  }
  return k;
}

function splitKeyValue(entry: string): [string, string] {
  const i = entry.indexOf("=");
  return i < 0 ? [basename(entry), entry] : [entry.slice(0, i), entry.slice(i + 1)];
}

async function generateConfigMaps(dir: string, k: Kustomization): Promise<K8sObject[]> {
  const out: K8sObject[] = [];
  for (const g of k.configMapGenerator ?? []) {
    const data: Record<string, string> = {};
    for (const f of g.files ?? []) {
      const [key, path] = splitKeyValue(f);
      data[key] = await readFile(join(dir, path), "utf8");
    }
    for (const l of g.literals ?? []) {
      const [key, value] = splitKeyValue(l);
      data[key] = value;
    }
    const metadata = g.namespace === undefined ? { name: g.name } : { name: g.name, namespace: g.namespace };
    out.push({ apiVersion: "v1", kind: "ConfigMap", metadata, data });
  }
  return out;
}

function setNamespace(o: K8sObject, ns: string): void {
  if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = ns;
  const subjects = o["subjects"];
  if (Array.isArray(subjects)) {
    for (const s of subjects) if (isRecord(s) && s["kind"] === "ServiceAccount" && s["namespace"] === undefined) s["namespace"] = ns;
  }
  const webhooks = o["webhooks"];
  if (Array.isArray(webhooks)) {
    for (const w of webhooks) {
      const svc = isRecord(w) && isRecord(w["clientConfig"]) ? w["clientConfig"]["service"] : undefined;
      if (isRecord(svc)) svc["namespace"] = ns;
    }
  }
}

function addLabels(target: Record<string, unknown>, key: string, labels: Record<string, string>): void {
  const cur = target[key];
  target[key] = { ...(isRecord(cur) ? cur : {}), ...labels };
}

function setCommonLabels(o: K8sObject, labels: Record<string, string>): void {
  addLabels(o.metadata, "labels", labels);
  const spec = o["spec"];
  if (!isRecord(spec)) return;
  if (WORKLOADS.has(o.kind)) {
    if (isRecord(spec["selector"])) addLabels(spec["selector"], "matchLabels", labels);
    const template = spec["template"];
    if (isRecord(template)) {
      if (!isRecord(template["metadata"])) template["metadata"] = {};
      addLabels(template["metadata"] as Record<string, unknown>, "labels", labels);
    }
  }
  if (o.kind === "Service") addLabels(spec, "selector", labels);
}

/** What a patch entry does, or an error naming the kustomization. */
async function patchAction(dir: string, p: Patch, where: string): Promise<PatchAction> {
  if ((p.patch === undefined) === (p.path === undefined)) throw new Error(`${where}: a patch needs exactly one of patch and path`);
  const text = p.patch ?? (await readFile(join(dir, p.path ?? ""), "utf8"));
  const [doc, ...more] = parseAllDocuments(text);
  const ops: unknown = doc?.toJS();
  if (more.length === 0 && isRecord(ops) && ops["$patch"] === "delete" && Object.keys(ops).every((k) => ["$patch", "apiVersion", "kind", "metadata"].includes(k))) return { kind: "delete" };
  if (more.length > 0 || !Array.isArray(ops)) throw new Error(`${where}: only JSON 6902 patches (a list of operations) and $patch: delete are supported, not other strategic merge patches`);
  return { kind: "json6902", ops: ops.map((o, i) => {
    if (!isRecord(o) || (o["op"] !== "add" && o["op"] !== "replace" && o["op"] !== "remove") || typeof o["path"] !== "string" || !o["path"].startsWith("/")) {
      throw new Error(`${where}: operation ${i}: only add, replace and remove with a JSON pointer path are supported`);
    }
    if (o["op"] !== "remove" && !("value" in o)) throw new Error(`${where}: operation ${i} (${o["op"]} ${o["path"]}) has no value`);
    return o as PatchOp;
  }) };
}

/** Apply one JSON 6902 operation to `obj` in place (RFC 6902 semantics for add/replace/remove). */
export function applyPatchOp(obj: Record<string, unknown>, op: PatchOp): void {
  const tokens = op.path.slice(1).split("/").map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
  const last = tokens.pop() ?? "";
  let parent: unknown = obj;
  for (const t of tokens) {
    parent = Array.isArray(parent) ? parent[Number(t)] : isRecord(parent) ? parent[t] : undefined;
    if (parent === undefined) throw new Error(`${op.op} ${op.path}: ${t} does not exist`);
  }
  const value = structuredClone(op.value);
  if (Array.isArray(parent)) {
    const index = last === "-" ? parent.length : Number(last);
    const max = op.op === "add" ? parent.length : parent.length - 1;
    if (!/^(\d+|-)$/.test(last) || (last === "-" && op.op !== "add") || index > max) throw new Error(`${op.op} ${op.path}: no array index ${last}`);
    if (op.op === "add") parent.splice(index, 0, value);
    else if (op.op === "replace") parent[index] = value;
    else parent.splice(index, 1);
  } else if (isRecord(parent)) {
    if (op.op !== "add" && !(last in parent)) throw new Error(`${op.op} ${op.path}: ${last} does not exist`);
    if (op.op === "remove") delete parent[last];
    else parent[last] = value;
  } else {
    throw new Error(`${op.op} ${op.path}: the parent is not an object or array`);
  }
}

/** Apply the kustomization's `patches` to `objects` (in place; deleted objects are taken out). */
async function applyPatches(dir: string, k: Kustomization, objects: K8sObject[]): Promise<void> {
  for (const [i, p] of (k.patches ?? []).entries()) {
    const where = `${join(dir, "kustomization.yaml")}: patches[${i}]`;
    const t = p.target;
    if (t?.kind === undefined) throw new Error(`${where}: a target with at least a kind is required`);
    const action = await patchAction(dir, p, where);
    const selected = objects.filter((o) => {
      const [group, version] = o.apiVersion.includes("/") ? o.apiVersion.split("/") : ["", o.apiVersion];
      return o.kind === t.kind && (t.name === undefined || o.metadata.name === t.name) && (t.namespace === undefined || o.metadata.namespace === t.namespace) && (t.group === undefined || group === t.group) && (t.version === undefined || version === t.version);
    });
    if (selected.length === 0) throw new Error(`${where}: the target ${JSON.stringify(t)} selects no object`);
    if (action.kind === "delete") {
      for (const o of selected) objects.splice(objects.indexOf(o), 1);
      continue;
    }
    for (const o of selected) {
      for (const op of action.ops) {
        try {
          applyPatchOp(o, op);
        } catch (e) {
          throw new Error(`${where}: ${o.kind}/${o.metadata.name}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    }
  }
}

/** Render the kustomization in `dir` (absolute), recursively. */
export async function renderKustomization(dir: string): Promise<Rendered> {
  const k = await readKustomization(dir);
  const objects: K8sObject[] = [];
  const skipped: string[] = [];
  for (const r of k.resources ?? []) {
    const path = resolve(dir, r);
    const kind = await exists(path);
    if (kind === "dir") {
      const sub = await renderKustomization(path);
      objects.push(...sub.objects);
      skipped.push(...sub.skipped);
    } else if (kind === "file") {
      objects.push(...parseObjects(await readFile(path, "utf8"), path));
    } else if (r.endsWith(".yaml") || r.endsWith(".yml") || r.endsWith(".json")) {
      throw new Error(`${join(dir, "kustomization.yaml")}: resource file ${r} does not exist`);
    } else {
      skipped.push(path);
    }
  }
  objects.push(...(await generateConfigMaps(dir, k)));
  await applyPatches(dir, k, objects);
  for (const o of objects) {
    if (k.namespace !== undefined) setNamespace(o, k.namespace);
    if (k.commonLabels !== undefined) setCommonLabels(o, k.commonLabels);
  }
  return { objects, skipped };
}

function rank(kind: string): number {
  const first = ORDER_FIRST.indexOf(kind);
  if (first >= 0) return first;
  const last = ORDER_LAST.indexOf(kind);
  return last >= 0 ? 1000 + last : 500;
}

const identity = (o: K8sObject): string =>
  `${o.apiVersion.includes("/") ? o.apiVersion.split("/")[0] : ""}/${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;

/** Sort in kustomize's legacy order and reject duplicates. */
export function orderObjects(objects: readonly K8sObject[]): K8sObject[] {
  const seen = new Set<string>();
  for (const o of objects) {
    const id = identity(o);
    if (seen.has(id)) throw new Error(`duplicate object ${id}`);
    seen.add(id);
  }
  const key = (o: K8sObject): string => `${o.kind}\u0000${o.metadata.namespace ?? ""}\u0000${o.metadata.name}`;
  return [...objects].sort((a, b) => rank(a.kind) - rank(b.kind) || (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** The YAML stream text for a rendered kustomization. */
export function toYamlStream(rendered: Rendered, source: string): string {
  const header = [
    `# Generated by scripts/render-manifests.ts from ${source}. Do not edit; edit config/ and re-render.`,
    ...rendered.skipped.map((s) => `# WARNING: resource directory ${relative(REPO_ROOT, s)} was missing and is not included.`),
  ];
  const docs = orderObjects(rendered.objects).map((o) => stringify(o, { lineWidth: 0 }));
  return `${header.join("\n")}\n---\n${docs.join("---\n")}`;
}

/** Render every target; returns output path (absolute) → text. */
export async function renderAll(root: string = REPO_ROOT): Promise<Map<string, { text: string; skipped: string[] }>> {
  const out = new Map<string, { text: string; skipped: string[] }>();
  for (const t of RENDER_TARGETS) {
    const rendered = await renderKustomization(join(root, t.kustomization));
    out.set(join(root, t.output), { text: toYamlStream(rendered, t.kustomization), skipped: rendered.skipped });
  }
  return out;
}

async function main(argv: readonly string[]): Promise<number> {
  const check = argv.includes("--check");
  let stale = 0;
  for (const [path, { text, skipped }] of await renderAll()) {
    for (const s of skipped) process.stderr.write(`render-manifests: warning: missing resource directory ${relative(REPO_ROOT, s)} skipped\n`);
    const current = await readFile(path, "utf8").catch(() => undefined);
    if (check) {
      if (current !== text) {
        stale += 1;
        process.stderr.write(`render-manifests: ${relative(REPO_ROOT, path)} is out of date\n`);
      }
    } else if (current !== text) {
      await writeFile(path, text);
      process.stderr.write(`render-manifests: wrote ${relative(REPO_ROOT, path)}\n`);
    }
  }
  return stale > 0 ? 1 : 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`render-manifests: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(2);
    },
  );
}
