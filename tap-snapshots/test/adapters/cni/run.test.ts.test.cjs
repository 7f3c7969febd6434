/* IMPORTANT
 * This snapshot file is auto-generated, but designed for humans.
 * It should be checked into source control and tracked carefully.
 * Re-generate by setting TAP_SNAPSHOT=1 and running tests.
 * Make sure to inspect the output below.  Do not ignore changes!
 */
'use strict'
exports[`test/adapters/cni/run.test.ts > TAP > ADD/CHECK/DEL round trip, config 0.3.1 > ADD stdout 0.3.1 1`] = `
{"cniVersion":"0.3.1","interfaces":[{"name":"eth0","mac":"02:00:00:00:00:01","sandbox":"/var/run/netns/cni-1234"},{"name":"veth1","mac":"02:00:00:00:00:02"}],"ips":[{"version":"4","interface":0,"address":"10.100.0.1/32"},{"version":"6","interface":0,"address":"fd00::1/128"}],"dns":{}}

`

exports[`test/adapters/cni/run.test.ts > TAP > ADD/CHECK/DEL round trip, config 0.4.0 > ADD stdout 0.4.0 1`] = `
{"cniVersion":"0.4.0","interfaces":[{"name":"eth0","mac":"02:00:00:00:00:01","sandbox":"/var/run/netns/cni-1234"},{"name":"veth1","mac":"02:00:00:00:00:02"}],"ips":[{"version":"4","interface":0,"address":"10.100.0.1/32"},{"version":"6","interface":0,"address":"fd00::1/128"}],"dns":{}}

`

exports[`test/adapters/cni/run.test.ts > TAP > ADD/CHECK/DEL round trip, config 1.0.0 > ADD stdout 1.0.0 1`] = `
{"cniVersion":"1.0.0","interfaces":[{"mac":"02:00:00:00:00:01","name":"eth0","sandbox":"/var/run/netns/cni-1234"},{"mac":"02:00:00:00:00:02","name":"veth1"}],"ips":[{"address":"10.100.0.1/32","interface":0},{"address":"fd00::1/128","interface":0}]}

`

exports[`test/adapters/cni/run.test.ts > TAP > ADD/CHECK/DEL round trip, config 1.1.0 > ADD stdout 1.1.0 1`] = `
{"cniVersion":"1.1.0","interfaces":[{"mac":"02:00:00:00:00:01","name":"eth0","sandbox":"/var/run/netns/cni-1234"},{"mac":"02:00:00:00:00:02","name":"veth1"}],"ips":[{"address":"10.100.0.1/32","interface":0},{"address":"fd00::1/128","interface":0}]}

`
