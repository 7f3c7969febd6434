/**
 * Reading one routing table through any {@link Kernel}: its `observeRoutes` when it has one, else
 * the whole namespace's `observe`, filtered the same way.
 */
import type { ResultAsync } from "neverthrow";
import type { KernelObserveError, NetnsRef, Route, RouteQuery } from "../../lib/changeset/index.js";
import type { Kernel } from "./kernel.js";
import { routeInQuery } from "./observer.js";

/** The routes of `query.table` (and `query.protocol`) of namespace `ref`, both families. */
export function observeTableRoutes(kernel: Kernel, ref: NetnsRef, query: RouteQuery, opts: { readonly timeoutMs?: number } = {}): ResultAsync<readonly Route[], KernelObserveError> {
  if (kernel.observeRoutes !== undefined) return kernel.observeRoutes(ref, query, opts);
  return kernel.observe(ref, opts).map((s) => s.routes.filter((r) => routeInQuery(r, query)));
}
