/** Test harness: coild's CNI operations behind the endpoint's wire handlers, over a FakeKernel and a LocalBlockStore in a temp dir. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HOST_NETNS, netnsPath, type Changeset } from "../../../lib/changeset/index.js";
import type { Kernel } from "../../../adapters/kernel/kernel.js";
import { ResultAsync } from "neverthrow";
import type { Ip } from "../../../lib/net/index.js";
import { FakeKernel } from "../../../adapters/kernel/fake-kernel.js";
import { CNIArgs } from "../../../adapters/proto/gen/cni.js";
import { cniOperations, poolForNamespace } from "../../../adapters/daemon/node/cni.js";
import { cniDeps } from "../../../adapters/daemon/node/cni-deps.js";
import { wireHandlers } from "../../../adapters/daemon/endpoint/cni-calls.js";
import { NULL_LOGGER } from "../../../adapters/daemon/log.js";
import { NodeState } from "../../../adapters/daemon/node/state.js";
import { parsePools } from "../../../adapters/daemon/store/pools-file.js";
import { formatRecoveryError, recoverNodeState } from "../../../adapters/daemon/node/recovery.js";
import { LocalBlockStore } from "../../../adapters/daemon/store/local.js";
import type { CniCallHandlers } from "../../../adapters/daemon/endpoint/server.js";
import { parseCoildFlags, type CoildFlags } from "../../../adapters/daemon/flags.js";
import type { CoildDeps } from "../../../adapters/daemon/run.js";

/** An AddressPool document. */
export const poolDoc = (name: string, spec: unknown): string =>
  JSON.stringify({ apiVersion: "coil.cybozu.com/v2", kind: "AddressPool", metadata: { name }, spec });

export interface Harness {
  readonly kernel: FakeKernel;
  readonly fake: FakeKernel;
  readonly node: NodeState;
  readonly handlers: CniCallHandlers;
  readonly stateDir: string;
  readonly poolsText: string;
}

let seq = 0;

/** Build (or, with `from`, restart over the same kernel and state dir) a daemon. */
export async function harness(
  poolsText: string,
  from?: Harness,
  mapping: Record<string, string> = {},
  failApply?: (cs: Changeset) => boolean,
  beforeApply?: (cs: Changeset) => Promise<void>,
): Promise<Harness> {
  const fake = from?.fake ?? new FakeKernel();
  if (from === undefined) fake.addNetns(HOST_NETNS);
  const kernel: Kernel = failApply === undefined && beforeApply === undefined ? fake : {
    apply: (cs) =>
      new ResultAsync(
        (async () => {
          await beforeApply?.(cs);
          if (failApply?.(cs) === true) fake.injectFault({ op: 3, stderr: "RTNETLINK answers: No buffer space available" });
          return fake.apply(cs);
        })(),
      ),
    observe: (ref, o) => fake.observe(ref, o),
    observeNft: (ref, q) => fake.observeNft(ref, q),
  };
  const stateDir = from?.stateDir ?? mkdtempSync(join(tmpdir(), "coild-h-"));
  const pools = parsePools(poolsText, "pools")._unsafeUnwrap();
  const store = (await LocalBlockStore.open({ pools, stateDir }))._unsafeUnwrap();
  const node = new NodeState({ node: "node1", store, kernel, log: NULL_LOGGER, exportTable: 119, protocol: 30 });
  if (from !== undefined) {
    const r = await recoverNodeState({ node, kernel, log: NULL_LOGGER, podTable: 116 });
    if (r.isErr()) throw new Error(formatRecoveryError(r.error));
  }
  const handlers = wireHandlers(cniOperations(cniDeps({
    node,
    kernel,
    log: NULL_LOGGER,
    hostIPv4: "10.20.30.41" as Ip,
    hostIPv6: "fd10::41" as Ip,
    mtu: 1450,
    podTable: 116,
    protocol: 30,
    compatCalico: false,
    poolFor: poolForNamespace(mapping),
    randomHex: () => {
      seq += 1;
      return seq.toString(16).padStart(8, "0");
    },
    isReady: () => true,
  })));
  return { kernel: fake, fake, node, handlers, stateDir, poolsText };
}

/** A pod netns in the fake kernel and CNI args for it. */
export function pod(h: Harness, id: string, opts: { ns?: string; ifname?: string; create?: boolean } = {}): CNIArgs {
  const path = `/run/netns/${id}`;
  if (opts.create !== false && h.kernel.dump()[path] === undefined) h.kernel.addNetns(netnsPath(path));
  return CNIArgs.fromPartial({
    containerId: id,
    netns: path,
    ifname: opts.ifname ?? "eth0",
    args: { K8S_POD_NAMESPACE: opts.ns ?? "default", K8S_POD_NAME: `pod-${id}` },
  });
}

/** The IPs of an ADD result. */
export function ipsOf(result: Buffer): string[] {
  return (JSON.parse(result.toString()) as { ips: { address: string }[] }).ips.map((i) => i.address);
}

/**
 * Flags and dependencies of a whole in-process coild (`runCoild`) over a FakeKernel: local store
 * and socket under `dir` (its `pools.yaml` written by the caller), node `node1` at 10.20.30.41,
 * metrics and health on free ports, veth names counted up, a netns lock private to `dir`.
 */
export function inProcessCoild(dir: string, extra: readonly string[] = []): { flags: CoildFlags; kernel: FakeKernel; deps: CoildDeps } {
  const argv = [`--socket=${join(dir, "coild.sock")}`, `--state-dir=${join(dir, "state")}`, `--pools=${join(dir, "pools.yaml")}`,
    "--metrics-addr=127.0.0.1:0", "--health-addr=127.0.0.1:0", "--node-ipv4=10.20.30.41", ...extra];
  const flags = parseCoildFlags(argv)._unsafeUnwrap() as CoildFlags;
  const kernel = new FakeKernel();
  kernel.addNetns(HOST_NETNS);
  let n = 0;
  const deps: CoildDeps = {
    env: { COIL_NODE_NAME: "node1" },
    hostname: () => "ignored",
    kernel,
    log: NULL_LOGGER,
    randomHex: () => (++n).toString(16).padStart(8, "0"),
    detectNodeIps: async () => ({}),
    detectMtu: async () => 1400,
    netnsLockName: `coil-test${dir}`,
  };
  return { flags, kernel, deps };
}
