/** Shared pieces of the coil-ipam-controller tests: flags, objects, waiting for request results. */
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { coilClient, makeClients, SILENT_LOGGER, type BlockRequestObject, type CoilClient, type KubeClients } from "../../../adapters/k8s/index.js";
import { parseIpamControllerFlags, type IpamControllerFlags } from "../../../adapters/ipam-controller/flags.js";
import { runIpamController, type RunningController } from "../../../adapters/ipam-controller/run.js";
import type { Test } from "tap";
import { eventually, startCoilControlPlaneOrSkip, type CoilControlPlane } from "../../helpers/coil-envtest.js";

/** Flags for an in-process controller: ephemeral ports, fast leader election. */
export function testFlags(extra: readonly string[] = []): IpamControllerFlags {
  const f = parseIpamControllerFlags([
    "--metrics-addr=127.0.0.1:0",
    "--health-addr=127.0.0.1:0",
    // Short enough that a take-over is quick, long enough that a Lease request on a loaded machine is
    // not cut off: each is bounded by half the renew deadline (client-go's rule), 3 s here.
    "--leader-elect-lease-duration=10s",
    "--leader-elect-renew-deadline=6s",
    "--leader-elect-retry-period=300ms",
    ...extra,
  ])._unsafeUnwrap();
  if (typeof f === "string") throw new Error(`unexpected ${f}`);
  return f;
}

/**
 * Extra flags for an in-process controller in a test that is not about leader election: no Lease.
 * The controller shares the test's event loop, which tests block with synchronous calls (spawnSync
 * of a traffic client, `ip`, `nsenter`) for seconds at a time; with an election it then gives up its
 * leadership (a renewal cannot finish within the renew deadline) and serves nothing afterwards.
 */
export const NO_ELECTION: readonly string[] = ["--leader-elect=false"];

/** Start an in-process controller. */
export async function startController(kc: KubeConfig, identity: string, extra: readonly string[] = []): Promise<RunningController> {
  return (await runIpamController(testFlags(extra), { kc, log: SILENT_LOGGER, identity, processMetrics: false }))._unsafeUnwrap();
}

/** Test-side API access. */
export interface Api {
  readonly clients: KubeClients;
  readonly coil: CoilClient;
  readonly core: CoreV1Api;
}

/** Build the test-side clients. */
export function api(kc: KubeConfig): Api {
  const clients = makeClients(kc);
  return { clients, coil: coilClient(clients.custom), core: kc.makeApiClient(CoreV1Api) };
}

/**
 * A control plane for one test file with the test-side clients, both gone when `t` ends; undefined
 * when the control plane is unavailable (the test is skipped or failed, as `startCoilControlPlaneOrSkip`).
 */
export async function controlPlaneWithApi(t: Test): Promise<(CoilControlPlane & { readonly a: Api }) | undefined> {
  const started = await startCoilControlPlaneOrSkip(t);
  if (started === undefined) return undefined;
  const a = api(started.kc);
  t.teardown(async () => {
    a.clients.destroy();
    await started.cp.stop();
  });
  return { ...started, a };
}

/** Create an AddressPool with the finalizer the mutating webhook would add. */
export async function createPool(a: Api, name: string, blockSizeBits: number, subnets: Array<{ ipv4?: string; ipv6?: string }>): Promise<void> {
  (await a.coil.pools.create({ metadata: { name, finalizers: ["coil.cybozu.com"] }, spec: { blockSizeBits, subnets } }))._unsafeUnwrap();
}

/** Create Nodes (no kubelet: bare objects). */
export async function createNodes(a: Api, ...names: string[]): Promise<void> {
  for (const name of names) await a.core.createNode({ body: { metadata: { name } } });
}

/** Create a BlockRequest `name` for (pool, node); returns its UID. */
export async function createRequest(a: Api, name: string, pool: string, node: string): Promise<string> {
  const r = (await a.coil.requests.create({ metadata: { name }, spec: { nodeName: node, poolName: pool } }))._unsafeUnwrap();
  return r.metadata.uid ?? "";
}

/** Wait until the request has conditions and return it. */
export function waitCompleted(a: Api, name: string, timeoutMs = 20_000): Promise<BlockRequestObject> {
  return eventually(
    `request ${name} completed`,
    async () => {
      const r = await a.coil.requests.get(name);
      return r.isOk() && (r.value.status?.conditions ?? []).length > 0 ? r.value : undefined;
    },
    { timeoutMs, intervalMs: 30 },
  );
}

/** Remove the finalizer and delete a block. */
export async function deleteBlock(a: Api, name: string): Promise<void> {
  (await a.coil.blocks.mergePatch(name, { metadata: { finalizers: null } }))._unsafeUnwrap();
  (await a.coil.blocks.delete(name))._unsafeUnwrap();
}

/** GET a URL on 127.0.0.1 and return status and body. */
export async function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}
