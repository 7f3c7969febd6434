/**
 * Coil v2's Go module directory (github.com/cybozu-go/coil/v2, `COIL_V2_VERSION`, default v2.15.0)
 * through `go mod download -json`, for tests that compare with Coil's own files (its Egress samples).
 */
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";

/** The module and version compared against. */
export const COIL_V2_MODULE = `github.com/cybozu-go/coil/v2@${process.env["COIL_V2_VERSION"] ?? "v2.15.0"}`;

/** The module directory, or `{ missing }` saying why it is unavailable. */
export function coilV2ModuleDir(): { readonly dir: string } | { readonly missing: string } {
  try {
    const out = execFileSync("go", ["mod", "download", "-json", COIL_V2_MODULE], {
      cwd: tmpdir(),
      env: { ...process.env, PATH: `/usr/local/go/bin:${process.env["PATH"] ?? ""}`, GOTOOLCHAIN: process.env["GOTOOLCHAIN"] ?? "local", GO111MODULE: "on" },
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 120_000,
    }).toString();
    const info = JSON.parse(out) as { Dir?: string; Error?: string };
    if (info.Dir === undefined) return { missing: `${COIL_V2_MODULE}: ${info.Error ?? out}` };
    return { dir: info.Dir };
  } catch (e) {
    return { missing: `Coil v2's Go module ${COIL_V2_MODULE} is not available: ${(e as Error).message}` };
  }
}
