// coild's static-address reading at ADD (beyond Coil): the pod annotation parsed with the pod and
// key named, and the shared Pod reader that makes the NAT hook and static addresses cost one GET.
import t from "tap";
import { err, ok } from "neverthrow";
import { sharedPodReader, staticAddressOf, type PodRead, type PodView } from "../../../../adapters/daemon/node/static-address.js";

const pod = { namespace: "ns", name: "p" };

t.test("sharedPodReader: one GET per pod within the ttl, failures not kept", async (t) => {
  let clock = 0;
  let gets = 0;
  let fail = false;
  const get: PodRead = async () => {
    gets++;
    return fail ? err("boom") : ok({ annotations: { n: String(gets) }, hostNetwork: false });
  };
  const read = sharedPodReader(get, 1000, () => clock);
  const [x, y] = await Promise.all([read(pod), read(pod)]);
  t.equal(gets, 1, "concurrent readers share the GET in flight");
  t.same(x._unsafeUnwrap(), y._unsafeUnwrap());
  clock = 999;
  t.ok((await read(pod)).isOk());
  t.equal(gets, 1, "shared within the ttl");
  t.ok((await read({ namespace: "ns", name: "q" })).isOk());
  t.equal(gets, 2, "another pod: its own GET");
  clock = 1000;
  t.same((await read(pod))._unsafeUnwrap()?.annotations, { n: "3" }, "read again after the ttl");
  fail = true;
  clock = 5000;
  t.equal((await read(pod))._unsafeUnwrapErr(), "boom");
  fail = false;
  t.ok((await read(pod)).isOk(), "a failed read is not kept: the next reader tries again");
  t.equal(gets, 5);
});

t.test("staticAddressOf: the annotation, or a precise refusal", async (t) => {
  const of = (view: PodView | undefined | "error") =>
    staticAddressOf(async () => (view === "error" ? err("timeout") : ok(view)));
  const view = (a: Record<string, string>): PodView => ({ annotations: a, hostNetwork: false });
  t.same((await of(view({ "coil-ts.cybozu.com/static-ip": "10.1.0.5, fd00::5" }))(pod))._unsafeUnwrap(), { ipv4: "10.1.0.5", ipv6: "fd00::5" });
  t.equal((await of(view({}))(pod))._unsafeUnwrap(), undefined, "no annotation: a dynamic address");
  t.equal((await of(undefined)(pod))._unsafeUnwrap(), undefined, "no such pod: a dynamic address (as without the feature)");
  t.equal((await of(view({ "coil-ts.cybozu.com/static-ip": "x" }))({ namespace: "", name: "" }))._unsafeUnwrap(), undefined, "no pod name sent: not read");
  t.same((await of(view({ "coil-ts.cybozu.com/static-ip": "10.1.0.5,10.1.0.6" }))(pod))._unsafeUnwrapErr(), {
    message: 'pod ns/p: annotation coil-ts.cybozu.com/static-ip: "10.1.0.5,10.1.0.6": more than one IPv4 address',
    retryable: false,
  });
  t.same((await of("error")(pod))._unsafeUnwrapErr(), { message: "failed to get pod ns/p: timeout", retryable: true });
});
