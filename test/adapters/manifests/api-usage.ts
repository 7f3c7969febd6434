/**
 * Which Kubernetes API requests each Coil program can make, derived from the source with the
 * TypeScript checker — the expectation the RBAC roles in `config/` are compared with.
 *
 * From a program's entry file (e.g. `adapters/ipam-controller/main.ts`) the scanner follows every
 * call and every reference to a function in `adapters/` or `lib/` (methods resolved through the checker;
 * a call through an interface reaches every class in `adapters/` implementing it; function bodies
 * are scanned whole, so callbacks defined there count) and records the API requests met on the way:
 *
 * - a call of a typed client-node API (`CoreV1Api.listNode`, `CoordinationV1Api.replaceNamespacedLease`,
 *   `AdmissionregistrationV1Api.readValidatingWebhookConfiguration`, ...): the verb and resource
 *   come from the method name (`read`→get, `replace`→update, `…Status`→the status subresource) and
 *   the group from the API class;
 * - a call of a `ClusterResource` or `NamespacedResource` method (adapters/k8s/coil-client.ts): the
 *   resource is the receiver's type argument (`ClusterResource<AddressBlockObject>` → addressblocks,
 *   `NamespacedResource<EgressObject>` → egresses), the verbs are those of the `CustomObjectsApi` calls
 *   in that method's body (and the methods it calls);
 * - a direct `CustomObjectsApi` call whose argument is an object literal naming `group` and `plural`
 *   as constant strings (`getNamespacedCustomObject({ group: "coil.cybozu.com", plural: "egresses", … })`):
 *   that group and resource, the verb from the method name;
 * - a watch: the informers' `RestClient.watch` (adapters/k8s/rest.ts) takes a REST path, and raw collection paths exist only for
 *   watches (typed APIs build their own), so a reachable collection path — a string such as
 *   `/api/v1/nodes` (literal or constant) or the `path` of a `ClusterResource<T>`/`NamespacedResource<T>` — is a `watch`
 *   of that resource. A program with such paths must also reach `RestClient.watch` (checked).
 *
 * Any other use of `CustomObjectsApi` (a computed group or plural) or an API class the table below does not know fails the scan,
 * so a new kind of call cannot slip past the comparison.
 */
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { COIL_NAMESPACED_PLURALS, COIL_PLURALS } from "../../../adapters/k8s/coil-types.js";

/** One kind of request a program can make. */
export interface ApiUse {
  /** API group ("" for core). */
  readonly group: string;
  /** Plural resource, with `/subresource` when one is addressed (e.g. `blockrequests/status`). */
  readonly resource: string;
  /** RBAC verb. */
  readonly verb: string;
  /** Where in the source (file:line, relative to the repository), first occurrence. */
  readonly where: string;
}

/** The programs and their entry files. */
export const PROGRAM_ENTRIES = {
  coild: "adapters/daemon/main.ts",
  "coil-ipam-controller": "adapters/ipam-controller/main.ts",
  "coil-router": "adapters/router/main.ts",
  "coil-egress-controller": "adapters/egress-controller/main.ts",
  "coil-egress": "adapters/egress/main.ts",
} as const;

/** A program name of {@link PROGRAM_ENTRIES}. */
export type ProgramName = keyof typeof PROGRAM_ENTRIES;

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const ADAPTERS = join(ROOT, "adapters") + "/";
/**
 * Code the scan follows: adapters/ and lib/ (lib's pure code calls the ports it declares, e.g.
 * lib/ipam's NodeState calls `BlockStore.acquireBlock`, which reaches adapters/' implementations).
 */
const FOLLOWED = [ADAPTERS, join(ROOT, "lib") + "/"];
const followed = (n: ts.Node): boolean => FOLLOWED.some((dir) => n.getSourceFile().fileName.startsWith(dir));
const CLIENT_NODE = "/node_modules/@kubernetes/client-node/";
/** The informers' watch (`RestClient.watch`). */
const REST_CLIENT = join(ADAPTERS, "k8s/rest.ts");

/** API group of a client-node API class (`ObjectCoordinationV1Api` → coordination.k8s.io). */
const GROUPS: Readonly<Record<string, string>> = {
  Core: "",
  Coordination: "coordination.k8s.io",
  Admissionregistration: "admissionregistration.k8s.io",
  Apps: "apps",
  Authentication: "authentication.k8s.io",
  Authorization: "authorization.k8s.io",
  Events: "events.k8s.io",
  RbacAuthorization: "rbac.authorization.k8s.io",
  Policy: "policy",
  Networking: "networking.k8s.io",
  Apiextensions: "apiextensions.k8s.io",
};
const VERBS: Readonly<Record<string, string>> = { read: "get", list: "list", create: "create", replace: "update", patch: "patch", delete: "delete", deleteCollection: "deletecollection" };

function plural(kind: string): string {
  const k = kind.toLowerCase();
  if (k.endsWith("y")) return `${k.slice(0, -1)}ies`;
  if (k.endsWith("s")) return `${k}es`;
  return `${k}s`;
}

/** `/api/v1/nodes`, `/apis/coil.cybozu.com/v2/addressblocks` → (group, resource); else undefined. */
export function collectionPath(s: string): { group: string; resource: string } | undefined {
  const core = /^\/api\/v1\/([a-z]+)$/.exec(s);
  if (core?.[1] !== undefined) return { group: "", resource: core[1] };
  const named = /^\/apis\/([a-z0-9.-]+)\/v[0-9a-z]+\/([a-z]+)$/.exec(s);
  if (named?.[1] !== undefined && named[2] !== undefined) return { group: named[1], resource: named[2] };
  return undefined;
}

/** Typed client-node call → use, or an error message for calls the scan cannot map. */
function typedApiUse(className: string, method: string): { group: string; resource: string; verb: string } | string | undefined {
  if (className === "Watch" || className === "KubeConfig") return undefined;
  const cls = /^(?:Object)?([A-Z][A-Za-z]*?)(V\d+(?:(?:alpha|beta)\d+)?)?Api$/.exec(className);
  if (cls?.[1] === undefined) return undefined;
  if (cls[1] === "CustomObjects") return `CustomObjectsApi.${method} outside ClusterResource/NamespacedResource with no constant group and plural in its argument: the resource cannot be derived`;
  const group = GROUPS[cls[1]];
  if (group === undefined) return `${className}.${method}: API group of ${cls[1]} unknown to the scan (add it to GROUPS)`;
  const m = /^(read|list|create|replace|patch|deleteCollection|delete)(Namespaced)?([A-Z][A-Za-z]*?)(Status)?(ForAllNamespaces)?$/.exec(method);
  if (m?.[1] === undefined || m[3] === undefined) return `${className}.${method}: not a recognised API method name`;
  return { group, resource: `${plural(m[3])}${m[4] === undefined ? "" : "/status"}`, verb: VERBS[m[1]] ?? m[1] };
}

/** `CustomObjectsApi` method → (verb, subresource). */
function customObjectVerb(method: string): { verb: string; status: boolean } | undefined {
  const m = /^(get|list|create|replace|patch|delete)(?:Cluster|Namespaced)CustomObject(Status)?$/.exec(method);
  if (m?.[1] === undefined) return undefined;
  return { verb: m[1] === "get" ? "get" : m[1] === "replace" ? "update" : m[1], status: m[2] !== undefined };
}

/** The typed Coil resource classes of adapters/k8s/coil-client.ts → their kind → plural tables. */
const RESOURCE_CLASSES: Readonly<Record<string, Readonly<Record<string, string>> | undefined>> = {
  ClusterResource: COIL_PLURALS,
  NamespacedResource: COIL_NAMESPACED_PLURALS,
};

function compilerOptions(): ts.CompilerOptions {
  const cfg = ts.readConfigFile(join(ROOT, "tsconfig.json"), (p) => ts.sys.readFile(p));
  const parsed = ts.parseJsonConfigFileContent(cfg.config, ts.sys, ROOT);
  return { ...parsed.options, noEmit: true, declaration: false, declarationMap: false, sourceMap: false };
}

/** A scanner over one TypeScript program holding every entry. */
export class ApiUsageScanner {
  readonly #program: ts.Program;
  readonly #checker: ts.TypeChecker;
  /** interface declaration → classes in adapters/ implementing it. */
  readonly #implementations = new Map<ts.Declaration, ts.ClassLikeDeclaration[]>();
  readonly #crVerbs = new Map<ts.Node, Array<{ verb: string; status: boolean }>>();
  /** Names of class members declared in adapters/ (to refuse untyped calls that may reach them). */
  readonly #memberNames = new Set<string>();

  constructor() {
    this.#program = ts.createProgram({ rootNames: Object.values(PROGRAM_ENTRIES).map((e) => join(ROOT, e)), options: compilerOptions() });
    this.#checker = this.#program.getTypeChecker();
    for (const sf of this.#program.getSourceFiles()) {
      if (!sf.fileName.startsWith(ADAPTERS)) continue;
      const visit = (n: ts.Node): void => {
        if (ts.isClassLike(n)) {
          for (const m of n.members) if (m.name !== undefined && !ts.isComputedPropertyName(m.name)) this.#memberNames.add(m.name.getText().replace(/^#/, ""));
          for (const h of n.heritageClauses ?? []) {
            for (const type of h.types) {
              const sym = this.#resolve(this.#checker.getSymbolAtLocation(type.expression));
              for (const d of sym?.declarations ?? []) {
                const list = this.#implementations.get(d) ?? [];
                list.push(n);
                this.#implementations.set(d, list);
              }
            }
          }
        }
        ts.forEachChild(n, visit);
      };
      visit(sf);
    }
  }

  #resolve(sym: ts.Symbol | undefined): ts.Symbol | undefined {
    if (sym === undefined) return undefined;
    return sym.flags & ts.SymbolFlags.Alias ? this.#checker.getAliasedSymbol(sym) : sym;
  }

  #where(n: ts.Node): string {
    const sf = n.getSourceFile();
    const { line } = sf.getLineAndCharacterOfPosition(n.getStart(sf));
    return `${relative(ROOT, sf.fileName)}:${line + 1}`;
  }

  /** `ClusterResource<AddressBlockObject>` → `addressblocks`, `NamespacedResource<EgressObject>` → `egresses`; undefined for other types. */
  #clusterResourcePlural(t: ts.Type): string | undefined {
    const target = (t as ts.TypeReference).target ?? t;
    const name = target.symbol?.name;
    const table = name === undefined ? undefined : RESOURCE_CLASSES[name];
    if (table === undefined) return undefined;
    const [arg] = this.#checker.getTypeArguments(t as ts.TypeReference);
    const kind = arg?.symbol?.name.replace(/Object$/, "") ?? "";
    const plural = table[kind];
    if (plural === undefined) throw new Error(`${name}<${arg?.symbol?.name ?? "?"}>: not a Coil kind of that scope`);
    return plural;
  }

  /** Whether `d` is a member of ClusterResource or NamespacedResource (adapters/k8s/coil-client.ts). */
  #isClusterResourceMember(d: ts.Declaration): boolean {
    const cls = d.parent;
    return cls !== undefined && ts.isClassDeclaration(cls) && RESOURCE_CLASSES[cls.name?.text ?? ""] !== undefined && d.getSourceFile().fileName.startsWith(ADAPTERS);
  }

  /** The CustomObjectsApi verbs a ClusterResource method issues (following `this.x()` calls). */
  #clusterResourceVerbs(method: ts.Node, seen = new Set<ts.Node>()): Array<{ verb: string; status: boolean }> {
    const cached = this.#crVerbs.get(method);
    if (cached !== undefined) return cached;
    seen.add(method);
    const out: Array<{ verb: string; status: boolean }> = [];
    const visit = (n: ts.Node): void => {
      if (ts.isCallExpression(n)) {
        const d = this.#checker.getResolvedSignature(n)?.declaration;
        if (d !== undefined && !ts.isJSDocSignature(d)) {
          const name = d.name !== undefined && ts.isIdentifier(d.name) ? d.name.text : "";
          if (d.getSourceFile().fileName.includes(CLIENT_NODE)) {
            const v = customObjectVerb(name);
            if (v !== undefined) out.push(v);
          } else if (this.#isClusterResourceMember(d) && !seen.has(d)) out.push(...this.#clusterResourceVerbs(d, seen));
        }
      }
      ts.forEachChild(n, visit);
    };
    visit(method);
    this.#crVerbs.set(method, out);
    return out;
  }

  /** Every (group, resource, verb) the program reachable from `entry` can request. */
  scan(program: ProgramName): ApiUse[] {
    const entry = this.#program.getSourceFile(join(ROOT, PROGRAM_ENTRIES[program]));
    if (entry === undefined) throw new Error(`${PROGRAM_ENTRIES[program]} not in the program`);
    const uses = new Map<string, ApiUse>();
    const errors: string[] = [];
    let watchReachable = false;
    const add = (group: string, resource: string, verb: string, at: ts.Node): void => {
      const key = `${group}|${resource}|${verb}`;
      if (!uses.has(key)) uses.set(key, { group, resource, verb, where: this.#where(at) });
    };
    const queued = new Set<ts.Node>();
    const queue: ts.Node[] = [entry];
    const enqueue = (d: ts.Node | undefined): void => {
      if (d === undefined || queued.has(d) || !followed(d)) return;
      queued.add(d);
      queue.push(d);
    };
    /** A declaration a call or reference reaches: its body, or the implementations of an interface member. */
    const reach = (d: ts.Declaration): void => {
      if (!followed(d)) return;
      if ((ts.isMethodSignature(d) || ts.isPropertySignature(d)) && ts.isInterfaceDeclaration(d.parent)) {
        const name = d.name.getText();
        for (const cls of this.#implementations.get(d.parent) ?? []) {
          for (const m of cls.members) if (m.name !== undefined && m.name.getText() === name) enqueue(m);
        }
        return;
      }
      if (ts.isFunctionLike(d) || ts.isPropertyDeclaration(d) || ts.isClassLike(d)) enqueue(d);
      else if (ts.isVariableDeclaration(d) && d.initializer !== undefined) enqueue(d.initializer);
    };
    const constString = (n: ts.Node): string | undefined => {
      if (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) return n.text;
      if (ts.isIdentifier(n)) {
        const t = this.#checker.getTypeAtLocation(n);
        if (t.isStringLiteral()) return t.value;
      }
      return undefined;
    };
    /** A `CustomObjectsApi` call with `{ group: "<const>", plural: "<const>", … }` as argument → its use. */
    const directCustomObjectUse = (n: ts.CallExpression, method: string): { group: string; resource: string; verb: string } | undefined => {
      const v = customObjectVerb(method);
      const [arg] = n.arguments;
      if (v === undefined || arg === undefined || !ts.isObjectLiteralExpression(arg)) return undefined;
      const prop = (key: string): string | undefined => {
        for (const p of arg.properties) {
          if (ts.isPropertyAssignment(p) && p.name.getText() === key) return constString(p.initializer);
          if (ts.isShorthandPropertyAssignment(p) && p.name.text === key) return constString(p.name);
        }
        return undefined;
      };
      const group = prop("group");
      const plural = prop("plural");
      if (group === undefined || plural === undefined) return undefined;
      return { group, resource: `${plural}${v.status ? "/status" : ""}`, verb: v.verb };
    };
    /** `n` calls `d` (`recv`: the receiver type when known from a union member). */
    const called = (d: ts.Declaration, n: ts.CallExpression | ts.NewExpression, recv?: ts.Type): void => {
      const file = d.getSourceFile().fileName;
      const name = "name" in d && d.name !== undefined && (ts.isIdentifier(d.name as ts.Node) || ts.isPrivateIdentifier(d.name as ts.Node)) ? (d.name as ts.Identifier).text : "";
      const cls = d.parent !== undefined && ts.isClassDeclaration(d.parent) ? d.parent.name?.text ?? "" : "";
      if (file.includes(CLIENT_NODE)) {
        if (ts.isConstructorDeclaration(d) || name === "") return;
        if (cls === "Watch" && name === "watch") watchReachable = true;
        const direct = /^(?:Object)?CustomObjectsApi$/.test(cls) && ts.isCallExpression(n) ? directCustomObjectUse(n, name) : undefined;
        if (direct !== undefined) {
          add(direct.group, direct.resource, direct.verb, n);
          return;
        }
        const u = typedApiUse(cls, name);
        if (typeof u === "string") errors.push(`${this.#where(n)}: ${u}`);
        else if (u !== undefined) add(u.group, u.resource, u.verb, n);
      } else if (file === REST_CLIENT && cls === "RestClient" && name === "watch") {
        watchReachable = true;
      } else if (this.#isClusterResourceMember(d) && ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression)) {
        const plural = this.#clusterResourcePlural(recv ?? this.#checker.getTypeAtLocation(n.expression.expression));
        if (plural === undefined) errors.push(`${this.#where(n)}: ClusterResource call on an unknown receiver`);
        else for (const v of this.#clusterResourceVerbs(d)) add("coil.cybozu.com", `${plural}${v.status ? "/status" : ""}`, v.verb, n);
      } else {
        reach(d);
        // `new X()` also runs X's field initialisers.
        if (ts.isConstructorDeclaration(d)) enqueue(d.parent);
      }
    };
    const visit = (n: ts.Node): void => {
      if (ts.isCallExpression(n) || ts.isNewExpression(n)) {
        const d = this.#checker.getResolvedSignature(n)?.declaration;
        if (d !== undefined && !ts.isJSDocSignature(d)) called(d, n);
        else if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression)) {
          // A method called on a union (e.g. `Object.values(informers)`): every member's declaration.
          const recv = this.#checker.getTypeAtLocation(n.expression.expression);
          const method = n.expression.name.text;
          if (recv.flags & ts.TypeFlags.Any && this.#memberNames.has(method)) {
            errors.push(`${this.#where(n)}: .${method}() called on an untyped (any) receiver, and classes in adapters/ have a member of that name: the scan cannot follow it (give the receiver a type)`);
          }
          for (const t of recv.isUnion() ? recv.types : [recv]) {
            for (const pd of t.getProperty(n.expression.name.text)?.declarations ?? []) called(pd, n, t);
          }
        } else if (ts.isNewExpression(n)) {
          // Implicit constructor: the class itself (field initialisers).
          const sym = this.#resolve(this.#checker.getSymbolAtLocation(n.expression));
          for (const cd of sym?.declarations ?? []) if (ts.isClassLike(cd)) enqueue(cd);
        }
      } else if (ts.isIdentifier(n)) {
        // A function passed by reference (`list: listNodeMetas`) is reachable too.
        const sym = this.#resolve(this.#checker.getSymbolAtLocation(n));
        for (const d of sym?.declarations ?? []) {
          if (ts.isFunctionDeclaration(d) || (ts.isVariableDeclaration(d) && d.initializer !== undefined && (ts.isArrowFunction(d.initializer) || ts.isFunctionExpression(d.initializer)))) reach(d);
          if (ts.isVariableDeclaration(d) && d.initializer !== undefined) {
            const s = constString(d.initializer);
            const p = s === undefined ? undefined : collectionPath(s);
            if (p !== undefined) add(p.group, p.resource, "watch", n);
          }
        }
      } else if (ts.isPropertyAccessExpression(n) && n.name.text === "path") {
        const plural = this.#clusterResourcePlural(this.#checker.getTypeAtLocation(n.expression));
        if (plural !== undefined) add("coil.cybozu.com", plural, "watch", n);
      }
      if (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) {
        const p = collectionPath(n.text);
        if (p !== undefined) add(p.group, p.resource, "watch", n);
      }
      ts.forEachChild(n, visit);
    };
    for (let b = queue.shift(); b !== undefined; b = queue.shift()) {
      // A class reached through `new`: its field initialisers and constructor only; methods when called.
      if (ts.isClassLike(b)) {
        for (const m of b.members) if ((ts.isPropertyDeclaration(m) && m.initializer !== undefined) || ts.isConstructorDeclaration(m)) visit(m);
      } else visit(b);
    }
    const list = [...uses.values()];
    if (list.some((u) => u.verb === "watch") && !watchReachable) errors.push(`${program}: collection paths found but RestClient.watch is not reachable (a path used for something else?)`);
    if (errors.length > 0) throw new Error(`API usage scan of ${program} failed:\n${errors.join("\n")}`);
    return list.sort((a, b) => `${a.group}/${a.resource}/${a.verb}`.localeCompare(`${b.group}/${b.resource}/${b.verb}`));
  }
}
