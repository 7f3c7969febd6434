// The coil-installer entry point as a process (the built bundle, test/helpers/bundles.ts): a full
// install (with Coil's 6 s settle wait) and a refused configuration (exit 1, message on stderr,
// nothing written).
import t from "tap";
import { execFile } from "node:child_process";
import { chmod, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { programArgs } from "../../helpers/bundles.js";
import { sourceChildEnv } from "../../helpers/child-env.js";

const exec = promisify(execFile);
const NETCONF = JSON.stringify({ cniVersion: "0.4.0", name: "k8s-pod-network", plugins: [{ type: "coil" }] });

async function dirs(t: { teardown(f: () => unknown): void }): Promise<Record<string, string>> {
  const root = await mkdtemp(join(tmpdir(), "coil-installer-main-"));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const coil = join(root, "coil");
  await writeFile(coil, "binary");
  await chmod(coil, 0o755);
  return { root, CNI_ETC_DIR: join(root, "etc"), CNI_BIN_DIR: join(root, "bin"), COIL_PATH: coil };
}

t.test("installs, waits about 6 s, exits 0", async (t) => {
  const d = await dirs(t);
  const started = Date.now();
  const r = await exec(process.execPath, programArgs("coil-installer"), { env: sourceChildEnv({ ...d, CNI_NETCONF: NETCONF }) });
  const took = Date.now() - started;
  t.match(r.stderr, /installed .*bin\/coil/);
  t.ok(took >= 6000, `took ${took} ms (settle wait 6000 ms)`);
  t.same(await readdir(d["CNI_ETC_DIR"] ?? ""), ["10-coil.conflist"]);
  t.same(await readdir(d["CNI_BIN_DIR"] ?? ""), ["coil"]);
});

t.test("invalid CNI_NETCONF: exit 1 with a clear message, nothing written", async (t) => {
  const d = await dirs(t);
  const bad = JSON.stringify({ cniVersion: "0.4.0", name: "n", plugins: [{ type: "bridge" }] });
  const r = await exec(process.execPath, programArgs("coil-installer"), { env: sourceChildEnv({ ...d, CNI_NETCONF: bad }) }).then(
    () => ({ code: 0, stderr: "" }),
    (e: { code: number; stderr: string }) => e,
  );
  t.equal(r.code, 1);
  t.match(r.stderr, /coil-installer: invalid CNI network configuration: the first plugin must be coil, got "bridge"/);
  t.same((await readdir(d["root"] ?? "")).sort(), ["coil"]);
});
