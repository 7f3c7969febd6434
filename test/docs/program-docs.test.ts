// docs/programs/*.md are generated from the programs' own definitions (scripts/program-docs.ts): the
// committed pages must equal what the generator writes now, and each program's --help (run as a
// process: the built bundle, kept current by test/helpers/bundles.ts, or from source with
// COIL_TEST_FROM_SOURCE=1) must be the text rendered from the same definition.
import t from "tap";
import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { promisify } from "node:util";
import { renderHelp, type ProgramDef } from "../../adapters/common/flags.js";
import { COIL_CNI } from "../../adapters/cni/flags.js";
import { COILCTL } from "../../adapters/coilctl/flags.js";
import { COILD } from "../../adapters/daemon/flags.js";
import { EGRESS_CONTROLLER } from "../../adapters/egress-controller/flags.js";
import { EGRESS } from "../../adapters/egress/flags.js";
import { INSTALLER } from "../../adapters/installer/flags.js";
import { IPAM_CONTROLLER } from "../../adapters/ipam-controller/flags.js";
import { ROUTER } from "../../adapters/router/flags.js";
import { DOCS_DIR, renderProgramDocs, stalePages } from "../../scripts/program-docs.js";
import { expectedVersionLine, programArgs, versionPattern, type CoilProgram } from "../helpers/bundles.js";
import { sourceChildEnv } from "../helpers/child-env.js";

const exec = promisify(execFile);
// 17 Node processes, one after another: from source under tsx (COIL_TEST_FROM_SOURCE=1) minutes on a
// loaded 2-core machine (a run at load 30 passed 600 s), so this file gets more than .taprc's 600 s.
t.setTimeout(30 * 60_000);

t.test("the committed docs/programs pages are the generated ones (npm run docs:programs)", async (t) => {
  t.same(await stalePages(), [], "no page differs");
  t.same(readdirSync(DOCS_DIR).sort(), [...renderProgramDocs().keys()].sort(), "no page without a program");
});

t.test("each page lists every flag, variable and port of its program", async (t) => {
  const pages = renderProgramDocs();
  for (const def of [COIL_CNI, COILD, IPAM_CONTROLLER, ROUTER, INSTALLER, EGRESS, EGRESS_CONTROLLER, COILCTL] as readonly ProgramDef[]) {
    const page = pages.get(`${def.name}.md`) ?? "";
    for (const f of def.flags) t.match(page, `\`--${f.name}\``, `${def.name}: --${f.name}`);
    for (const e of def.env) t.match(page, `\`${e.name}\``, `${def.name}: ${e.name}`);
    for (const p of def.ports) t.match(page, new RegExp(`\\| \`--${p.flag}\` \\| .* \\| ${p.protocol} \\|`), `${def.name}: port --${p.flag}`);
  }
  t.match(pages.get("coild.md"), /\| `coil_node_blocks` \| gauge \| pool \|/, "metrics come from the registry coild serves");
  t.match(pages.get("coil-router.md"), /\| `coil_router_syncs_total` \| counter \| node \|/);
});

t.test("every program's --help and --version, run as a process, come from its definition", async (t) => {
  const cases: Array<[ProgramDef, CoilProgram]> = [
    [COILD, "coild"],
    [IPAM_CONTROLLER, "coil-ipam-controller"],
    [ROUTER, "coil-router"],
    [INSTALLER, "coil-installer"],
    [COIL_CNI, "coil"],
    [EGRESS, "coil-egress"],
    [EGRESS_CONTROLLER, "coil-egress-controller"],
    [COILCTL, "coilctl"],
  ];
  for (const [def, program] of cases) {
    const env = sourceChildEnv({ CNI_COMMAND: "" });
    const help = await exec(process.execPath, [...programArgs(program), "--help"], { env });
    t.equal(help.stdout, renderHelp(def), `${def.name} --help`);
    const version = await exec(process.execPath, [...programArgs(program), "--version"], { env });
    // From source `(devel) (commit unknown)` (versionText in this process); a bundle embeds package.json's
    // version and its build's commit (test/package/bins.test.ts checks those against HEAD).
    t.match(version.stdout, expectedVersionLine(def.name), `${def.name} --version`);
  }
  const about = await exec(process.execPath, programArgs("coil"), { env: sourceChildEnv({ CNI_COMMAND: "" }) });
  t.match(about.stderr, new RegExp(`^coil ${versionPattern()}\nCNI protocol versions supported: 0\\.3\\.1, 0\\.4\\.0, 1\\.0\\.0, 1\\.1\\.0\n$`), "coil without CNI_COMMAND: the about line, stdin not read");
});
