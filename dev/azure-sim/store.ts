/**
 * The simulator's ARM resource store: resources keyed by lower-cased ID, with ETags, and the
 * "inline children" that ARM nests in their parent (NSG security rules, AKS agent pools) served at
 * their own IDs and kept consistent both ways.
 */
import { randomUUID } from "node:crypto";
import { type ArmResource, isPlainObject } from "./common.js";

// ---------------------------------------------------------------------------------------------
// IDs

export interface ParsedId {
  subscriptionId: string;
  resourceGroup?: string;
  /** provider namespace, e.g. Microsoft.Network */
  namespace?: string;
  /** type segments after the namespace, e.g. ["networkSecurityGroups", "securityRules"] */
  types: string[];
  /** names matching `types` (same length for a resource ID, one shorter for a collection) */
  names: string[];
}

const ID_RE =
  /^\/subscriptions\/([^/]+)(?:\/resourceGroups\/([^/]+))?(?:\/providers\/([^/]+)((?:\/[^/]+)*))?\/?$/i;

/** Parses `/subscriptions/{s}[/resourceGroups/{rg}][/providers/{ns}/{t}/{n}/…]`. */
export function parseArmPath(path: string): ParsedId | undefined {
  const m = ID_RE.exec(path);
  if (!m) return undefined;
  const rest = (m[4] ?? "").split("/").filter(Boolean);
  const types: string[] = [];
  const names: string[] = [];
  rest.forEach((seg, i) => {
    if (i % 2 === 0) types.push(seg);
    else names.push(seg);
  });
  if (m[3] && types.length === 0) return undefined;
  return { subscriptionId: m[1]!, resourceGroup: m[2], namespace: m[3], types, names };
}

/** True for a well-formed ARM resource ID (a resource group, or a provider resource with names). */
export function isArmResourceId(id: string): boolean {
  const p = parseArmPath(id);
  if (!p || id.endsWith("/")) return false;
  if (!p.namespace) return p.resourceGroup !== undefined;
  return p.types.length > 0 && p.types.length === p.names.length;
}

/**
 * An extension resource's ID, `<scope>/providers/<namespace>/<type>/<name>…`, where `<scope>` is a
 * provider resource (e.g. a diagnostic setting on a vault): its scope and its own type. Else undefined.
 */
export function extensionOfId(id: string): { scope: string; type: string } | undefined {
  const segs = id.split("/").filter(Boolean);
  const first = segs.findIndex((s) => lower(s) === "providers");
  if (first < 0) return undefined;
  // "providers" in a type position after at least one type/name pair of the scope resource.
  for (let i = first + 4; i < segs.length; i += 2) {
    if (lower(segs[i]!) !== "providers") continue;
    const own = segs.slice(i + 1);
    if (own.length < 2) return undefined;
    const types = own.slice(1).filter((_, k) => k % 2 === 0);
    return { scope: `/${segs.slice(0, i).join("/")}`, type: [own[0], ...types].join("/") };
  }
  return undefined;
}

export function typeOfId(id: string): string {
  const ext = extensionOfId(id);
  if (ext) return ext.type;
  const p = parseArmPath(id);
  if (!p) return "";
  if (!p.namespace) return p.resourceGroup ? "Microsoft.Resources/resourceGroups" : "";
  return [p.namespace, ...p.types].join("/");
}

export function nameOfId(id: string): string {
  return id.split("/").filter(Boolean).at(-1) ?? "";
}

export function parentIdOf(id: string): string | undefined {
  // An extension resource (one type/name pair after its namespace) lives on its scope.
  const ext = extensionOfId(id);
  if (ext && id.split("/").filter(Boolean).length - ext.scope.split("/").filter(Boolean).length === 4)
    return ext.scope;
  const p = parseArmPath(id);
  if (!p || p.names.length < 2) return undefined;
  return id.split("/").slice(0, -2).join("/");
}

export const lower = (s: string) => s.toLowerCase();

// ---------------------------------------------------------------------------------------------
// Inline children

interface InlineChildSpec {
  /** lower-case parent type */
  parentType: string;
  /** lower-case collection segment */
  segment: string;
  /** canonical segment spelling */
  segmentName: string;
  childType: string;
  /** where the children live in the parent */
  arrayKey: string;
  fromItem(parentId: string, item: Record<string, unknown>): ArmResource;
  toItem(child: ArmResource): Record<string, unknown>;
}

const INLINE_CHILDREN: InlineChildSpec[] = [
  {
    parentType: "microsoft.network/networksecuritygroups",
    segment: "securityrules",
    segmentName: "securityRules",
    childType: "Microsoft.Network/networkSecurityGroups/securityRules",
    arrayKey: "securityRules",
    fromItem(parentId, item) {
      const name = String(item.name ?? "");
      const { etag: _e, ...rest } = item;
      return {
        ...rest,
        id: `${parentId}/securityRules/${name}`,
        name,
        type: "Microsoft.Network/networkSecurityGroups/securityRules",
        properties: isPlainObject(item.properties) ? { ...item.properties } : {},
      };
    },
    toItem(child) {
      const { etag: _e, ...rest } = child;
      return rest;
    },
  },
  {
    parentType: "microsoft.containerservice/managedclusters",
    segment: "agentpools",
    segmentName: "agentPools",
    childType: "Microsoft.ContainerService/managedClusters/agentPools",
    arrayKey: "agentPoolProfiles",
    fromItem(parentId, item) {
      const { name, ...props } = item;
      delete props.eTag;
      return {
        id: `${parentId}/agentPools/${String(name)}`,
        name: String(name ?? ""),
        type: "Microsoft.ContainerService/managedClusters/agentPools",
        properties: props,
      };
    },
    toItem(child) {
      const props = { ...(child.properties ?? {}) };
      delete props.eTag;
      return { name: child.name, ...props };
    },
  },
];

function specForParent(parentType: string, segment: string): InlineChildSpec | undefined {
  return INLINE_CHILDREN.find((s) => s.parentType === lower(parentType) && s.segment === lower(segment));
}

function specsForParent(parentType: string): InlineChildSpec[] {
  return INLINE_CHILDREN.filter((s) => s.parentType === lower(parentType));
}

// ---------------------------------------------------------------------------------------------
// Rendering (how ARM shows a resource)

/** Types whose ARM representation carries a top-level `etag` (API Management: the service, not its subscriptions). */
function bodyEtagKey(type: string): "etag" | "eTag" | undefined {
  const t = lower(type);
  if (t.startsWith("microsoft.network/")) return "etag";
  if (t === "microsoft.cognitiveservices/accounts") return "etag";
  if (t === "microsoft.apimanagement/service") return "etag";
  if (t === "microsoft.containerservice/managedclusters") return "eTag";
  return undefined;
}

export function newEtag(): string {
  return `W/"${randomUUID()}"`;
}

interface Entry {
  resource: ArmResource;
  etag: string;
}

export type Resolved =
  | { kind: "stored"; id: string; entry: Entry }
  | { kind: "inline"; id: string; parent: Entry; spec: InlineChildSpec; index: number }
  | { kind: "absent"; id: string; parentExists: boolean; inlineSpec?: InlineChildSpec; parent?: Entry };

export class ResourceStore {
  private readonly map = new Map<string, Entry>();
  /** ETags of inline children, keyed by lower-case child ID */
  private readonly childEtags = new Map<string, string>();

  resolve(id: string): Resolved {
    const key = lower(id);
    const entry = this.map.get(key);
    if (entry) return { kind: "stored", id: entry.resource.id, entry };
    const parentId = parentIdOf(id);
    if (!parentId) return { kind: "absent", id, parentExists: true };
    const parent = this.map.get(lower(parentId));
    const segs = id.split("/").filter(Boolean);
    const segment = segs.at(-2) ?? "";
    const childName = segs.at(-1) ?? "";
    const parentType = parent?.resource.type ?? typeOfId(parentId);
    const spec = specForParent(parentType, segment);
    if (parent && spec) {
      const arr = this.inlineArray(parent.resource, spec);
      const index = arr.findIndex((it) => lower(String(it.name ?? "")) === lower(childName));
      if (index >= 0) return { kind: "inline", id, parent, spec, index };
    }
    // A resource group "parent" is implicit; only provider children need a parent.
    return { kind: "absent", id, parentExists: parent !== undefined, inlineSpec: spec, parent };
  }

  private inlineArray(resource: ArmResource, spec: InlineChildSpec): Record<string, unknown>[] {
    const props = resource.properties;
    const arr = props?.[spec.arrayKey];
    return Array.isArray(arr) ? (arr as Record<string, unknown>[]) : [];
  }

  has(id: string): boolean {
    return this.resolve(id).kind !== "absent";
  }

  etagOf(id: string): string | undefined {
    const r = this.resolve(id);
    if (r.kind === "stored") return r.entry.etag;
    if (r.kind === "inline") return this.childEtag(r.id);
    return undefined;
  }

  private childEtag(childId: string): string {
    let e = this.childEtags.get(lower(childId));
    if (!e) {
      e = newEtag();
      this.childEtags.set(lower(childId), e);
    }
    return e;
  }

  /** The resource as ARM returns it, or undefined. */
  get(id: string): ArmResource | undefined {
    const r = this.resolve(id);
    if (r.kind === "stored") return this.render(r.entry.resource, r.entry.etag);
    if (r.kind === "inline") {
      const item = this.inlineArray(r.parent.resource, r.spec)[r.index]!;
      const child = r.spec.fromItem(r.parent.resource.id, item);
      return this.render(child, this.childEtag(child.id));
    }
    return undefined;
  }

  /**
   * How ARM shows a resource that is not stored yet: the first answer of an asynchronous PUT/PATCH,
   * rendered like a GET (body ETag, provisioning state, inline children) with the resource's current
   * ETag, or a new one when it does not exist yet.
   */
  preview(resource: ArmResource): ArmResource {
    return this.render(resource, this.etagOf(resource.id) ?? newEtag());
  }

  private render(resource: ArmResource, etag: string): ArmResource {
    const out = structuredClone(resource);
    const props = isPlainObject(out.properties) ? out.properties : {};
    out.properties = props;
    if (props.provisioningState === undefined) props.provisioningState = "Succeeded";
    const etagKey = bodyEtagKey(out.type);
    if (etagKey) out[etagKey] = etag;
    if (lower(out.type) === "microsoft.containerservice/managedclusters/agentpools") props.eTag = etag;
    for (const spec of specsForParent(out.type)) {
      const arr = props[spec.arrayKey];
      if (!Array.isArray(arr)) continue;
      props[spec.arrayKey] = arr.map((item: Record<string, unknown>) => {
        const child = spec.fromItem(out.id, item);
        const rendered = this.render(child, this.childEtag(child.id));
        return spec.segment === "securityrules"
          ? rendered
          : { ...spec.toItem(rendered), eTag: this.childEtag(child.id) };
      });
    }
    return out;
  }

  /**
   * Creates or replaces a resource (stored or inline child). Keeps `id/name/type` from the ID
   * (type spelling from an existing resource or the given one). Returns whether it existed.
   */
  put(resource: ArmResource): { existed: boolean } {
    const r = this.resolve(resource.id);
    if (r.kind === "inline" || (r.kind === "absent" && r.inlineSpec && r.parent)) {
      const parent = r.kind === "inline" ? r.parent : r.parent!;
      const spec = r.kind === "inline" ? r.spec : r.inlineSpec!;
      const childId = `${parent.resource.id}/${spec.segmentName}/${nameOfId(resource.id)}`;
      const child: ArmResource = {
        ...structuredClone(resource),
        id: childId,
        name: nameOfId(resource.id),
        type: spec.childType,
      };
      const item = spec.toItem(child);
      const props = isPlainObject(parent.resource.properties) ? parent.resource.properties : {};
      parent.resource.properties = props;
      const arr = [...this.inlineArray(parent.resource, spec)];
      if (r.kind === "inline") arr[r.index] = item;
      else arr.push(item);
      props[spec.arrayKey] = arr;
      parent.etag = newEtag();
      this.childEtags.set(lower(childId), newEtag());
      return { existed: r.kind === "inline" };
    }
    const existing = r.kind === "stored" ? r.entry : undefined;
    const id = existing?.resource.id ?? resource.id;
    const stored: ArmResource = {
      ...structuredClone(resource),
      id,
      name: nameOfId(id),
      type: existing?.resource.type ?? (resource.type || typeOfId(id)),
    };
    this.normaliseInline(stored, existing?.resource);
    this.map.set(lower(id), { resource: stored, etag: newEtag() });
    return { existed: existing !== undefined };
  }

  /** Fills inline children's ids and refreshes the ETags of those that changed. */
  private normaliseInline(resource: ArmResource, previous?: ArmResource): void {
    for (const spec of specsForParent(resource.type)) {
      const props = resource.properties;
      const arr = props?.[spec.arrayKey];
      if (!props || !Array.isArray(arr)) continue;
      const before = new Map<string, string>();
      if (previous) {
        for (const it of this.inlineArray(previous, spec)) {
          before.set(lower(String(it.name ?? "")), JSON.stringify(spec.fromItem(previous.id, it)));
        }
      }
      props[spec.arrayKey] = arr.map((it: Record<string, unknown>) => {
        const child = spec.fromItem(resource.id, it);
        const prev = before.get(lower(child.name));
        if (prev !== JSON.stringify(child)) this.childEtags.set(lower(child.id), newEtag());
        return spec.toItem(child);
      });
    }
  }

  /** Deletes a resource (and everything under it). Returns whether it existed. */
  delete(id: string): boolean {
    const r = this.resolve(id);
    if (r.kind === "absent") return false;
    if (r.kind === "inline") {
      const arr = [...this.inlineArray(r.parent.resource, r.spec)];
      arr.splice(r.index, 1);
      (r.parent.resource.properties as Record<string, unknown>)[r.spec.arrayKey] = arr;
      r.parent.etag = newEtag();
      this.childEtags.delete(lower(r.id));
      return true;
    }
    const prefix = `${lower(r.entry.resource.id)}/`;
    this.map.delete(lower(r.entry.resource.id));
    for (const key of [...this.map.keys()]) if (key.startsWith(prefix)) this.map.delete(key);
    for (const key of [...this.childEtags.keys()]) if (key.startsWith(prefix)) this.childEtags.delete(key);
    return true;
  }

  /** All stored (non-inline) resources as stored, not rendered (read-only: do not change them). */
  *allRaw(): Iterable<ArmResource> {
    for (const e of this.map.values()) yield e.resource;
  }

  /** All stored (non-inline) resources, rendered. */
  all(): ArmResource[] {
    return [...this.map.values()].map((e) => this.render(e.resource, e.etag));
  }

  /**
   * Direct children of a collection path such as `…/managedClusters/{c}/agentPools` or
   * `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts`.
   */
  listCollection(collectionPath: string): ArmResource[] {
    const segs = collectionPath.split("/").filter(Boolean);
    const segment = segs.at(-1) ?? "";
    const ownerPath = `/${segs.slice(0, -1).join("/")}`;
    const owner = this.map.get(lower(ownerPath));
    if (owner) {
      const spec = specForParent(owner.resource.type, segment);
      if (spec) {
        return this.inlineArray(owner.resource, spec).map(
          (it) => this.get(`${owner.resource.id}/${spec.segmentName}/${String(it.name)}`)!,
        );
      }
    }
    const p = parseArmPath(collectionPath);
    if (!p) return [];
    const wantType = lower([p.namespace, ...p.types].join("/"));
    const out: ArmResource[] = [];
    for (const e of this.map.values()) {
      const id = lower(e.resource.id);
      const ep = parseArmPath(e.resource.id);
      if (!ep || lower(typeOfId(e.resource.id)) !== wantType) continue;
      if (lower(ep.subscriptionId) !== lower(p.subscriptionId)) continue;
      if (p.resourceGroup && lower(ep.resourceGroup ?? "") !== lower(p.resourceGroup)) continue;
      // names of ancestors must match the collection path
      if (!p.names.every((n, i) => lower(ep.names[i] ?? "") === lower(n))) continue;
      if (id) out.push(this.render(e.resource, e.etag));
    }
    return out;
  }
}
