/**
 * Long-running test daemons for the start-up benchmark (`bench/cni-startup.md`): one fast-path
 * server and one grpc-js server, each over its own {@link FakeCoild} whose attachments are cleared
 * before every ADD so the same ADD can be repeated. Prints `{"fast":"<sock>","grpc":"<sock>"}` and
 * runs until SIGTERM/SIGINT. Usage: `node --import tsx bench/cni-daemon.ts`.
 */
import type { FastRequest } from "../adapters/common/fast-protocol.js";
import { FakeCoild } from "../test/adapters/cni/fake-coild.js";
import { startFastServer, startGrpcServer } from "../test/adapters/cni/servers.js";

class RepeatableCoild extends FakeCoild {
  override handle(req: FastRequest) {
    if (req.method === "Add") this.attachments.clear();
    this.requests.length = 0;
    return super.handle(req);
  }
}

const fast = await startFastServer(new RepeatableCoild());
const grpc = await startGrpcServer(new RepeatableCoild());
process.stdout.write(`${JSON.stringify({ fast: fast.socket, grpc: grpc.socket })}\n`);
const stop = (): void => void Promise.all([fast.close(), grpc.close()]).then(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
