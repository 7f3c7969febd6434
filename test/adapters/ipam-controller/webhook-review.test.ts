// The AddressPool AdmissionReview handler without a server: routing, decoding, Coil's validation
// and defaulting decisions in AdmissionReview v1 shape.
import t from "tap";
import { handleWebhookRequest, MUTATE_PATH, VALIDATE_PATH } from "../../../adapters/ipam-controller/webhook-review.js";
import type { AdmissionReviewResponse, WebhookHttpRequest } from "../../../adapters/k8s/admission.js";

const pool = (name: string, spec: unknown, finalizers?: string[]) => ({
  apiVersion: "coil.cybozu.com/v2",
  kind: "AddressPool",
  metadata: { name, ...(finalizers === undefined ? {} : { finalizers }) },
  spec,
});

function review(operation: string, object: unknown, oldObject?: unknown, apiVersion = "admission.k8s.io/v1"): string {
  return JSON.stringify({
    apiVersion,
    kind: "AdmissionReview",
    request: { uid: `uid-${operation}`, operation, name: "", object, oldObject: oldObject ?? null },
  });
}

function post(path: string, body: string, extra: Partial<WebhookHttpRequest> = {}) {
  return handleWebhookRequest({ method: "POST", path, contentType: "application/json", body, ...extra });
}

function response(path: string, body: string): AdmissionReviewResponse["response"] {
  const out = post(path, body);
  if (out.status !== 200 || !("response" in out.body)) throw new Error(`unexpected ${out.status}: ${JSON.stringify(out.body)}`);
  return out.body.response;
}

t.test("validating webhook: Coil's create and update rules, all field errors listed", async (t) => {
  const cases: ReadonlyArray<{ name: string; op: string; obj: unknown; old?: unknown; message?: string }> = [
    { name: "subnets only", op: "CREATE", obj: pool("p", { subnets: [{ ipv4: "10.2.0.0/24" }] }) },
    { name: "bits 0", op: "CREATE", obj: pool("p", { blockSizeBits: 0, subnets: [{ ipv4: "10.2.0.0/24" }] }) },
    { name: "bits 2 /24", op: "CREATE", obj: pool("p", { blockSizeBits: 2, subnets: [{ ipv4: "10.2.0.0/24" }] }) },
    {
      name: "invalid subnet",
      op: "CREATE",
      obj: pool("p", { subnets: [{ ipv4: "a.b.c.d/16" }] }),
      message: 'AddressPool.coil.cybozu.com "p" is invalid: spec.subnets[0]: Invalid value: "": invalid CIDR address: a.b.c.d/16',
    },
    {
      name: "two bad items",
      op: "CREATE",
      obj: pool("p", { blockSizeBits: 8, subnets: [{}, { ipv4: "10.2.0.0/24" }, { ipv4: "10.3.0.0/30" }] }),
      message:
        'AddressPool.coil.cybozu.com "p" is invalid: [spec.subnets[0]: Invalid value: "": invalid subnet, ' +
        'spec.subnets[2]: Invalid value: "": too narrow subnet: 10.3.0.0/30]',
    },
    {
      name: "empty subnets (schema)",
      op: "CREATE",
      obj: pool("p", { subnets: [] }),
      message: 'AddressPool.coil.cybozu.com "p" is invalid: spec.subnets: Invalid value: 0: spec.subnets in body should have at least 1 items',
    },
    {
      name: "append allowed",
      op: "UPDATE",
      obj: pool("p", { blockSizeBits: 0, subnets: [{ ipv6: "fd02::/120" }, { ipv6: "fd03::/112" }] }),
      old: pool("p", { blockSizeBits: 0, subnets: [{ ipv6: "fd02::/120" }] }),
    },
    {
      name: "bits changed, item changed, narrow append",
      op: "UPDATE",
      obj: pool("p", { blockSizeBits: 4, subnets: [{ ipv4: "10.9.0.0/24" }, { ipv4: "10.3.0.0/30" }] }),
      old: pool("p", { blockSizeBits: 2, subnets: [{ ipv4: "10.2.0.0/24" }] }),
      message:
        'AddressPool.coil.cybozu.com "p" is invalid: [spec.blockSizeBits: Forbidden: unchangeable, ' +
        'spec.subnets[0]: Forbidden: unchangeable, spec.subnets[1]: Invalid value: "": too narrow subnet: 10.3.0.0/30]',
    },
    {
      name: "shrink",
      op: "UPDATE",
      obj: pool("p", { subnets: [{ ipv4: "10.2.0.0/24" }] }),
      old: pool("p", { subnets: [{ ipv4: "10.2.0.0/24" }, { ipv4: "10.3.0.0/24" }] }),
      message: 'AddressPool.coil.cybozu.com "p" is invalid: spec.subnets: Forbidden: unshrinkable',
    },
    { name: "delete with no object", op: "DELETE", obj: null },
    { name: "connect", op: "CONNECT", obj: null },
  ];
  for (const c of cases) {
    const r = response(VALIDATE_PATH, review(c.op, c.obj, c.old));
    t.equal(r.uid, `uid-${c.op}`, `${c.name}: uid echoed`);
    t.equal(r.allowed, c.message === undefined, `${c.name}: allowed`);
    if (c.message === undefined) {
      t.equal(r.status, undefined, `${c.name}: no status`);
      continue;
    }
    t.equal(r.status?.code, 422, `${c.name}: 422`);
    t.equal(r.status?.reason, "Invalid", `${c.name}: reason`);
    t.equal(r.status?.message, c.message, `${c.name}: message`);
    t.equal(r.patch, undefined, `${c.name}: validating never patches`);
  }
});

t.test("validating webhook: causes mirror apierrors.NewInvalid", async (t) => {
  const r = response(VALIDATE_PATH, review("UPDATE", pool("p", { blockSizeBits: 3, subnets: [{ ipv4: "10.2.0.0/24" }] }), pool("p", { subnets: [{ ipv4: "10.2.0.0/24" }] })));
  t.same(r.status?.details, {
    name: "p",
    group: "coil.cybozu.com",
    kind: "AddressPool",
    causes: [{ type: "FieldValueForbidden", message: "Forbidden: unchangeable", field: "spec.blockSizeBits" }],
  });
});

t.test("validating webhook: the coil-ts.cybozu.com pool annotations (beyond Coil)", async (t) => {
  const annotated = (annotations: Record<string, string>, spec: unknown = { blockSizeBits: 0, subnets: [{ ipv4: "10.100.0.0/24" }] }) => ({
    ...pool("s", spec),
    metadata: { name: "s", annotations },
  });
  const good = annotated({
    "coil-ts.cybozu.com/reserved-ranges": "10.100.0.0/28, 10.100.0.255",
    "coil-ts.cybozu.com/static-ranges": "10.100.0.100-10.100.0.199",
    "coil-ts.cybozu.com/reuse-quarantine": "5m",
  });
  t.equal(response(VALIDATE_PATH, review("CREATE", good)).allowed, true, "valid annotations are admitted");
  const bad = annotated({
    "coil-ts.cybozu.com/reserved-ranges": "10.100.1.0/24",
    "coil-ts.cybozu.com/static-ranges": "10.100.0.x",
    "coil-ts.cybozu.com/reuse-quarantine": "-5m",
  });
  const r = response(VALIDATE_PATH, review("UPDATE", bad, good));
  t.equal(r.allowed, false);
  t.equal(
    r.status?.message,
    'AddressPool.coil.cybozu.com "s" is invalid: [' +
      'metadata.annotations[coil-ts.cybozu.com/reserved-ranges]: Invalid value: "10.100.1.0/24": 10.100.1.0/24 is not inside one subnet of the pool (10.100.0.0/24), ' +
      'metadata.annotations[coil-ts.cybozu.com/static-ranges]: Invalid value: "10.100.0.x": "10.100.0.x" is not an IP address, CIDR or first-last range, ' +
      'metadata.annotations[coil-ts.cybozu.com/reuse-quarantine]: Invalid value: "-5m": "-5m" is negative]',
  );
  t.same(r.status?.details?.causes?.[0], {
    type: "FieldValueInvalid",
    message: 'Invalid value: "10.100.1.0/24": 10.100.1.0/24 is not inside one subnet of the pool (10.100.0.0/24)',
    field: "metadata.annotations[coil-ts.cybozu.com/reserved-ranges]",
  });
  const both = response(VALIDATE_PATH, review("CREATE", annotated({ "coil-ts.cybozu.com/reuse-quarantine": "later" }, { subnets: [] })));
  t.match(both.status?.message, /spec\.subnets: Invalid value: 0: .*metadata\.annotations\[coil-ts\.cybozu\.com\/reuse-quarantine\]/, "Coil's errors first, then ours");
  t.equal(response(VALIDATE_PATH, review("CREATE", annotated({ "example.com/other": "x" }))).allowed, true, "other annotations are not ours to check");
});

t.test("mutating webhook: finalizer and blockSizeBits default as a JSONPatch", async (t) => {
  const patchOf = (r: ReturnType<typeof response>): unknown =>
    r.patch === undefined ? undefined : JSON.parse(Buffer.from(r.patch, "base64").toString("utf8"));
  const cases: ReadonlyArray<{ name: string; op: string; obj: unknown; patch: unknown }> = [
    {
      name: "bare pool",
      op: "CREATE",
      obj: pool("p", { subnets: [{ ipv4: "10.2.0.0/24" }] }),
      patch: [
        { op: "add", path: "/metadata/finalizers", value: ["coil.cybozu.com"] },
        { op: "add", path: "/spec/blockSizeBits", value: 5 },
      ],
    },
    {
      name: "other finalizer, bits 0 kept",
      op: "CREATE",
      obj: pool("p", { blockSizeBits: 0, subnets: [{ ipv4: "10.2.0.0/24" }] }, ["x/y"]),
      patch: [{ op: "add", path: "/metadata/finalizers", value: ["x/y", "coil.cybozu.com"] }],
    },
    { name: "already defaulted", op: "CREATE", obj: pool("p", { blockSizeBits: 5, subnets: [] }, ["coil.cybozu.com"]), patch: undefined },
    { name: "update untouched", op: "UPDATE", obj: pool("p", { subnets: [] }), patch: undefined },
  ];
  for (const c of cases) {
    const r = response(MUTATE_PATH, review(c.op, c.obj));
    t.equal(r.allowed, true, `${c.name}: allowed`);
    t.same(patchOf(r), c.patch, `${c.name}: patch`);
    t.equal(r.patchType, c.patch === undefined ? undefined : "JSONPatch", `${c.name}: patchType`);
  }
});

t.test("undecodable objects are denied with 400 inside the review", async (t) => {
  for (const [path, obj] of [
    [VALIDATE_PATH, { apiVersion: "coil.cybozu.com/v2", kind: "AddressPool", metadata: { name: "p" } }],
    [MUTATE_PATH, { apiVersion: "v1", kind: "Pod", metadata: { name: "p" }, spec: {} }],
    [VALIDATE_PATH, pool("p", { blockSizeBits: "5", subnets: [] })],
  ] as const) {
    const r = response(path, review("CREATE", obj));
    t.equal(r.allowed, false);
    t.equal(r.status?.code, 400);
    t.match(r.status?.message, /^cannot decode AddressPool: object/);
  }
});

t.test("HTTP-level errors", async (t) => {
  const good = review("CREATE", pool("p", { subnets: [{ ipv4: "10.2.0.0/24" }] }));
  const cases: ReadonlyArray<{ name: string; req: WebhookHttpRequest; status: number }> = [
    { name: "bad JSON", req: { method: "POST", path: VALIDATE_PATH, contentType: "application/json", body: "{nope" }, status: 400 },
    { name: "not a review", req: { method: "POST", path: MUTATE_PATH, contentType: "application/json", body: '{"kind":"Pod"}' }, status: 400 },
    {
      name: "review without request",
      req: { method: "POST", path: MUTATE_PATH, contentType: "application/json", body: '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}' },
      status: 400,
    },
    { name: "unknown path", req: { method: "POST", path: "/validate-x", contentType: "application/json", body: good }, status: 404 },
    { name: "GET", req: { method: "GET", path: VALIDATE_PATH, contentType: "application/json", body: good }, status: 405 },
    { name: "text/plain", req: { method: "POST", path: VALIDATE_PATH, contentType: "text/plain", body: good }, status: 415 },
    { name: "charset param ok, query ignored", req: { method: "POST", path: `${VALIDATE_PATH}?timeout=10s`, contentType: "application/json; charset=utf-8", body: good }, status: 200 },
  ];
  for (const c of cases) t.equal(handleWebhookRequest(c.req).status, c.status, c.name);
  const bad = handleWebhookRequest(cases[0]!.req).body;
  t.match(bad, { kind: "AdmissionReview", response: { allowed: false, status: { code: 400, reason: "BadRequest" } } });
});

t.test("v1beta1 reviews are answered in kind", async (t) => {
  const out = post(VALIDATE_PATH, review("CREATE", pool("p", { subnets: [{ ipv4: "10.2.0.0/24" }] }), undefined, "admission.k8s.io/v1beta1"));
  t.match(out.body, { apiVersion: "admission.k8s.io/v1beta1", response: { allowed: true } });
});
