// coil-installer against temp directories: fresh install, atomic re-install, what is removed and
// what survives, and failures that must leave the configuration directory untouched.
import t, { type Test } from "tap";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runInstaller, describeInstallerError, type InstallerDeps } from "../../../adapters/installer/run.js";

const COIL_NETCONF = JSON.stringify({
  cniVersion: "0.4.0",
  name: "k8s-pod-network",
  plugins: [{ type: "coil", socket: "/run/coild.sock" }, { type: "portmap", capabilities: { portMappings: true } }],
});

interface Sandbox {
  readonly root: string;
  readonly etc: string;
  readonly bin: string;
  readonly coil: string;
  env(extra?: Record<string, string | undefined>): InstallerDeps["env"];
}

async function sandbox(t: Test): Promise<Sandbox> {
  const root = await mkdtemp(join(tmpdir(), "coil-installer-"));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const etc = join(root, "host/etc/cni/net.d");
  const bin = join(root, "host/opt/cni/bin");
  const coil = join(root, "image/coil");
  await mkdir(join(root, "image"));
  await writeFile(coil, "#!/bin/sh\necho coil v1\n");
  await chmod(coil, 0o700);
  const env = (extra: Record<string, string | undefined> = {}) => ({
    CNI_ETC_DIR: etc,
    CNI_BIN_DIR: bin,
    COIL_PATH: coil,
    CNI_NETCONF: COIL_NETCONF,
    ...extra,
  });
  return { root, etc, bin, coil, env };
}

const mode = async (p: string): Promise<number> => (await stat(p)).mode & 0o777;
const run = (env: InstallerDeps["env"], extra: Partial<InstallerDeps> = {}) => runInstaller({ env, settleMs: 0, ...extra });

t.test("fresh install creates both directories, binary 0755 and conflist 0644", async (t) => {
  const s = await sandbox(t);
  const r = await run(s.env());
  t.ok(r.isOk(), r.isErr() ? describeInstallerError(r.error) : "ok");
  t.same(r._unsafeUnwrap(), { binaryPath: join(s.bin, "coil"), conflistPath: join(s.etc, "10-coil.conflist"), removed: [] });
  t.equal(await readFile(join(s.etc, "10-coil.conflist"), "utf8"), COIL_NETCONF);
  t.equal(await readFile(join(s.bin, "coil"), "utf8"), "#!/bin/sh\necho coil v1\n");
  t.equal(await mode(join(s.bin, "coil")), 0o755);
  t.equal(await mode(join(s.etc, "10-coil.conflist")), 0o644);
  t.equal(await mode(s.etc), 0o755);
  t.equal(await mode(s.bin), 0o755);
  t.same(await readdir(s.etc), ["10-coil.conflist"], "no temp files left");
  t.same(await readdir(s.bin), ["coil"], "no temp files left");
});

t.test("re-install replaces the binary and conflist by rename (new inodes), no temp files", async (t) => {
  const s = await sandbox(t);
  (await run(s.env()))._unsafeUnwrap();
  const before = { bin: (await stat(join(s.bin, "coil"))).ino, conf: (await stat(join(s.etc, "10-coil.conflist"))).ino };
  await writeFile(s.coil, "#!/bin/sh\necho coil v2\n");
  const v1 = COIL_NETCONF.replace('"0.4.0"', '"1.1.0"');
  (await run(s.env({ CNI_NETCONF: v1 })))._unsafeUnwrap();
  t.equal(await readFile(join(s.bin, "coil"), "utf8"), "#!/bin/sh\necho coil v2\n");
  t.equal(await readFile(join(s.etc, "10-coil.conflist"), "utf8"), v1);
  t.not((await stat(join(s.bin, "coil"))).ino, before.bin, "binary replaced by a new file, not rewritten in place");
  t.not((await stat(join(s.etc, "10-coil.conflist"))).ino, before.conf, "conflist replaced by a new file");
  t.same(await readdir(s.etc), ["10-coil.conflist"]);
  t.same(await readdir(s.bin), ["coil"]);
});

t.test("unrelated configurations survive; older Coil conflists are removed", async (t) => {
  const s = await sandbox(t);
  await mkdir(join(s.etc, "sub.conflist.d"), { recursive: true });
  const other = JSON.stringify({ cniVersion: "1.0.0", name: "other", plugins: [{ type: "bridge" }] });
  const files: Record<string, string> = {
    "05-other.conflist": other,
    "99-foo.conf": JSON.stringify({ cniVersion: "1.0.0", name: "foo", type: "coil" }),
    "00-coil.conflist": COIL_NETCONF,
    "20-chained.conflist": JSON.stringify({ cniVersion: "0.3.1", name: "x", plugins: [{ type: "ptp" }, { type: "coil" }] }),
    "30-broken.conflist": "{not json",
    "README": "coil",
  };
  for (const [n, c] of Object.entries(files)) await writeFile(join(s.etc, n), c);
  const r = (await run(s.env()))._unsafeUnwrap();
  t.same([...r.removed].sort(), [join(s.etc, "00-coil.conflist"), join(s.etc, "20-chained.conflist")]);
  t.same((await readdir(s.etc)).sort(), ["05-other.conflist", "10-coil.conflist", "30-broken.conflist", "99-foo.conf", "README", "sub.conflist.d"]);
  t.equal(await readFile(join(s.etc, "05-other.conflist"), "utf8"), other, "unrelated conflist untouched");
});

t.test("CNI_CONF_NAME chooses the file name; CNI_NETCONF_FILE is read when CNI_NETCONF is empty", async (t) => {
  const s = await sandbox(t);
  const file = join(s.root, "netconf.json");
  await writeFile(file, COIL_NETCONF);
  const r = (await run(s.env({ CNI_NETCONF: "", CNI_NETCONF_FILE: file, CNI_CONF_NAME: "50-mine.conflist" })))._unsafeUnwrap();
  t.equal(r.conflistPath, join(s.etc, "50-mine.conflist"));
  t.equal(await readFile(r.conflistPath, "utf8"), COIL_NETCONF);
});

t.test("the settle wait is taken with the configured duration", async (t) => {
  const s = await sandbox(t);
  const waits: number[] = [];
  (await runInstaller({ env: s.env(), settleMs: 6000, sleep: async (ms) => void waits.push(ms) }))._unsafeUnwrap();
  t.same(waits, [6000]);
});

const invalidCases: ReadonlyArray<{ name: string; env: Record<string, string | undefined>; kind: string; text: RegExp }> = [
  { name: "not JSON", env: { CNI_NETCONF: "{" }, kind: "invalid-netconf", text: /invalid CNI network configuration: not JSON/ },
  { name: "coil not first", env: { CNI_NETCONF: JSON.stringify({ cniVersion: "0.4.0", name: "n", plugins: [{ type: "portmap" }, { type: "coil" }] }) }, kind: "invalid-netconf", text: /first plugin must be coil, got "portmap"/ },
  { name: "no plugins", env: { CNI_NETCONF: JSON.stringify({ cniVersion: "0.4.0", name: "n", type: "coil" }) }, kind: "invalid-netconf", text: /plugins must be a non-empty array/ },
  { name: "unsupported version", env: { CNI_NETCONF: JSON.stringify({ cniVersion: "0.2.0", name: "n", plugins: [{ type: "coil" }] }) }, kind: "invalid-netconf", text: /cniVersion "0.2.0" is not one of 0.3.1, 0.4.0, 1.0.0, 1.1.0/ },
  { name: "plugin without type", env: { CNI_NETCONF: JSON.stringify({ cniVersion: "0.4.0", name: "n", plugins: [{ type: "coil" }, {}] }) }, kind: "invalid-netconf", text: /plugins\[1\] must be an object/ },
  { name: "nothing given", env: { CNI_NETCONF: undefined }, kind: "netconf-missing", text: /neither CNI_NETCONF nor CNI_NETCONF_FILE/ },
  { name: "unreadable file", env: { CNI_NETCONF: "", CNI_NETCONF_FILE: "/nonexistent/netconf.json" }, kind: "netconf-unreadable", text: /cannot read CNI_NETCONF_FILE \/nonexistent/ },
  { name: "conf name is a path", env: { CNI_CONF_NAME: "../10-coil.conflist" }, kind: "invalid-conf-name", text: /must be a file name/ },
  { name: "conf name not .conflist", env: { CNI_CONF_NAME: "10-coil.conf" }, kind: "invalid-conf-name", text: /must end in .conflist/ },
  { name: "COIL_CHAINED not a boolean", env: { COIL_CHAINED: "yes" }, kind: "invalid-chained", text: /COIL_CHAINED "yes" must be true or false/ },
  { name: "chained, coil first", env: { COIL_CHAINED: "true" }, kind: "invalid-netconf", text: /COIL_CHAINED=true: coil must come after the first plugin/ },
  { name: "chained, no coil", env: { COIL_CHAINED: "true", CNI_NETCONF: JSON.stringify({ cniVersion: "0.4.0", name: "n", plugins: [{ type: "ptp" }, { type: "portmap" }] }) }, kind: "invalid-netconf", text: /coil must come after the first plugin \(the one that makes the pod network\), got \["ptp","portmap"\]/ },
];

t.test("COIL_CHAINED=true (egress-only mode): a conflist with coil after the first plugin is installed", async (t) => {
  const s = await sandbox(t);
  const chained = JSON.stringify({ cniVersion: "1.0.0", name: "k8s-pod-network", plugins: [{ type: "ptp", ipam: { type: "host-local", ranges: [[{ subnet: "10.244.0.0/24" }]] } }, { type: "coil" }, { type: "portmap", capabilities: { portMappings: true } }] });
  const r = (await run(s.env({ COIL_CHAINED: "true", CNI_NETCONF: chained })))._unsafeUnwrap();
  t.equal(await readFile(r.conflistPath, "utf8"), chained);
});

for (const c of invalidCases) {
  t.test(`refused before writing anything: ${c.name}`, async (t) => {
    const s = await sandbox(t);
    const r = await run(s.env(c.env));
    t.ok(r.isErr(), "fails");
    if (r.isErr()) {
      t.equal(r.error.kind, c.kind);
      t.match(describeInstallerError(r.error), c.text);
    }
    await t.rejects(stat(s.etc), { code: "ENOENT" }, "conf dir not created");
    await t.rejects(stat(s.bin), { code: "ENOENT" }, "bin dir not created");
  });
}

t.test("missing COIL_PATH: error, existing conf dir unchanged", async (t) => {
  const s = await sandbox(t);
  await mkdir(s.etc, { recursive: true });
  await writeFile(join(s.etc, "00-coil.conflist"), COIL_NETCONF);
  const r = await run(s.env({ COIL_PATH: join(s.root, "image/missing") }));
  t.ok(r.isErr());
  if (r.isErr()) {
    t.equal(r.error.kind, "coil-binary-unreadable");
    t.match(describeInstallerError(r.error), /cannot read COIL_PATH .*image\/missing: .*ENOENT/);
  }
  t.same(await readdir(s.etc), ["00-coil.conflist"], "old conflist kept, no new one");
  await t.rejects(stat(s.bin), { code: "ENOENT" });
});

t.test("a binary that cannot be installed leaves the conf dir unchanged (binary goes first)", async (t) => {
  const s = await sandbox(t);
  await mkdir(s.etc, { recursive: true });
  await mkdir(join(s.root, "host/opt/cni"), { recursive: true });
  await writeFile(s.bin, "a file where the bin directory should be");
  const r = await run(s.env());
  t.ok(r.isErr());
  if (r.isErr()) t.match(r.error, { kind: "install-failed", step: "binary" });
  t.same(await readdir(s.etc), [], "no conflist written");
});
