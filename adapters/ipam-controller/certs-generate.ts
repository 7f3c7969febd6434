/** Moved to adapters/k8s/certs-generate.ts (shared with coil-egress-controller); re-exported for the existing imports. */
export * from "../k8s/certs-generate.js";
