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

/** One rule of a (Cluster)Role. */
export interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
  resourceNames?: string[];
}
/** A manifest object, as far as RBAC is concerned. */
export interface Obj {
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

/** The (group, resource, verb) triples of `rules`, attributed to `role`. */
export function expandRules(rules: readonly Rule[], role: string): Grant[] {
  const out: Grant[] = [];
  for (const r of rules) {
    for (const group of r.apiGroups ?? []) {
      for (const resource of r.resources ?? []) {
        for (const verb of r.verbs ?? []) out.push({ group, resource, verb, role, resourceNames: r.resourceNames ?? [] });
      }
    }
  }
  return out;
}

/** Every ClusterRole and Role in `objects`, keyed `ClusterRole/<name>` or `Role/<namespace>/<name>`. */
export function rolesIn(objects: readonly Obj[]): Map<string, Grant[]> {
  const roles = new Map<string, Grant[]>();
  for (const o of objects) {
    const ref = o.kind === "ClusterRole" ? `ClusterRole/${o.metadata?.name}` : o.kind === "Role" ? `Role/${o.metadata?.namespace}/${o.metadata?.name}` : undefined;
    if (ref !== undefined) roles.set(ref, expandRules(o.rules ?? [], ref));
  }
  return roles;
}

/** `ClusterRole/<name>` or `Role/<name>` of a role key (the namespace dropped): how roles are matched across manifest sets. */
export const roleKindName = (ref: string): string => {
  const [kind = "", ...rest] = ref.split("/");
  return `${kind}/${rest[rest.length - 1] ?? ""}`;
};

/** The grants of ServiceAccount `namespace/name` in `objects`. */
export function grantsOf(objects: readonly Obj[], namespace: string, name: string): Grant[] {
  const roles = rolesIn(objects);
  const out: Grant[] = [];
  for (const b of objects) {
    if (b.kind !== "ClusterRoleBinding" && b.kind !== "RoleBinding") continue;
    if (!(b.subjects ?? []).some((s) => s.kind === "ServiceAccount" && s.name === name && (s.namespace ?? b.metadata?.namespace) === namespace)) continue;
    const ref = b.roleRef?.kind === "ClusterRole" ? `ClusterRole/${b.roleRef.name}` : `Role/${b.metadata?.namespace}/${b.roleRef?.name}`;
    const grants = roles.get(ref);
    if (grants === undefined) throw new Error(`${b.kind}/${b.metadata?.name} refers to ${ref}, which the manifests do not define`);
    out.push(...grants);
  }
  return out;
}
