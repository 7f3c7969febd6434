// coild's table-119 export with the real kernel adapter acting on its own namespace (as in coild:
// the route query and the `ip -batch` lines go to long-lived `ip` co-processes), run in a child
// process inside a test netns. Coil's exporter semantics: the table ends up holding exactly the
// block CIDRs (dev lo, proto 30), a route of the table whose destination is not a block is deleted
// whatever its protocol, a route of the table whose destination IS a block is kept as it is, and
// routes of other tables (and other protocols elsewhere) are never touched.
import t from "tap";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { requireRoot, withNetns } from "../../../helpers/netns.js";

const CHILD = fileURLToPath(new URL("../../../helpers/route-export-child.ts", import.meta.url));

interface Route {
  readonly dst: string;
  readonly table?: number;
  readonly protocol?: number;
}
interface ChildOut {
  readonly viaQuery: Route[];
  readonly viaObserve: Route[];
  readonly first: unknown;
  readonly second: unknown;
  readonly after: Route[];
}
const key = (r: Route): string => `${r.dst} p${r.protocol ?? "-"}`;
const keys = (rs: readonly Route[]): string[] => rs.map(key).sort();

t.test("route export in its own namespace: table 119 = the blocks; other tables and protocols elsewhere untouched", async (t) => {
  if (!requireRoot(t)) return;
  const ns = withNetns(t, "coilexp");
  const ip = (args: string[]): string => execFileSync("ip", ["-n", ns.name, ...args], { encoding: "utf8" });
  // Before: a stale export (block gone while coild was down), a block's route added by someone else
  // with another protocol (kept: same destination), a foreign route in table 119 (deleted, as Coil),
  // and routes of protocol 30 in other tables (untouched).
  ip(["route", "add", "10.9.0.0/24", "dev", "lo", "table", "119", "proto", "30"]);
  ip(["route", "add", "10.1.0.0/24", "dev", "lo", "table", "119", "proto", "4"]);
  ip(["-6", "route", "add", "fd09::/64", "dev", "lo", "table", "119", "proto", "12"]);
  ip(["route", "add", "10.8.0.0/24", "dev", "lo", "table", "200", "proto", "30"]);
  ip(["route", "add", "10.7.0.0/24", "dev", "lo", "proto", "30"]);
  const arg = { blocks: ["10.1.0.0/24", "10.2.0.0/27", "fd02::/120"], table: 119, protocol: 30 };
  const out = execFileSync("nsenter", [`--net=${ns.path}`, "--", process.execPath, "--import", "tsx", CHILD, JSON.stringify(arg)], { encoding: "utf8", timeout: 120_000 });
  const r = JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as ChildOut;
  t.same(keys(r.viaQuery), ["10.1.0.0/24 p4", "10.9.0.0/24 p30", "fd09::/64 p12"], "observeRoutes read table 119 of both families through the co-processes");
  t.same(r.viaQuery, r.viaObserve, "the same routes, field for field, as the full observe");
  t.equal(r.first, "ok");
  t.equal(r.second, "ok", "a sync with nothing to do succeeds");
  t.same(keys(r.after), ["10.1.0.0/24 p4", "10.2.0.0/27 p30", "fd02::/120 p30"], "blocks exported, stale and foreign destinations deleted, the existing block route kept");
  const other = (table: string): string[] => (JSON.parse(ip(["-j", "-N", "route", "show", "table", table]) || "[]") as { dst: string }[]).map((x) => x.dst);
  t.same(other("200"), ["10.8.0.0/24"], "table 200 untouched");
  t.ok(other("main").includes("10.7.0.0/24"), "main untouched");
});
