/**
 * API Management behaviour the generic ARM store does not have on its own: the API↔product links
 * (`…/products/{p}/apis/{a}`, a PUT without a body that answers the API's contract), product
 * policies (`…/products/{p}/policies/policy`, `format` + `value`), subscription `scope` (a product,
 * one API or all APIs of the service; relative scopes are stored as full IDs, as APIM shows them)
 * and the PATCHes APIM refuses without `If-Match`.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { type ArmResource, armError, isPlainObject, sendJson } from "./common.js";
import { lower, nameOfId, parentIdOf, type ResourceStore, typeOfId } from "./store.js";

const SERVICE = "microsoft.apimanagement/service";
const SUBSCRIPTIONS = `${SERVICE}/subscriptions`;
const APIS = `${SERVICE}/apis`;
const PRODUCTS = `${SERVICE}/products`;
const PRODUCT_APIS = `${SERVICE}/products/apis`;
const PRODUCT_POLICIES = `${SERVICE}/products/policies`;

/** APIM's `update` operations (PATCH) of these entities require `If-Match` (`*` to force). */
export function apimPatchNeedsIfMatch(type: string): boolean {
  const t = lower(type);
  return t === SUBSCRIPTIONS || t === APIS || t === PRODUCTS;
}

/** The APIM service an entity ID lives under, or undefined. */
function serviceIdOf(id: string): string | undefined {
  const m = /^(.*\/providers\/Microsoft\.ApiManagement\/service\/[^/]+)(?:\/|$)/i.exec(id);
  return m?.[1];
}

function validation(res: ServerResponse, target: string, message: string): true {
  sendJson(res, 400, {
    error: {
      code: "ValidationError",
      message: "One or more fields contain incorrect values:",
      details: [{ code: "ValidationError", target, message }],
    },
  });
  return true;
}

/**
 * A subscription's scope as APIM stores it: `…/service/{s}/apis`, `…/apis/{id}` or
 * `…/products/{id}` (full ID); `undefined` when the scope names nothing that exists.
 */
function resolveScope(store: ResourceStore, serviceId: string, scope: string): string | undefined {
  const full = scope.startsWith("/subscriptions/")
    ? scope
    : `${serviceId}${scope.startsWith("/") ? "" : "/"}${scope}`;
  if (!lower(full).startsWith(`${lower(serviceId)}/`)) return undefined;
  const rest = full.slice(serviceId.length).replace(/\/+$/, "");
  if (lower(rest) === "/apis") return `${serviceId}/apis`;
  const m = /^\/(apis|products)\/([^/]+)$/i.exec(rest);
  if (!m) return undefined;
  const entityId = `${serviceId}/${lower(m[1]!)}/${m[2]}`;
  const entity = store.get(entityId);
  return entity ? entity.id : undefined;
}

/**
 * A seeded or directly put APIM subscription with a relative `scope` (`/products/{p}`, `/apis`) gets
 * it as the full ID APIM shows, so that what a GET shows before and after a write is comparable.
 */
export function withFullApimScope<R extends ArmResource>(r: R): R {
  if (lower(r.type || typeOfId(r.id)) !== SUBSCRIPTIONS || !isPlainObject(r.properties)) return r;
  const scope = r.properties.scope;
  const serviceId = serviceIdOf(r.id);
  if (typeof scope !== "string" || !serviceId || scope.startsWith("/subscriptions/")) return r;
  return {
    ...r,
    properties: { ...r.properties, scope: `${serviceId}${scope.startsWith("/") ? "" : "/"}${scope}` },
  };
}

/**
 * Checks (and normalises in place) the body of a PUT/PATCH of an APIM entity before the generic
 * handler stores it. Answers and returns true when the write is refused.
 */
export function apimRefusesWrite(
  store: ResourceStore,
  id: string,
  body: Record<string, unknown>,
  res: ServerResponse,
): boolean {
  const type = lower(typeOfId(id));
  const props = isPlainObject(body.properties) ? body.properties : undefined;
  if (type === SUBSCRIPTIONS && props && props.scope !== undefined) {
    const serviceId = serviceIdOf(id)!;
    const scope = typeof props.scope === "string" ? resolveScope(store, serviceId, props.scope) : undefined;
    if (!scope) {
      return validation(
        res,
        "scope",
        `Scope '${String(props.scope)}' is not a product, an API or /apis of this service.`,
      );
    }
    props.scope = scope;
  }
  if (type === PRODUCT_POLICIES) {
    if (lower(nameOfId(id)) !== "policy") {
      return validation(res, "policyId", "The policy identifier must be 'policy'.");
    }
    const format = props?.format ?? "xml";
    if (typeof format !== "string" || !["xml", "rawxml", "xml-link", "rawxml-link"].includes(lower(format))) {
      return validation(res, "format", `Format '${String(format)}' is not supported.`);
    }
    const value = props?.value;
    if (typeof value !== "string" || value.trim() === "") {
      return validation(res, "value", "Policy content is required.");
    }
    if (lower(format).endsWith("xml") && !/^\s*<policies[\s>][\s\S]*<\/policies>\s*$/.test(value)) {
      return validation(res, "value", "The policy document must have a single <policies> root element.");
    }
  }
  return false;
}

/**
 * Routes APIM requests the generic store cannot serve; returns false to let it handle the request.
 * `PUT …/products/{p}/apis/{a}` (no body) links an existing API to an existing product and answers
 * the API's contract (as `GET …/apis/{a}` shows it); GET/DELETE/HEAD of the link and the product's
 * API list are generic.
 */
export function apimRoute(
  store: ResourceStore,
  req: IncomingMessage,
  path: string,
  res: ServerResponse,
): boolean {
  if (req.method !== "PUT" || lower(typeOfId(path)) !== PRODUCT_APIS) return false;
  const productId = parentIdOf(path)!;
  const serviceId = serviceIdOf(path)!;
  const apiId = `${serviceId}/apis/${nameOfId(path)}`;
  const product = store.get(productId);
  if (!product) {
    sendJson(res, 404, armError("ResourceNotFound", `Product not found: ${nameOfId(productId)}.`));
    return true;
  }
  const api = store.get(apiId);
  if (!api) {
    sendJson(res, 404, armError("ResourceNotFound", `Api not found: ${nameOfId(apiId)}.`));
    return true;
  }
  const existed = store.has(path);
  const link: ArmResource = {
    id: `${product.id}/apis/${api.name}`,
    name: api.name,
    type: "Microsoft.ApiManagement/service/products/apis",
    properties: structuredClone(api.properties ?? {}),
  };
  store.put(link);
  // APIM answers with the API's own contract (its ID under the service, type `…/service/apis`),
  // not the link's path; the product's API list shows the links.
  sendJson(res, existed ? 200 : 201, store.get(api.id)!);
  return true;
}
