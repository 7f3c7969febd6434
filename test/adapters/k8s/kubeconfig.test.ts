/**
 * loadKubeConfig in-process: controller-runtime's lookup order, the `$KUBECONFIG` list, relative
 * paths, in-cluster credentials, and the up-front checks that turn what client-node would only
 * report on every request into one start-up error value. (The built programs' behaviour on the
 * same errors is test/adapters/k8s/kubeconfig-bins.test.ts.)
 */
import t from "tap";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { formatKubeConfigError, loadKubeConfig, type KubeConfigError } from "../../../adapters/k8s/index.js";

const dir = mkdtempSync(join(tmpdir(), "coil-kc-unit-"));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const home = join(dir, "home");
mkdirSync(home);

function config(o: { context?: string; cluster?: string; server?: string; extraCluster?: string; user?: string } = {}): string {
  const cluster = o.cluster ?? "c";
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    `- name: ${cluster}`,
    "  cluster:",
    `    server: ${o.server ?? "https://127.0.0.1:6443"}`,
    ...(o.extraCluster === undefined ? [] : [`    ${o.extraCluster}`]),
    "contexts:",
    `- name: ${o.context ?? "ctx"}`,
    `  context: {cluster: ${cluster}, user: ${o.user ?? "u"}}`,
    `current-context: ${o.context ?? "ctx"}`,
    "users:",
    "- name: u",
    "  user: {token: abc}",
    "",
  ].join("\n");
}
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}
function failure(r: ReturnType<typeof loadKubeConfig>): KubeConfigError {
  if (r.isOk()) throw new Error("expected an error");
  return r.error;
}

t.test("--kubeconfig wins over $KUBECONFIG, in-cluster and ~/.kube/config", async (t) => {
  const a = file("a.yaml", config({ server: "https://a.example:6443" }));
  const b = file("b.yaml", config({ server: "https://b.example:6443" }));
  const kc = loadKubeConfig({ kubeconfig: a, env: { KUBECONFIG: b, KUBERNETES_SERVICE_HOST: "10.0.0.1", HOME: home } })._unsafeUnwrap();
  t.equal(kc.getCurrentCluster()?.server, "https://a.example:6443");
  t.equal(loadKubeConfig({ env: { KUBECONFIG: b, KUBERNETES_SERVICE_HOST: "10.0.0.1" } })._unsafeUnwrap().getCurrentCluster()?.server, "https://b.example:6443");
});

t.test("$KUBECONFIG list: merged, the first current-context wins", async (t) => {
  const first = file("first.yaml", config({ context: "one", cluster: "c1", server: "https://one:6443" }));
  const second = file("second.yaml", config({ context: "two", cluster: "c2", server: "https://two:6443" }).replace("- name: u\n", "- name: u2\n"));
  const kc = loadKubeConfig({ env: { KUBECONFIG: [first, second].join(delimiter) } })._unsafeUnwrap();
  t.equal(kc.getCurrentContext(), "one");
  t.same(kc.getContexts().map((c) => c.name).sort(), ["one", "two"]);
  const e = failure(loadKubeConfig({ env: { KUBECONFIG: [first, join(dir, "gone.yaml")].join(delimiter) } }));
  t.equal(e.kind, "unreadable");
  t.match(formatKubeConfigError(e), /gone\.yaml: cannot read: no such file or directory/);
});

t.test("~/.kube/config, with a CA path relative to the file", async (t) => {
  const h = join(dir, "home2");
  mkdirSync(join(h, ".kube"), { recursive: true });
  writeFileSync(join(h, ".kube", "ca.crt"), "not checked for content\n");
  writeFileSync(join(h, ".kube", "config"), config({ extraCluster: "certificate-authority: ca.crt" }));
  const kc = loadKubeConfig({ env: { HOME: h } })._unsafeUnwrap();
  t.equal(kc.getCurrentCluster()?.caFile, join(h, ".kube", "ca.crt"));
});

t.test("in-cluster: service-account files under the prefix, server from the environment", async (t) => {
  const prefix = join(dir, "pod");
  const sa = join(prefix, "var/run/secrets/kubernetes.io/serviceaccount");
  mkdirSync(sa, { recursive: true });
  const env = { KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443" };
  const noToken = failure(loadKubeConfig({ env, serviceAccountPrefix: prefix }));
  t.equal(noToken.kind, "in-cluster-unavailable");
  t.match(formatKubeConfigError(noToken), /^in-cluster configuration \(KUBERNETES_SERVICE_HOST=fd00::1\): service-account token .*\/token: no such file or directory$/);
  writeFileSync(join(sa, "token"), "tok");
  t.match(formatKubeConfigError(failure(loadKubeConfig({ env, serviceAccountPrefix: prefix }))), /service-account CA .*ca\.crt: no such file/);
  writeFileSync(join(sa, "ca.crt"), "ca");
  const kc = loadKubeConfig({ env, serviceAccountPrefix: prefix })._unsafeUnwrap();
  t.equal(kc.getCurrentCluster()?.server, "https://[fd00::1]:443");
  t.equal(kc.getCurrentCluster()?.caFile, join(sa, "ca.crt"));
  // client-go always uses https in cluster, whatever the port (client-node would guess http for 80/8080/8001).
  for (const port of ["80", "8080", "8001"]) {
    const k = loadKubeConfig({ env: { ...env, KUBERNETES_SERVICE_PORT: port }, serviceAccountPrefix: prefix });
    t.equal(k.isOk() ? k.value.getCurrentCluster()?.server : formatKubeConfigError(k.error), `https://[fd00::1]:${port}`, `in-cluster port ${port} is https`);
  }
  t.match(failure(loadKubeConfig({ env: { KUBERNETES_SERVICE_HOST: "10.0.0.1" }, serviceAccountPrefix: prefix })).message, /KUBERNETES_SERVICE_PORT is not set/);
});

const invalid: ReadonlyArray<readonly [name: string, text: string, want: RegExp]> = [
  ["empty file", "", /not a kubeconfig \(empty, or not a YAML mapping\)/],
  ["a YAML list", "- a\n- b\n", /current context/],
  ["a user that is not defined", config({ user: "nobody" }), /names user "nobody", which is not defined/],
  ["a context naming an undefined cluster", config().replace("cluster: c,", "cluster: elsewhere,"), /names cluster "elsewhere", which is not defined/],
  ["current-context not among contexts", config().replace("current-context: ctx", "current-context: other"), /current context "other" is not defined/],
  ["a server that is not a URL", config({ server: "not a url" }), /server "not a url" is not a URL/],
  ["plain HTTP without insecure-skip-tls-verify", config({ server: "http://127.0.0.1:8080" }), /plain-HTTP server .* needs insecure-skip-tls-verify: true/],
  ["a missing client-key", config().replace("user: {token: abc}", "user: {client-certificate-data: eA==, client-key: /nonexistent/key.pem}"), /client-key \/nonexistent\/key\.pem: no such file or directory/],
  ["a missing token-file", config().replace("user: {token: abc}", "user: {token-file: /nonexistent/token}"), /token-file \/nonexistent\/token: no such file or directory/],
];
for (const [name, text, want] of invalid) {
  t.test(`refused: ${name}`, async (t) => {
    const p = file(`${name.replace(/\W+/g, "-")}.yaml`, text);
    const e = failure(loadKubeConfig({ kubeconfig: p, env: {} }));
    t.match(formatKubeConfigError(e), new RegExp(`^kubeconfig ${p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\(--kubeconfig\\): `));
    t.match(e.message, want);
    t.notMatch(e.message, /\n/, "one line");
  });
}

t.test("plain HTTP with insecure-skip-tls-verify is accepted (what a recording proxy uses)", async (t) => {
  const p = file("http.yaml", config({ server: "http://127.0.0.1:8080", extraCluster: "insecure-skip-tls-verify: true" }));
  t.ok(loadKubeConfig({ kubeconfig: p, env: {} }).isOk());
});

t.test("nothing configured", async (t) => {
  const e = failure(loadKubeConfig({ env: { HOME: home } }));
  t.equal(e.kind, "none-found");
  t.equal(formatKubeConfigError(e), `no kubeconfig: --kubeconfig is not given, $KUBECONFIG is not set, KUBERNETES_SERVICE_HOST is not set (not in a cluster) and ${home}/.kube/config does not exist`);
  t.equal(failure(loadKubeConfig({ kubeconfig: "", env: {} })).message, "empty path");
});
