// Every flag a program marks `origin: "coil"` has Coil v2.15.0's name, description (pflag usage
// string) and default, read from Coil's Go source in the module cache; and every flag Coil's program
// defines exists here. Skips (or fails, see missingPrerequisite) without the Go module.
import t from "tap";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDuration, type ProgramDef } from "../../../adapters/common/flags.js";
import { COILD } from "../../../adapters/daemon/flags.js";
import { EGRESS_CONTROLLER } from "../../../adapters/egress-controller/flags.js";
import { EGRESS } from "../../../adapters/egress/flags.js";
import { IPAM_CONTROLLER } from "../../../adapters/ipam-controller/flags.js";
import { ROUTER } from "../../../adapters/router/flags.js";
import { missingPrerequisite } from "../../helpers/prerequisites.js";

const MODULE = "github.com/cybozu-go/coil/v2@v2.15.0";

function moduleDir(): string | undefined {
  try {
    const out = execFileSync("go", ["mod", "download", "-json", MODULE], {
      cwd: tmpdir(),
      env: { ...process.env, PATH: `/usr/local/go/bin:${process.env["PATH"] ?? ""}`, GOTOOLCHAIN: "local", GO111MODULE: "on" },
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 120_000,
    }).toString();
    const dir = (JSON.parse(out) as { Dir?: string }).Dir;
    return dir !== undefined && existsSync(dir) ? dir : undefined;
  } catch {
    return undefined;
  }
}

interface GoFlag {
  readonly name: string;
  readonly kind: string;
  readonly def: string;
  readonly usage: string;
}

/** `pf.XxxVar(&v, "name", default, "usage")` calls of a Go file. */
function goFlags(file: string): GoFlag[] {
  const src = readFileSync(file, "utf8");
  return [...src.matchAll(/pf\.(String|Int32|Int|Bool|Duration)Var\(&[\w.]+,\s*"([^"]+)",\s*([^,]+?),\s*"((?:[^"\\]|\\.)*)"\)/g)].map((m) => ({
    kind: m[1] ?? "",
    name: m[2] ?? "",
    def: (m[3] ?? "").trim(),
    usage: m[4] ?? "",
  }));
}

/** Coil's constants (`Name = value`) of pkg/constants. */
function goConstants(dir: string): Map<string, string> {
  const src = ["constants.go", "paths.go"].map((f) => readFileSync(join(dir, "pkg", "constants", f), "utf8")).join("\n");
  const m = new Map<string, string>();
  for (const c of src.matchAll(/^\s*(?:const\s+)?(\w+)\s*=\s*(.+?)\s*$/gm)) m.set(c[1] ?? "", c[2] ?? "");
  return m;
}

/** A Go default expression as milliseconds (durations) or plain text. */
function resolve(expr: string, consts: Map<string, string>): string {
  let e = expr.replace(/^constants\./, "");
  for (let i = 0; i < 3 && consts.has(e); i++) e = consts.get(e) ?? e;
  const dur = /^(\d+)\s*\*\s*time\.(Hour|Minute|Second)$/.exec(e);
  if (dur !== null) return String(Number(dur[1]) * { Hour: 3_600_000, Minute: 60_000, Second: 1000 }[dur[2] as "Hour" | "Minute" | "Second"]);
  if (e === "EgressBackendIPTables") return "iptables";
  return e.replace(/^"(.*)"$/, "$1");
}

const dir = moduleDir();
if (dir === undefined) {
  missingPrerequisite(t, `Coil v2's Go module ${MODULE} is not available (go mod download -json)`);
} else {
  const consts = goConstants(dir);
  const programs: Array<[ProgramDef, string]> = [
    [COILD, "pkg/config/config.go"],
    [IPAM_CONTROLLER, "cmd/coil-ipam-controller/sub/root.go"],
    [ROUTER, "cmd/coil-router/sub/root.go"],
    [EGRESS, "cmd/coil-egress/sub/root.go"],
    [EGRESS_CONTROLLER, "cmd/coil-egress-controller/sub/root.go"],
  ];
  for (const [def, file] of programs) {
    t.test(def.name, async (t) => {
      const coil = goFlags(join(dir, file));
      t.ok(coil.length >= 4, `${coil.length} flags read from ${file}`);
      const ours = new Map(def.flags.map((f) => [f.name, f]));
      for (const g of coil) {
        const f = ours.get(g.name);
        if (f === undefined) {
          t.fail(`--${g.name} (Coil) is missing`);
          continue;
        }
        t.equal(f.origin, "coil", `--${g.name}: origin coil`);
        t.equal(f.description, g.usage, `--${g.name}: Coil's wording`);
        const want = resolve(g.def, consts);
        const got = g.kind === "Duration" ? String(parseDuration(f.default ?? "")._unsafeUnwrap()) : (f.default ?? "");
        t.equal(got, want, `--${g.name}: Coil's default (${g.def})`);
      }
      const coilNames = new Set(coil.map((g) => g.name));
      for (const f of def.flags) if (f.origin === "coil") t.ok(coilNames.has(f.name), `--${f.name} marked coil is one of Coil's`);
    });
  }
}
