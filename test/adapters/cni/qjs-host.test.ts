/**
 * The QuickJS host's own tests: `go test ./...` in adapters/cni/quickjs/host must pass. They drive
 * the host's hand-written HTTP/2 client (h2.go, behind `__coil_h2`) against real servers: grpc-go,
 * x/net/http2's server and a frame-level script server (test-only Go dependencies, never linked
 * into coil-qjs; one of the tests checks that with `go list -deps`). The go test output is printed
 * when it fails.
 *
 * With a cold Go cache the first run compiles grpc-go (minutes on a 2-core machine), hence the
 * long timeout.
 */
import t from "tap";
import { execFileSync } from "node:child_process";
import { delimiter, join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../../..");
const HOST = join(ROOT, "adapters/cni/quickjs/host");
const GO_BIN = "/usr/local/go/bin";

t.setTimeout(15 * 60_000);

t.test("go test ./... passes in adapters/cni/quickjs/host", async (t) => {
  const env = { ...process.env, PATH: `${process.env.PATH ?? ""}${delimiter}${GO_BIN}`, CGO_ENABLED: "0" };
  const t0 = performance.now();
  let out: string;
  try {
    out = execFileSync("go", ["test", "-count=1", "-v", "./..."], { cwd: HOST, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20 });
  } catch (e) {
    const err = e as { status?: number | null; stdout?: string; stderr?: string; message?: string };
    t.comment(`${err.stdout ?? ""}${err.stderr ?? ""}`);
    t.fail(`go test ./... failed (exit ${String(err.status ?? err.message)}); its output is in the comment above`);
    return;
  }
  const passed = out.split("\n").filter((l) => /^\s*--- PASS: /.test(l)).length;
  const failed = out.split("\n").filter((l) => /^\s*--- FAIL: /.test(l));
  t.comment(`go test: ${passed} tests and subtests passed in ${Math.round(performance.now() - t0)} ms`);
  t.same(failed, [], "no failed Go test");
  t.ok(passed > 0, "go test ran tests");
});
