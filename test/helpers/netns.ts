/**
 * Per-test network namespaces for privileged tests (plugins `testutils.NewNS`, netlink
 * `setUpNetlinkTest`): a randomly named namespace with `lo` up, deleted in teardown together
 * with any host-side links the test registered. Tests never touch the host's routes, rules or
 * ruleset; they connect their own namespaces to each other.
 */
import { randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import type { Test } from "tap";
import { netnsPath, type NetnsRef } from "../../lib/changeset/index.js";
import { missingPrerequisite } from "./prerequisites.js";

/** A namespace created for one test. */
export interface TestNetns {
  readonly name: string;
  /** `/var/run/netns/<name>`. */
  readonly path: string;
  readonly ref: NetnsRef;
  /** Register a link the test creates in the host namespace, deleted (if still there) in teardown. */
  trackHostLink(name: string): void;
}

function ip(args: readonly string[]): void {
  execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
}

function hostLinkExists(name: string): boolean {
  try {
    ip(["link", "show", "dev", name]);
    return true;
  } catch {
    return false;
  }
}

/**
 * Create `<prefix>-<8 hex>` with `ip netns add`, bring `lo` up, and register teardown that
 * deletes it and every tracked host link.
 */
export function withNetns(t: Test, prefix = "coiltest"): TestNetns {
  const name = `${prefix}-${randomBytes(4).toString("hex")}`;
  ip(["netns", "add", name]);
  const hostLinks: string[] = [];
  t.teardown(() => {
    for (const l of hostLinks) if (hostLinkExists(l)) ip(["link", "del", "dev", l]);
    ip(["netns", "del", name]);
  });
  ip(["-n", name, "link", "set", "lo", "up"]);
  const path = `/var/run/netns/${name}`;
  return { name, path, ref: netnsPath(path), trackHostLink: (l) => void hostLinks.push(l) };
}

/** Whether the current process is root. */
export function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

/**
 * Gate a privileged test; call it first in the test. Returns true when the test may run. When not
 * root the test fails with the reason ({@link missingPrerequisite}): `npm test` must run as root,
 * and a non-root run does not pass by skipping. `COIL_TEST_ALLOW_SKIP=1` (not under `CI=true`)
 * skips it instead (`1..0 # <reason>`).
 */
export function requireRoot(t: Test): boolean {
  if (isRoot()) return true;
  missingPrerequisite(t, "needs root (network namespaces, netlink, nftables)", "run the tests as root (sudo npm test)");
  return false;
}
