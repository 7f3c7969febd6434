/**
 * RFC 1123 names as Kubernetes checks them (`validation.IsDNS1123Label` / `IsDNS1123Subdomain`):
 * the one rule for namespace, pod and object names everywhere in Coil for TypeScript.
 */

/** Longest DNS-1123 label (a Namespace name). */
export const DNS1123_LABEL_MAX_LENGTH = 63;

/** Longest DNS-1123 subdomain (a Pod or AddressPool name). */
export const DNS1123_SUBDOMAIN_MAX_LENGTH = 253;

const LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const LABEL_RE = new RegExp(`^${LABEL}$`);
const SUBDOMAIN_RE = new RegExp(`^${LABEL}(\\.${LABEL})*$`);

/**
 * Whether `s` is a DNS-1123 label: 1-63 characters of lower-case letters, digits and `-`, starting
 * and ending with a letter or digit (Kubernetes Namespace names).
 */
export function isDns1123Label(s: string): boolean {
  return s.length <= DNS1123_LABEL_MAX_LENGTH && LABEL_RE.test(s);
}

/**
 * Whether `s` is a DNS-1123 subdomain: at most 253 characters, dot-separated DNS-1123 labels
 * (Kubernetes object names such as Pods and AddressPools).
 */
export function isDns1123Subdomain(s: string): boolean {
  return s.length <= DNS1123_SUBDOMAIN_MAX_LENGTH && SUBDOMAIN_RE.test(s);
}
