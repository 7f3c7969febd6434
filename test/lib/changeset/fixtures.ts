import { parseCidr, parseIp, type Cidr, type Ip } from "../../../lib/net/index.js";

/** Parse a CIDR literal in tests. */
export function c(s: string): Cidr {
  return parseCidr(s)._unsafeUnwrap();
}

/** Parse an address literal in tests. */
export function a(s: string): Ip {
  return parseIp(s)._unsafeUnwrap();
}

import type { Changeset, NetlinkOp, NftCommand } from "../../../lib/changeset/index.js";
import { netnsPath, HOST_NETNS } from "../../../lib/changeset/index.js";

/** One op of every kind, valid in the host namespace of a fresh model (in order). */
export function everyOp(): NetlinkOp[] {
  return [
    { kind: "sysctl.set", key: "net.ipv4.ip_forward", value: "1", previous: "0" },
    { kind: "link.add-dummy", name: "fou-dummy" },
    { kind: "link.add-veth", name: "veth3a9f01c2", mtu: 1450, peer: { name: "eth0", netns: netnsPath("/var/run/netns/pod1") } },
    { kind: "link.set", name: "veth3a9f01c2", up: true, alias: "COIL:default:c0ffee:eth0" },
    { kind: "addr.add", dev: "veth3a9f01c2", cidr: c("10.20.30.41/32") },
    { kind: "addr.add", dev: "veth3a9f01c2", cidr: c("fd10::41/128"), nodad: true },
    { kind: "route.add", route: { family: 4, dst: c("10.2.0.3/32"), dev: "veth3a9f01c2", scope: "link", table: 116, protocol: 30 } },
    { kind: "route.replace", route: { family: 6, dst: c("fd02::3/128"), dev: "veth3a9f01c2", scope: "link", table: 116, protocol: 30 } },
    { kind: "rule.add", rule: { family: 4, priority: 2000, table: 116 } },
    { kind: "rule.add", rule: { family: 6, priority: 2000, table: 116 } },
    { kind: "fou.add", family: 4, port: 5555, ipproto: 4 },
    { kind: "fou.add", family: 6, port: 5555, ipproto: 41 },
    { kind: "link.add-tunnel", name: "fou4_0a010101", mode: "ipip", local: a("10.20.30.41"), remote: a("10.1.1.1"), ttl: 225, encap: { sport: 0, dport: 5555 } },
    { kind: "link.add-tunnel", name: "coil_ipip6", mode: "ip6tnl", external: true },
    { kind: "link.add-vxlan", name: "vxlan0", vni: 1, dstport: 4789, local: a("10.20.30.41"), learning: false },
    { kind: "route.del", route: { family: 4, dst: c("10.2.0.3/32"), dev: "veth3a9f01c2", table: 116 } },
    { kind: "rule.del", rule: { family: 6, priority: 2000, table: 116 } },
    { kind: "addr.del", dev: "veth3a9f01c2", cidr: c("fd10::41/128") },
    { kind: "fou.del", family: 6, port: 5555 },
    { kind: "link.del", name: "vxlan0" },
  ];
}

/** A few nft commands of Coil's egress NAT server and originating-only marks. */
export function someNft(): NftCommand[] {
  return [
    { add: { table: { family: "ip", name: "nat" } } },
    { add: { chain: { family: "ip", table: "nat", name: "POSTROUTING", type: "nat", hook: "postrouting", prio: 100, policy: "accept" } } },
    {
      add: {
        rule: {
          family: "ip",
          table: "nat",
          chain: "POSTROUTING",
          expr: [
            { match: { op: "!=", left: { payload: { protocol: "ip", field: "saddr" } }, right: "10.0.0.1" } },
            { match: { op: "==", left: { meta: { key: "oifname" } }, right: "eth0" } },
            { counter: null },
            { masquerade: null },
          ],
        },
      },
    },
    { add: { set: { family: "ip", table: "mangle", name: "eth0", type: "ifname", elem: ["eth0"] } } },
    {
      add: {
        rule: {
          family: "ip",
          table: "mangle",
          chain: "input",
          comment: "coil-input-eth0",
          expr: [
            { match: { op: "==", left: { meta: { key: "iifname" } }, right: "@eth0" } },
            { match: { op: "in", left: { ct: { key: "state" } }, right: ["new", "established", "related"] } },
            { counter: null },
            { mangle: { key: { ct: { key: "mark" } }, value: 2 } },
          ],
        },
      },
    },
    { delete: { table: { family: "ip6", name: "mangle" } } },
  ];
}

/** A changeset with every netlink op kind (host and pod steps) and some nft commands. */
export function everyOpChangeset(): Changeset {
  return {
    steps: [
      { netns: HOST_NETNS, netlink: everyOp(), nft: [] },
      {
        netns: netnsPath("/var/run/netns/pod1"),
        netlink: [
          { kind: "link.set", name: "eth0", up: true },
          { kind: "addr.add", dev: "eth0", cidr: c("10.2.0.3/32") },
          { kind: "route.add", route: { family: 4, dst: c("10.20.30.41/32"), dev: "eth0", scope: "link" } },
          { kind: "route.replace", route: { family: 4, dst: c("0.0.0.0/0"), via: a("10.20.30.41"), dev: "eth0" } },
          { kind: "link.add-veth", name: "x0", peer: { name: "x1", netns: HOST_NETNS } },
        ],
        nft: someNft(),
      },
    ],
  };
}
