// The local cluster's generated configurations keep the host untouched: kube-proxy writes no global
// conntrack setting, kubelet only checks the kernel settings (shadowed per node) and uses its own cgroup
// root, volume plugin and pod log directories. Pure: no cluster is started here.
import t from "tap";
import { parse } from "yaml";
import { clusterDefaults, kubeProxyConfig, kubeletConfig, nodeIp, ptpSubnet } from "./harness.js";

const s = { dir: "/tmp/cc-test", prefix: "cctest" };

t.test("kube-proxy: every conntrack setting is zero (nothing written to the host's global sysctls)", async (t) => {
  const c = parse(kubeProxyConfig(s, 2)) as Record<string, unknown>;
  t.same(c.conntrack, { maxPerCore: 0, min: 0, tcpEstablishedTimeout: "0s", tcpCloseWaitTimeout: "0s", udpTimeout: "0s", udpStreamTimeout: "0s" });
  t.equal(c.hostnameOverride, "cctest-n2");
  t.same(c.iptables, { localhostNodePorts: false });
});

t.test("kubelet: protectKernelDefaults, per-node cgroup root and directories", async (t) => {
  const c = parse(kubeletConfig(s, 3)) as Record<string, unknown>;
  t.equal(c.protectKernelDefaults, true);
  t.equal(c.cgroupRoot, "/cctest-n3");
  t.equal(c.makeIPTablesUtilChains, false);
  t.equal(c.podLogsDir, "/tmp/cc-test/n3/pod-logs");
  t.equal(c.volumePluginDir, "/tmp/cc-test/n3/volume-plugins");
  t.equal(c.address, nodeIp(3));
  t.equal(c.containerRuntimeEndpoint, "unix:///tmp/cc-test/n3/containerd.sock");
});

t.test("defaults and bad input", async (t) => {
  t.match(clusterDefaults({ dir: "/x" }), { dir: "/x", prefix: "coilcl", nodes: 3, cni: "ptp" });
  t.throws(() => clusterDefaults({ nodes: 0 }), /nodes must be 1\.\.9/);
  t.throws(() => clusterDefaults({ nodes: 10 }), /nodes must be 1\.\.9/);
  t.throws(() => clusterDefaults({ prefix: "Bad-Prefix" }), /prefix/);
  t.equal(ptpSubnet(2), "10.244.2.0/24");
});
