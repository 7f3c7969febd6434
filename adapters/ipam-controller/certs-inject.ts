/** Moved to adapters/k8s/certs-inject.ts (shared with coil-egress-controller); re-exported for the existing imports. */
export * from "../k8s/certs-inject.js";
