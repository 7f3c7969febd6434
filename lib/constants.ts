/**
 * Names and numbers shared with Coil v2 (Go), so that components can be swapped in place.
 * Planners and adapters use these constants; no literal marker appears elsewhere.
 *
 * @module constants
 */

/** The API group and version of Coil's custom resources. */
export const API_GROUP = "coil.cybozu.com";
/** The served API version of Coil's custom resources. */
export const API_VERSION = "coil.cybozu.com/v2";
/** Finalizer set on AddressPools and AddressBlocks. */
export const FINALIZER = "coil.cybozu.com";
/** Label naming the pool of an AddressBlock. */
export const LABEL_POOL = "coil.cybozu.com/pool";
/** Label naming the node that owns an AddressBlock. */
export const LABEL_NODE = "coil.cybozu.com/node";
/** Label carrying the UID of the BlockRequest an AddressBlock answers. */
export const LABEL_REQUEST = "coil.cybozu.com/request";
/** Label marking a block whose addresses are all reserved (`"true"`). */
export const LABEL_RESERVED = "coil.cybozu.com/reserved";
/** Namespace annotation selecting the pool for the namespace's pods. */
export const ANNOTATION_POOL = "coil.cybozu.com/pool";
/** Prefix of the pod annotation that opts a pod into an Egress: `egress.coil.cybozu.com/<namespace>`. */
export const ANNOTATION_EGRESS_PREFIX = "egress.coil.cybozu.com/";
/** The pool used when a namespace has no pool annotation. */
export const DEFAULT_POOL = "default";
/** CRD default of `AddressPool.spec.blockSizeBits`. */
export const DEFAULT_BLOCK_SIZE_BITS = 5;

/** Routing table holding per-pod host routes (`--pod-table-id`). */
export const POD_TABLE_ID = 116;
/** Priority of the `lookup 116` rule (`--pod-rule-prio`). */
export const POD_RULE_PRIO = 2000;
/** Routing table into which a node's blocks are exported (`--export-table-id`). */
export const EXPORT_TABLE_ID = 119;
/** Route protocol (author) id of coild's routes (`--protocol-id`). */
export const PROTOCOL_COILD = 30;
/** Route protocol id of coil-router's routes (`--protocol-id` of coil-router). */
export const PROTOCOL_ROUTER = 31;
/** Egress client table for NAT destinations inside private ranges ("narrow"). */
export const EGRESS_TABLE_NARROW = 117;
/** Egress client table for other NAT destinations ("wide"). */
export const EGRESS_TABLE_WIDE = 118;
/** The main routing table. */
export const MAIN_TABLE = 254;
/** Egress client rule priorities (Coil `pkg/nat`). */
export const EGRESS_RULE_PRIO = {
  /** fwmark == ifindex → table 1000+ifindex (originating-only mode). */
  originatingOnly: 1000,
  /** link-local destinations → main. */
  linkLocal: 1800,
  /** all → table 117. */
  narrow: 1900,
  /** first in-cluster network → main; the n-th uses 2000+n. */
  inClusterBase: 2000,
  /** all → table 118. */
  wide: 2100,
} as const;
/** Base of the per-link tables used in originating-only mode: table = base + ifindex. */
export const ORIGINATING_ONLY_TABLE_BASE = 1000;
/** Priority of the egress gateway's `iif eth0 lookup 118` rule. */
export const EGRESS_GATEWAY_RULE_PRIO = 2000;

/** UDP port of the FoU tunnels (`--egress-port`, `--fou-port`). */
export const DEFAULT_FOU_PORT = 5555;
/** Name of the marker link whose presence means the FoU tunnel layer is initialised. */
export const FOU_DUMMY_LINK = "fou-dummy";
/** Name of the marker link whose presence means the egress NAT server is initialised. */
export const EGRESS_DUMMY_LINK = "egress-dummy";
/** Flow-based (external) IPv4-in-UDP catch-all device. */
export const FOU_EXTERNAL_V4 = "coil_ipip4";
/** Flow-based (external) IPv6-in-UDP catch-all device. */
export const FOU_EXTERNAL_V6 = "coil_ipip6";
/** TTL of Coil's FoU tunnels. */
export const FOU_TTL = 225;

/** Prefix of host-side veth alias: `COIL:<pool>:<containerID>:<ifname>`. */
export const ALIAS_PREFIX = "COIL:";
/** Host-side veth name prefix. */
export const HOST_VETH_PREFIX = "veth";

/** Default UNIX socket of coild. */
export const DEFAULT_SOCKET = "/run/coild.sock";
/** Default ports, as Coil v2. */
export const PORTS = {
  /** TCP port of coild's Prometheus metrics (`--metrics-addr`). */
  coildMetrics: 9384,
  /** TCP port of coild's health probe (`--health-addr`). */
  coildHealth: 9385,
  /** TCP port of coil-ipam-controller's metrics. */
  ipamControllerMetrics: 9386,
  /** TCP port of coil-ipam-controller's health probe. */
  ipamControllerHealth: 9387,
  /** TCP port of coil-ipam-controller's admission webhook (HTTPS). */
  ipamControllerWebhook: 9443,
  /** TCP port of coil-router's metrics. */
  routerMetrics: 9388,
  /** TCP port of coil-router's health probe. */
  routerHealth: 9389,
  /** TCP port of coil-egress-controller's metrics. */
  egressControllerMetrics: 9396,
  /** TCP port of coil-egress-controller's health probe. */
  egressControllerHealth: 9397,
  /** TCP port of coil-egress-controller's admission webhook (HTTPS). */
  egressControllerWebhook: 9444,
  /** TCP port of the metrics of coil-egress (the NAT gateway pod). */
  egressMetrics: 8080,
  /** TCP port of coil-egress's health probe. */
  egressHealth: 8081,
} as const;
/** Version of Coil v2 this project is compatible with. */
export const COIL_COMPAT_VERSION = "2.15.0";

/**
 * Prefix of the keys this project adds beyond Coil (docs/static-addresses.md). `coil-ts.cybozu.com`
 * is a sibling of Coil's `coil.cybozu.com`, not a subdomain of it, so no key Coil defines can equal one.
 */
export const BEYOND_COIL_PREFIX = "coil-ts.cybozu.com/";
/** Pod annotation: the static address(es) a pod asks for (one IPv4 and/or one IPv6, comma separated). */
export const ANNOTATION_STATIC_IP = "coil-ts.cybozu.com/static-ip";
/** AddressPool annotation: address ranges never handed out (CIDRs, addresses, `first-last`, comma separated). */
export const ANNOTATION_RESERVED_RANGES = "coil-ts.cybozu.com/reserved-ranges";
/** AddressPool annotation: address ranges handed out to static requests only (same syntax). */
export const ANNOTATION_STATIC_RANGES = "coil-ts.cybozu.com/static-ranges";
/** AddressPool annotation: how long a freed address is kept back (a Go duration, e.g. `30s`; at most 24h). */
export const ANNOTATION_REUSE_QUARANTINE = "coil-ts.cybozu.com/reuse-quarantine";
/** BlockRequest annotation: the block index a static request needs. */
export const ANNOTATION_BLOCK_INDEX = "coil-ts.cybozu.com/block-index";
/** Longest reuse quarantine accepted, in milliseconds (24 h). */
export const MAX_REUSE_QUARANTINE_MS = 24 * 3600 * 1000;
