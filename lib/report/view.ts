/**
 * coild's read-only view of its allocations (`GET /allocations` on its health port): the wire
 * shape, shared by coild (which serves it) and coilctl (which reads it through the API server's
 * node proxy), and its validation.
 */
import { err, ok, Result } from "neverthrow";
import { parseCidr, parseIp, type Cidr, type Ip } from "../net/index.js";

/** A block the node owns, with its usage. */
export interface ViewBlock {
  /** AddressBlock name. */
  readonly name: string;
  /** Pool of the block. */
  readonly pool: string;
  /** IPv4 CIDR, or null for an IPv6-only pool. */
  readonly ipv4: Cidr | null;
  /** IPv6 CIDR, or null for an IPv4-only pool. */
  readonly ipv6: Cidr | null;
  /** Addresses in use (a dual-stack pair counts once; a reserved block counts every address). */
  readonly used: number;
  /** Addresses in the block. */
  readonly size: number;
}

/**
 * The pod an attachment was set up for, as coild saw it in the CNI ADD (`K8S_POD_NAMESPACE`,
 * `K8S_POD_NAME` of CNI_ARGS).
 */
export interface ViewPod {
  /** Namespace. */
  readonly namespace: string;
  /** Name. */
  readonly name: string;
}

/** One pod interface's addresses as coild holds them. */
export interface ViewAddress {
  /** Pool of the addresses. */
  readonly pool: string;
  /** AddressBlock holding them. */
  readonly block: string;
  /** IPv4 address, or null. */
  readonly ipv4: Ip | null;
  /** IPv6 address, or null. */
  readonly ipv6: Ip | null;
  /** CNI container (sandbox) ID. */
  readonly containerId: string;
  /** Interface name in the pod. */
  readonly ifname: string;
  /** The host veth whose alias names this attachment (from the kernel part), or null when none was seen. */
  readonly hostVeth: string | null;
  /**
   * The pod the ADD was for, when the coild process answering saw that ADD; null (or absent) when
   * it did not: the attachment was set up before coild's last start (recovered from the kernel,
   * whose alias `COIL:<pool>:<containerId>:<ifname>` records no pod), the runtime sent no pod
   * name, or coild predates this field. {@link parseNodeAllocations} always sets it.
   */
  readonly pod?: ViewPod | null;
}

/** A Coil host veth as the kernel shows it (alias `COIL:<pool>:<containerId>:<ifname>`). */
export interface ViewHostVeth {
  /** Link name. */
  readonly name: string;
  /** Pool in the alias. */
  readonly pool: string;
  /** Container ID in the alias. */
  readonly containerId: string;
  /** Interface name in the alias. */
  readonly ifname: string;
}

/** A route of the pod table. */
export interface ViewPodRoute {
  /** Destination (the pod's address). */
  readonly dst: Cidr;
  /** Device (the pod's host veth). */
  readonly dev: string | null;
}

/** What the node's kernel routes: pod routes (table 116), exported blocks (table 119), Coil host veths. */
export interface ViewKernel {
  /** Routes of the pod table: destination and device. */
  readonly podRoutes: readonly ViewPodRoute[];
  /** Destinations of the export table. */
  readonly exportedRoutes: readonly Cidr[];
  /** Host links with a Coil pod alias. */
  readonly hostVeths: readonly ViewHostVeth[];
}

/** The answer of coild's `GET /allocations`. */
export interface NodeAllocations {
  /** The node coild runs on. */
  readonly node: string;
  /** When coild computed the answer (RFC 3339). */
  readonly generatedAt: string;
  /** Blocks the node's allocator holds. */
  readonly blocks: readonly ViewBlock[];
  /** Every allocation of the node's allocator. */
  readonly addresses: readonly ViewAddress[];
  /** The kernel side, read with the executor's observer; null when the observation failed (see `kernelError`). */
  readonly kernel: ViewKernel | null;
  /** Why the kernel could not be read, when it could not. */
  readonly kernelError?: string;
}

/** Why a `/allocations` answer was refused: `where` names the field. */
export interface ViewError {
  /** Discriminant. */
  readonly kind: "invalid-view";
  /** JSON path of the offending value, e.g. `addresses[3].ipv4`. */
  readonly where: string;
  /** What is wrong. */
  readonly message: string;
}

type Obj = Readonly<Record<string, unknown>>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const bad = (where: string, message: string): ViewError => ({ kind: "invalid-view", where, message });

function str(o: Obj, key: string, where: string): Result<string, ViewError> {
  const v = o[key];
  return typeof v === "string" ? ok(v) : err(bad(`${where}.${key}`, "not a string"));
}

function num(o: Obj, key: string, where: string): Result<number, ViewError> {
  const v = o[key];
  return typeof v === "number" && Number.isInteger(v) && v >= 0 ? ok(v) : err(bad(`${where}.${key}`, "not a non-negative integer"));
}

function nullable<T>(o: Obj, key: string, where: string, parse: (s: string) => Result<T, { message: string }>): Result<T | null, ViewError> {
  const v = o[key];
  if (v === null || v === undefined) return ok(null);
  if (typeof v !== "string") return err(bad(`${where}.${key}`, "not a string or null"));
  return parse(v).mapErr((e) => bad(`${where}.${key}`, e.message));
}

function list<T>(v: unknown, where: string, item: (o: Obj, where: string) => Result<T, ViewError>): Result<T[], ViewError> {
  if (!Array.isArray(v)) return err(bad(where, "not an array"));
  const out: T[] = [];
  for (const [i, x] of (v as unknown[]).entries()) {
    const at = `${where}[${i}]`;
    if (!isObj(x)) return err(bad(at, "not an object"));
    const r = item(x, at);
    if (r.isErr()) return err(r.error);
    out.push(r.value);
  }
  return ok(out);
}

const okStr = (s: string): Result<string, never> => ok(s);

function parseBlock(o: Obj, w: string): Result<ViewBlock, ViewError> {
  return Result.combine([str(o, "name", w), str(o, "pool", w), nullable(o, "ipv4", w, parseCidr), nullable(o, "ipv6", w, parseCidr), num(o, "used", w), num(o, "size", w)])
    .map(([name, pool, ipv4, ipv6, used, size]) => ({ name, pool, ipv4, ipv6, used, size }));
}

/** `pod`: null or absent (unknown), or `{ namespace, name }` with a non-empty name. */
function parsePod(o: Obj, w: string): Result<ViewPod | null, ViewError> {
  const v = o["pod"];
  if (v === null || v === undefined) return ok(null);
  if (!isObj(v)) return err(bad(`${w}.pod`, "not an object or null"));
  return Result.combine([str(v, "namespace", `${w}.pod`), str(v, "name", `${w}.pod`)]).andThen(([namespace, name]) =>
    name === "" ? err(bad(`${w}.pod.name`, "empty")) : ok({ namespace, name }));
}

function parseAddress(o: Obj, w: string): Result<ViewAddress, ViewError> {
  return Result.combine([str(o, "pool", w), str(o, "block", w), nullable(o, "ipv4", w, parseIp), nullable(o, "ipv6", w, parseIp), str(o, "containerId", w), str(o, "ifname", w), nullable(o, "hostVeth", w, okStr)])
    .andThen(([pool, block, ipv4, ipv6, containerId, ifname, hostVeth]) => parsePod(o, w).map((pod) => ({ pool, block, ipv4, ipv6, containerId, ifname, hostVeth, pod })));
}

function parseKernel(v: unknown, w: string): Result<ViewKernel | null, ViewError> {
  if (v === null || v === undefined) return ok(null);
  if (!isObj(v)) return err(bad(w, "not an object or null"));
  const routes = list(v["podRoutes"], `${w}.podRoutes`, (o, at) =>
    Result.combine([nullable(o, "dst", at, parseCidr), nullable(o, "dev", at, okStr)]).andThen(([dst, dev]) => (dst === null ? err(bad(`${at}.dst`, "missing")) : ok({ dst, dev }))));
  const exported = Array.isArray(v["exportedRoutes"])
    ? Result.combine((v["exportedRoutes"] as unknown[]).map((c, i) => (typeof c === "string" ? parseCidr(c).mapErr((e) => bad(`${w}.exportedRoutes[${i}]`, e.message)) : err(bad(`${w}.exportedRoutes[${i}]`, "not a string")))))
    : err(bad(`${w}.exportedRoutes`, "not an array"));
  const veths = list(v["hostVeths"], `${w}.hostVeths`, (o, at) =>
    Result.combine([str(o, "name", at), str(o, "pool", at), str(o, "containerId", at), str(o, "ifname", at)]).map(([name, pool, containerId, ifname]) => ({ name, pool, containerId, ifname })));
  return Result.combine([routes, exported, veths]).map(([podRoutes, exportedRoutes, hostVeths]) => ({ podRoutes, exportedRoutes, hostVeths }));
}

/** Validate a decoded `/allocations` answer (addresses and CIDRs are parsed, so they are canonical). */
export function parseNodeAllocations(v: unknown): Result<NodeAllocations, ViewError> {
  if (!isObj(v)) return err(bad("$", "not an object"));
  const kernelError = v["kernelError"];
  return Result.combine([str(v, "node", "$"), str(v, "generatedAt", "$")]).andThen(([node, generatedAt]) =>
    Result.combine([list(v["blocks"], "$.blocks", parseBlock), list(v["addresses"], "$.addresses", parseAddress)]).andThen(([blocks, addresses]) =>
      parseKernel(v["kernel"], "$.kernel").map((kernel) => ({
        node,
        generatedAt,
        blocks,
        addresses,
        kernel,
        ...(typeof kernelError === "string" ? { kernelError } : {}),
      })),
    ),
  );
}
