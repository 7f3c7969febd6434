/**
 * CPU cost of starting the `coil` CNI executable, next to Debian's Go `ptp` and `bun -e 0`
 * (a script, not a test). Run with the Bun the build uses (it reads the children's rusage):
 *
 *   node_modules/@oven/bun-linux-x64/bin/bun bench/cni-startup.ts [--n 30] [--stress] [name=/path/to/coil ...]
 *
 * Every round runs each variant once (interleaved, so load drift hits all alike); a variant is a
 * `CNI_COMMAND=VERSION` call with `{"cniVersion":"1.0.0"}` on stdin. Per call it records user+sys
 * CPU (wait4 rusage of the child, µs) and wall time; it prints mean and median CPU, median and
 * minimum wall, and the load average. `--stress` runs `stress-ng --cpu 2` for the duration.
 * Extra variants `name=path` are further builds to compare (default: dist/bin/coil); a name starting
 * with `coil` must answer VERSION, others (e.g. a compiled `process.exit(0)`) need only exit 0.
 */
import { loadavg } from "node:os";
import { spawnSync } from "node:child_process";

/** The part of Bun's API this script uses (no `@types/bun` in the project). */
interface BunApi {
  spawn(cmd: string[], o: { stdout: "ignore"; stderr: "ignore" }): { readonly pid: number; kill(sig: string): void; readonly exited: Promise<number> };
  spawnSync(
    cmd: string[],
    o: { env: Record<string, string>; stdin: Uint8Array; stdout: "pipe"; stderr: "pipe" },
  ): { readonly exitCode: number | null; readonly stdout: Buffer; readonly stderr: Buffer; readonly resourceUsage: { readonly cpuTime: { readonly user: bigint; readonly system: bigint } } };
  sleep(ms: number): Promise<void>;
}
const maybeBun = (globalThis as { Bun?: BunApi }).Bun;
if (maybeBun === undefined) throw new Error("run this script with Bun: node_modules/@oven/bun-linux-x64/bin/bun bench/cni-startup.ts");
const Bun: BunApi = maybeBun;

const argv = process.argv.slice(2);
let n = 30;
let stress = false;
const extra: [string, string][] = [];
for (let i = 0; i < argv.length; i++) {
  const a = argv[i] ?? "";
  if (a === "--n") n = Number(argv[++i]);
  else if (a === "--stress") stress = true;
  else if (a.includes("=")) extra.push([a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]);
  else throw new Error(`unknown argument ${a}`);
}
const root = new URL("..", import.meta.url).pathname;
const bun = `${root}node_modules/@oven/bun-linux-x64/bin/bun`;
const variants: [string, string[]][] = [
  ["ptp VERSION (Go, Debian)", ["/usr/lib/cni/ptp"]],
  ["bun -e 0", [bun, "-e", "0"]],
  ...(extra.length > 0 ? extra : [["coil VERSION (dist/bin/coil)", `${root}dist/bin/coil`] as [string, string]]).map(
    ([k, p]): [string, string[]] => [k, [p]],
  ),
];
const stdin = new TextEncoder().encode('{"cniVersion":"1.0.0"}');
const env = { PATH: process.env["PATH"] ?? "/usr/bin:/bin", CNI_COMMAND: "VERSION" };

let hog: ReturnType<BunApi["spawn"]> | undefined;
if (stress) {
  hog = Bun.spawn(["stress-ng", "--cpu", "2", "--quiet"], { stdout: "ignore", stderr: "ignore" });
  // Wait until the hog's two workers run (children of the stress-ng parent), not for a fixed time.
  const parent = String(hog.pid);
  const workers = (): number => spawnSync("pgrep", ["-P", parent], { encoding: "utf8" }).stdout.split("\n").filter(Boolean).length;
  for (const t0 = Date.now(); workers() < 2; ) {
    if (Date.now() - t0 > 30_000) throw new Error("stress-ng workers did not start within 30 s");
    await Bun.sleep(10);
  }
}
const load0 = loadavg();
const cpu: number[][] = variants.map(() => []);
const wall: number[][] = variants.map(() => []);
for (let r = 0; r < n + 2; r++) {
  for (const [i, [name, cmd]] of variants.entries()) {
    const t0 = performance.now();
    const p = Bun.spawnSync(cmd, { env, stdin, stdout: "pipe", stderr: "pipe" });
    const t = performance.now() - t0;
    const answers = cmd[0] === "/usr/lib/cni/ptp" || name.startsWith("coil");
    if (p.exitCode !== 0 || (answers && !p.stdout.toString().includes("supportedVersions"))) {
      hog?.kill("SIGTERM");
      throw new Error(`${name}: exit ${p.exitCode}: ${p.stdout.toString()} ${p.stderr.toString()}`);
    }
    if (r < 2) continue; // warm-up rounds (page cache)
    cpu[i]!.push(Number(p.resourceUsage.cpuTime.user + p.resourceUsage.cpuTime.system) / 1000);
    wall[i]!.push(t);
  }
}
const load1 = loadavg();
if (hog !== undefined) {
  hog.kill("SIGTERM");
  await hog.exited;
}
const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const f = (x: number): string => x.toFixed(1);
console.log(`n = ${n} per variant, interleaved${stress ? ", under stress-ng --cpu 2" : ""}; load average ${load0.map(f).join("/")} → ${load1.map(f).join("/")}`);
console.log("| variant | CPU user+sys mean ms | CPU median ms | wall median ms | wall min ms |");
console.log("|---|---|---|---|---|");
for (const [i, [name]] of variants.entries()) {
  console.log(`| ${name} | ${f(mean(cpu[i]!))} | ${f(med(cpu[i]!))} | ${f(med(wall[i]!))} | ${f(Math.min(...wall[i]!))} |`);
}
