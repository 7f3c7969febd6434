/**
 * A state-modelling fake of coild's CNI service (not a call counter): it keeps the attachments it
 * has "set up", hands out addresses, frees them on DEL, checks them on CHECK, reports availability
 * on STATUS and drops stale attachments on GC. It answers in the fast-path response shape; the
 * fast-path and gRPC test servers and the in-process client all wrap this one model.
 */
import type { CniArgsJson, FastRequest, FastResponse } from "../../../adapters/common/fast-protocol.js";

/** Options of {@link FakeCoild}. */
export interface FakeCoildOptions {
  /** `ipam` (coil is the first plugin) or `egress-only` (chained after another CNI). */
  readonly mode?: "ipam" | "egress-only";
  /** STATUS answer: available, or the CNI code to fail with (50 or 51). */
  readonly status?: "ok" | 50 | 51;
  /** Whether the Status/GC rpcs exist (false models Coil's Go coild: UNIMPLEMENTED). */
  readonly hasStatusAndGc?: boolean;
  /** Fail every call with a gRPC status carrying no CNIError detail. */
  readonly bareError?: { readonly grpcCode: number; readonly message: string };
  /** Make ADD return this raw `AddResponse.result` text instead of a real result. */
  readonly addResultOverride?: string;
}

/** One recorded attachment. */
export interface FakeAttachment {
  readonly containerId: string;
  readonly ifname: string;
  readonly netns: string;
  readonly ipv4: string;
  readonly ipv6: string;
}

const cniFail = (grpcCode: number, code: number, msg: string, details = ""): FastResponse => ({
  ok: false,
  grpcCode,
  message: msg,
  error: { code, msg, details },
});

const INTERNAL = 13;
const UNAVAILABLE = 14;
const UNIMPLEMENTED = 12;

/** The fake daemon. */
export class FakeCoild {
  /** Live attachments keyed by `containerId/ifname`. */
  readonly attachments = new Map<string, FakeAttachment>();
  /** Every request received, in order. */
  readonly requests: FastRequest[] = [];
  private next = 1;

  constructor(readonly options: FakeCoildOptions = {}) {}

  /** Handle one request. */
  handle(req: FastRequest): FastResponse {
    this.requests.push(req);
    const o = this.options;
    if (o.bareError !== undefined) return { ok: false, grpcCode: o.bareError.grpcCode, message: o.bareError.message };
    switch (req.method) {
      case "Add":
        return this.add(req.args);
      case "Del":
        this.attachments.delete(`${req.args.containerId}/${req.args.ifname}`);
        return { ok: true };
      case "Check":
        return this.attachments.has(`${req.args.containerId}/${req.args.ifname}`) || o.mode === "egress-only"
          ? { ok: true }
          : cniFail(INTERNAL, 999, "check failed", `no link for ${req.args.containerId}`);
      case "Status":
        if (o.hasStatusAndGc === false) return { ok: false, grpcCode: UNIMPLEMENTED, message: "unknown method Status" };
        return o.status === undefined || o.status === "ok" ? { ok: true } : cniFail(UNAVAILABLE, o.status, "no address block available");
      case "GC": {
        if (o.hasStatusAndGc === false) return { ok: false, grpcCode: UNIMPLEMENTED, message: "unknown method GC" };
        const keep = new Set(req.args.validAttachments.map((a) => `${a.containerId}/${a.ifname}`));
        for (const k of [...this.attachments.keys()]) if (!keep.has(k)) this.attachments.delete(k);
        return { ok: true };
      }
    }
  }

  private add(a: CniArgsJson): FastResponse {
    const o = this.options;
    if (o.addResultOverride !== undefined) return { ok: true, result: Buffer.from(o.addResultOverride).toString("base64") };
    if (a.args["K8S_POD_NAME"] === "" || a.args["K8S_POD_NAMESPACE"] === "") {
      return cniFail(INTERNAL, 999, "failed to get pod", "missing pod name or namespace");
    }
    if (o.mode === "egress-only") {
      return { ok: true, result: Buffer.from(JSON.stringify({ cniVersion: "1.1.0" })).toString("base64") };
    }
    if (a.args["IS_CHAINED"] === "true") {
      return cniFail(INTERNAL, 999, "coil must be called as the first plugin when IPAM related features are enabled");
    }
    const key = `${a.containerId}/${a.ifname}`;
    if (this.attachments.has(key)) return cniFail(INTERNAL, 999, "failed to setup pod network IPAM", `${key} already exists`);
    const n = this.next++;
    const att = { containerId: a.containerId, ifname: a.ifname, netns: a.netns, ipv4: `10.100.0.${n}`, ipv6: `fd00::${n.toString(16)}` };
    this.attachments.set(key, att);
    const result = {
      cniVersion: "1.1.0",
      interfaces: [
        { name: a.ifname, mac: "02:00:00:00:00:01", sandbox: a.netns },
        { name: `veth${n}`, mac: "02:00:00:00:00:02" },
      ],
      ips: [
        { interface: 0, address: `${att.ipv4}/32` },
        { interface: 0, address: `${att.ipv6}/128` },
      ],
    };
    return { ok: true, result: Buffer.from(JSON.stringify(result)).toString("base64") };
  }
}
