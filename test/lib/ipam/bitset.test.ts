import t from "tap";
import fc from "fast-check";
import { Bitset } from "../../../lib/ipam/bitset.js";

t.test("bitset basics", async (t) => {
  const b = new Bitset(70);
  t.equal(b.nextClear(0), 0);
  for (let i = 0; i < 70; i++) b.set(i);
  t.equal(b.count, 70);
  t.equal(b.nextClear(0), -1, "full");
  b.clear(33);
  b.clear(33);
  t.equal(b.count, 69);
  t.equal(b.nextClear(0), 33);
  t.equal(b.nextClear(34), -1);
  t.notOk(b.set(70), "out of range");
  t.notOk(b.set(-1));
  t.notOk(b.has(70));
  b.reset();
  t.equal(b.count, 0);
  b.fill();
  t.equal(b.count, 70);
  t.equal(b.nextClear(0), -1);
  t.same([...b.ones()].length, 70);
});

t.test("bitset sparse high bits", async (t) => {
  const b = new Bitset(2 ** 31);
  t.ok(b.set(2 ** 31 - 1));
  t.ok(b.has(2 ** 31 - 1));
  t.equal(b.nextClear(2 ** 31 - 1), -1);
  t.equal(b.nextClear(2 ** 31 - 40), 2 ** 31 - 40);
  t.same([...b.ones()], [2 ** 31 - 1]);
});

t.test("bitset agrees with a Set model", async (t) => {
  const op = fc.tuple(fc.constantFrom("set", "clear", "next"), fc.nat(200));
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 200 }), fc.array(op, { maxLength: 300 }), (limit, ops) => {
      const b = new Bitset(limit);
      const model = new Set<number>();
      for (const [kind, raw] of ops) {
        const i = raw % (limit + 5);
        if (kind === "set") {
          if (b.set(i) !== i < limit) return false;
          if (i < limit) model.add(i);
        } else if (kind === "clear") {
          b.clear(i);
          model.delete(i);
        } else {
          let want = -1;
          for (let j = i; j < limit; j++) if (!model.has(j)) { want = j; break; }
          if (b.nextClear(i) !== want) return false;
        }
        if (b.count !== model.size) return false;
      }
      return JSON.stringify([...b.ones()]) === JSON.stringify([...model].sort((x, y) => x - y));
    }),
  );
  t.pass("model agreement");
});
