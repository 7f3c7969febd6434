/**
 * Generates docs/programs/<program>.md — flags, environment, ports, metrics — from the definitions the
 * programs themselves use: each program's {@link ProgramDef} (adapters/<x>/flags.ts: the parser and
 * `--help` read the same object) and its metrics factory (the registry it serves on /metrics).
 *
 *   npm run docs:programs              write docs/programs/*.md
 *   npm run docs:programs -- --check   exit 1 when a committed page differs (test/docs/program-docs.test.ts)
 *
 * @module
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Registry, collectDefaultMetrics } from "prom-client";
import { allFlags, defaultText, typeName, type FlagDef, type ProgramDef } from "../adapters/common/flags.js";
import { COIL_CNI } from "../adapters/cni/flags.js";
import { COILCTL, COILCTL_COMMANDS, commandProgram, commandUsage } from "../adapters/coilctl/flags.js";
import { COILD } from "../adapters/daemon/flags.js";
import { createDaemonMetrics } from "../adapters/daemon/metrics.js";
import { EGRESS_CONTROLLER } from "../adapters/egress-controller/flags.js";
import { createEgressControllerMetrics } from "../adapters/egress-controller/metrics.js";
import { EGRESS } from "../adapters/egress/flags.js";
import { createEgressMetrics } from "../adapters/egress/metrics.js";
import { INSTALLER } from "../adapters/installer/flags.js";
import { IPAM_CONTROLLER } from "../adapters/ipam-controller/flags.js";
import { createControllerMetrics } from "../adapters/ipam-controller/metrics.js";
import { ROUTER } from "../adapters/router/flags.js";
import { createRouterMetrics } from "../adapters/router/metrics.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** Where the pages go. */
export const DOCS_DIR = join(ROOT, "docs", "programs");

/** A program and the registry its /metrics serves (undefined: no metrics endpoint). */
interface Documented {
  readonly def: ProgramDef;
  readonly registry?: () => Registry;
  /** Said instead of the table when the program serves metrics from a registry no factory exposes. */
  readonly metricsNote?: string;
  /** More sections (Markdown lines), after the examples: a program's sub-commands. */
  readonly sections?: () => readonly string[];
}

/** coilctl's sub-commands, one section each: usage, what it does, the flags it reads, its examples (its `--help`). */
function coilctlCommandSections(): string[] {
  const out = ["## Commands", "", "`coilctl <command> --help` prints one command's part of this page."];
  for (const c of COILCTL_COMMANDS) {
    const def = commandProgram(c);
    const flags = def.flags.map((f) => `${f.shorthand === undefined ? "" : `\`-${f.shorthand}\`/`}\`--${f.name}\``);
    out.push("", `### \`coilctl ${c.words.join(" ")}\``, "", "```", `coilctl ${commandUsage(c)}`, "```", "", c.summary.join(" "), "", `Flags: ${flags.length === 0 ? "none (besides `--help`)" : flags.join(", ")}.`, "", "```", ...c.examples, "```");
  }
  return out;
}

/** Every program with a page. Add new programs here (and nowhere else). */
const PROGRAMS: readonly Documented[] = [
  { def: COIL_CNI },
  { def: COILD, registry: () => createDaemonMetrics().registry },
  { def: IPAM_CONTROLLER, registry: () => createControllerMetrics({ processMetrics: false }).registry },
  { def: ROUTER, registry: () => createRouterMetrics({ node: "node", processMetrics: false }).registry },
  { def: INSTALLER },
  { def: EGRESS, registry: () => createEgressMetrics({ namespace: "namespace", pod: "pod", egress: "egress" }, { processMetrics: false }).registry },
  { def: EGRESS_CONTROLLER, registry: () => createEgressControllerMetrics({ processMetrics: false }).registry },
  { def: COILCTL, sections: coilctlCommandSections },
];

/** Table cell text: pipes escaped, no line breaks. */
const cell = (s: string): string => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

const ORIGIN: Record<FlagDef["origin"], string> = {
  coil: "Coil",
  klog: "klog (Coil)",
  zap: "zap (Coil)",
  cobra: "cobra (Coil)",
  ours: "this project",
};

/** Names of Node's default process metrics (listed once, not per metric). */
function processMetricNames(): Set<string> {
  const r = new Registry();
  collectDefaultMetrics({ register: r });
  return new Set(r.getMetricsAsArray().map((m) => m.name));
}

function metricsSection(registry: Registry): string[] {
  const defaults = processMetricNames();
  const all = registry.getMetricsAsArray();
  const own = all.filter((m) => !defaults.has(m.name)).sort((a, b) => (a.name < b.name ? -1 : 1));
  // prom-client keeps a metric's label names on the instance (not in MetricObject's type).
  const labels = (m: object): string => ((m as { labelNames?: readonly string[] }).labelNames ?? []).join(", ");
  const lines = ["| Metric | Type | Labels | Help |", "| --- | --- | --- | --- |", ...own.map((m) => `| \`${m.name}\` | ${m.type} | ${cell(labels(m))} | ${cell(m.help)} |`)];
  if (all.some((m) => defaults.has(m.name))) lines.push("", "Plus Node.js's default process metrics (`process_*`, `nodejs_*`; prom-client's `collectDefaultMetrics`).");
  return lines;
}

/** One program's page. */
export function renderProgramPage(p: Documented): string {
  const { def } = p;
  const flags = allFlags(def);
  const byName = new Map(flags.map((f) => [f.name, f]));
  const out = [
    `<!-- Generated by scripts/program-docs.ts from adapters/*/flags.ts and the metrics factories: do not edit; run npm run docs:programs. -->`,
    `# ${def.name}`,
    "",
    `${def.summary}.`,
    "",
    "```",
    def.description.trim(),
    "```",
    "",
    "## Usage",
    "",
    "```",
    `${def.name} ${def.usage ?? "[flags]"}`,
    "```",
    "",
    "`--help` prints this page's flags and environment; `--version` prints the version and the git commit of the build.",
  ];
  if (def.examples !== undefined && def.examples.length > 0) out.push("", "## Examples", "", "```", ...def.examples, "```");
  if (p.sections !== undefined) out.push("", ...p.sections());
  out.push("", "## Flags", "");
  if (def.flags.length === 0) out.push("Only `--help` and `--version`.");
  else {
    out.push("Syntax as Coil's (pflag): `--flag=value` or `--flag value`; booleans `--flag` or `--flag=false`; `-v 2`, `-v=2`.", "");
    out.push("| Flag | Type | Default | Description | From |", "| --- | --- | --- | --- | --- |");
    for (const f of flags) {
      const name = `${f.shorthand === undefined ? "" : `\`-${f.shorthand}\`, `}\`--${f.name}\``;
      const d = defaultText(f).replace(/^ \(default (.*)\)$/, "$1");
      const desc = `${f.description}${f.ignored === undefined ? "" : ` **No effect here:** ${f.ignored}.`}`;
      out.push(`| ${name} | ${typeName(f.type) === "" ? "bool" : typeName(f.type)} | ${d === "" ? "" : `\`${cell(d)}\``} | ${cell(desc)} | ${ORIGIN[f.origin]} |`);
    }
  }
  out.push("", "## Environment", "");
  if (def.env.length === 0) out.push("None.");
  else {
    out.push("| Variable | Default | Description |", "| --- | --- | --- |");
    for (const e of def.env) out.push(`| \`${e.name}\` | ${e.required === true ? "(required)" : e.default === undefined ? "" : `\`${cell(e.default)}\``} | ${cell(e.description)} |`);
  }
  out.push("", "## Ports", "");
  if (def.ports.length === 0) out.push("None.");
  else {
    out.push("| Flag | Default | Protocol | Serves |", "| --- | --- | --- | --- |");
    for (const port of def.ports) out.push(`| \`--${port.flag}\` | \`${cell(byName.get(port.flag)?.default ?? "")}\` | ${port.protocol} | ${cell(port.description)} |`);
  }
  out.push("", "## Metrics", "");
  if (p.registry === undefined) out.push(p.metricsNote ?? "None (no metrics endpoint).");
  else out.push(...metricsSection(p.registry()));
  return `${out.join("\n")}\n`;
}

/** Every page: file name → content. */
export function renderProgramDocs(): Map<string, string> {
  const pages = new Map<string, string>();
  for (const p of PROGRAMS) pages.set(`${p.def.name}.md`, renderProgramPage(p));
  const index = [
    "<!-- Generated by scripts/program-docs.ts: do not edit; run npm run docs:programs. -->",
    "# Programs",
    "",
    "One page per program: flags, environment, ports and metrics, generated from the definitions the programs use.",
    "",
    ...PROGRAMS.map((p) => `- [${p.def.name}](${p.def.name}.md): ${p.def.summary}`),
  ];
  pages.set("README.md", `${index.join("\n")}\n`);
  return pages;
}

/** The pages whose committed content differs from the generated one. */
export async function stalePages(): Promise<string[]> {
  const stale: string[] = [];
  for (const [file, content] of renderProgramDocs()) {
    const committed = await readFile(join(DOCS_DIR, file), "utf8").catch(() => undefined);
    if (committed !== content) stale.push(file);
  }
  return stale;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes("--check")) {
    const stale = await stalePages();
    if (stale.length > 0) {
      process.stderr.write(`docs/programs is out of date (${stale.join(", ")}): run npm run docs:programs\n`);
      process.exit(1);
    }
  } else {
    for (const [file, content] of renderProgramDocs()) await writeFile(join(DOCS_DIR, file), content);
    process.stderr.write(`wrote ${DOCS_DIR}\n`);
  }
}
