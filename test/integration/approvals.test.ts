/**
 * Risky actions wait for a person: pending-approval → approval page (signed one-time link +
 * approver) or a Teams Action.Execute invoke (Bot Framework JWT) → approved → remediated against
 * current state; rejected and expired requests change nothing.
 */

import { mkdtemp, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Seed } from "../../dev/azure-sim/index.js";
import { startLocalStack } from "../../dev/stack.js";
import { signApprovalToken } from "../../shared/approvals/tokens.js";
import type { AuditRecord } from "../../shared/audit/types.js";
import { silentLogger } from "../../shared/log.js";
import { ManualClock } from "../helpers/harness.js";
import { armWriteEvent } from "../helpers/stack.js";

const SUB = "00000000-0000-0000-0000-0000000000dd";
const RG = `/subscriptions/${SUB}/resourceGroups/rg-risky/providers/Microsoft.Storage/storageAccounts`;
const ids = ["stapprove001", "streject001", "stexpire001", "stteams001"].map((n) => `${RG}/${n}`);
const APPROVER_OID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
const BOT_APP_ID = "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d";
const SIGNING_KEY = "integration-approval-signing-key-0123456789";

const seed: Seed = {
  resources: ids.map((id) => ({
    id,
    name: id.split("/").pop()!,
    type: "Microsoft.Storage/storageAccounts",
    location: "westeurope",
    kind: "StorageV2",
    sku: { name: "Standard_LRS" },
    tags: {},
    properties: { publicNetworkAccess: "Enabled", allowBlobPublicAccess: true },
  })),
};

let stack: Awaited<ReturnType<typeof startLocalStack>>;
let jwks: http.Server;
let botKey: CryptoKey;
const clock = new ManualClock(new Date());

beforeAll(async () => {
  const pair = await generateKeyPair("RS256");
  botKey = pair.privateKey as CryptoKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: "bot-key-1", use: "sig", alg: "RS256" };
  jwks = http.createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((r) => jwks.listen(0, "127.0.0.1", () => r()));
  const dir = await mkdtemp(path.join(tmpdir(), "driftguard-approvals-"));
  const policyFile = path.join(dir, "p.yaml");
  await writeFile(
    policyFile,
    "version: 1\npolicies:\n  - name: risky-storage\n    resourceTypes: [Microsoft.Storage/storageAccounts]\n    triggers: [{eventGrid: Microsoft.Resources.ResourceWriteSuccess}]\n    kind: disable-public-network-access\n    mode: approval\n",
  );
  stack = await startLocalStack({
    port: 0,
    cosmosPort: 0,
    azurePort: 0,
    seed,
    policyFile,
    log: silentLogger,
    lroPollIntervalMs: 0,
    clock,
    env: {
      APPROVER_OBJECT_IDS: APPROVER_OID,
      APPROVER_SIGNING_KEY: SIGNING_KEY,
      TEAMS_BOT_APP_ID: BOT_APP_ID,
      TEAMS_BOT_JWKS_URL: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/keys`,
    },
  });
});

afterAll(async () => {
  await stack?.close();
  await new Promise((r) => jwks?.close(r));
});

async function deliverAndGetApproval(id: string): Promise<string> {
  const res = await fetch(
    `${stack.functionsUrl}/runtime/webhooks/eventgrid?functionName=resourceEvents&code=${stack.functionKey}`,
    {
      method: "POST",
      headers: { "content-type": "application/json", "aeg-event-type": "Notification" },
      body: JSON.stringify([armWriteEvent(id)]),
    },
  );
  expect(res.status).toBe(200);
  const [record] = await records(id);
  expect(record).toMatchObject({ outcome: "pending-approval" });
  expect(stack.sim.writes({ pathIncludes: id.split("/").pop()! })).toHaveLength(0);
  return record!.approvalId!;
}

async function records(id: string): Promise<AuditRecord[]> {
  const res = await fetch(`${stack.functionsUrl}/api/audit?resourceId=${encodeURIComponent(id)}`, {
    headers: { "x-functions-key": stack.functionKey },
  });
  return ((await res.json()) as { items: AuditRecord[] }).items;
}

function principal(oid: string): string {
  return Buffer.from(
    JSON.stringify({
      auth_typ: "aad",
      claims: [{ typ: "http://schemas.microsoft.com/identity/claims/objectidentifier", val: oid }],
    }),
  ).toString("base64");
}

const pageUrl = (approvalId: string, token?: string) =>
  `${stack.functionsUrl}/api/approvals/${approvalId}${token ? `?token=${encodeURIComponent(token)}` : ""}`;

describe("approval page", () => {
  it("approves with a valid one-time link and an authorised approver, then remediates current state", async () => {
    const id = ids[0]!;
    const approvalId = await deliverAndGetApproval(id);
    const token = await signApprovalToken(approvalId, SIGNING_KEY, new Date(Date.now() + 3600_000));

    expect((await fetch(pageUrl(approvalId))).status).toBe(403); // no token
    const forged = await signApprovalToken(
      approvalId,
      "some-other-signing-key-0123456789abcdef",
      new Date(Date.now() + 3600_000),
    );
    expect((await fetch(pageUrl(approvalId, forged))).status).toBe(403);
    const otherUser = await fetch(pageUrl(approvalId, token), {
      headers: { "x-ms-client-principal": principal("11111111-1111-4111-8111-111111111111") },
    });
    expect(otherUser.status).toBe(403);

    const page = await fetch(pageUrl(approvalId, token), {
      headers: { "x-ms-client-principal": principal(APPROVER_OID) },
    });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("Approve");
    expect(html).toContain("properties.publicNetworkAccess");

    const decide = await fetch(pageUrl(approvalId), {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "x-ms-client-principal": principal(APPROVER_OID),
      },
      body: new URLSearchParams({ token, decision: "approve" }).toString(),
    });
    expect(decide.status).toBe(200);
    const trail = await records(id);
    // The bot knows no conversation here: the card could not be posted, and the trail says so once.
    expect(trail.map((r) => r.outcome)).toEqual([
      "remediated",
      "approved",
      "pending-approval",
      "pending-approval",
    ]);
    expect(trail[2]!.reason).toMatch(/^the approval card could not be posted to Teams/);
    expect(trail[0]!.approver?.id).toMatch(/^p-/);
    expect(JSON.stringify(trail)).not.toContain(APPROVER_OID);
    expect(stack.sim.getResource(id)!.properties!.publicNetworkAccess).toBe("Disabled");

    // One-time: a second use changes nothing.
    const again = await fetch(pageUrl(approvalId), {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "x-ms-client-principal": principal(APPROVER_OID),
      },
      body: new URLSearchParams({ token, decision: "approve" }).toString(),
    });
    expect(again.status).toBe(409);
    expect(await records(id)).toHaveLength(4);
  });

  it("a rejection is recorded and nothing is written", async () => {
    const id = ids[1]!;
    const approvalId = await deliverAndGetApproval(id);
    const token = await signApprovalToken(approvalId, SIGNING_KEY, new Date(Date.now() + 3600_000));
    const res = await fetch(pageUrl(approvalId), {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "x-ms-client-principal": principal(APPROVER_OID),
      },
      body: new URLSearchParams({ token, decision: "reject" }).toString(),
    });
    expect(res.status).toBe(200);
    expect((await records(id)).map((r) => r.outcome)).toEqual([
      "rejected",
      "pending-approval",
      "pending-approval",
    ]);
    expect(stack.sim.writes({ pathIncludes: "streject001" })).toHaveLength(0);
  });

  it("an unanswered request expires (timer) and can no longer be approved", async () => {
    const id = ids[2]!;
    const approvalId = await deliverAndGetApproval(id);
    clock.advance(25 * 3600_000);
    await stack.host.runTimer("expireApprovals");
    expect((await records(id)).map((r) => r.outcome)).toEqual([
      "expired",
      "pending-approval",
      "pending-approval",
    ]);
    const token = await signApprovalToken(
      approvalId,
      SIGNING_KEY,
      new Date(clock.now().getTime() + 3600_000),
    );
    const late = await fetch(pageUrl(approvalId), {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "x-ms-client-principal": principal(APPROVER_OID),
      },
      body: new URLSearchParams({ token, decision: "approve" }).toString(),
    });
    expect(late.status).toBe(409);
    expect(stack.sim.writes({ pathIncludes: "stexpire001" })).toHaveLength(0);
    clock.set(new Date());
  });
});

describe("Teams bot Action.Execute", () => {
  async function botToken(claims: { aud?: string; iss?: string; serviceUrl?: string }): Promise<string> {
    return new SignJWT({ serviceurl: claims.serviceUrl ?? "https://smba.trafficmanager.net/emea/" })
      .setProtectedHeader({ alg: "RS256", kid: "bot-key-1" })
      .setIssuer(claims.iss ?? "https://api.botframework.com")
      .setAudience(claims.aud ?? BOT_APP_ID)
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(botKey);
  }
  const invoke = (approvalId: string, oid: string) => ({
    type: "invoke",
    name: "adaptiveCard/action",
    serviceUrl: "https://smba.trafficmanager.net/emea/",
    from: { id: "29:1abc", aadObjectId: oid },
    value: { action: { type: "Action.Execute", verb: "approve", data: { approvalId } } },
  });
  const post = (token: string, body: unknown) =>
    fetch(`${stack.functionsUrl}/api/teams/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });

  it("refuses tokens with the wrong audience, issuer or serviceUrl", async () => {
    const approvalId = "00000000-0000-4000-8000-000000000000";
    expect(
      (await post(await botToken({ aud: "someone-else" }), invoke(approvalId, APPROVER_OID))).status,
    ).toBe(401);
    expect(
      (await post(await botToken({ iss: "https://evil.example" }), invoke(approvalId, APPROVER_OID))).status,
    ).toBe(401);
    expect(
      (await post(await botToken({ serviceUrl: "https://other/" }), invoke(approvalId, APPROVER_OID))).status,
    ).toBe(401);
    expect(
      (await fetch(`${stack.functionsUrl}/api/teams/messages`, { method: "POST", body: "{}" })).status,
    ).toBe(401);
  });

  it("an authorised approver's invoke approves and replaces the card", async () => {
    const id = ids[3]!;
    const approvalId = await deliverAndGetApproval(id);
    const refused = await post(
      await botToken({}),
      invoke(approvalId, "22222222-2222-4222-8222-222222222222"),
    );
    expect(JSON.stringify(await refused.json())).toContain("You are not one of the approvers");
    const res = await post(await botToken({}), invoke(approvalId, APPROVER_OID));
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      statusCode: number;
      type: string;
      value: { body: { text?: string }[] };
    };
    expect(body.type).toBe("application/vnd.microsoft.card.adaptive");
    expect(JSON.stringify(body.value)).toContain("approved");
    // Newest first: the change, the decision, the refused press (once), the unposted card, the request.
    const trail = await records(id);
    expect(trail.map((r) => r.outcome)).toEqual([
      "remediated",
      "approved",
      "pending-approval",
      "pending-approval",
      "pending-approval",
    ]);
    expect(trail[2]!.reason).toBe("you are not an authorised approver");
    expect(stack.sim.getResource(id)!.properties!.publicNetworkAccess).toBe("Disabled");
  });
});
