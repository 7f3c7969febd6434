import { err, ok, type Result } from "neverthrow";
import type { Family } from "../net/index.js";

/**
 * Errors of the planners. Every planner validates its inputs before planning, so a changeset is
 * never built from a hostile interface name, path or number.
 */
export type PlanError =
  | { readonly kind: "invalid-name"; readonly field: string; readonly value: string; readonly message: string }
  | { readonly kind: "invalid-alias"; readonly value: string; readonly message: string }
  | { readonly kind: "invalid-number"; readonly field: string; readonly value: number; readonly message: string }
  | { readonly kind: "invalid-random"; readonly message: string }
  | { readonly kind: "invalid-netns-path"; readonly value: string; readonly message: string }
  | { readonly kind: "missing-address"; readonly message: string }
  | { readonly kind: "missing-host-address"; readonly family: Family; readonly message: string }
  | { readonly kind: "family-mismatch"; readonly field: string; readonly message: string }
  | { readonly kind: "missing-ifindex"; readonly link: string; readonly message: string };

/** Linux interface names: 1-15 characters (IFNAMSIZ-1); we accept only a conservative charset. */
const LINK_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/;

/**
 * Check a network interface name. Rejects empty names, names longer than 15 bytes, `.`/`..`,
 * and any character outside `[A-Za-z0-9_.-]` (no `/`, `:`, whitespace, quotes or shell syntax).
 */
export function validateLinkName(field: string, value: string): Result<string, PlanError> {
  if (LINK_NAME_RE.test(value)) return ok(value);
  return err({ kind: "invalid-name", field, value, message: `invalid interface name for ${field}: ${JSON.stringify(value)}` });
}

/** Check a netns file path: absolute, no `..` segment, only `[A-Za-z0-9_.:/-]`. */
export function validateNetnsPath(value: string): Result<string, PlanError> {
  const bad = !/^\/[A-Za-z0-9_.:/-]*$/.test(value) || value.split("/").includes("..");
  if (!bad) return ok(value);
  return err({ kind: "invalid-netns-path", value, message: `invalid netns path: ${JSON.stringify(value)}` });
}

/** Check that `value` is an integer in `[min, max]`. */
export function validateInt(field: string, value: number, min: number, max: number): Result<number, PlanError> {
  if (Number.isInteger(value) && value >= min && value <= max) return ok(value);
  return err({ kind: "invalid-number", field, value, message: `${field} must be an integer in [${min}, ${max}], got ${value}` });
}

/** Routing table ids are unsigned 32-bit. */
export const MAX_U32 = 0xffffffff;
