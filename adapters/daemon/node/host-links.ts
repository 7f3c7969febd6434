/**
 * coild's in-memory index of its host veths: every host link whose alias is a Coil pod alias
 * (`COIL:<pool>:<containerId>:<ifname>`), by name. It replaces a full host observation on every
 * ADD/DEL: coild is the only writer of such links, so the index is exact as long as every
 * successful apply updates it and every failed one marks it dirty. A dirty index is refreshed
 * from one full observation before it is used again (startup recovery fills it the same way).
 *
 * A refresh runs concurrently with ADD/DEL of other containers: entries they change while the
 * observation is in flight are newer than the observation, so the refresh keeps them (per-name
 * mutation generations) instead of resurrecting or dropping links.
 */
import { ok, type Result } from "neverthrow";
import type { KernelObserveError, LinkState, NetnsState } from "../../../lib/changeset/index.js";
import { parseLinkAlias } from "../../../lib/plan/index.js";

/** A Coil alias key `containerId:ifname` of a link, or undefined for a non-Coil link. */
export function coilAliasKey(alias: string | undefined): string | undefined {
  return parseLinkAlias(alias ?? "").match((a) => (a.pool !== "" ? `${a.containerId}:${a.ifname}` : undefined), () => undefined);
}

/** See the module comment. */
export class HostLinkIndex {
  readonly #links = new Map<string, LinkState>();
  /** name → generation of its last change, kept while a refresh is in flight. */
  readonly #changed = new Map<string, number>();
  #gen = 0;
  #refreshing = 0;
  #dirty = true;
  #inflight: Promise<Result<void, KernelObserveError>> | undefined;

  /** True until the first refresh, and after a failure left the kernel in an unknown state. */
  get dirty(): boolean {
    return this.#dirty;
  }

  /** Mark the index as possibly wrong: the next {@link ensureFresh} observes the host again. */
  markDirty(): void {
    this.#dirty = true;
  }

  /** Coil links carrying the alias of `containerId:ifname` (normally 0 or 1). */
  byAlias(containerId: string, ifname: string): LinkState[] {
    const key = `${containerId}:${ifname}`;
    return [...this.#links.values()].filter((l) => coilAliasKey(l.alias) === key);
  }

  /** Every indexed link. */
  list(): LinkState[] {
    return [...this.#links.values()];
  }

  /** Whether a Coil link named `name` exists. */
  has(name: string): boolean {
    return this.#links.has(name);
  }

  /** Number of indexed links. */
  get size(): number {
    return this.#links.size;
  }

  /** Record a link this process created or changed (ignored when its alias is not a Coil alias). */
  set(link: LinkState): void {
    this.#touch(link.name);
    if (coilAliasKey(link.alias) === undefined) this.#links.delete(link.name);
    else this.#links.set(link.name, link);
  }

  /** Record that link `name` was deleted. */
  delete(name: string): void {
    this.#touch(name);
    this.#links.delete(name);
  }

  #touch(name: string): void {
    this.#gen += 1;
    if (this.#refreshing > 0) this.#changed.set(name, this.#gen);
  }

  /** Replace the index with the Coil links of `links`, observed after generation `since`. */
  #replace(since: number, links: readonly LinkState[]): void {
    const seen = new Map(links.filter((l) => coilAliasKey(l.alias) !== undefined).map((l) => [l.name, l]));
    const newer = (name: string): boolean => (this.#changed.get(name) ?? 0) > since;
    for (const name of [...this.#links.keys()]) if (!seen.has(name) && !newer(name)) this.#links.delete(name);
    for (const [name, l] of seen) if (!newer(name)) this.#links.set(name, l);
  }

  /**
   * Refresh from `observe` (a full host observation) when dirty; concurrent callers share one
   * observation. Resolves to an error (and stays dirty) when the observation fails.
   */
  ensureFresh(observe: () => Promise<Result<NetnsState, KernelObserveError>>): Promise<Result<void, KernelObserveError>> {
    if (!this.#dirty) return Promise.resolve(ok(undefined));
    this.#inflight ??= this.refresh(observe).finally(() => (this.#inflight = undefined));
    return this.#inflight;
  }

  /** Observe and replace unconditionally (startup recovery, GC). */
  async refresh(observe: () => Promise<Result<NetnsState, KernelObserveError>>): Promise<Result<void, KernelObserveError>> {
    const since = this.#gen;
    this.#dirty = false;
    this.#refreshing += 1;
    try {
      const host = await observe();
      if (host.isErr()) {
        this.#dirty = true;
        return host.map(() => undefined);
      }
      this.#replace(since, host.value.links);
      return ok(undefined);
    } finally {
      this.#refreshing -= 1;
      if (this.#refreshing === 0) this.#changed.clear();
    }
  }

  /** Seed from an observation already made at generation `since` (see {@link generation}). */
  load(since: number, links: readonly LinkState[]): void {
    this.#replace(since, links);
    this.#dirty = false;
  }

  /** The current mutation generation (take it before observing, pass it to {@link load}). */
  get generation(): number {
    return this.#gen;
  }
}
