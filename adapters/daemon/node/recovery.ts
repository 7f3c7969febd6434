/**
 * Startup recovery (Coil §3.6): the node's addresses are not persisted per pod; they are read
 * back from the kernel. Blocks come from the store; then every host link with alias
 * `COIL:<pool>:<containerId>:<ifname>` is registered with the addresses of the pod-table (116)
 * routes through it; then GC returns empty blocks and syncs the export table (119).
 * With `--register-from-main` (Coil's migration aid from Coil 2.0.1, whose pod routes were in the
 * main table) a pod link without a pod-table route of a family takes the first main-table route
 * through it of protocol `--protocol-id` or 3 (`boot`: Calico rewrites the protocol to it).
 */
import { err, ok, type Result } from "neverthrow";
import { HOST_NETNS, type KernelObserveError } from "../../../lib/changeset/index.js";
import type { StoreError } from "../../../lib/ipam/index.js";
import { cidrAddress } from "../../../lib/net/index.js";
import { parseLinkAlias } from "../../../lib/plan/index.js";
import type { Kernel } from "../../kernel/kernel.js";
import type { HostLinkIndex } from "./host-links.js";
import type { Logger } from "../log.js";
import type { NodeState } from "./state.js";

/** What recovery found. */
export interface RecoveryReport {
  readonly blocks: number;
  readonly registered: number;
  readonly skipped: number;
  readonly released: readonly string[];
}

/** Why recovery failed: the store's blocks could not be listed, the host not observed, or the GC failed. */
export type RecoveryError =
  | { readonly kind: "list-blocks-failed"; readonly cause: StoreError }
  | { readonly kind: "observe-host-failed"; readonly cause: KernelObserveError }
  | { readonly kind: "gc-failed"; readonly cause: StoreError };

/** Options of {@link recoverNodeState}. */
export interface RecoveryOptions {
  readonly node: NodeState;
  readonly kernel: Kernel;
  readonly log: Logger;
  /** `--pod-table-id` (116). */
  readonly podTable: number;
  /** Filled from the same observation (coild's hot path relies on it). */
  readonly hostLinks?: HostLinkIndex;
  /** `--register-from-main`: also read pod addresses from main-table routes of this protocol (or 3). */
  readonly registerFromMain?: { readonly protocol: number };
}

/** The main table's id (`ip route` without `table`). */
const MAIN_TABLE = 254;
/** Route protocol `boot`, the kernel's default (and what Calico sets). */
const PROTO_BOOT = 3;

/** Rebuild `node.ipam` from the store's blocks and the kernel's pod links, then GC. See {@link formatRecoveryError} for the text. */
export async function recoverNodeState(o: RecoveryOptions): Promise<Result<RecoveryReport, RecoveryError>> {
  const gc0 = await o.node.adoptStoreBlocks();
  if (gc0.isErr()) return err({ kind: "list-blocks-failed", cause: gc0.error });
  const since = o.hostLinks?.generation ?? 0;
  const host = await o.kernel.observe(HOST_NETNS);
  if (host.isErr()) return err({ kind: "observe-host-failed", cause: host.error });
  o.hostLinks?.load(since, host.value.links);
  let registered = 0;
  let skipped = 0;
  for (const link of host.value.links) {
    const alias = parseLinkAlias(link.alias ?? "");
    if (alias.isErr() || alias.value.pool === "") continue;
    const routes = host.value.routes.filter((r) => r.table === o.podTable && r.dev === link.name);
    const fromMain = o.registerFromMain;
    const main = fromMain === undefined ? [] : host.value.routes.filter((r) =>
      (r.table ?? MAIN_TABLE) === MAIN_TABLE && r.dev === link.name && [fromMain.protocol, PROTO_BOOT].includes(r.protocol ?? PROTO_BOOT));
    const v4 = routes.find((r) => r.family === 4) ?? main.find((r) => r.family === 4);
    const v6 = routes.find((r) => r.family === 6) ?? main.find((r) => r.family === 6);
    const req = {
      ...alias.value,
      ...(v4 === undefined ? {} : { ipv4: cidrAddress(v4.dst) }),
      ...(v6 === undefined ? {} : { ipv6: cidrAddress(v6.dst) }),
    };
    const r = v4 === undefined && v6 === undefined ? undefined : o.node.ipam.register(req);
    if (r !== undefined && r.isOk()) {
      registered += 1;
      o.log.info("registered pod addresses", { link: link.name, ...req });
    } else {
      skipped += 1;
      o.log.warn("failed to register IP", { link: link.name, ...req, error: r === undefined ? "no pod route" : r.error.message });
    }
  }
  const gc = await o.node.gcBlocks();
  if (gc.isErr()) return err({ kind: "gc-failed", cause: gc.error });
  return ok({ blocks: gc0.value, registered, skipped, released: gc.value.released });
}

/** A recovery failure as one line for the operator. */
export function formatRecoveryError(e: RecoveryError): string {
  switch (e.kind) {
    case "list-blocks-failed":
      return `list blocks: ${e.cause.message}`;
    case "observe-host-failed":
      return `observe host: ${JSON.stringify(e.cause)}`;
    case "gc-failed":
      return `gc: ${e.cause.message}`;
  }
}
