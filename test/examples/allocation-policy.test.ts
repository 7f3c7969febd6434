import t from "tap";
import { spawnSync } from "node:child_process";
import { sourceChildEnv } from "../helpers/child-env.js";

t.test("examples/allocation-policy.ts runs and prints the policy figures", async (t) => {
  const r = spawnSync(process.execPath, ["--import", "tsx", "examples/allocation-policy.ts"], { encoding: "utf8", timeout: 60_000, env: sourceChildEnv() });
  t.equal(r.status, 0, `exit 0 (stderr: ${r.stderr})`);
  const out = r.stdout;
  // 10.100.0.0/16 with 32-address blocks: 2048 blocks; 110 pods need 4 blocks → 512 nodes.
  t.match(out, /^\s*5 \|\s+32 \|\s+2048 \|\s+1 \|\s+2048 \|\s+4 \|\s+512$/m);
  t.match(out, /^\s*8 \|\s+256 \|\s+256 \|\s+1 \|\s+256 \|\s+1 \|\s+256$/m);
  const steps = [...out.matchAll(/^step +\d+: freed (\S+) +-> \S+ +got (\S+) +\| quarantine 2s: freed (\S+) +got (\S+) \((never used|freed (\d+) s ago)\)$/gm)];
  t.equal(steps.length, 12, "12 churn steps");
  const m = /immediate reuse: coil=(\d+) lowest-free=(\d+) quarantine=(\d+)/.exec(out);
  t.ok(m, "summary line");
  const coil = Number(m?.[1]);
  const naive = Number(m?.[2]);
  t.equal(coil, steps.filter((s) => s[1] === s[2]).length, "summary matches the printed steps");
  t.ok(coil < naive, `cursor reuses less than lowest-free (${coil} < ${naive})`);
  t.ok(coil > 0, "Coil's cursor hands a freed address straight back once it wraps");
  t.equal(Number(m?.[3]), 0, "with the quarantine no freed address comes straight back");
  t.equal(Number(m?.[3]), steps.filter((s) => s[3] === s[4]).length, "quarantine summary matches the printed steps");
  const ages = steps.flatMap((s) => (s[6] === undefined ? [] : [Number(s[6])]));
  t.ok(ages.length > 0 && ages.every((a) => a >= 2), `every reused address was freed at least 2 s before (${ages.join(", ")})`);
  t.match(out, /^reuse within the 2s quarantine: 0$/m);
});
