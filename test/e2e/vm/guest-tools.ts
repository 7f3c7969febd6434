/**
 * Pieces shared by the programs that run INSIDE the FoU VM (test/e2e/vm/*-guest.ts, bundled on the
 * host and started by scripts/vm/run-in-vm.sh): running commands (argv, no shell) in the VM or in
 * one of its named network namespaces, reading tunnel links, and the 1 MiB echo transfer the FoU
 * tests measure (a node echo server in the "internet" namespace, a node client in the client pod).
 *
 * @module
 */
import { execFileSync } from "node:child_process";

/** A 1 MiB transfer series from a client pod (see {@link CLIENT_SRC}). */
export interface Transfer {
  /** Echoed bytes equal to the sent ones. */
  readonly ok: number;
  /** Transfers attempted. */
  readonly rounds: number;
  /** Wall time of the series. */
  readonly seconds: number;
  /** The source addresses the echo server saw. */
  readonly sources: readonly string[];
  /** Set when a transfer failed. */
  readonly error?: string;
}

/** One link as `ip -d -j link show` gives it. */
export interface LinkView {
  /** Link name. */
  readonly name: string;
  /** ifindex (changes when the link is recreated); -1 when the link is missing. */
  readonly ifindex: number;
  /** `linkinfo.info_kind`. */
  readonly kind: string;
  /** Whether the link is up. */
  readonly up: boolean;
  /** `ip -d link show` in text, for the record. */
  readonly text: string;
}

/** Run `argv` (no shell), `input` on stdin; its stdout. Throws (with stderr) on a non-zero exit. */
export function run(argv: readonly string[], input?: string): string {
  const [cmd, ...args] = argv;
  return execFileSync(cmd ?? "false", args, { encoding: "utf8", input: input ?? "", stdio: ["pipe", "pipe", "pipe"] });
}

/** {@link run} inside the named network namespace `ns` (`ip netns exec`). */
export function inNs(ns: string, argv: readonly string[], input?: string): string {
  return run(["ip", "netns", "exec", ns, ...argv], input);
}

/** `ip -n <ns> <args>` (one process; `ip netns exec` would start two). */
export function ipIn(ns: string, args: readonly string[]): string {
  return run(["ip", "-n", ns, ...args]);
}

/** The named links of `ns` (a missing one reads as ifindex -1, kind "", down, with the error as text). */
export function linkViews(ns: string, names: readonly string[]): LinkView[] {
  return names.map((name) => {
    try {
      const [l] = JSON.parse(ipIn(ns, ["-d", "-j", "link", "show", "dev", name])) as Array<{ ifindex: number; flags: string[]; linkinfo?: { info_kind?: string } }>;
      return { name, ifindex: l?.ifindex ?? -1, kind: l?.linkinfo?.info_kind ?? "", up: l?.flags.includes("UP") === true, text: ipIn(ns, ["-d", "link", "show", "dev", name]) };
    } catch (e) {
      return { name, ifindex: -1, kind: "", up: false, text: `missing: ${e instanceof Error ? e.message : String(e)}` };
    }
  });
}

/** Names of every link in `ns`. */
export function linkNames(ns: string): string[] {
  return (JSON.parse(ipIn(ns, ["-j", "link", "show"])) as Array<{ ifname: string }>).map((l) => l.ifname);
}

/**
 * The echo server (`node -e ECHO_SRC <address>...`): listens on port 80 of each address, prints
 * `ready` once all listen; for each connection it reads everything, then writes the peer's
 * address and a newline followed by the bytes it got.
 */
export const ECHO_SRC = `const net=require("node:net");let n=0;const hosts=process.argv.slice(1);
for (const host of hosts) net.createServer((c)=>{const b=[];c.on("data",(d)=>b.push(d));c.on("end",()=>{c.write(c.remoteAddress+"\\n");c.end(Buffer.concat(b));});c.on("error",()=>{});}).listen(80,host,()=>{if(++n===hosts.length)console.log("ready");});`;

/**
 * The transfer client (`node -e CLIENT_SRC <host> <size> <rounds>`): `rounds` sequential uploads of
 * `size` random bytes echoed back, one TCP connection each; prints one {@link Transfer} as JSON. The
 * first transfer is retried until a deadline (the path may still be settling) and not counted.
 */
export const CLIENT_SRC = `const net=require("node:net");const crypto=require("node:crypto");
const [host,size,rounds]=[process.argv[1],Number(process.argv[2]),Number(process.argv[3])];
const body=crypto.randomBytes(size);const sources=new Set();let ok=0;
function one(){return new Promise((res,rej)=>{const c=net.connect({host,port:80});const b=[];c.on("data",(d)=>b.push(d));c.on("error",rej);
c.setTimeout(20000,()=>{c.destroy();rej(new Error("timeout"));});
c.on("end",()=>{const all=Buffer.concat(b);const nl=all.indexOf(10);sources.add(all.subarray(0,nl).toString());if(all.subarray(nl+1).equals(body))ok++;res();});c.end(body);});}
(async()=>{const deadline=Date.now()+30000;for(;;){try{await one();break;}catch(e){if(Date.now()>deadline)throw e;await new Promise((r)=>setTimeout(r,200));}}
ok=0;sources.clear();const t0=process.hrtime.bigint();for(let i=0;i<rounds;i++)await one();const s=Number(process.hrtime.bigint()-t0)/1e9;
console.log(JSON.stringify({ok,rounds,seconds:s,sources:[...sources]}));})().catch((e)=>{console.log(JSON.stringify({ok:0,rounds,seconds:0,sources:[],error:String(e)}));});`;

/** 1 MiB. */
export const MIB = 1024 * 1024;

/** `rounds` 1 MiB echo transfers from the client pod `ns` to `host`:80 ({@link CLIENT_SRC}). */
export function transfer(ns: string, host: string, rounds: number): Transfer {
  const out = inNs(ns, [process.execPath, "-e", CLIENT_SRC, host, String(MIB), String(rounds)]);
  return JSON.parse(out.trim().split("\n").pop() ?? "{}") as Transfer;
}

/** The "internet" namespace behind a node: its address on the veth, and the fake external targets on its lo. */
export interface Internet {
  readonly ns: string;
  readonly v4: string;
  readonly v6: string;
  readonly target4: string;
  readonly target6: string;
}

/**
 * Create the "internet" netns behind the current namespace (the node): a veth with 203.0.113.1 /
 * 2001:db8:1::1 on the node side, the targets routed to it. One `ip -batch` per namespace: every
 * process start is slow under emulation.
 */
export function addInternet(inet: Internet): void {
  run(["ip", "netns", "add", inet.ns]);
  run(["ip", "-batch", "-"], [
    `link add vinet type veth peer name eth0 netns ${inet.ns}`,
    "addr add 203.0.113.1/24 dev vinet",
    "addr add 2001:db8:1::1/64 dev vinet nodad",
    "link set vinet up",
    `route add ${inet.target4}/32 via ${inet.v4}`,
    `route add ${inet.target6}/128 via ${inet.v6}`,
    "",
  ].join("\n"));
  run(["ip", "-n", inet.ns, "-batch", "-"], [
    "link set lo up",
    `addr add ${inet.v4}/24 dev eth0`,
    `addr add ${inet.v6}/64 dev eth0 nodad`,
    `addr add ${inet.target4}/32 dev lo`,
    `addr add ${inet.target6}/128 dev lo`,
    "link set eth0 up",
    "route add default via 203.0.113.1",
    "route add ::/0 via 2001:db8:1::1",
    "",
  ].join("\n"));
}
