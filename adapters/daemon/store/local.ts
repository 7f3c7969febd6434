/**
 * The `--store=local` implementation of the {@link BlockStore} port (`port.ts`).
 *
 * The local implementation carves blocks itself (lib/ipam `BlockAllocator`, lowest free index
 * first, as Coil's controller) out of pools read from a file, and persists the assignments to
 * `<state-dir>/blocks.json` with an atomic write BEFORE the block is handed out, so a crash at any
 * instant never hands one block out twice (a block persisted but not yet used is returned by the
 * startup GC, as Coil's GC returns blocks of timed-out requests).
 */
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { errAsync, okAsync, ResultAsync } from "neverthrow";
import { blockAt, blockName, BlockAllocator } from "../../../lib/ipam/index.js";
import { removeStaleTemps, writeFileAtomic, type AtomicFsOps } from "../../common/atomic-file.js";
import type { LocalPool } from "./pools-file.js";
import type { BlockStore, StoredBlock, StoreError, StorePool } from "../../../lib/ipam/index.js";

/** The persisted state of the local store. */
interface LocalState {
  readonly version: 1;
  readonly blocks: readonly StoredBlock[];
}

/** File name of the block assignments inside the state directory. */
export const BLOCKS_FILE = "blocks.json";

const io = (e: unknown): StoreError => ({ kind: "store-io", message: e instanceof Error ? e.message : String(e) });

function blockMatches(pool: LocalPool, b: StoredBlock): boolean {
  const want = blockAt(pool.spec, b.index);
  return want.isOk() && want.value.ipv4 === b.ipv4 && want.value.ipv6 === b.ipv6 && b.name === blockName(pool.name, b.index);
}

/** Whether a parsed `blocks.json` entry has a stored block's shape. */
function isStoredBlock(b: unknown): b is StoredBlock {
  if (typeof b !== "object" || b === null) return false;
  const o = b as Record<string, unknown>;
  const optionalString = (v: unknown): boolean => v === undefined || typeof v === "string";
  return (
    typeof o["name"] === "string" &&
    typeof o["pool"] === "string" &&
    typeof o["node"] === "string" &&
    Number.isInteger(o["index"]) &&
    optionalString(o["ipv4"]) &&
    optionalString(o["ipv6"])
  );
}

function checkState(raw: unknown, pools: ReadonlyMap<string, LocalPool>): LocalState | string {
  const st = raw as { readonly version?: unknown; readonly blocks?: unknown } | null;
  if (st === null || typeof st !== "object" || st.version !== 1 || !Array.isArray(st.blocks)) return "unknown format";
  const entries: readonly unknown[] = st.blocks;
  const blocks: StoredBlock[] = [];
  const names = new Set<string>();
  for (const b of entries) {
    if (!isStoredBlock(b)) return `malformed block entry ${JSON.stringify(b)}`;
    blocks.push(b);
    if (names.has(b.name)) return `block ${b.name} recorded twice`;
    names.add(b.name);
    const pool = pools.get(b.pool);
    if (pool !== undefined && !blockMatches(pool, b)) {
      return `block ${b.name} (${b.ipv4 ?? ""} ${b.ipv6 ?? ""}) does not match pool "${b.pool}" any more: the pools file changed incompatibly`;
    }
  }
  return { version: 1, blocks };
}

/** Options of {@link openLocalStore}. */
export interface LocalStoreOptions {
  readonly pools: readonly LocalPool[];
  readonly stateDir: string;
  /** Injected filesystem operations (tests simulate crashes with it). */
  readonly fsOps?: AtomicFsOps;
}

/**
 * The local store. Mutations are serialised through one promise chain; the in-memory state is
 * replaced only after the new state is durable.
 */
export class LocalBlockStore implements BlockStore {
  readonly #pools: ReadonlyMap<string, LocalPool>;
  readonly #file: string;
  readonly #fsOps: AtomicFsOps | undefined;
  readonly #allocators: Map<string, BlockAllocator>;
  #state: LocalState;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(opts: LocalStoreOptions, state: LocalState, allocators: ReadonlyMap<string, BlockAllocator>) {
    this.#pools = new Map(opts.pools.map((p) => [p.name, p]));
    this.#file = join(opts.stateDir, BLOCKS_FILE);
    this.#fsOps = opts.fsOps;
    this.#state = state;
    this.#allocators = new Map(allocators);
  }

  static #buildAllocators(pools: readonly LocalPool[], state: LocalState): Map<string, BlockAllocator> | string {
    const out = new Map<string, BlockAllocator>();
    for (const p of pools) {
      const ba = BlockAllocator.create(p.spec);
      if (ba.isErr()) return `pool "${p.name}" is invalid`;
      ba.value.rebuild(state.blocks.filter((b) => b.pool === p.name).map((b) => b.index));
      out.set(p.name, ba.value);
    }
    return out;
  }

  /** Open (or create) the store in `stateDir`; stale temp files of an interrupted write are removed. */
  static open(opts: LocalStoreOptions): ResultAsync<LocalBlockStore, StoreError> {
    const file = join(opts.stateDir, BLOCKS_FILE);
    const load = async (): Promise<unknown> => {
      await mkdir(opts.stateDir, { recursive: true, mode: 0o700 });
      await removeStaleTemps(file);
      try {
        return JSON.parse(await readFile(file, "utf8")) as unknown;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return { version: 1, blocks: [] };
        throw e;
      }
    };
    return ResultAsync.fromPromise(load(), io).andThen((raw) => {
      const st = checkState(raw, new Map(opts.pools.map((p) => [p.name, p])));
      if (typeof st === "string") return errAsync<LocalBlockStore, StoreError>({ kind: "store-state-invalid", message: `${file}: ${st}` });
      const allocs = LocalBlockStore.#buildAllocators(opts.pools, st);
      if (typeof allocs === "string") return errAsync<LocalBlockStore, StoreError>({ kind: "store-state-invalid", message: allocs });
      return okAsync(new LocalBlockStore(opts, st, allocs));
    });
  }

  #serial<T>(fn: () => ResultAsync<T, StoreError>): ResultAsync<T, StoreError> {
    const run = this.#queue.then(() => fn());
    this.#queue = run.catch(() => undefined);
    return new ResultAsync(run);
  }

  #persist(next: LocalState): ResultAsync<void, StoreError> {
    return writeFileAtomic(this.#file, `${JSON.stringify(next, null, 1)}\n`, this.#fsOps).mapErr((e) => io(e.message));
  }

  listPools(): ResultAsync<readonly StorePool[], StoreError> {
    return okAsync(
      [...this.#pools.values()].map((p) => ({
        name: p.name,
        blockSizeBits: p.spec.blockSizeBits,
        maxBlocks: p.maxBlocks,
        allocatedBlocks: this.#allocators.get(p.name)?.allocatedCount ?? 0,
      })),
    );
  }

  acquireBlock(pool: string, node: string): ResultAsync<StoredBlock, StoreError> {
    return this.#serial(() => {
      const p = this.#pools.get(pool);
      const ba = this.#allocators.get(pool);
      if (p === undefined || ba === undefined) {
        return errAsync({ kind: "pool-not-found" as const, pool, message: `pool ${pool} is not defined` });
      }
      // Reserved at once (this runs serialised); given back below when the state cannot be written.
      const next = ba.nextIndex().andThen((i) => ba.markUsed(i));
      if (next.isErr()) return errAsync({ kind: "pool-exhausted" as const, pool, message: `pool ${pool} does not have free blocks` });
      const b = next.value;
      const block: StoredBlock = {
        name: blockName(pool, b.index),
        pool,
        index: b.index,
        node,
        ...(b.ipv4 === undefined ? {} : { ipv4: b.ipv4 }),
        ...(b.ipv6 === undefined ? {} : { ipv6: b.ipv6 }),
      };
      const state: LocalState = { version: 1, blocks: [...this.#state.blocks, block] };
      return this.#persist(state)
        .map(() => {
          this.#state = state;
          return block;
        })
        .mapErr((e) => {
          ba.release(b.index);
          return e;
        });
    });
  }

  releaseBlock(pool: string, node: string, name: string): ResultAsync<void, StoreError> {
    return this.#serial(() => {
      const found = this.#state.blocks.find((b) => b.name === name && b.pool === pool && b.node === node);
      if (found === undefined) return okAsync(undefined);
      const state: LocalState = { version: 1, blocks: this.#state.blocks.filter((b) => b !== found) };
      return this.#persist(state).map(() => {
        this.#allocators.get(pool)?.release(found.index);
        this.#state = state;
      });
    });
  }

  listBlocks(node: string): ResultAsync<readonly StoredBlock[], StoreError> {
    return okAsync(this.#state.blocks.filter((b) => b.node === node));
  }
}
