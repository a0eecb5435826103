/**
 * When `x-ms-client-principal` is believed. App Service strips a client-supplied copy only while App
 * Service Authentication is on (the platform then sets WEBSITE_AUTH_ENABLED=True), so in Azure the
 * header counts only with authentication on; without it the audit API and the approval page answer
 * 403 naming the reason, whatever the header claims. Locally (no WEBSITE_SITE_NAME) nothing changes.
 * The handlers run for real (in-memory stores) with the platform's variables set in process.env.
 */
import { randomUUID } from "node:crypto";
import { HttpRequest } from "@azure/functions";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { handleApprovalPage } from "../functions/approvals.js";
import { handleAuditQuery } from "../functions/audit.js";
import {
  AUTHENTICATION_NOT_ENABLED,
  appServiceAuthEnabled,
  OBJECT_ID_CLAIM,
  principalSource,
  trustedClientPrincipal,
} from "../shared/approvals/principal.js";
import { signApprovalToken } from "../shared/approvals/tokens.js";
import { AuthzError, checkAuditReader } from "../shared/audit/authz.js";
import { staticTokenCredential } from "../shared/azure/clients.js";
import { loadConfig } from "../shared/config.js";
import { InMemoryActionLimit } from "../shared/fakes/action-limit.js";
import { InMemoryApprovalStore } from "../shared/fakes/approval-store.js";
import { InMemoryAuditStore } from "../shared/fakes/audit-store.js";
import { InMemoryResourceGate } from "../shared/fakes/resource-gate.js";
import { silentLogger } from "../shared/log.js";
import { createRuntime, setRuntime } from "../shared/runtime.js";

const APPROVER = "4d1e9a7c-2b3f-4c5d-8e6f-7a8b9c0d1e2f";
const SIGNING_KEY = "principal-trust-test-signing-key-0123456789";

const principalHeader = (objectId: string, roles: string[] = []) =>
  Buffer.from(
    JSON.stringify({
      auth_typ: "aad",
      name_typ: "name",
      role_typ: "roles",
      claims: [{ typ: OBJECT_ID_CLAIM, val: objectId }, ...roles.map((val) => ({ typ: "roles", val }))],
    }),
  ).toString("base64");

describe("which header is believed", () => {
  it("WEBSITE_AUTH_ENABLED is compared case-insensitively; anything else is off", () => {
    for (const v of ["True", "true", "TRUE", " True "])
      expect(appServiceAuthEnabled({ WEBSITE_AUTH_ENABLED: v })).toBe(true);
    for (const v of [undefined, "", "False", "false", "1", "yes"])
      expect(appServiceAuthEnabled({ WEBSITE_AUTH_ENABLED: v })).toBe(false);
  });

  it("local without WEBSITE_SITE_NAME; in Azure only with authentication on", () => {
    expect(principalSource({})).toBe("local");
    expect(principalSource({ WEBSITE_AUTH_ENABLED: "False" })).toBe("local");
    expect(principalSource({ WEBSITE_SITE_NAME: "func-x", WEBSITE_AUTH_ENABLED: "True" })).toBe(
      "app-service-auth",
    );
    expect(principalSource({ WEBSITE_SITE_NAME: "func-x" })).toBe("untrusted");
    expect(principalSource({ WEBSITE_SITE_NAME: "func-x", WEBSITE_AUTH_ENABLED: "False" })).toBe("untrusted");
  });

  it("a forged header in Azure without authentication is refused, not parsed", () => {
    const forged = principalHeader(APPROVER, ["Audit.Read"]);
    expect(trustedClientPrincipal(forged, { WEBSITE_SITE_NAME: "func-x" })).toEqual({
      refused: AUTHENTICATION_NOT_ENABLED,
    });
    expect(
      trustedClientPrincipal(forged, { WEBSITE_SITE_NAME: "func-x", WEBSITE_AUTH_ENABLED: "true" }),
    ).toEqual({ principal: { objectId: APPROVER, roles: ["Audit.Read"] } });
    expect(trustedClientPrincipal(forged, {})).toEqual({
      principal: { objectId: APPROVER, roles: ["Audit.Read"] },
    });
  });

  it("checkAuditReader: AuthenticationNotEnabled in Azure without authentication, even with the role", () => {
    const headers = { "x-ms-client-principal": principalHeader(APPROVER, ["Audit.Read"]) };
    let caught: unknown;
    try {
      checkAuditReader(headers, { env: { WEBSITE_SITE_NAME: "func-x" } });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(AuthzError);
    expect(caught).toMatchObject({ code: "AuthenticationNotEnabled", status: 403 });
    expect((caught as Error).message).toContain("App Service Authentication is not enabled");
    expect(
      checkAuditReader(headers, { env: { WEBSITE_SITE_NAME: "func-x", WEBSITE_AUTH_ENABLED: "True" } }),
    ).toEqual({ principalChecked: true });
    expect(checkAuditReader({}, { env: {} })).toEqual({ principalChecked: false });
  });
});

describe("the audit API and the approval page", () => {
  const saved = { site: process.env.WEBSITE_SITE_NAME, auth: process.env.WEBSITE_AUTH_ENABLED };
  let inAzure = false;

  beforeAll(async () => {
    const local = loadConfig({
      APPROVER_OBJECT_IDS: APPROVER,
      APPROVER_SIGNING_KEY: SIGNING_KEY,
      DRIFTGUARD_LOCAL_STACK: "1",
    });
    const audit = new InMemoryAuditStore();
    const runtime = await createRuntime(
      {
        ...local,
        get inAzure() {
          return inAzure;
        },
      },
      {
        credential: staticTokenCredential(),
        log: silentLogger,
        stores: {
          audit,
          gate: new InMemoryResourceGate(audit),
          actionLimit: new InMemoryActionLimit(),
          approvals: new InMemoryApprovalStore(),
          ping: async () => {},
        },
        notifier: { requestApproval: async () => {} },
      },
    );
    setRuntime(runtime);
  });

  afterEach(() => {
    for (const [k, v] of [
      ["WEBSITE_SITE_NAME", saved.site],
      ["WEBSITE_AUTH_ENABLED", saved.auth],
    ] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    inAzure = false;
  });

  afterAll(() => setRuntime(undefined));

  function platform(site: boolean, auth?: string) {
    inAzure = site;
    if (site) process.env.WEBSITE_SITE_NAME = "func-driftguard-test";
    else delete process.env.WEBSITE_SITE_NAME;
    if (auth === undefined) delete process.env.WEBSITE_AUTH_ENABLED;
    else process.env.WEBSITE_AUTH_ENABLED = auth;
  }

  const auditRequest = (headers: Record<string, string>) =>
    new HttpRequest({ method: "GET", url: "https://func.example/api/audit?limit=5", headers });

  async function approvalPage(headers: Record<string, string>) {
    const id = randomUUID();
    const token = await signApprovalToken(id, SIGNING_KEY, new Date(Date.now() + 3600_000));
    const res = await handleApprovalPage(
      new HttpRequest({
        method: "GET",
        url: `https://func.example/api/approvals/${id}?token=${encodeURIComponent(token)}`,
        headers,
        params: { id },
      }),
    );
    return { status: res.status, body: String(res.body ?? "") };
  }

  it("Azure without authentication: 403 naming the reason, even for a header claiming the role", async () => {
    platform(true);
    const forged = { "x-ms-client-principal": principalHeader(APPROVER, ["Audit.Read"]) };
    const audit = await handleAuditQuery(auditRequest(forged));
    expect(audit.status).toBe(403);
    expect(audit.jsonBody).toMatchObject({ error: { code: "AuthenticationNotEnabled" } });
    expect(JSON.stringify(audit.jsonBody)).toContain("App Service Authentication is not enabled");

    const page = await approvalPage(forged);
    expect(page.status).toBe(403);
    expect(page.body).toContain("App Service Authentication is not enabled on this app");
  });

  it("Azure with authentication (WEBSITE_AUTH_ENABLED=true): the platform's header decides", async () => {
    platform(true, "true");
    const reader = await handleAuditQuery(
      auditRequest({ "x-ms-client-principal": principalHeader(APPROVER, ["Audit.Read"]) }),
    );
    expect(reader.status).toBe(200);
    expect(reader.jsonBody).toMatchObject({ items: [] });
    const noRole = await handleAuditQuery(
      auditRequest({ "x-ms-client-principal": principalHeader(APPROVER) }),
    );
    expect(noRole.status).toBe(403);
    expect(noRole.jsonBody).toMatchObject({ error: { code: "MissingRole" } });

    // A listed approver gets past the sign-in check (then: no such request), anyone else does not.
    const approver = await approvalPage({ "x-ms-client-principal": principalHeader(APPROVER) });
    expect(approver.status).toBe(404);
    const stranger = await approvalPage({ "x-ms-client-principal": principalHeader(randomUUID()) });
    expect(stranger.status).toBe(403);
    expect(stranger.body).toContain("you are not an authorised approver");
    const anonymous = await approvalPage({});
    expect(anonymous.status).toBe(403);
    expect(anonymous.body).toContain("sign in first");
  });

  it("locally: as before — the function key suffices for the audit API, the header is taken as sent", async () => {
    platform(false);
    expect((await handleAuditQuery(auditRequest({}))).status).toBe(200);
    expect((await approvalPage({ "x-ms-client-principal": principalHeader(APPROVER) })).status).toBe(404);
    const stranger = await approvalPage({ "x-ms-client-principal": principalHeader(randomUUID()) });
    expect(stranger.status).toBe(403);
  });
});
