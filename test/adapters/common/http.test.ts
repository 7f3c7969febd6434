import t from "tap";
import { Registry } from "prom-client";
import { serveHealth, serveMetrics } from "../../../adapters/common/http.js";

t.test("a port in use is an error value naming the endpoint and the address, not a throw", async (t) => {
  const first = (await serveMetrics({ host: "127.0.0.1", port: 0 }, new Registry()))._unsafeUnwrap();
  t.teardown(() => first.close());
  const second = await serveHealth({ host: "127.0.0.1", port: first.port }, []);
  t.ok(second.isErr(), "the second listener fails");
  t.match(second._unsafeUnwrapErr(), {
    kind: "listen-failed",
    endpoint: "health",
    addr: { host: "127.0.0.1", port: first.port },
    code: "EADDRINUSE",
    message: new RegExp(`^cannot serve health on 127\\.0\\.0\\.1:${first.port}: `),
  });
});

t.test("/metrics, /healthz and /readyz", async (t) => {
  const registry = new Registry();
  const m = (await serveMetrics({ host: "127.0.0.1", port: 0 }, registry))._unsafeUnwrap();
  let ready = true;
  const h = (
    await serveHealth({ host: "127.0.0.1", port: 0 }, [
      { name: "ping", check: () => true },
      { name: "flaky", check: async () => (ready ? true : Promise.reject(new Error("down"))) },
    ])
  )._unsafeUnwrap();
  t.teardown(async () => {
    await m.close();
    await h.close();
  });
  const get = async (port: number, path: string): Promise<[number, string]> => {
    const r = await fetch(`http://127.0.0.1:${port}${path}`);
    return [r.status, await r.text()];
  };
  t.equal((await get(m.port, "/metrics"))[0], 200);
  t.equal((await get(m.port, "/nope"))[0], 404);
  t.same(await get(h.port, "/healthz"), [200, "ok"]);
  t.same(await get(h.port, "/readyz"), [200, "ok"]);
  ready = false;
  t.same(await get(h.port, "/readyz"), [500, "failed: flaky\n"], "a check that throws fails readiness");
});
