// `npm run demo` end to end (privileged): exit code, the lines a reader looks for, and that no
// namespace, host link or temp dir is left. As non-root it must explain and exit non-zero.
import t from "tap";
import { execFileSync, spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { requireRoot } from "../helpers/netns.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const netns = (): string[] => execFileSync("ip", ["netns", "list"]).toString().split("\n").filter((l) => l.startsWith("coil-demo-"));
const links = (): string => JSON.stringify((JSON.parse(execFileSync("ip", ["-j", "link", "show"]).toString()) as { ifname: string }[]).map((l) => l.ifname).sort());
const demoDirs = (): string[] => readdirSync(tmpdir()).filter((d) => d.startsWith("coil-demo-"));

t.test("npm run demo as root", async (t) => {
  if (!requireRoot(t)) return;
  const [ns0, links0, dirs0] = [netns(), links(), demoDirs()];
  const r = spawnSync("sh", ["scripts/demo.sh"], { cwd: root, encoding: "utf8", timeout: 120_000 });
  t.equal(r.status, 0, `exit code (stderr: ${r.stderr})`);
  const out = r.stdout;
  const expected: [string, RegExp][] = [
    ["explains the throw-away node namespace", /throw-away network namespace \(coil-demo-host-[0-9a-f]+\)/],
    ["coild started", /✔ coild started\s+local store/],
    ["pod1 address", /✔ ADD pod1\s+10\.100\.0\.\d+\s+fd02::[0-9a-f]*\s/],
    ["pod2 address", /✔ ADD pod2\s+10\.100\.0\.\d+\s+fd02::[0-9a-f]+\s/],
    ["pod3 address", /✔ ADD pod3\s+10\.100\.0\.\d+\s+fd02::[0-9a-f]+\s/],
    ["pod↔pod IPv4", /✔ ping pod1 → pod2\s+10\.100\.0\.\d+\s+IPv4/],
    ["pod↔pod IPv6", /✔ ping pod1 → pod3\s+fd02::\S+\s+IPv6/],
    ["pod↔node IPv4", /✔ ping pod2 → node\s+10\.20\.30\.41\s+IPv4/],
    ["pod↔node IPv6", /✔ ping pod3 → node\s+fd10::41\s+IPv6/],
    ["table 119", /✔ table 119 \(exported\)\s+10\.100\.0\.0\/29 proto 30 {2}· {2}fd02::\/125 proto 30/],
    ["DEL leaves nothing", /✔ DEL pod1 pod2 pod3\s+nothing left/],
    ["coild stopped", /✔ coild stopped/],
  ];
  for (const [what, re] of expected) t.match(out, re, what);
  t.notMatch(out, /✘/, "no failure line");
  t.ok(out.split("\n").length < 25, "short enough to read in ten seconds");
  t.same(netns(), ns0, "no demo namespace left");
  t.equal(links(), links0, "no link left in this namespace");
  t.same(demoDirs(), dirs0, "no temp dir left");
});

t.test("npm run demo as non-root explains and exits non-zero", async (t) => {
  if (!requireRoot(t)) return; // needs root to switch to an unprivileged user
  const r = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "sh", "scripts/demo.sh"], { cwd: root, encoding: "utf8" });
  t.not(r.status, 0);
  t.match(r.stderr, /needs root/);
  t.match(r.stderr, /sudo npm run demo/);
});
