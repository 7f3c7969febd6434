import { ANNOTATION_POOL, DEFAULT_POOL } from "../constants.js";

/**
 * The pool for a pod's addresses, from its Namespace's annotations: the value of
 * `coil.cybozu.com/pool` when the annotation is present, else `default` (Coil's IPAM-mode ADD).
 */
export function choosePool(namespaceAnnotations: Readonly<Record<string, string>> | undefined): string {
  const v = namespaceAnnotations?.[ANNOTATION_POOL];
  return v ?? DEFAULT_POOL;
}
