/* IMPORTANT
 * This snapshot file is auto-generated, but designed for humans.
 * It should be checked into source control and tracked carefully.
 * Re-generate by setting TAP_SNAPSHOT=1 and running tests.
 * Make sure to inspect the output below.  Do not ignore changes!
 */
'use strict'
exports[`test/lib/plan/explain-golden.test.ts > TAP > golden explain, dual > clientInit 1`] = `
# netns /var/run/netns/pod1
ip rule add to 169.254.0.0/16 lookup 254 priority 1800
ip rule add lookup 117 priority 1900
ip rule add to 10.0.0.0/8 lookup 254 priority 2000
ip rule add to 172.16.0.0/12 lookup 254 priority 2001
ip rule add to 192.168.0.0/16 lookup 254 priority 2002
ip rule add lookup 118 priority 2100
ip -6 rule add to fe80::/10 lookup 254 priority 1800
ip -6 rule add lookup 117 priority 1900
ip -6 rule add to fc00::/7 lookup 254 priority 2000
ip -6 rule add lookup 118 priority 2100

`

exports[`test/lib/plan/explain-golden.test.ts > TAP > golden explain, dual > clientSync 1`] = `
# netns /var/run/netns/pod1
sysctl -w net.ipv4.conf.default.rp_filter=0
sysctl -w net.ipv4.conf.all.rp_filter=0
sysctl -w net.ipv4.ip_forward=1
sysctl -w net.ipv6.conf.all.forwarding=1
ip fou add port 5555 ipproto 4
ip -6 fou add port 5555 ipproto 41
ip link add name fou-dummy type dummy
ip link add name fou4_0a60000a type ipip local 10.2.0.5 remote 10.96.0.10 ttl 225 encap fou encap-sport 5555 encap-dport 5555
ip link add name coil_ipip4 type ipip external
ip link set dev coil_ipip4 up
ip link set dev fou4_0a60000a up
ip route replace default dev fou4_0a60000a table 118 proto 30 scope global
ip route replace 10.1.2.0/24 dev fou4_0a60000a table 117 proto 30 scope global

`

exports[`test/lib/plan/explain-golden.test.ts > TAP > golden explain, dual > gateway 1`] = `
# netns /var/run/netns/egress
ip rule add iif eth0 lookup 118 priority 2000
ip -6 rule add iif eth0 lookup 118 priority 2000
sysctl -w net.ipv4.conf.default.rp_filter=0
sysctl -w net.ipv4.conf.all.rp_filter=0
sysctl -w net.ipv4.ip_forward=1
sysctl -w net.ipv6.conf.all.forwarding=1
ip fou add port 5555 ipproto 4
ip -6 fou add port 5555 ipproto 41
ip link add name fou-dummy type dummy
ip link add name fou4_0a020005 type ipip local 10.2.0.9 remote 10.2.0.5 ttl 225 encap fou encap-sport auto encap-dport 5555
ip link add name coil_ipip4 type ipip external
ip link set dev coil_ipip4 up
ip link set dev fou4_0a020005 up
ip link add name fou6_8591ada5 type ip6tnl mode any local fd02::9 remote fd02::5 hoplimit 225 encap fou encap-sport auto encap-dport 5555
ip link add name coil_ipip6 type ip6tnl mode any external
ip link set dev coil_ipip6 up
ip link set dev fou6_8591ada5 up
ip route replace 10.2.0.5/32 dev fou4_0a020005 table 118 proto 30 scope global
ip -6 route replace fd02::5/128 dev fou6_8591ada5 table 118 proto 30 scope global
nft -j '{"nftables":[{"add":{"table":{"family":"ip","name":"nat"}}},{"add":{"chain":{"family":"ip","table":"nat","name":"POSTROUTING","type":"nat","hook":"postrouting","prio":100,"policy":"accept"}}},{"add":{"table":{"family":"ip","name":"filter"}}},{"add":{"chain":{"family":"ip","table":"filter","name":"FORWARD","type":"filter","hook":"forward","prio":0,"policy":"accept"}}},{"add":{"rule":{"family":"ip","table":"nat","chain":"POSTROUTING","expr":[{"match":{"op":"!=","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":"10.2.0.9"}},{"match":{"op":"==","left":{"meta":{"key":"oifname"}},"right":"eth0"}},{"counter":null},{"masquerade":null}],"comment":"coil-masquerade-eth0"}}},{"add":{"rule":{"family":"ip","table":"filter","chain":"FORWARD","expr":[{"match":{"op":"==","left":{"meta":{"key":"oifname"}},"right":"eth0"}},{"match":{"op":"in","left":{"ct":{"key":"state"}},"right":["invalid"]}},{"counter":null},{"drop":null}],"comment":"coil-drop-invalid-eth0"}}},{"add":{"table":{"family":"ip6","name":"nat"}}},{"add":{"chain":{"family":"ip6","table":"nat","name":"POSTROUTING","type":"nat","hook":"postrouting","prio":100,"policy":"accept"}}},{"add":{"table":{"family":"ip6","name":"filter"}}},{"add":{"chain":{"family":"ip6","table":"filter","name":"FORWARD","type":"filter","hook":"forward","prio":0,"policy":"accept"}}},{"add":{"rule":{"family":"ip6","table":"nat","chain":"POSTROUTING","expr":[{"match":{"op":"!=","left":{"payload":{"protocol":"ip6","field":"saddr"}},"right":"fd02::9"}},{"match":{"op":"==","left":{"meta":{"key":"oifname"}},"right":"eth0"}},{"counter":null},{"masquerade":null}],"comment":"coil-masquerade-eth0"}}},{"add":{"rule":{"family":"ip6","table":"filter","chain":"FORWARD","expr":[{"match":{"op":"==","left":{"meta":{"key":"oifname"}},"right":"eth0"}},{"match":{"op":"in","left":{"ct":{"key":"state"}},"right":["invalid"]}},{"counter":null},{"drop":null}],"comment":"coil-drop-invalid-eth0"}}}]}'
#   nft add table ip nat
#   nft add chain ip nat POSTROUTING { type nat hook postrouting priority 100; policy accept; }
#   nft add table ip filter
#   nft add chain ip filter FORWARD { type filter hook forward priority 0; policy accept; }
#   nft add rule ip nat POSTROUTING ip saddr != 10.2.0.9 oifname "eth0" counter masquerade comment "coil-masquerade-eth0"
#   nft add rule ip filter FORWARD oifname "eth0" ct state invalid counter drop comment "coil-drop-invalid-eth0"
#   nft add table ip6 nat
#   nft add chain ip6 nat POSTROUTING { type nat hook postrouting priority 100; policy accept; }
#   nft add table ip6 filter
#   nft add chain ip6 filter FORWARD { type filter hook forward priority 0; policy accept; }
#   nft add rule ip6 nat POSTROUTING ip6 saddr != fd02::9 oifname "eth0" counter masquerade comment "coil-masquerade-eth0"
#   nft add rule ip6 filter FORWARD oifname "eth0" ct state invalid counter drop comment "coil-drop-invalid-eth0"

`

exports[`test/lib/plan/explain-golden.test.ts > TAP > golden explain, dual > gatewayVxlan 1`] = `
# netns host
ip rule add iif eth0 lookup 118 priority 2000
ip -6 rule add iif eth0 lookup 118 priority 2000
sysctl -w net.ipv4.conf.default.rp_filter=0
sysctl -w net.ipv4.conf.all.rp_filter=0
sysctl -w net.ipv4.ip_forward=1
sysctl -w net.ipv6.conf.all.forwarding=1
ip link add name vx4_0a020005 address 0a:6d:4e:3d:4d:c0 type vxlan id 7163453 dstport 4789 local 10.2.0.9 remote 10.2.0.5 nolearning noudpcsum udp6zerocsumtx udp6zerocsumrx
ip link set dev vx4_0a020005 up
ip link add name vx6_8591ada5 address 0a:85:91:ad:a5:72 type vxlan id 8753581 dstport 4789 local fd02::9 remote fd02::5 nolearning noudpcsum udp6zerocsumtx udp6zerocsumrx
ip -6 address add fe80::1/64 dev vx6_8591ada5 nodad
ip link set dev vx6_8591ada5 up
sysctl -w net.ipv4.conf.vx4_0a020005.proxy_arp=1
ip route replace 10.2.0.5/32 dev vx4_0a020005 table 118 proto 30 scope global
ip -6 route replace fd02::5/128 via fe80::2 dev vx6_8591ada5 table 118 proto 30 scope global
nft -j '{"nftables":[{"add":{"table":{"family":"ip","name":"nat"}}},{"add":{"chain":{"family":"ip","table":"nat","name":"POSTROUTING","type":"nat","hook":"postrouting","prio":100,"policy":"accept"}}},{"add":{"table":{"family":"ip","name":"filter"}}},{"add":{"chain":{"family":"ip","table":"filter","name":"FORWARD","type":"filter","hook":"forward","prio":0,"policy":"accept"}}},{"add":{"rule":{"family":"ip","table":"nat","chain":"POSTROUTING","expr":[{"match":{"op":"!=","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":"10.2.0.9"}},{"match":{"op":"==","left":{"meta":{"key":"oifname"}},"right":"eth0"}},{"counter":null},{"masquerade":null}],"comment":"coil-masquerade-eth0"}}},{"add":{"rule":{"family":"ip","table":"filter","chain":"FORWARD","expr":[{"match":{"op":"==","left":{"meta":{"key":"oifname"}},"right":"eth0"}},{"match":{"op":"in","left":{"ct":{"key":"state"}},"right":["invalid"]}},{"counter":null},{"drop":null}],"comment":"coil-drop-invalid-eth0"}}},{"add":{"table":{"family":"ip6","name":"nat"}}},{"add":{"chain":{"family":"ip6","table":"nat","name":"POSTROUTING","type":"nat","hook":"postrouting","prio":100,"policy":"accept"}}},{"add":{"table":{"family":"ip6","name":"filter"}}},{"add":{"chain":{"family":"ip6","table":"filter","name":"FORWARD","type":"filter","hook":"forward","prio":0,"policy":"accept"}}},{"add":{"rule":{"family":"ip6","table":"nat","chain":"POSTROUTING","expr":[{"match":{"op":"!=","left":{"payload":{"protocol":"ip6","field":"saddr"}},"right":"fd02::9"}},{"match":{"op":"==","left":{"meta":{"key":"oifname"}},"right":"eth0"}},{"counter":null},{"masquerade":null}],"comment":"coil-masquerade-eth0"}}},{"add":{"rule":{"family":"ip6","table":"filter","chain":"FORWARD","expr":[{"match":{"op":"==","left":{"meta":{"key":"oifname"}},"right":"eth0"}},{"match":{"op":"in","left":{"ct":{"key":"state"}},"right":["invalid"]}},{"counter":null},{"drop":null}],"comment":"coil-drop-invalid-eth0"}}}]}'
#   nft add table ip nat
#   nft add chain ip nat POSTROUTING { type nat hook postrouting priority 100; policy accept; }
#   nft add table ip filter
#   nft add chain ip filter FORWARD { type filter hook forward priority 0; policy accept; }
#   nft add rule ip nat POSTROUTING ip saddr != 10.2.0.9 oifname "eth0" counter masquerade comment "coil-masquerade-eth0"
#   nft add rule ip filter FORWARD oifname "eth0" ct state invalid counter drop comment "coil-drop-invalid-eth0"
#   nft add table ip6 nat
#   nft add chain ip6 nat POSTROUTING { type nat hook postrouting priority 100; policy accept; }
#   nft add table ip6 filter
#   nft add chain ip6 filter FORWARD { type filter hook forward priority 0; policy accept; }
#   nft add rule ip6 nat POSTROUTING ip6 saddr != fd02::9 oifname "eth0" counter masquerade comment "coil-masquerade-eth0"
#   nft add rule ip6 filter FORWARD oifname "eth0" ct state invalid counter drop comment "coil-drop-invalid-eth0"

`

exports[`test/lib/plan/explain-golden.test.ts > TAP > golden explain, dual > hostInit 1`] = `
# netns host
sysctl -w net.ipv4.ip_forward=1
sysctl -w net.ipv6.conf.all.forwarding=1
ip rule add lookup 116 priority 2000
ip -6 rule add lookup 116 priority 2000

`

exports[`test/lib/plan/explain-golden.test.ts > TAP > golden explain, dual > podSetup 1`] = `
# netns /var/run/netns/pod1
ip link add name eth0 type veth peer name veth3a9f01c2 netns /proc/1/ns/net
# netns host
sysctl -w net.ipv6.conf.veth3a9f01c2.accept_ra=0
ip link set dev veth3a9f01c2 up alias COIL:default:c0ffee:eth0
ip address add 10.20.30.41/32 dev veth3a9f01c2
ip -6 address add fd10::41/128 dev veth3a9f01c2 nodad
ip -6 address add fe80::1/64 dev veth3a9f01c2 nodad
ip route replace 10.2.0.5/32 dev veth3a9f01c2 table 116 proto 30 scope link
ip -6 route replace fd02::5/128 dev veth3a9f01c2 table 116 proto 30 scope link
# netns /var/run/netns/pod1
ip link set dev eth0 up
ip address add 10.2.0.5/32 dev eth0
ip -6 address add fd02::5/128 dev eth0 nodad
ip route replace 10.20.30.41/32 dev eth0 scope link
ip route replace default via 10.20.30.41 dev eth0
ip -6 route replace default via fe80::1 dev eth0

`

exports[`test/lib/plan/explain-golden.test.ts > TAP > golden explain, dual > podTeardown 1`] = `
# netns host
ip link del dev veth3a9f01c2

`

exports[`test/lib/plan/explain-golden.test.ts > TAP > golden explain, dual > routeExport 1`] = `
# netns host
ip route replace 10.224.0.0/30 dev lo table 119 proto 30 scope global
ip -6 route replace fd02::/126 dev lo table 119 proto 30 scope global

`

exports[`test/lib/plan/explain-golden.test.ts > TAP > golden explain, dual > router 1`] = `
# netns host
ip route replace 10.224.0.32/27 via 10.20.30.42 proto 31
ip -6 route replace fd02::20/123 via fd10::42 proto 31

`

exports[`test/lib/plan/explain-golden.test.ts > TAP > golden explain, v4 > clientInit 1`] = `
# netns /var/run/netns/pod1
ip rule add to 169.254.0.0/16 lookup 254 priority 1800
ip rule add lookup 117 priority 1900
ip rule add to 10.0.0.0/8 lookup 254 priority 2000
ip rule add to 172.16.0.0/12 lookup 254 priority 2001
ip rule add to 192.168.0.0/16 lookup 254 priority 2002
ip rule add lookup 118 priority 2100

`

exports[`test/lib/plan/explain-golden.test.ts > TAP > golden explain, v4 > clientSync 1`] = `
# netns /var/run/netns/pod1
sysctl -w net.ipv4.conf.default.rp_filter=0
sysctl -w net.ipv4.conf.all.rp_filter=0
sysctl -w net.ipv4.ip_forward=1
ip fou add port 5555 ipproto 4
ip link add name fou-dummy type dummy
ip link add name fou4_0a60000a type ipip local 10.2.0.5 remote 10.96.0.10 ttl 225 encap fou encap-sport 5555 encap-dport 5555
ip link add name coil_ipip4 type ipip external
ip link set dev coil_ipip4 up
ip link set dev fou4_0a60000a up
ip route replace default dev fou4_0a60000a table 118 proto 30 scope global
ip route replace 10.1.2.0/24 dev fou4_0a60000a table 117 proto 30 scope global

`

exports[`test/lib/plan/explain-golden.test.ts > TAP > golden explain, v4 > gateway 1`] = `
# netns /var/run/netns/egress
ip rule add iif eth0 lookup 118 priority 2000
sysctl -w net.ipv4.conf.default.rp_filter=0
sysctl -w net.ipv4.conf.all.rp_filter=0
sysctl -w net.ipv4.ip_forward=1
ip fou add port 5555 ipproto 4
ip link add name fou-dummy type dummy
ip link add name fou4_0a020005 type ipip local 10.2.0.9 remote 10.2.0.5 ttl 225 encap fou encap-sport auto encap-dport 5555
ip link add name coil_ipip4 type ipip external
ip link set dev coil_ipip4 up
ip link set dev fou4_0a020005 up
ip route replace 10.2.0.5/32 dev fou4_0a020005 table 118 proto 30 scope global
nft -j '{"nftables":[{"add":{"table":{"family":"ip","name":"nat"}}},{"add":{"chain":{"family":"ip","table":"nat","name":"POSTROUTING","type":"nat","hook":"postrouting","prio":100,"policy":"accept"}}},{"add":{"table":{"family":"ip","name":"filter"}}},{"add":{"chain":{"family":"ip","table":"filter","name":"FORWARD","type":"filter","hook":"forward","prio":0,"policy":"accept"}}},{"add":{"rule":{"family":"ip","table":"nat","chain":"POSTROUTING","expr":[{"match":{"op":"!=","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":"10.2.0.9"}},{"match":{"op":"==","left":{"meta":{"key":"oifname"}},"right":"eth0"}},{"counter":null},{"masquerade":null}],"comment":"coil-masquerade-eth0"}}},{"add":{"rule":{"family":"ip","table":"filter","chain":"FORWARD","expr":[{"match":{"op":"==","left":{"meta":{"key":"oifname"}},"right":"eth0"}},{"match":{"op":"in","left":{"ct":{"key":"state"}},"right":["invalid"]}},{"counter":null},{"drop":null}],"comment":"coil-drop-invalid-eth0"}}}]}'
#   nft add table ip nat
#   nft add chain ip nat POSTROUTING { type nat hook postrouting priority 100; policy accept; }
#   nft add table ip filter
#   nft add chain ip filter FORWARD { type filter hook forward priority 0; policy accept; }
#   nft add rule ip nat POSTROUTING ip saddr != 10.2.0.9 oifname "eth0" counter masquerade comment "coil-masquerade-eth0"
#   nft add rule ip filter FORWARD oifname "eth0" ct state invalid counter drop comment "coil-drop-invalid-eth0"

`

exports[`test/lib/plan/explain-golden.test.ts > TAP > golden explain, v4 > gatewayVxlan 1`] = `
# netns host
ip rule add iif eth0 lookup 118 priority 2000
sysctl -w net.ipv4.conf.default.rp_filter=0
sysctl -w net.ipv4.conf.all.rp_filter=0
sysctl -w net.ipv4.ip_forward=1
ip link add name vx4_0a020005 address 0a:6d:4e:3d:4d:c0 type vxlan id 7163453 dstport 4789 local 10.2.0.9 remote 10.2.0.5 nolearning noudpcsum udp6zerocsumtx udp6zerocsumrx
ip link set dev vx4_0a020005 up
sysctl -w net.ipv4.conf.vx4_0a020005.proxy_arp=1
ip route replace 10.2.0.5/32 dev vx4_0a020005 table 118 proto 30 scope global
nft -j '{"nftables":[{"add":{"table":{"family":"ip","name":"nat"}}},{"add":{"chain":{"family":"ip","table":"nat","name":"POSTROUTING","type":"nat","hook":"postrouting","prio":100,"policy":"accept"}}},{"add":{"table":{"family":"ip","name":"filter"}}},{"add":{"chain":{"family":"ip","table":"filter","name":"FORWARD","type":"filter","hook":"forward","prio":0,"policy":"accept"}}},{"add":{"rule":{"family":"ip","table":"nat","chain":"POSTROUTING","expr":[{"match":{"op":"!=","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":"10.2.0.9"}},{"match":{"op":"==","left":{"meta":{"key":"oifname"}},"right":"eth0"}},{"counter":null},{"masquerade":null}],"comment":"coil-masquerade-eth0"}}},{"add":{"rule":{"family":"ip","table":"filter","chain":"FORWARD","expr":[{"match":{"op":"==","left":{"meta":{"key":"oifname"}},"right":"eth0"}},{"match":{"op":"in","left":{"ct":{"key":"state"}},"right":["invalid"]}},{"counter":null},{"drop":null}],"comment":"coil-drop-invalid-eth0"}}}]}'
#   nft add table ip nat
#   nft add chain ip nat POSTROUTING { type nat hook postrouting priority 100; policy accept; }
#   nft add table ip filter
#   nft add chain ip filter FORWARD { type filter hook forward priority 0; policy accept; }
#   nft add rule ip nat POSTROUTING ip saddr != 10.2.0.9 oifname "eth0" counter masquerade comment "coil-masquerade-eth0"
#   nft add rule ip filter FORWARD oifname "eth0" ct state invalid counter drop comment "coil-drop-invalid-eth0"

`

exports[`test/lib/plan/explain-golden.test.ts > TAP > golden explain, v4 > hostInit 1`] = `
# netns host
sysctl -w net.ipv4.ip_forward=1
ip rule add lookup 116 priority 2000

`

exports[`test/lib/plan/explain-golden.test.ts > TAP > golden explain, v4 > podSetup 1`] = `
# netns /var/run/netns/pod1
ip link add name eth0 type veth peer name veth3a9f01c2 netns /proc/1/ns/net
# netns host
sysctl -w net.ipv6.conf.veth3a9f01c2.accept_ra=0
ip link set dev veth3a9f01c2 up alias COIL:default:c0ffee:eth0
ip address add 10.20.30.41/32 dev veth3a9f01c2
ip route replace 10.2.0.5/32 dev veth3a9f01c2 table 116 proto 30 scope link
# netns /var/run/netns/pod1
ip link set dev eth0 up
ip address add 10.2.0.5/32 dev eth0
ip route replace 10.20.30.41/32 dev eth0 scope link
ip route replace default via 10.20.30.41 dev eth0

`

exports[`test/lib/plan/explain-golden.test.ts > TAP > golden explain, v4 > podTeardown 1`] = `
# netns host
ip link del dev veth3a9f01c2

`

exports[`test/lib/plan/explain-golden.test.ts > TAP > golden explain, v4 > routeExport 1`] = `
# netns host
ip route replace 10.224.0.0/30 dev lo table 119 proto 30 scope global

`

exports[`test/lib/plan/explain-golden.test.ts > TAP > golden explain, v4 > router 1`] = `
# netns host
ip route replace 10.224.0.32/27 via 10.20.30.42 proto 31

`

exports[`test/lib/plan/explain-golden.test.ts > TAP > golden explain, v6 > clientInit 1`] = `
# netns /var/run/netns/pod1
ip -6 rule add to fe80::/10 lookup 254 priority 1800
ip -6 rule add lookup 117 priority 1900
ip -6 rule add to fc00::/7 lookup 254 priority 2000
ip -6 rule add lookup 118 priority 2100

`

exports[`test/lib/plan/explain-golden.test.ts > TAP > golden explain, v6 > clientSync 1`] = `
# netns /var/run/netns/pod1
sysctl -w net.ipv6.conf.all.forwarding=1
ip -6 fou add port 5555 ipproto 41
ip link add name fou-dummy type dummy
ip link add name fou6_0a3cb378 type ip6tnl mode any local fd02::5 remote fd96::10 hoplimit 225 encap fou encap-sport 5555 encap-dport 5555
ip link add name coil_ipip6 type ip6tnl mode any external
ip link set dev coil_ipip6 up
ip link set dev fou6_0a3cb378 up
ip -6 route replace default dev fou6_0a3cb378 table 118 proto 30 scope global
ip -6 route replace fd02::/64 dev fou6_0a3cb378 table 117 proto 30 scope global

`

exports[`test/lib/plan/explain-golden.test.ts > TAP > golden explain, v6 > gateway 1`] = `
# netns /var/run/netns/egress
ip -6 rule add iif eth0 lookup 118 priority 2000
sysctl -w net.ipv6.conf.all.forwarding=1
ip -6 fou add port 5555 ipproto 41
ip link add name fou-dummy type dummy
ip link add name fou6_8591ada5 type ip6tnl mode any local fd02::9 remote fd02::5 hoplimit 225 encap fou encap-sport auto encap-dport 5555
ip link add name coil_ipip6 type ip6tnl mode any external
ip link set dev coil_ipip6 up
ip link set dev fou6_8591ada5 up
ip -6 route replace fd02::5/128 dev fou6_8591ada5 table 118 proto 30 scope global
nft -j '{"nftables":[{"add":{"table":{"family":"ip6","name":"nat"}}},{"add":{"chain":{"family":"ip6","table":"nat","name":"POSTROUTING","type":"nat","hook":"postrouting","prio":100,"policy":"accept"}}},{"add":{"table":{"family":"ip6","name":"filter"}}},{"add":{"chain":{"family":"ip6","table":"filter","name":"FORWARD","type":"filter","hook":"forward","prio":0,"policy":"accept"}}},{"add":{"rule":{"family":"ip6","table":"nat","chain":"POSTROUTING","expr":[{"match":{"op":"!=","left":{"payload":{"protocol":"ip6","field":"saddr"}},"right":"fd02::9"}},{"match":{"op":"==","left":{"meta":{"key":"oifname"}},"right":"eth0"}},{"counter":null},{"masquerade":null}],"comment":"coil-masquerade-eth0"}}},{"add":{"rule":{"family":"ip6","table":"filter","chain":"FORWARD","expr":[{"match":{"op":"==","left":{"meta":{"key":"oifname"}},"right":"eth0"}},{"match":{"op":"in","left":{"ct":{"key":"state"}},"right":["invalid"]}},{"counter":null},{"drop":null}],"comment":"coil-drop-invalid-eth0"}}}]}'
#   nft add table ip6 nat
#   nft add chain ip6 nat POSTROUTING { type nat hook postrouting priority 100; policy accept; }
#   nft add table ip6 filter
#   nft add chain ip6 filter FORWARD { type filter hook forward priority 0; policy accept; }
#   nft add rule ip6 nat POSTROUTING ip6 saddr != fd02::9 oifname "eth0" counter masquerade comment "coil-masquerade-eth0"
#   nft add rule ip6 filter FORWARD oifname "eth0" ct state invalid counter drop comment "coil-drop-invalid-eth0"

`

exports[`test/lib/plan/explain-golden.test.ts > TAP > golden explain, v6 > gatewayVxlan 1`] = `
# netns host
ip -6 rule add iif eth0 lookup 118 priority 2000
sysctl -w net.ipv6.conf.all.forwarding=1
ip link add name vx6_8591ada5 address 0a:85:91:ad:a5:72 type vxlan id 8753581 dstport 4789 local fd02::9 remote fd02::5 nolearning noudpcsum udp6zerocsumtx udp6zerocsumrx
ip -6 address add fe80::1/64 dev vx6_8591ada5 nodad
ip link set dev vx6_8591ada5 up
ip -6 route replace fd02::5/128 via fe80::2 dev vx6_8591ada5 table 118 proto 30 scope global
nft -j '{"nftables":[{"add":{"table":{"family":"ip6","name":"nat"}}},{"add":{"chain":{"family":"ip6","table":"nat","name":"POSTROUTING","type":"nat","hook":"postrouting","prio":100,"policy":"accept"}}},{"add":{"table":{"family":"ip6","name":"filter"}}},{"add":{"chain":{"family":"ip6","table":"filter","name":"FORWARD","type":"filter","hook":"forward","prio":0,"policy":"accept"}}},{"add":{"rule":{"family":"ip6","table":"nat","chain":"POSTROUTING","expr":[{"match":{"op":"!=","left":{"payload":{"protocol":"ip6","field":"saddr"}},"right":"fd02::9"}},{"match":{"op":"==","left":{"meta":{"key":"oifname"}},"right":"eth0"}},{"counter":null},{"masquerade":null}],"comment":"coil-masquerade-eth0"}}},{"add":{"rule":{"family":"ip6","table":"filter","chain":"FORWARD","expr":[{"match":{"op":"==","left":{"meta":{"key":"oifname"}},"right":"eth0"}},{"match":{"op":"in","left":{"ct":{"key":"state"}},"right":["invalid"]}},{"counter":null},{"drop":null}],"comment":"coil-drop-invalid-eth0"}}}]}'
#   nft add table ip6 nat
#   nft add chain ip6 nat POSTROUTING { type nat hook postrouting priority 100; policy accept; }
#   nft add table ip6 filter
#   nft add chain ip6 filter FORWARD { type filter hook forward priority 0; policy accept; }
#   nft add rule ip6 nat POSTROUTING ip6 saddr != fd02::9 oifname "eth0" counter masquerade comment "coil-masquerade-eth0"
#   nft add rule ip6 filter FORWARD oifname "eth0" ct state invalid counter drop comment "coil-drop-invalid-eth0"

`

exports[`test/lib/plan/explain-golden.test.ts > TAP > golden explain, v6 > hostInit 1`] = `
# netns host
sysctl -w net.ipv6.conf.all.forwarding=1
ip -6 rule add lookup 116 priority 2000

`

exports[`test/lib/plan/explain-golden.test.ts > TAP > golden explain, v6 > podSetup 1`] = `
# netns /var/run/netns/pod1
ip link add name eth0 type veth peer name veth3a9f01c2 netns /proc/1/ns/net
# netns host
sysctl -w net.ipv6.conf.veth3a9f01c2.accept_ra=0
ip link set dev veth3a9f01c2 up alias COIL:default:c0ffee:eth0
ip -6 address add fd10::41/128 dev veth3a9f01c2 nodad
ip -6 address add fe80::1/64 dev veth3a9f01c2 nodad
ip -6 route replace fd02::5/128 dev veth3a9f01c2 table 116 proto 30 scope link
# netns /var/run/netns/pod1
ip link set dev eth0 up
ip -6 address add fd02::5/128 dev eth0 nodad
ip -6 route replace default via fe80::1 dev eth0

`

exports[`test/lib/plan/explain-golden.test.ts > TAP > golden explain, v6 > podTeardown 1`] = `
# netns host
ip link del dev veth3a9f01c2

`

exports[`test/lib/plan/explain-golden.test.ts > TAP > golden explain, v6 > routeExport 1`] = `
# netns host
ip -6 route replace fd02::/126 dev lo table 119 proto 30 scope global

`

exports[`test/lib/plan/explain-golden.test.ts > TAP > golden explain, v6 > router 1`] = `
# netns host
ip -6 route replace fd02::20/123 via fd10::42 proto 31

`
