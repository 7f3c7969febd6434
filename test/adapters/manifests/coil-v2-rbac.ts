/**
 * Coil v2's own RBAC roles, read from its Go module (github.com/cybozu-go/coil/v2, the version
 * scripts/coil-v2/build.sh builds: `COIL_V2_VERSION`, default v2.15.0) at test time: the files its
 * default `config/rbac/kustomization.yaml` lists (so `coil-ipam-controller_role.yaml`, not the
 * commented-out `-certs` variant of the same name). The module directory comes from
 * `go mod download -json` — the module cache, filled by build.sh or `npm run test:prepare`.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { expandRules, type Grant, type Obj } from "./rbac-model.js";

/** The module and version whose roles ours must include. */
export const COIL_V2_MODULE = `github.com/cybozu-go/coil/v2@${process.env["COIL_V2_VERSION"] ?? "v2.15.0"}`;

/** Coil v2's roles: `ClusterRole/<name>` or `Role/<name>` (Coil's Roles carry no namespace; kustomize sets it) → grants. */
export interface CoilV2Roles {
  /** The module directory the roles were read from. */
  readonly dir: string;
  /** The files read (relative to `config/rbac`), in kustomization order. */
  readonly files: readonly string[];
  readonly roles: ReadonlyMap<string, readonly Grant[]>;
}

/** `go mod download -json` of {@link COIL_V2_MODULE}: its directory, or why there is none. */
function moduleDir(): { readonly dir: string } | { readonly missing: string } {
  let out: string;
  try {
    out = execFileSync("go", ["mod", "download", "-json", COIL_V2_MODULE], {
      cwd: tmpdir(),
      env: { ...process.env, PATH: `/usr/local/go/bin:${process.env["PATH"] ?? ""}`, GOTOOLCHAIN: process.env["GOTOOLCHAIN"] ?? "local", GO111MODULE: "on" },
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 120_000,
    }).toString();
  } catch (e) {
    const err = e as { stdout?: Buffer; stderr?: Buffer; message?: string };
    let detail = [err.stdout?.toString().trim(), err.stderr?.toString().trim()].filter((x) => x !== undefined && x !== "").join("; ");
    try {
      detail = (JSON.parse(err.stdout?.toString() ?? "") as { Error?: string }).Error ?? detail;
    } catch {
      // not JSON: keep the raw output
    }
    return { missing: `Coil v2's Go module ${COIL_V2_MODULE} is not available (go mod download -json failed: ${detail === "" ? String(err.message) : detail})` };
  }
  const info = JSON.parse(out) as { Dir?: string; Error?: string };
  if (info.Error !== undefined) return { missing: `Coil v2's Go module ${COIL_V2_MODULE}: ${info.Error}` };
  if (info.Dir === undefined || !existsSync(join(info.Dir, "config", "rbac", "kustomization.yaml"))) {
    return { missing: `Coil v2's Go module ${COIL_V2_MODULE} has no config/rbac/kustomization.yaml (go mod download -json said: ${out.trim()})` };
  }
  return { dir: info.Dir };
}

/**
 * Read Coil v2's roles from its module, or say why the module is unavailable. Throws if the module's
 * files are not as expected (a role defined twice, no role at all): that is no missing prerequisite.
 */
export function loadCoilV2Roles(): CoilV2Roles | { readonly missing: string } {
  const m = moduleDir();
  if ("missing" in m) return m;
  const rbac = join(m.dir, "config", "rbac");
  const kustomization = parse(readFileSync(join(rbac, "kustomization.yaml"), "utf8")) as { resources?: string[] };
  const files = kustomization.resources ?? [];
  const roles = new Map<string, Grant[]>();
  for (const file of files) {
    for (const doc of parseAllDocuments(readFileSync(join(rbac, file), "utf8"))) {
      const o = doc.toJS() as Obj | null;
      if (o === null || (o.kind !== "ClusterRole" && o.kind !== "Role")) continue;
      const ref = `${o.kind}/${o.metadata?.name ?? ""}`;
      if (roles.has(ref)) throw new Error(`${COIL_V2_MODULE}: ${ref} defined twice by the files of config/rbac/kustomization.yaml (${file})`);
      roles.set(ref, expandRules(o.rules ?? [], `Coil v2 ${ref}`));
    }
  }
  if (roles.size === 0) throw new Error(`${COIL_V2_MODULE}: no roles in ${rbac} (files: ${files.join(", ")})`);
  return { dir: m.dir, files, roles };
}
