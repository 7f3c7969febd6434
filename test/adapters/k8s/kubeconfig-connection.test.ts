/**
 * loadApiConnection (adapters/k8s/kubeconfig.ts), the client-node-free loader coil-ipam-controller
 * starts with: the same lookup order, `$KUBECONFIG` merging, relative paths, in-cluster credentials
 * and start-up refusals as loadKubeConfig (test/adapters/k8s/kubeconfig.test.ts), and the headers
 * each kind of user sends: token, token file (read again after a minute), basic, impersonation, an
 * exec plugin (cached until its token expires). Requests over a real API server:
 * test/adapters/k8s/rest.test.ts.
 */
import t from "tap";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { formatKubeConfigError, loadApiConnection, type KubeConfigError } from "../../../adapters/k8s/kubeconfig.js";

const dir = mkdtempSync(join(tmpdir(), "coil-kc-conn-"));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const home = join(dir, "home");
mkdirSync(home);

function config(o: { context?: string; cluster?: string; server?: string; extraCluster?: string; user?: string; userBody?: string } = {}): string {
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
    `  user: ${o.userBody ?? "{token: abc}"}`,
    "",
  ].join("\n");
}
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}
function failure(r: ReturnType<typeof loadApiConnection>): KubeConfigError {
  if (r.isOk()) throw new Error("expected an error");
  return r.error;
}

t.test("--kubeconfig wins over $KUBECONFIG, in-cluster and ~/.kube/config", async (t) => {
  const a = file("a.yaml", config({ server: "https://a.example:6443" }));
  const b = file("b.yaml", config({ server: "https://b.example:6443" }));
  t.equal(loadApiConnection({ kubeconfig: a, env: { KUBECONFIG: b, KUBERNETES_SERVICE_HOST: "10.0.0.1", HOME: home } })._unsafeUnwrap().server, "https://a.example:6443");
  t.equal(loadApiConnection({ env: { KUBECONFIG: b, KUBERNETES_SERVICE_HOST: "10.0.0.1" } })._unsafeUnwrap().server, "https://b.example:6443");
});

t.test("$KUBECONFIG list: merged, the first current-context wins, the first entry of a name wins", async (t) => {
  const first = file("first.yaml", config({ context: "one", cluster: "c1", server: "https://one:6443" }));
  const second = file("second.yaml", config({ context: "two", cluster: "c2", server: "https://two:6443" }).replace("current-context: two", "current-context: two"));
  t.equal(loadApiConnection({ env: { KUBECONFIG: [first, second].join(delimiter) } })._unsafeUnwrap().server, "https://one:6443");
  // The second file's context is usable when the first names it as current.
  const pointing = file("pointing.yaml", "apiVersion: v1\nkind: Config\ncurrent-context: two\n");
  t.equal(loadApiConnection({ env: { KUBECONFIG: [pointing, second].join(delimiter) } })._unsafeUnwrap().server, "https://two:6443");
  const e = failure(loadApiConnection({ env: { KUBECONFIG: [first, join(dir, "gone.yaml")].join(delimiter) } }));
  t.equal(e.kind, "unreadable");
  t.match(formatKubeConfigError(e), /gone\.yaml: cannot read: no such file or directory/);
});

t.test("~/.kube/config, with certificate paths relative to the file", async (t) => {
  const h = join(dir, "home2");
  mkdirSync(join(h, ".kube"), { recursive: true });
  writeFileSync(join(h, ".kube", "ca.crt"), "CA PEM\n");
  writeFileSync(join(h, ".kube", "c.crt"), "CERT PEM\n");
  writeFileSync(join(h, ".kube", "c.key"), "KEY PEM\n");
  writeFileSync(join(h, ".kube", "config"), config({ extraCluster: "certificate-authority: ca.crt", userBody: "{client-certificate: c.crt, client-key: c.key}" }));
  const conn = loadApiConnection({ env: { HOME: h } })._unsafeUnwrap();
  const tls = await conn.tls();
  t.equal(tls.ca?.toString(), "CA PEM\n");
  t.equal(tls.cert?.toString(), "CERT PEM\n");
  t.equal(tls.key?.toString(), "KEY PEM\n");
  t.same(await conn.headers(), {}, "no Authorization with client certificates");
});

t.test("TLS settings: inline data, insecure-skip-tls-verify (YAML 1.1 `yes` too), tls-server-name", async (t) => {
  const inline = file("inline.yaml", config({ extraCluster: `certificate-authority-data: ${Buffer.from("CA").toString("base64")}`, userBody: `{client-certificate-data: ${Buffer.from("C").toString("base64")}, client-key-data: ${Buffer.from("K").toString("base64")}}` }));
  const tls = await loadApiConnection({ kubeconfig: inline, env: {} })._unsafeUnwrap().tls();
  t.same([tls.ca?.toString(), tls.cert?.toString(), tls.key?.toString(), tls.rejectUnauthorized], ["CA", "C", "K", undefined]);
  for (const v of ["true", "yes"]) {
    const p = file(`insecure-${v}.yaml`, config({ extraCluster: `insecure-skip-tls-verify: ${v}\n    tls-server-name: api.internal` }));
    const s = await loadApiConnection({ kubeconfig: p, env: {} })._unsafeUnwrap().tls();
    t.same([s.rejectUnauthorized, s.servername], [false, "api.internal"], `insecure-skip-tls-verify: ${v}`);
  }
});

t.test("headers: token, basic auth, impersonation", async (t) => {
  t.same(await loadApiConnection({ kubeconfig: file("tok.yaml", config()), env: {} })._unsafeUnwrap().headers(), { Authorization: "Bearer abc" });
  const basic = file("basic.yaml", config({ userBody: "{username: admin, password: s3cret, as: someone}" }));
  t.same(await loadApiConnection({ kubeconfig: basic, env: {} })._unsafeUnwrap().headers(), { "Impersonate-User": "someone", Authorization: `Basic ${Buffer.from("admin:s3cret").toString("base64")}` });
});

t.test("a token file is read at the first request and again once a minute has passed", async (t) => {
  const tokenPath = file("token", "first\n");
  const conn = loadApiConnection({ kubeconfig: file("tokfile.yaml", config({ userBody: `{tokenFile: ${tokenPath}}` })), env: {} })._unsafeUnwrap();
  t.same(await conn.headers(), { Authorization: "Bearer first" });
  writeFileSync(tokenPath, "second\n");
  t.same(await conn.headers(), { Authorization: "Bearer first" }, "cached within the minute");
  const realNow = Date.now;
  t.teardown(() => void (Date.now = realNow));
  Date.now = () => realNow() + 61_000;
  t.same(await conn.headers(), { Authorization: "Bearer second" }, "read again after it");
});

t.test("an exec credential plugin: argv and env as configured, its token cached until it expires", async (t) => {
  const log = join(dir, "exec.log");
  const plugin = file("plugin.sh", `#!/bin/sh\necho "$@ $PLUGIN_ENV $KUBERNETES_EXEC_INFO" >> ${log}\nprintf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"exec-%s","expirationTimestamp":"%s"}}' "$(wc -l < ${log} | tr -d ' ')" "$EXPIRES"\n`);
  chmodSync(plugin, 0o755);
  const body = (expires: string): string =>
    `\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: ./plugin.sh\n      args: [get-token, --cluster, c]\n      env: [{name: PLUGIN_ENV, value: from-config}, {name: EXPIRES, value: "${expires}"}]\n      interactiveMode: Never`;
  const later = new Date(Date.now() + 3_600_000).toISOString();
  const conn = loadApiConnection({ kubeconfig: file("exec.yaml", config({ userBody: body(later) })), env: {} })._unsafeUnwrap();
  t.same(await conn.headers(), { Authorization: "Bearer exec-1" });
  t.same(await conn.headers(), { Authorization: "Bearer exec-1" }, "not run again before the token expires");
  const logged = readFileSync(log, "utf8");
  t.match(logged, /^get-token --cluster c from-config \{"apiVersion":"client.authentication.k8s.io\/v1","kind":"ExecCredential","spec":\{"interactive":false\}\}$/m);
  const expired = loadApiConnection({ kubeconfig: file("exec2.yaml", config({ userBody: body("2000-01-01T00:00:00Z") })), env: {} })._unsafeUnwrap();
  t.same(await expired.headers(), { Authorization: "Bearer exec-2" });
  t.same(await expired.headers(), { Authorization: "Bearer exec-3" }, "an expired token: run again");
  const failing = loadApiConnection({ kubeconfig: file("exec3.yaml", config({ userBody: "\n    exec: {apiVersion: client.authentication.k8s.io/v1, command: /nonexistent/plugin}" })), env: {} })._unsafeUnwrap();
  await t.rejects(failing.headers(), /exec credential plugin \/nonexistent\/plugin/, "a plugin that cannot run fails the request, naming it");
});

t.test("in-cluster: service-account files under the prefix, https to the service address", async (t) => {
  const prefix = join(dir, "pod");
  const sa = join(prefix, "var/run/secrets/kubernetes.io/serviceaccount");
  mkdirSync(sa, { recursive: true });
  const env = { KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443" };
  const noToken = failure(loadApiConnection({ env, serviceAccountPrefix: prefix }));
  t.equal(noToken.kind, "in-cluster-unavailable");
  t.match(formatKubeConfigError(noToken), /^in-cluster configuration \(KUBERNETES_SERVICE_HOST=fd00::1\): service-account token .*\/token: no such file or directory$/);
  writeFileSync(join(sa, "token"), "tok\n");
  t.match(formatKubeConfigError(failure(loadApiConnection({ env, serviceAccountPrefix: prefix }))), /service-account CA .*ca\.crt: no such file/);
  writeFileSync(join(sa, "ca.crt"), "ca");
  for (const port of ["443", "80", "8080"]) {
    const conn = loadApiConnection({ env: { ...env, KUBERNETES_SERVICE_PORT: port }, serviceAccountPrefix: prefix })._unsafeUnwrap();
    t.equal(conn.server, `https://[fd00::1]:${port}`, `port ${port}: https`);
  }
  const conn = loadApiConnection({ env, serviceAccountPrefix: prefix })._unsafeUnwrap();
  t.same(await conn.headers(), { Authorization: "Bearer tok" });
  t.equal((await conn.tls()).ca?.toString(), "ca");
  t.match(failure(loadApiConnection({ env: { KUBERNETES_SERVICE_HOST: "10.0.0.1" }, serviceAccountPrefix: prefix })).message, /KUBERNETES_SERVICE_PORT is not set/);
});

const invalid: ReadonlyArray<readonly [name: string, text: string, want: RegExp]> = [
  ["empty file", "", /not a kubeconfig \(empty, or not a YAML mapping\)/],
  ["a YAML list", "- a\n- b\n", /not a kubeconfig/],
  ["not YAML", "clusters: [\n  - name: x\n  cluster: {server: \n", /not valid YAML: /],
  ["no current context", config().replace("current-context: ctx\n", ""), /no current context \(current-context is not set\)/],
  ["a user that is not defined", config({ user: "nobody" }), /names user "nobody", which is not defined/],
  ["a context naming an undefined cluster", config().replace("cluster: c,", "cluster: elsewhere,"), /names cluster "elsewhere", which is not defined/],
  ["current-context not among contexts", config().replace("current-context: ctx", "current-context: other"), /current context "other" is not defined/],
  ["a cluster without a server", config().replace("    server: https://127.0.0.1:6443\n", "    insecure-skip-tls-verify: true\n"), /cluster "c" has no server/],
  ["a server that is not a URL", config({ server: "not a url" }), /server "not a url" is not a URL/],
  ["a server that is not http(s)", config({ server: "ftp://x" }), /server ftp:\/\/x is not http\(s\)/],
  ["a missing certificate-authority", config({ extraCluster: "certificate-authority: /nonexistent/ca.crt" }), /certificate-authority \/nonexistent\/ca\.crt: no such file or directory/],
  ["a missing client-key", config({ userBody: "{client-certificate-data: eA==, client-key: /nonexistent/key.pem}" }), /client-key \/nonexistent\/key\.pem: no such file or directory/],
  ["a missing token-file", config({ userBody: "{token-file: /nonexistent/token}" }), /token-file \/nonexistent\/token: no such file or directory/],
  ["an auth-provider", config({ userBody: "{auth-provider: {name: oidc, config: {}}}" }), /auth-provider is not supported .*exec credential plugin/],
  ["a socks5 proxy-url", config({ extraCluster: "proxy-url: socks5://proxy:1080" }), /proxy-url socks5:\/\/ is not supported \(http:\/\/ and https:\/\/ proxies are/],
  ["a proxy-url that is not a URL", config({ extraCluster: "proxy-url: not a url" }), /proxy-url "not a url" is not a URL/],
  ["a proxy-url whose password is not percent-encoded right", config({ extraCluster: "proxy-url: http://u:%zz@proxy:3128" }), /proxy-url's user info has an invalid percent-encoding/],
  ["an exec plugin without a command", config({ userBody: "{exec: {apiVersion: client.authentication.k8s.io/v1}}" }), /exec has no command/],
];
for (const [name, text, want] of invalid) {
  t.test(`refused: ${name}`, async (t) => {
    const p = file(`bad-${name.replace(/\W+/g, "-")}.yaml`, text);
    const e = failure(loadApiConnection({ kubeconfig: p, env: {} }));
    t.match(formatKubeConfigError(e), new RegExp(`^kubeconfig ${p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\(--kubeconfig\\): `));
    t.match(e.message, want);
    t.notMatch(e.message, /\n/, "one line");
  });
}

t.test("an http(s) proxy-url is kept for every request and watch (rest.test.ts goes through one)", async (t) => {
  t.equal(loadApiConnection({ kubeconfig: file("proxy.yaml", config({ extraCluster: "proxy-url: http://u:p@proxy:3128" })), env: {} })._unsafeUnwrap().proxy, "http://u:p@proxy:3128");
  t.equal(loadApiConnection({ kubeconfig: file("noproxy.yaml", config()), env: {} })._unsafeUnwrap().proxy, undefined);
});

t.test("plain HTTP is accepted (client-go allows it; the REST client speaks it)", async (t) => {
  t.equal(loadApiConnection({ kubeconfig: file("http.yaml", config({ server: "http://127.0.0.1:8080" })), env: {} })._unsafeUnwrap().server, "http://127.0.0.1:8080");
});

t.test("nothing configured", async (t) => {
  const e = failure(loadApiConnection({ env: { HOME: home } }));
  t.equal(e.kind, "none-found");
  t.equal(formatKubeConfigError(e), `no kubeconfig: --kubeconfig is not given, $KUBECONFIG is not set, KUBERNETES_SERVICE_HOST is not set (not in a cluster) and ${home}/.kube/config does not exist`);
  t.equal(failure(loadApiConnection({ kubeconfig: "", env: {} })).message, "empty path");
  const d = join(dir, "a-directory");
  mkdirSync(d);
  t.match(failure(loadApiConnection({ kubeconfig: d, env: {} })).message, /cannot read: is a directory/);
});

t.test("connectionFromKubeConfig passes on only the proxies the REST client speaks", async (t) => {
  const { KubeConfig } = await import("@kubernetes/client-node");
  const { connectionFromKubeConfig } = await import("../../../adapters/k8s/rest.js");
  const proxyOf = (proxyUrl: string | undefined): string | undefined => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "c", server: "https://127.0.0.1:6443", skipTLSVerify: true, ...(proxyUrl === undefined ? {} : { proxyUrl }) }],
      users: [{ name: "u" }],
      contexts: [{ name: "x", cluster: "c", user: "u" }],
      currentContext: "x",
    });
    return connectionFromKubeConfig(kc).proxy;
  };
  t.equal(proxyOf("http://proxy:3128"), "http://proxy:3128", "http");
  t.equal(proxyOf("HTTPS://proxy:3129"), "HTTPS://proxy:3129", "https, any case");
  t.equal(proxyOf("socks5://proxy:1080"), undefined, "socks5: client-node's requests use it, the watches built here connect directly instead of failing forever");
  t.equal(proxyOf("http://u:%zz@proxy:3128"), undefined, "user info that does not percent-decode: not passed on (no connection fails on it later)");
  t.equal(proxyOf(undefined), undefined, "none");
});
