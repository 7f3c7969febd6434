/* IMPORTANT
 * This snapshot file is auto-generated, but designed for humans.
 * It should be checked into source control and tracked carefully.
 * Re-generate by setting TAP_SNAPSHOT=1 and running tests.
 * Make sure to inspect the output below.  Do not ignore changes!
 */
'use strict'
exports[`test/lib/cni/result.test.ts > TAP > convertResult: exact JSON per version (golden) > result as 0.3.1 1`] = `
Object {
  "cniVersion": "0.3.1",
  "dns": Object {},
  "interfaces": Array [
    Object {
      "mac": "aa:bb:cc:dd:ee:01",
      "name": "veth1234",
    },
    Object {
      "mac": "aa:bb:cc:dd:ee:02",
      "name": "eth0",
      "sandbox": "/var/run/netns/pod1",
    },
  ],
  "ips": Array [
    Object {
      "address": "10.100.0.5/32",
      "interface": 1,
      "version": "4",
    },
    Object {
      "address": "fd02::5/128",
      "gateway": "fd02::1",
      "interface": 1,
      "version": "6",
    },
  ],
  "routes": Array [
    Object {
      "dst": "0.0.0.0/0",
      "gw": "169.254.1.1",
      "mtu": 1400,
      "table": 0,
    },
  ],
}
`

exports[`test/lib/cni/result.test.ts > TAP > convertResult: exact JSON per version (golden) > result as 0.4.0 1`] = `
Object {
  "cniVersion": "0.4.0",
  "dns": Object {},
  "interfaces": Array [
    Object {
      "mac": "aa:bb:cc:dd:ee:01",
      "name": "veth1234",
    },
    Object {
      "mac": "aa:bb:cc:dd:ee:02",
      "name": "eth0",
      "sandbox": "/var/run/netns/pod1",
    },
  ],
  "ips": Array [
    Object {
      "address": "10.100.0.5/32",
      "interface": 1,
      "version": "4",
    },
    Object {
      "address": "fd02::5/128",
      "gateway": "fd02::1",
      "interface": 1,
      "version": "6",
    },
  ],
  "routes": Array [
    Object {
      "dst": "0.0.0.0/0",
      "gw": "169.254.1.1",
      "mtu": 1400,
      "table": 0,
    },
  ],
}
`

exports[`test/lib/cni/result.test.ts > TAP > convertResult: exact JSON per version (golden) > result as 1.0.0 1`] = `
Object {
  "cniVersion": "1.0.0",
  "interfaces": Array [
    Object {
      "mac": "aa:bb:cc:dd:ee:01",
      "name": "veth1234",
    },
    Object {
      "mac": "aa:bb:cc:dd:ee:02",
      "mtu": 1450,
      "name": "eth0",
      "sandbox": "/var/run/netns/pod1",
    },
  ],
  "ips": Array [
    Object {
      "address": "10.100.0.5/32",
      "interface": 1,
    },
    Object {
      "address": "fd02::5/128",
      "gateway": "fd02::1",
      "interface": 1,
    },
  ],
  "routes": Array [
    Object {
      "dst": "0.0.0.0/0",
      "gw": "169.254.1.1",
      "mtu": 1400,
      "table": 0,
    },
  ],
}
`

exports[`test/lib/cni/result.test.ts > TAP > convertResult: exact JSON per version (golden) > result as 1.1.0 1`] = `
Object {
  "cniVersion": "1.1.0",
  "interfaces": Array [
    Object {
      "mac": "aa:bb:cc:dd:ee:01",
      "name": "veth1234",
    },
    Object {
      "mac": "aa:bb:cc:dd:ee:02",
      "mtu": 1450,
      "name": "eth0",
      "sandbox": "/var/run/netns/pod1",
    },
  ],
  "ips": Array [
    Object {
      "address": "10.100.0.5/32",
      "interface": 1,
    },
    Object {
      "address": "fd02::5/128",
      "gateway": "fd02::1",
      "interface": 1,
    },
  ],
  "routes": Array [
    Object {
      "dst": "0.0.0.0/0",
      "gw": "169.254.1.1",
      "mtu": 1400,
      "table": 0,
    },
  ],
}
`
