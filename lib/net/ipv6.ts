/**
 * IPv6 text ⇄ eight 16-bit groups, written by hand.
 *
 * Why not ipaddr.js (which this module replaced): the `coil` CNI executable is started once per pod
 * operation, and evaluating ipaddr.js's top level (it builds a dozen regular expressions and a CJS
 * wrapper when loaded) was the largest single item of the executable's start-up profile after
 * `node:fs` (bench/cni-startup.md, issue 12). Parsing and RFC 5952 formatting are a few dozen lines;
 * the differential property test in test/lib/net/ipv6.test.ts keeps them equal to ipaddr.js, which
 * stays a development dependency for that test.
 *
 * Stricter than ipaddr.js in two places, as Go's `net.ParseIP` is: an embedded IPv4 tail must be a
 * strict dotted quad (no `010`, no `0x0a`), and `::a.b.c.d` is the IPv4-compatible address
 * `::a.b.c.d` (groups `…:0:ab:cd`), where ipaddr.js reads it as the IPv4-mapped `::ffff:a.b.c.d`.
 */

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
const V4_TAIL = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** Append the groups of `parts` to `out`; the last part of the address may be an IPv4 tail. False when a part is malformed. */
function pushGroups(parts: readonly string[], endsAddress: boolean, out: number[]): boolean {
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i] ?? "";
    if (HEX_GROUP.test(p)) {
      out.push(parseInt(p, 16));
      continue;
    }
    const v4 = endsAddress && i === parts.length - 1 ? V4_TAIL.exec(p) : null;
    if (v4 === null) return false;
    const o = v4.slice(1, 5).map(Number) as [number, number, number, number];
    out.push((o[0] << 8) | o[1], (o[2] << 8) | o[3]);
  }
  return true;
}

/**
 * Parse IPv6 text (RFC 4291 §2.2: 1–4 hex digits per group, at most one `::` standing for at least
 * one zero group, an optional dotted-quad tail) into its eight groups; `undefined` when invalid.
 * Zone suffixes (`%eth0`) are invalid.
 */
export function parseIpv6Groups(text: string): number[] | undefined {
  const gap = text.indexOf("::");
  const groups: number[] = [];
  if (gap < 0) {
    if (!pushGroups(text.split(":"), true, groups) || groups.length !== 8) return undefined;
    return groups;
  }
  if (text.indexOf("::", gap + 1) >= 0) return undefined;
  const head = text.slice(0, gap);
  const tail = text.slice(gap + 2);
  const after: number[] = [];
  if (head !== "" && !pushGroups(head.split(":"), false, groups)) return undefined;
  if (tail !== "" && !pushGroups(tail.split(":"), true, after)) return undefined;
  if (groups.length + after.length > 7) return undefined;
  while (groups.length + after.length < 8) groups.push(0);
  return groups.concat(after);
}

/**
 * RFC 5952 text of eight 16-bit groups: lower-case hex without leading zeros, the first longest run
 * of two or more zero groups written `::` (a single zero group is not compressed), no IPv4 tail —
 * exactly what ipaddr.js's `toRFC5952String` writes.
 */
export function formatIpv6Groups(g: ArrayLike<number>): string {
  let bestAt = -1;
  let bestLen = 1;
  let runAt = -1;
  for (let i = 0; i < 8; i++) {
    if (g[i] === 0) {
      if (runAt < 0) runAt = i;
      if (i - runAt + 1 > bestLen) {
        bestAt = runAt;
        bestLen = i - runAt + 1;
      }
    } else {
      runAt = -1;
    }
  }
  let s = "";
  for (let i = 0; i < 8; i++) {
    if (i === bestAt) {
      s += i === 0 ? "::" : ":";
      i += bestLen - 1;
      continue;
    }
    s += (g[i] ?? 0).toString(16);
    if (i < 7) s += ":";
  }
  return s;
}
