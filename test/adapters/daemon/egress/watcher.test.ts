// coild's EgressWatcher against a real kube-apiserver: the syncs of one Egress never overlap, and
// an event during a sync makes it run again afterwards with the Egress as it is then (so an older
// sync cannot finish after a newer one and leave the pods with the older spec). The pod side
// (syncEgress: pods, namespaces, the NAT client) is replaced by a gated stand-in here; the e2e
// tests (test/e2e/egress-datapath.test.ts) run it for real.
import t from "tap";
import { ok, type Result } from "neverthrow";
import { EgressWatcher, type EgressSyncError } from "../../../../adapters/daemon/egress/watcher.js";
import type { NatClientSettings } from "../../../../adapters/daemon/egress/nat-client.js";
import { makeClients, type KubeClients, type Logger } from "../../../../adapters/k8s/index.js";
import type { EgressRef } from "../../../../lib/egress/index.js";
import { startCoilControlPlaneOrSkip, waitFor } from "../../../helpers/coil-envtest.js";

const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** A sync that reads the Egress's destinations when it starts, then waits until released. */
class GatedWatcher extends EgressWatcher {
  active = 0;
  maxActive = 0;
  readonly started: string[][] = [];
  readonly finished: string[][] = [];
  #gates: Array<() => void> = [];
  readonly #read: (ref: EgressRef) => Promise<string[]>;

  constructor(clients: KubeClients, events: EgressRef[]) {
    super({
      kc: clients.kc,
      custom: clients.custom,
      core: clients.core,
      lookup: { egress: async () => ok(undefined), serviceClusterIPs: async () => ok(undefined) },
      settings: {} as NatClientSettings,
      nodeName: "n1",
      podTable: 116,
      log: quiet,
      onEvent: (ref) => events.push(ref),
    });
    this.#read = async (ref) => {
      const eg = (await clients.custom.getNamespacedCustomObject({ group: "coil.cybozu.com", version: "v2", plural: "egresses", namespace: ref.namespace, name: ref.name })) as {
        spec: { destinations: string[] };
      };
      return eg.spec.destinations;
    };
  }

  /** Let the oldest waiting sync finish. */
  release(): boolean {
    const g = this.#gates.shift();
    g?.();
    return g !== undefined;
  }

  get waiting(): number {
    return this.#gates.length;
  }

  override async syncEgress(ref: EgressRef): Promise<Result<number, EgressSyncError>> {
    this.active += 1;
    this.maxActive = Math.max(this.maxActive, this.active);
    const seen = await this.#read(ref);
    this.started.push(seen);
    await new Promise<void>((resolve) => this.#gates.push(resolve));
    this.finished.push(seen);
    this.active -= 1;
    return ok(1);
  }
}

const started = await startCoilControlPlaneOrSkip(t);
if (started !== undefined) {
  const { cp, kc } = started;
  const clients = makeClients(kc);
  t.teardown(async () => {
    clients.destroy();
    await cp.stop();
  });
  const egress = (destinations: string[]) => ({ apiVersion: "coil.cybozu.com/v2", kind: "Egress", metadata: { name: "eg", namespace: "default" }, spec: { destinations } });
  const base = { group: "coil.cybozu.com", version: "v2", plural: "egresses", namespace: "default" };
  const setDestinations = async (destinations: string[]): Promise<void> => {
    const cur = (await clients.custom.getNamespacedCustomObject({ ...base, name: "eg" })) as { spec: Record<string, unknown> };
    await clients.custom.replaceNamespacedCustomObject({ ...base, name: "eg", body: { ...cur, spec: { ...cur.spec, destinations } } });
  };

  await t.test("the syncs of one Egress never overlap; a change during a sync is synced after it", async (t) => {
    await clients.custom.createNamespacedCustomObject({ ...base, body: egress(["10.1.0.0/16"]) });
    const events: EgressRef[] = [];
    const w = new GatedWatcher(clients, events);
    t.teardown(() => w.stop());
    w.start();
    await waitFor("the first sync waits", () => w.waiting === 1);
    t.same(w.started, [["10.1.0.0/16"]]);

    await setDestinations(["10.2.0.0/16"]);
    await waitFor("the change taken in", () => events.length === 2);
    await setDestinations(["10.3.0.0/16"]);
    await waitFor("the second change taken in", () => events.length === 3);
    t.equal(w.active, 1, "no second sync while the first runs");

    t.ok(w.release(), "the first sync ends");
    await waitFor("a sync after it, with the Egress as it is now", () => w.waiting === 1);
    t.same(w.started, [["10.1.0.0/16"], ["10.3.0.0/16"]], "one more sync for both changes, reading the newest spec");
    t.ok(w.release());
    await waitFor("it ends", () => w.finished.length === 2);
    t.same(w.finished.at(-1), ["10.3.0.0/16"], "the last sync to finish has the newest spec");
    t.equal(w.maxActive, 1, "never two syncs of the Egress at once");
    t.equal(w.waiting, 0, "nothing else pending");
  });
}
