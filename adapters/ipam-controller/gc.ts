/**
 * Coil's controller-side garbage collector: AddressBlocks whose `coil.cybozu.com/node` label names
 * a Node that does not exist are deleted (the `coil.cybozu.com` finalizer is removed first).
 */
import { err, ok, type Result } from "neverthrow";
import { FINALIZER, LABEL_NODE } from "../../lib/constants.js";
import { listNodeNames, type AddressBlockObject, type CoilClient, type K8sError, type Logger } from "../k8s/index.js";
import type { NodeListCalls } from "../k8s/api-calls.js";

/** Dependencies of {@link collectOrphanBlocks}. */
export interface GcDeps {
  /** Typed API clients. */
  readonly coil: CoilClient;
  /** Node listing (uncached). */
  readonly core: NodeListCalls;
  /** All AddressBlocks (informer cache). */
  readonly blocks: () => AddressBlockObject[];
  /** Logger. */
  readonly log: Logger;
}

/** One pass: returns the names of the blocks deleted. */
export async function collectOrphanBlocks(d: GcDeps): Promise<Result<string[], K8sError>> {
  const nodes = await listNodeNames(d.core);
  if (nodes.isErr()) return err(nodes.error);
  const deleted: string[] = [];
  for (const b of d.blocks()) {
    const node = b.metadata.labels?.[LABEL_NODE];
    if (node === undefined || nodes.value.has(node)) continue;
    const r = await deleteBlock(d.coil, b);
    if (r.isErr()) return err(r.error);
    d.log.info("deleted orphan block", { block: b.metadata.name, node });
    deleted.push(b.metadata.name);
  }
  return ok(deleted);
}

async function deleteBlock(coil: CoilClient, cached: AddressBlockObject): Promise<Result<void, K8sError>> {
  let b = cached;
  for (let attempt = 0; ; attempt++) {
    const removed = coil.blocks.removeFinalizer(b, FINALIZER);
    const r = removed === undefined ? ok(b) : await removed;
    if (r.isOk()) break;
    if (r.error.kind === "not-found") return ok(undefined);
    if (r.error.kind !== "conflict" || attempt >= 3) return err(r.error);
    const fresh = await coil.blocks.get(b.metadata.name);
    if (fresh.isErr()) return fresh.error.kind === "not-found" ? ok(undefined) : err(fresh.error);
    b = fresh.value;
  }
  const del = await coil.blocks.delete(b.metadata.name);
  return del.isErr() && del.error.kind !== "not-found" ? err(del.error) : ok(undefined);
}
