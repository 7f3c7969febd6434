import t from "tap";
import { KeyedMutex } from "../../../adapters/common/key-mutex.js";

t.test("same key runs serially, other keys run concurrently, idle keys are dropped", async (t) => {
  const m = new KeyedMutex();
  const events: string[] = [];
  let releaseA!: () => void;
  const gateA = new Promise<void>((r) => (releaseA = r));
  const a1 = m.run("a", async () => {
    events.push("a1 start");
    await gateA;
    events.push("a1 end");
  });
  const a2 = m.run("a", async () => {
    events.push("a2 start");
  });
  const b = m.run("b", async () => {
    events.push("b");
  });
  await b;
  t.same(events, ["a1 start", "b"], "b ran while a1 holds key a; a2 waits");
  releaseA();
  await Promise.all([a1, a2]);
  t.same(events, ["a1 start", "b", "a1 end", "a2 start"]);
  t.equal(m.size, 0);
  await t.rejects(m.run("c", async () => Promise.reject(new Error("boom"))));
  t.equal(await m.run("c", async () => 7), 7, "a failed holder releases the key");
});
