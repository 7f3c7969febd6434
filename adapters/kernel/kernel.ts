/**
 * The kernel port as this adapter names it: the {@link Kernel} interface and its values are
 * declared in lib (`changeset/kernel-port.ts`); the real executor/observer and {@link FakeKernel}
 * both implement it, and one shared suite (test/helpers/executor-conformance.ts) runs against
 * every implementation. Failure reasons are classified here, once (see `failure.ts`).
 */
export type {
  Kernel,
  KernelApplyReport as ApplyReport,
  KernelApplyError as ApplyError,
  KernelFailureReason,
  AppliedOp,
  FailedOp,
} from "../../lib/changeset/index.js";
