import t from "tap";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { sourceChildEnv } from "../helpers/child-env.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

t.test("examples/plan-pod-network.ts prints the dual-stack plan", async (t) => {
  const out = execFileSync(process.execPath, ["--import", "tsx", "examples/plan-pod-network.ts"], { cwd: root, encoding: "utf8", env: sourceChildEnv() });
  const lines = out.split("\n");
  const want = [
    "ip rule add lookup 116 priority 2000",
    "ip link add name eth0 mtu 1450 type veth peer name veth3a9f01c2 mtu 1450 netns /proc/1/ns/net",
    "ip link set dev veth3a9f01c2 up alias COIL:default:c0ffee:eth0",
    "ip -6 address add fe80::1/64 dev veth3a9f01c2 nodad",
    "ip route replace 10.2.0.5/32 dev veth3a9f01c2 table 116 proto 30 scope link",
    "ip -6 route replace fd02::5/128 dev veth3a9f01c2 table 116 proto 30 scope link",
    "ip route replace default via 10.20.30.41 dev eth0",
    "ip -6 route replace default via fe80::1 dev eth0",
    "ip rule add lookup 118 priority 2100",
    "ip route replace default dev fou4_0a60000a table 118 proto 30 scope global",
    "ip rule add iif eth0 lookup 118 priority 2000",
    '#   nft add rule ip nat POSTROUTING ip saddr != 10.2.0.9 oifname "eth0" counter masquerade comment "coil-masquerade-eth0"',
  ];
  for (const w of want) t.ok(lines.includes(w), w);
  t.ok(lines.findIndex((l) => l.startsWith("ip link add name eth0")) < lines.indexOf("ip -6 route replace default via fe80::1 dev eth0"), "veth before routes");
  t.notMatch(out, /# invalid/);
});
