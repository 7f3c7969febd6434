/**
 * Child process for tests that need the real kernel adapter acting on its OWN namespace (the
 * co-process paths of `realKernel()`: route queries and `ip -batch` lines go to long-lived `ip`
 * processes there). Started as `nsenter --net=<test netns> -- node --import tsx <this file> <json>`,
 * where the JSON argument is `{ "blocks": ["10.1.0.0/24", …], "table": 119, "protocol": 30 }`. It
 * prints one JSON line: table `table`'s routes read by `observeRoutes` and by the full `observe`
 * before the export, the result of one `RouteExport.sync()` and of a second one (nothing to do),
 * and table `table` (by `observeRoutes`) after them.
 */
import { HOST_NETNS, routeTable } from "../../lib/changeset/index.js";
import { parseCidr } from "../../lib/net/index.js";
import { SILENT_LOGGER } from "../../adapters/common/log.js";
import { RouteExport } from "../../adapters/daemon/node/route-export.js";
import { realKernel } from "../../adapters/kernel/index.js";

const arg = JSON.parse(process.argv[2] ?? "{}") as { blocks: string[]; table: number; protocol: number };
const kernel = realKernel();
const query = { table: arg.table };
const viaQuery = (await kernel.observeRoutes?.(HOST_NETNS, query))?._unsafeUnwrap();
const viaObserve = (await kernel.observe(HOST_NETNS))._unsafeUnwrap().routes.filter((r) => routeTable(r) === arg.table);
const blocks = arg.blocks.map((b) => parseCidr(b)._unsafeUnwrap());
const exp = new RouteExport({ kernel, log: SILENT_LOGGER, table: arg.table, protocol: arg.protocol, blocks: () => blocks });
exp.blocksChanged();
const first = await exp.sync();
exp.blocksChanged();
const second = await exp.sync();
const after = (await kernel.observeRoutes?.(HOST_NETNS, query))?._unsafeUnwrap();
process.stdout.write(`${JSON.stringify({ viaQuery, viaObserve, first: first.isOk() ? "ok" : first.error, second: second.isOk() ? "ok" : second.error, after })}\n`);
process.exit(0);
