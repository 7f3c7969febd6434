import { err, ok, type Result } from "neverthrow";
import { validateIfName as checkIfName, type Family } from "../net/index.js";

/**
 * Errors of the planners. Every planner validates its inputs before planning, so a changeset is
 * never built from a hostile interface name, path or number.
 */
export type PlanError =
  | {
      /** An interface name option is not a valid link name (see {@link validateLinkName}). */
      readonly kind: "invalid-name";
      /** The option that held it, e.g. `ifname` or `hostVeth`. */
      readonly field: string;
      /** The rejected name. */
      readonly value: string;
      /** Human-readable explanation naming the field. */
      readonly message: string;
    }
  | {
      /** A Coil link alias (`COIL:<pool>:<containerId>:<ifname>`) cannot be formatted or parsed. */
      readonly kind: "invalid-alias";
      /** The alias text. */
      readonly value: string;
      /** Human-readable explanation. */
      readonly message: string;
    }
  | {
      /** A numeric option (MTU, table id, protocol, port, VNI, ...) is not an integer in its range. */
      readonly kind: "invalid-number";
      /** The option, e.g. `mtu`. */
      readonly field: string;
      /** The rejected number. */
      readonly value: number;
      /** Human-readable explanation with the range. */
      readonly message: string;
    }
  | {
      /** The caller-supplied randomness for a veth name is missing or malformed. */
      readonly kind: "invalid-random";
      /** Human-readable explanation. */
      readonly message: string;
    }
  | {
      /** A network namespace path is not absolute or has unsafe characters or a `..` segment. */
      readonly kind: "invalid-netns-path";
      /** The rejected path. */
      readonly value: string;
      /** Human-readable explanation. */
      readonly message: string;
    }
  | {
      /** A pod was given neither an IPv4 nor an IPv6 address. */
      readonly kind: "missing-address";
      /** Human-readable explanation. */
      readonly message: string;
    }
  | {
      /** A pod address of a family was given without the node's address of that family (the pod's gateway). */
      readonly kind: "missing-host-address";
      /** The family lacking a host address. */
      readonly family: Family;
      /** Human-readable explanation. */
      readonly message: string;
    }
  | {
      /** Addresses of different families were combined (e.g. an IPv6 peer with only a local IPv4 address). */
      readonly kind: "family-mismatch";
      /** The option whose family does not fit. */
      readonly field: string;
      /** Human-readable explanation. */
      readonly message: string;
    }
  | {
      /**
       * The pod interface already exists in the pod namespace and no host link of this container
       * (by name or by Coil alias) owns it: the CNI spec requires ADD to fail rather than replace it.
       */
      readonly kind: "interface-exists";
      /** The interface name (CNI_IFNAME). */
      readonly ifname: string;
      /** The pod namespace path. */
      readonly netnsPath: string;
      /** Human-readable explanation. */
      readonly message: string;
    }
  | {
      /** A planner needs the kernel ifindex of a link (originating-only tables are 1000 + ifindex) but the observed state lacks it. */
      readonly kind: "missing-ifindex";
      /** The link's name. */
      readonly link: string;
      /** Human-readable explanation. */
      readonly message: string;
    };

/**
 * Check a network interface name: the shared rule of the net module (`validateIfName`: 1-15 bytes
 * of `[A-Za-z0-9_.-]`, not `.`/`..`), and in addition the planners refuse a leading `.` or `-`, so
 * a planned name never looks like an option or a hidden file. Fails with `invalid-name` for `field`.
 */
export function validateLinkName(field: string, value: string): Result<string, PlanError> {
  if (checkIfName(value).isOk() && !/^[.-]/.test(value)) return ok(value);
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
