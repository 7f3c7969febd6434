/* IMPORTANT
 * This snapshot file is auto-generated, but designed for humans.
 * It should be checked into source control and tracked carefully.
 * Re-generate by setting TAP_SNAPSHOT=1 and running tests.
 * Make sure to inspect the output below.  Do not ignore changes!
 */
'use strict'
exports[`test/lib/changeset/explain.test.ts > TAP > golden explain of every op kind and some nft > explain 1`] = `
# netns host
sysctl -w net.ipv4.ip_forward=1  # previous: 0
ip link add name fou-dummy type dummy
ip link add name veth3a9f01c2 mtu 1450 type veth peer name eth0 mtu 1450 netns /var/run/netns/pod1
ip link set dev veth3a9f01c2 up alias COIL:default:c0ffee:eth0
ip address add 10.20.30.41/32 dev veth3a9f01c2
ip -6 address add fd10::41/128 dev veth3a9f01c2 nodad
ip route add 10.2.0.3/32 dev veth3a9f01c2 table 116 proto 30 scope link
ip -6 route replace fd02::3/128 dev veth3a9f01c2 table 116 proto 30 scope link
ip rule add lookup 116 priority 2000
ip -6 rule add lookup 116 priority 2000
ip fou add port 5555 ipproto 4
ip -6 fou add port 5555 ipproto 41
ip link add name fou4_0a010101 type ipip local 10.20.30.41 remote 10.1.1.1 ttl 225 encap fou encap-sport auto encap-dport 5555
ip link add name coil_ipip6 type ip6tnl mode any external
ip link add name vxlan0 type vxlan id 1 dstport 4789 local 10.20.30.41 nolearning
ip route del 10.2.0.3/32 dev veth3a9f01c2 table 116
ip -6 rule del lookup 116 priority 2000
ip -6 address del fd10::41/128 dev veth3a9f01c2
ip -6 fou del port 5555
ip link del dev vxlan0
# netns /var/run/netns/pod1
ip link set dev eth0 up
ip address add 10.2.0.3/32 dev eth0
ip route add 10.20.30.41/32 dev eth0 scope link
ip route replace default via 10.20.30.41 dev eth0
ip link add name x0 type veth peer name x1 netns /proc/1/ns/net
nft -j '{"nftables":[{"add":{"table":{"family":"ip","name":"nat"}}},{"add":{"chain":{"family":"ip","table":"nat","name":"POSTROUTING","type":"nat","hook":"postrouting","prio":100,"policy":"accept"}}},{"add":{"rule":{"family":"ip","table":"nat","chain":"POSTROUTING","expr":[{"match":{"op":"!=","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":"10.0.0.1"}},{"match":{"op":"==","left":{"meta":{"key":"oifname"}},"right":"eth0"}},{"counter":null},{"masquerade":null}]}}},{"add":{"set":{"family":"ip","table":"mangle","name":"eth0","type":"ifname","elem":["eth0"]}}},{"add":{"rule":{"family":"ip","table":"mangle","chain":"input","comment":"coil-input-eth0","expr":[{"match":{"op":"==","left":{"meta":{"key":"iifname"}},"right":"@eth0"}},{"match":{"op":"in","left":{"ct":{"key":"state"}},"right":["new","established","related"]}},{"counter":null},{"mangle":{"key":{"ct":{"key":"mark"}},"value":2}}]}}},{"delete":{"table":{"family":"ip6","name":"mangle"}}}]}'
#   nft add table ip nat
#   nft add chain ip nat POSTROUTING { type nat hook postrouting priority 100; policy accept; }
#   nft add rule ip nat POSTROUTING ip saddr != 10.0.0.1 oifname "eth0" counter masquerade
#   nft add set ip mangle eth0 { type ifname; elements = { "eth0" }; }
#   nft add rule ip mangle input iifname @eth0 ct state new,established,related counter ct mark set 2 comment "coil-input-eth0"
#   nft delete table ip6 mangle

`
