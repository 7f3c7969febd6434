/**
 * `--clear-routes-on-shutdown` clears table 119 at a clean stop when the Node object is gone (Coil
 * #370; shown end to end with BIRD in test/e2e/routing-bird.test.ts). The local store has no Node
 * object, so the flag cannot work there: coild refuses it at start-up, before touching anything,
 * instead of accepting it with no effect.
 */
import t from "tap";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatCoildStartError, runCoild } from "../../../adapters/daemon/run.js";
import { inProcessCoild, poolDoc } from "./harness.js";

t.test("--clear-routes-on-shutdown with --store=local is refused with a clear message", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "coild-clear-"));
  writeFileSync(join(dir, "pools.yaml"), poolDoc("default", { blockSizeBits: 2, subnets: [{ ipv4: "10.2.0.0/28" }] }));
  const { flags, kernel, deps } = inProcessCoild(dir, ["--clear-routes-on-shutdown"]);
  const r = await runCoild(flags, deps);
  t.ok(r.isErr(), "not started");
  if (r.isErr()) {
    t.equal(r.error.kind, "clear-routes-needs-kubernetes");
    t.match(formatCoildStartError(r.error), /--clear-routes-on-shutdown needs --store=kubernetes/);
  }
  t.same(kernel.dump()["host"]?.rules ?? [], [], "the kernel was not touched");
  t.notOk(existsSync(join(dir, "coild.sock")), "no socket");
  t.notOk(existsSync(join(dir, "state")), "no state dir");
});
