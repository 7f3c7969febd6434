// coild's in-memory host veth index: alias lookup, refresh, and refreshes racing with ADD/DEL.
import t from "tap";
import { err, ok, type Result } from "neverthrow";
import { EMPTY_NETNS_STATE, type KernelObserveError, type LinkState, type NetnsState } from "../../../../lib/changeset/index.js";
import { coilAliasKey, HostLinkIndex } from "../../../../adapters/daemon/node/host-links.js";

const veth = (name: string, alias?: string): LinkState => ({ name, kind: "veth", up: true, mtu: 1500, ...(alias !== undefined ? { alias } : {}) });
const state = (links: LinkState[]): NetnsState => ({ ...EMPTY_NETNS_STATE, links });

t.test("coilAliasKey", async (t) => {
  const cases: [string | undefined, string | undefined][] = [
    ["COIL:default:c1:eth0", "c1:eth0"],
    ["COIL:p:abc:net1", "abc:net1"],
    [undefined, undefined],
    ["something else", undefined],
  ];
  for (const [alias, key] of cases) t.equal(coilAliasKey(alias), key, String(alias));
});

t.test("starts dirty; a refresh keeps Coil links only; set/delete/byAlias", async (t) => {
  const x = new HostLinkIndex();
  t.ok(x.dirty);
  let observed = 0;
  const observe = async (): Promise<Result<NetnsState, KernelObserveError>> => {
    observed += 1;
    return ok(state([veth("lo"), veth("veth1", "COIL:default:c1:eth0"), veth("eth9", "not coil")]));
  };
  (await x.ensureFresh(observe))._unsafeUnwrap();
  (await x.ensureFresh(observe))._unsafeUnwrap();
  t.equal(observed, 1, "observed once, then clean");
  t.same(x.list().map((l) => l.name), ["veth1"]);
  t.same(x.byAlias("c1", "eth0").map((l) => l.name), ["veth1"]);
  t.same(x.byAlias("c1", "eth1"), []);
  x.set(veth("veth2", "COIL:default:c2:eth0"));
  x.set(veth("veth3", "plain"));
  t.ok(x.has("veth2"));
  t.notOk(x.has("veth3"), "non-Coil links are not indexed");
  x.delete("veth1");
  t.same(x.list().map((l) => l.name), ["veth2"]);
  x.markDirty();
  (await x.ensureFresh(observe))._unsafeUnwrap();
  t.equal(observed, 2, "dirty → observed again");
  t.same(x.list().map((l) => l.name), ["veth1"], "the observation wins for links untouched since it started");
});

t.test("a failed observation leaves the index dirty", async (t) => {
  const x = new HostLinkIndex();
  t.ok((await x.ensureFresh(async () => err({ kind: "invalid-sysctl-key", key: "boom" }))).isErr());
  t.ok(x.dirty);
});

t.test("changes made while a refresh is in flight survive it; concurrent callers share one observation", async (t) => {
  const x = new HostLinkIndex();
  x.load(x.generation, [veth("vold", "COIL:default:old:eth0"), veth("vdel", "COIL:default:gone:eth0")]);
  x.markDirty();
  let release: (s: NetnsState) => void = () => undefined;
  let calls = 0;
  const observe = (): Promise<Result<NetnsState, KernelObserveError>> => {
    calls += 1;
    return new Promise((r) => (release = (s) => r(ok(s))));
  };
  const a = x.ensureFresh(observe);
  const b = x.ensureFresh(observe);
  // While observing: an ADD creates vnew, a DEL removes vdel (the observation is older than both).
  x.set(veth("vnew", "COIL:default:new:eth0"));
  x.delete("vdel");
  release(state([veth("vold", "COIL:default:old:eth0"), veth("vdel", "COIL:default:gone:eth0")]));
  (await a)._unsafeUnwrap();
  (await b)._unsafeUnwrap();
  t.equal(calls, 1);
  t.same(x.list().map((l) => l.name).sort(), ["vnew", "vold"], "vnew kept, vdel not resurrected");
  t.notOk(x.dirty);
});
