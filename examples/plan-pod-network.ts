/**
 * Plan a dual-stack pod network the way Coil lays it out, and print the equivalent `ip`, `sysctl`
 * and `nft` commands (host, pod and the egress router pod). Nothing is applied and no privileges are needed:
 *
 *   node --import tsx examples/plan-pod-network.ts
 */
import { explain, concatChangesets } from "../lib/changeset/index.js";
import { parseIp } from "../lib/net/index.js";
import {
  hostVethName,
  planEgressClientInit,
  planEgressClientSync,
  planEgressGateway,
  planHostInit,
  planPodSetup,
} from "../lib/plan/index.js";
import { parseCidr } from "../lib/net/index.js";

const plan = parseIp("10.2.0.5").andThen((ipv4) =>
  parseIp("fd02::5").andThen((ipv6) =>
    parseIp("10.20.30.41").andThen((hostIPv4) =>
      parseIp("fd10::41").andThen((hostIPv6) =>
        parseIp("10.96.0.10").andThen((peer) => // the Egress Service ClusterIP
          parseIp("10.2.0.9").andThen((egressPodIP) =>
          parseCidr("0.0.0.0/0").andThen((dst) =>
            hostVethName({ random: "3a9f01c2" }).andThen((hostVeth) => {
              const netnsPath = "/var/run/netns/pod1";
              const pod = { netnsPath, ifname: "eth0", hostVeth, pool: "default", containerId: "c0ffee" };
              return planHostInit().andThen((host) =>
                planPodSetup({ ...pod, ipv4, ipv6, hostIPv4, hostIPv6, mtu: 1450 }).andThen((podCs) =>
                  planEgressClientInit({ netnsPath, families: [4, 6] }).andThen((init) =>
                    planEgressClientSync({
                      netnsPath,
                      tunnel: { kind: "fou", port: 5555, sportAuto: true, peer, localIPv4: ipv4, localIPv6: ipv6 },
                      destinations: [dst],
                    }).andThen((sync) =>
                      // The egress router pod that the tunnel reaches (its own netns).
                      planEgressGateway({
                        netnsPath: "/var/run/netns/egress",
                        podIPv4: egressPodIP,
                        tunnel: { kind: "fou", port: 5555, sportAuto: true },
                        clients: [ipv4],
                      }).map((gw) => concatChangesets(host, podCs, init, sync, gw)),
                    ),
                  ),
                ),
              );
            }),
          ),
          ),
        ),
      ),
    ),
  ),
);

plan.match(
  (cs) => process.stdout.write(explain(cs)),
  (e) => {
    process.stderr.write(`plan failed: ${JSON.stringify(e)}\n`);
    process.exitCode = 1;
  },
);
