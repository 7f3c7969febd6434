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
  // masqueradeAll is a field of the iptables section (kube-proxy's KubeProxyIPTablesConfiguration): at the top
  // level kube-proxy ignores it ("unknown field", lenient decoding) and pods on the pod network cannot reach the
  // API server through the kubernetes Service (the control plane has no route back to them).
  t.same(c.iptables, { masqueradeAll: true, localhostNodePorts: false });
  t.notOk("masqueradeAll" in c, "no top-level masqueradeAll (an unknown field kube-proxy ignores)");
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
  t.match(clusterDefaults({ dir: "/x", cni: "coil", variant: "vxlan" }), { cni: "coil", variant: "vxlan" });
  t.throws(() => clusterDefaults({ variant: "vxlan" }), /needs cni coil/);
  t.throws(() => clusterDefaults({ cni: "coil", variant: "nosuch" }), /variant must name a directory of config\/variants/);
  t.throws(() => clusterDefaults({ dir: "/var/lib/coil-cluster" }), /must not be under \/var\/lib/, "a directory the nodes' /var/lib overlay would contain");
  t.throws(() => clusterDefaults({ dir: "/etc" }), /must not be under \/etc/);
  t.match(clusterDefaults({ dir: "/var/library" }), { dir: "/var/library" }, "a sibling that only shares the prefix is fine");
  t.throws(() => clusterDefaults({ cni: "coil", variant: "../default" }), /variant must name a directory of config\/variants/);
  t.equal(ptpSubnet(2), "10.244.2.0/24");
});
