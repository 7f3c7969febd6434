/**
 * coilctl's progress reporter: on a terminal one status line redrawn in place (throttled, erased at
 * the end); elsewhere `coilctl: <phase>: <done>/<total>` lines — each phase's first count, at most
 * one line per interval, and its final count. The clock is a counter set by the test.
 */
import t from "tap";
import { progressReporter } from "../../../adapters/coilctl/progress.js";

function sink(isTTY: boolean): { out: string[]; write: (s: string) => void; isTTY: boolean } {
  const out: string[] = [];
  return { out, write: (s) => void out.push(s), isTTY };
}

t.test("into a pipe: first, throttled and final counts per phase, one line each", async (t) => {
  let now = 0;
  const s = sink(false);
  const p = progressReporter(s, { now: () => now, intervalMs: 1000 });
  p.update("listing Pods", 500, 50_000);
  now = 400;
  p.update("listing Pods", 1000, 50_000);
  p.update("nodes queried", 1, 3);
  now = 1000;
  p.update("listing Pods", 1500, 50_000);
  now = 1500;
  p.update("listing Pods", 2000, 50_000);
  p.end("listing Pods");
  p.update("listing Nodes", 7);
  p.end("listing Nodes");
  p.update("nodes queried", 3, 3);
  p.end("nodes queried");
  p.close();
  t.same(s.out, [
    "coilctl: listing Pods: 500/50000\n",
    "coilctl: nodes queried: 1/3\n",
    "coilctl: listing Pods: 1500/50000\n",
    "coilctl: listing Pods: 2000/50000\n",
    "coilctl: listing Nodes: 7\n",
    "coilctl: nodes queried: 3/3\n",
  ], "1000/50000 falls within the interval; each phase's final count is shown once; an unknown total is left out");
});

t.test("on a terminal: one line redrawn in place with every running phase, erased at the end", async (t) => {
  let now = 0;
  const s = sink(true);
  const p = progressReporter(s, { now: () => now, intervalMs: 100 });
  p.update("listing Pods", 500, 1000);
  now = 50;
  p.update("listing AddressBlocks", 500, 600);
  now = 60;
  p.update("listing Pods", 1000, 1000);
  now = 200;
  p.end("listing Pods");
  p.close();
  t.same(s.out, [
    "\r\u001b[Klisting Pods: 500/1000",
    "\r\u001b[Klisting Pods: 500/1000 | listing AddressBlocks: 500/600",
    "\r\u001b[Klisting AddressBlocks: 500/600",
    "\r\u001b[K",
  ], "a new phase draws at once; an update within 100 ms of the last draw waits; close erases the line");
  const quiet = sink(true);
  progressReporter(quiet, { now: () => 0 }).close();
  t.same(quiet.out, [], "nothing drawn: nothing to erase");
});
