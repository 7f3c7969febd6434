/**
 * What the rendered manifests grant each ServiceAccount: the (Cluster)Roles bound to it by
 * (Cluster)RoleBindings, expanded to (apiGroup, resource, verb) triples. Namespaces and
 * `resourceNames` are kept per grant but not part of the comparison key: the source scan
 * (api-usage.ts) cannot know them.
 */
import { readFile } from "node:fs/promises";
import { parseAllDocuments } from "yaml";

/** One granted (group, resource, verb). */
export interface Grant {
  readonly group: string;
  /** Plural, with `/subresource`. */
  readonly resource: string;
  readonly verb: string;
  /** The role that grants it, e.g. `ClusterRole/coild`. */
  readonly role: string;
  /** `resourceNames` of the rule ([] = any). */
  readonly resourceNames: readonly string[];
}

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
  resourceNames?: string[];
}
interface Obj {
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  rules?: Rule[];
  roleRef?: { kind?: string; name?: string };
  subjects?: Array<{ kind?: string; name?: string; namespace?: string }>;
}

/** `group|resource|verb`. */
export const grantKey = (g: { group: string; resource: string; verb: string }): string => `${g.group}|${g.resource}|${g.verb}`;

/** Parse a YAML stream of manifests. */
export async function readManifests(path: string): Promise<Obj[]> {
  return parseAllDocuments(await readFile(path, "utf8"))
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);
}

/** The grants of ServiceAccount `namespace/name` in `objects`. */
export function grantsOf(objects: readonly Obj[], namespace: string, name: string): Grant[] {
  const roles = new Map<string, Rule[]>();
  for (const o of objects) {
    if (o.kind === "ClusterRole") roles.set(`ClusterRole/${o.metadata?.name}`, o.rules ?? []);
    if (o.kind === "Role") roles.set(`Role/${o.metadata?.namespace}/${o.metadata?.name}`, o.rules ?? []);
  }
  const out: Grant[] = [];
  for (const b of objects) {
    if (b.kind !== "ClusterRoleBinding" && b.kind !== "RoleBinding") continue;
    if (!(b.subjects ?? []).some((s) => s.kind === "ServiceAccount" && s.name === name && (s.namespace ?? b.metadata?.namespace) === namespace)) continue;
    const ref = b.roleRef?.kind === "ClusterRole" ? `ClusterRole/${b.roleRef.name}` : `Role/${b.metadata?.namespace}/${b.roleRef?.name}`;
    const rules = roles.get(ref);
    if (rules === undefined) throw new Error(`${b.kind}/${b.metadata?.name} refers to ${ref}, which the manifests do not define`);
    for (const r of rules) {
      for (const group of r.apiGroups ?? []) {
        for (const resource of r.resources ?? []) {
          for (const verb of r.verbs ?? []) out.push({ group, resource, verb, role: ref, resourceNames: r.resourceNames ?? [] });
        }
      }
    }
  }
  return out;
}
