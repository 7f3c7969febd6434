/**
 * Reach the test API server (listening on the machine's 127.0.0.1:<port>) from inside a test
 * "host" netns at the same address, so that a daemon started there can use the control plane's
 * kubeconfig unchanged: a UNIX socket listener in the machine's netns forwards to the API server,
 * and a relay process inside the test netns listens on 127.0.0.1:<port> and forwards to that
 * socket. No link, address or route is added outside test namespaces.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { connect, createServer, type Server } from "node:net";
import { join } from "node:path";
import type { TestNetns } from "./netns.js";
import { stopProcess } from "./test-host.js";

// TCP_NODELAY on every TCP leg: Nagle's algorithm would hold back small writes (an API response
// after a request) for up to ~40 ms and reorder what arrives over different connections.
const RELAY = `const net=require("node:net");const [port,path]=process.argv.slice(1);
net.createServer({noDelay:true},(c)=>{const u=net.connect(path);c.pipe(u);u.pipe(c);c.on("error",()=>u.destroy());u.on("error",()=>c.destroy());})
.listen(Number(port),"127.0.0.1",()=>console.log("ready"));`;

/** A running relay; {@link ApiRelay.close} stops both halves. */
export interface ApiRelay {
  close(): Promise<void>;
}

/** UNIX socket `path` → TCP 127.0.0.1:`port` in this (the machine's) netns. */
function unixToTcp(path: string, port: number): Promise<Server> {
  const s = createServer((c) => {
    const u = connect({ port, host: "127.0.0.1", noDelay: true });
    c.pipe(u);
    u.pipe(c);
    c.on("error", () => u.destroy());
    u.on("error", () => c.destroy());
  });
  return new Promise((resolve) => s.listen(path, () => resolve(s)));
}

/** TCP 127.0.0.1:`port` inside `host` → UNIX socket `path` (a child process in that netns). */
function tcpToUnix(host: TestNetns, port: number, path: string): Promise<ChildProcess> {
  const child = spawn("nsenter", [`--net=${host.path}`, "--", process.execPath, "-e", RELAY, String(port), path], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    child.stdout?.once("data", () => resolve(child));
    child.once("exit", (code) => reject(new Error(`relay exited ${String(code)}`)));
  });
}

/**
 * Make the API server at `serverUrl` (`https://127.0.0.1:<port>`) reachable at the same address
 * inside `host`; `dir` holds the relay's UNIX socket.
 */
export async function relayApiIntoNetns(host: TestNetns, serverUrl: string, dir: string): Promise<ApiRelay> {
  const port = Number(new URL(serverUrl).port);
  const sock = join(dir, "api.sock");
  const server = await unixToTcp(sock, port);
  let child: ChildProcess;
  try {
    child = await tcpToUnix(host, port, sock);
  } catch (e) {
    server.close();
    throw e;
  }
  return {
    close: async () => {
      await stopProcess(child, "SIGKILL");
      server.close();
    },
  };
}
