/**
 * Kernel failure classification, done once: every `apply-failed` carries a
 * {@link KernelFailureReason} derived here — from the errno code a model reports (FakeKernel), or
 * from what `ip`, `nft` and `sysctl` print (they print the kernel's strerror text, e.g.
 * `RTNETLINK answers: File exists`, `Cannot find device "x"`, or Node's `EACCES: permission
 * denied`). Callers switch on the reason; nobody else reads error text.
 */
import type { KernelFailureReason } from "../../lib/changeset/index.js";
import type { ExecError } from "./run.js";

/** The reason for each errno the kernel (or the lib model) reports for a refused op. */
const ERRNO_REASONS: Readonly<Record<string, KernelFailureReason>> = {
  EEXIST: "exists",
  ENOENT: "not-found",
  ENODEV: "not-found",
  ESRCH: "not-found",
  EADDRNOTAVAIL: "not-found",
  ENXIO: "not-found",
  EPERM: "permission",
  EACCES: "permission",
  EBUSY: "busy",
  EAGAIN: "busy",
  ENOBUFS: "busy",
  ENOMEM: "busy",
  EINVAL: "invalid",
  ERANGE: "invalid",
  EOPNOTSUPP: "invalid",
  ENETUNREACH: "invalid",
  ENETDOWN: "invalid",
};

/** The reason for an errno code (`EEXIST`, …); `unknown` for codes not listed. */
export function reasonOfErrno(errno: string): KernelFailureReason {
  return ERRNO_REASONS[errno] ?? "unknown";
}

/**
 * strerror(3) texts (and iproute2's own wording for a missing device) → reason. Checked in this
 * order; the first match wins. Errno names (`EEXIST`, Node's `ENOENT: no such file…`) match too.
 */
const TEXT_REASONS: readonly (readonly [RegExp, KernelFailureReason])[] = [
  [/\bFile exists\b|\bEEXIST\b/i, "exists"],
  [/No such device|Cannot find device|No such file or directory|No such process|Cannot assign requested address|\b(ENODEV|ENOENT|ESRCH|EADDRNOTAVAIL|ENXIO)\b/i, "not-found"],
  [/Operation not permitted|Permission denied|\b(EPERM|EACCES)\b/i, "permission"],
  [/resource busy|try again|temporarily unavailable|No buffer space|Cannot allocate memory|\b(EBUSY|EAGAIN|ENOBUFS|ENOMEM)\b/i, "busy"],
  [/Invalid argument|out of range|not supported|Network is unreachable|Network is down|\b(EINVAL|ERANGE|EOPNOTSUPP|ENETUNREACH|ENETDOWN)\b/i, "invalid"],
];

/** The reason a tool's error text gives; `unknown` when it names none of the known errors. */
export function reasonOfText(text: string): KernelFailureReason {
  return TEXT_REASONS.find(([re]) => re.test(text))?.[1] ?? "unknown";
}

/** The reason of a failed command: how it failed, else what it printed. */
export function reasonOfExecError(e: ExecError): KernelFailureReason {
  switch (e.kind) {
    case "timeout":
      return "timeout";
    case "spawn-failed":
      return "unavailable";
    case "invalid-netns":
      return "not-found";
    case "exit-nonzero":
      return reasonOfText(e.stderr);
  }
}

/** Whether a failure of this reason may go away by itself (the apply is worth retrying). */
export function isTransient(reason: KernelFailureReason): boolean {
  return reason === "busy" || reason === "timeout" || reason === "unavailable";
}
