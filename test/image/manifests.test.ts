/**
 * Every image the rendered manifests (config/rendered/*.yaml) reference is the one `npm run image`
 * builds (`localhost/coil-ts:<package.json version>`, scripts/image/recipe.ts), and every command the
 * manifests run is a program on the image's PATH.
 */
import t from "tap";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { REPO_ROOT, imageName, repoProgramLayout } from "../../scripts/image/recipe.js";

const renderedDir = join(REPO_ROOT, "config/rendered");
const files = readdirSync(renderedDir).filter((f) => f.endsWith(".yaml")).sort();

/** Every value of an `image` key anywhere in the object (containers, initContainers, ephemeral ones, CRD examples...). */
function images(v: unknown, path: string, out: Array<[string, unknown]>): void {
  if (Array.isArray(v)) v.forEach((x, i) => images(x, `${path}[${i}]`, out));
  else if (typeof v === "object" && v !== null) {
    for (const [k, x] of Object.entries(v)) {
      if (k === "image") out.push([`${path}.image`, x]);
      // CRD schemas describe fields named `image` (type: string) without being one: skip openAPIV3Schema.
      else if (k !== "openAPIV3Schema") images(x, `${path}.${k}`, out);
    }
  }
}

type Container = { name: string; image?: string; command?: string[] };
type PodSpec = { containers?: Container[]; initContainers?: Container[] };

t.test("config/rendered holds coil.yaml and coil-router.yaml", async (t) => {
  t.same(files, ["coil-router.yaml", "coil.yaml"]);
});

const name = imageName();
const commands = new Set(repoProgramLayout().commands);
let containers = 0;
for (const file of files) {
  t.test(`${file}: every image is ${name}; every command is on the image's PATH`, async (t) => {
    const docs = parseAllDocuments(readFileSync(join(renderedDir, file), "utf8"));
    const found: Array<[string, unknown]> = [];
    for (const [i, d] of docs.entries()) {
      t.same(d.errors, [], `document ${i} parses`);
      const o = d.toJS() as { kind?: string; metadata?: { name?: string }; spec?: { template?: { spec?: PodSpec } } } | null;
      if (o === null) continue;
      images(o, `${o.kind}/${o.metadata?.name}`, found);
      const pod = o.spec?.template?.spec;
      for (const c of [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])]) {
        containers++;
        const cmd = c.command?.[0];
        t.ok(cmd !== undefined && commands.has(cmd), `${o.kind}/${o.metadata?.name} ${c.name}: command ${JSON.stringify(c.command)} is one of ${[...commands].join(", ")}`);
      }
    }
    t.ok(found.length > 0, "the file references an image");
    for (const [where, image] of found) t.equal(image, name, where);
  });
}

t.test("all five containers of Coil's workloads were seen (coil-installer, coild, coil-ipam-controller, coil-egress-controller, coil-router)", async (t) => {
  t.equal(containers, 5);
});
