import t from "tap";
import { explain, explainOp, nftCommandText, shellQuote } from "../../../lib/changeset/index.js";
import { everyOpChangeset, someNft } from "./fixtures.js";

t.test("golden explain of every op kind and some nft", async (t) => {
  const text = explain(everyOpChangeset());
  t.matchSnapshot(text, "explain");
  t.equal(explain(everyOpChangeset()), text, "deterministic");
  t.match(text, /^# netns host\n/);
  t.match(text, /\n# netns \/var\/run\/netns\/pod1\n/);
  t.match(text, /\nip -6 rule add lookup 116 priority 2000\n/);
  t.match(text, /\nsysctl -w net\.ipv4\.ip_forward=1 {2}# previous: 0\n/);
  t.match(text, /netns \/proc\/1\/ns\/net\n/, "peer to host from pod uses the host path");
});

t.test("nft text", async (t) => {
  const lines = someNft().map(nftCommandText);
  t.equal(lines[0], "add table ip nat");
  t.equal(lines[1], "add chain ip nat POSTROUTING { type nat hook postrouting priority 100; policy accept; }");
  t.equal(lines[2], 'add rule ip nat POSTROUTING ip saddr != 10.0.0.1 oifname "eth0" counter masquerade');
  t.equal(lines[4], 'add rule ip mangle input iifname @eth0 ct state new,established,related counter ct mark set 2 comment "coil-input-eth0"');
  t.equal(lines[5], "delete table ip6 mangle");
});

t.test("edge cases", async (t) => {
  t.equal(explain({ steps: [] }), "# nothing to do\n");
  t.match(explainOp({ kind: "link.del", name: "eth0;rm" }), /^# invalid link\.del: .*invalid-name/);
  t.equal(shellQuote("it's"), `'it'\\''s'`);
});
