/** Shared fixtures for the `coil` CNI adapter tests. */
import { encodeLine } from "../../../adapters/common/fast-protocol.js";
import type { CniClient, RpcCall, RpcOutcome } from "../../../adapters/cni/client.js";
import { outcomeOfLine } from "../../../adapters/cni/fast-client.js";
import type { FakeCoild } from "./fake-coild.js";

/** The spec versions the adapter supports. */
export const VERSIONS = ["0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const;

/** Env of a Kubernetes pod ADD/DEL/CHECK as containerd passes it. */
export function podEnv(command: string, extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    CNI_COMMAND: command,
    CNI_CONTAINERID: "c8f4a1b2c3d4",
    CNI_NETNS: "/var/run/netns/cni-1234",
    CNI_IFNAME: "eth0",
    CNI_PATH: "/opt/cni/bin",
    CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAMESPACE=test;K8S_POD_NAME=testhttpd-host1;K8S_POD_INFRA_CONTAINER_ID=c8f4a1b2c3d4;K8S_POD_UID=u-1",
    ...extra,
  };
}

/** A plugin config (the conflist entry with cniVersion/name injected). */
export function netconf(version: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { cniVersion: version, name: "k8s-pod-network", type: "coil", ...extra };
}

/** A prevResult of the given version (0.x results carry `ips[].version`). */
export function prevResult(version: string): Record<string, unknown> {
  const v0 = !version.startsWith("1.");
  return {
    cniVersion: version,
    interfaces: [
      { name: "veth0abc", mac: "aa:bb:cc:dd:ee:01" },
      { name: "eth0", mac: "aa:bb:cc:dd:ee:02", sandbox: "/var/run/netns/cni-1234" },
    ],
    ips: [{ ...(v0 ? { version: "4" } : {}), address: "10.244.1.5/24", gateway: "10.244.1.1", interface: 1 }],
    routes: [{ dst: "0.0.0.0/0" }],
    dns: { nameservers: ["10.96.0.10"] },
  };
}

/** An in-process client on top of {@link FakeCoild}: unreachable unless `socket` matches. */
export function fakeClient(coild: FakeCoild, socket = "/run/coild.sock", override?: RpcOutcome): CniClient & { calls: RpcCall[] } {
  const calls: RpcCall[] = [];
  return {
    calls,
    call(c: RpcCall): Promise<RpcOutcome> {
      calls.push(c);
      if (override !== undefined) return Promise.resolve(override);
      if (c.socket !== socket) return Promise.resolve({ kind: "unreachable", message: `cannot connect to ${c.socket}: ENOENT` });
      const o = outcomeOfLine(encodeLine(coild.handle(c.request)).trimEnd());
      if (o.kind === "not-fast") throw new Error(`fake produced an invalid line: ${o.reason}`);
      return Promise.resolve(o);
    },
  };
}

/** Parse stdout as JSON (the tests' view of what a runtime reads). */
export function json(stdout: string): Record<string, unknown> {
  return JSON.parse(stdout) as Record<string, unknown>;
}
