/**
 * What the benchmarks read of a process and of the machine: memory and CPU of one process and its
 * descendants from /proc, and the machine's load (uptime, runnable tasks, stress-ng). Shared by
 * bench/router-scale.ts and bench/coild-export.ts.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/** One process's memory and CPU from /proc, and those of its descendants. */
export interface ProcStats {
  readonly rssMiB: number;
  readonly hwmMiB: number;
  /** utime + stime of the process, seconds. */
  readonly cpuS: number;
  /**
   * CPU of its children: cutime + cstime (children it has waited for) plus utime + stime of its
   * live descendants (our executor keeps `ip -batch` co-processes running), seconds.
   */
  readonly childCpuS: number;
  /** VmRSS of its live descendants (MiB). */
  readonly childRssMiB: number;
}

/** Fields of /proc/<pid>/stat after "(comm) ": index 0 is field 3 (state). */
function statFields(pid: number): string[] {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  return s.slice(s.lastIndexOf(") ") + 2).split(" ");
}
const field = (f: readonly string[], n: number): number => Number(f[n - 3]);
const rssKiB = (pid: number): number => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);

/** Live descendants of `pid` (by ppid, read from /proc). */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const ppid = field(statFields(Number(e)), 4);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(e)]);
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const todo = [pid];
  while (todo.length > 0) {
    for (const c of children.get(todo.pop() as number) ?? []) {
      out.push(c);
      todo.push(c);
    }
  }
  return out;
}

/** {@link ProcStats} of `pid` now (throws when the process is gone). */
export function procStats(pid: number): ProcStats {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  const f = statFields(pid);
  let liveCpu = 0;
  let liveRss = 0;
  for (const d of descendants(pid)) {
    try {
      const df = statFields(d);
      liveCpu += field(df, 14) + field(df, 15);
      liveRss += rssKiB(d);
    } catch {
      // exited meanwhile (its CPU is then in cutime/cstime)
    }
  }
  return {
    rssMiB: kb("VmRSS") / 1024,
    hwmMiB: kb("VmHWM") / 1024,
    cpuS: (field(f, 14) + field(f, 15)) / 100,
    childCpuS: (field(f, 16) + field(f, 17) + liveCpu) / 100,
    childRssMiB: liveRss / 1024,
  };
}

/** `uptime`'s line. */
export const uptime = (): string => execFileSync("uptime", [], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();

/** Other load on the machine: `stress-ng` command lines (pgrep) and /proc/loadavg's running/total. */
export function otherLoad(): { readonly stress: string[]; readonly runnable: string } {
  let stress: string[] = [];
  try {
    stress = execFileSync("pgrep", ["-a", "-x", "stress-ng"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim().split("\n").filter((l) => l !== "");
  } catch {
    // none (pgrep exits 1)
  }
  return { stress, runnable: readFileSync("/proc/loadavg", "utf8").split(" ")[3] ?? "?" };
}

/** The 1-minute load average now. */
export const load1 = (): number => Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);

/** Median (NaN for none). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}
