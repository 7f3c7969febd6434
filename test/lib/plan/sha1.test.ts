import t from "tap";
import fc from "fast-check";
import { createHash } from "node:crypto";
import { sha1Hex, utf8Bytes } from "../../../lib/plan/index.js";

t.test("FIPS 180 test vectors", async (t) => {
  const cases = [
    { in: "abc", want: "a9993e364706816aba3e25717850c26c9cd0d89d" },
    { in: "", want: "da39a3ee5e6b4b0d3255bfef95601890afd80709" },
    { in: "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", want: "84983e441c3bd26ebaae4aa1f95129e5e54670f1" },
    { in: "a".repeat(1_000_000), want: "34aa973cd4c4daa4f61eeb2bdbad27316534016f" },
  ];
  for (const c of cases) t.equal(sha1Hex(c.in), c.want, `sha1(${JSON.stringify(c.in.slice(0, 20))}…)`);
});

t.test("agrees with node:crypto on random bytes and strings (block boundaries included)", async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (b) => sha1Hex(b) === createHash("sha1").update(b).digest("hex")),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.string({ unit: "grapheme", maxLength: 60 }), (s) => {
      return Buffer.from(utf8Bytes(s)).equals(Buffer.from(s, "utf8")) && sha1Hex(s) === createHash("sha1").update(s, "utf8").digest("hex");
    }),
    { numRuns: 300 },
  );
  for (const n of [55, 56, 63, 64, 65, 119, 120]) {
    const b = new Uint8Array(n).fill(0x61);
    t.equal(sha1Hex(b), createHash("sha1").update(b).digest("hex"), `length ${n}`);
  }
});
