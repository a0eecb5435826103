/**
 * An approval card that cannot be posted (the Teams Workflows webhook is unreachable): the approval
 * exists and is recorded, the delivery succeeds, and the failure is not only logged — it is in the
 * trail (once per approval), on the approval page, and `driftguard doctor` names the approval.
 */
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runDoctor } from "../../cli/doctor.js";
import { signApprovalToken } from "../../shared/approvals/tokens.js";
import { staticTokenCredential } from "../../shared/azure/clients.js";
import { LOCAL_STACK_SIGNING_KEY } from "../../shared/config.js";
import { builtinRegistry } from "../../shared/remediations/index.js";
import { publicStorageAccount } from "../helpers/seed.js";
import { armWriteEvent, startTestStack, TEST_SUB, type TestStack } from "../helpers/stack.js";

const ACCOUNT = `/subscriptions/${TEST_SUB}/resourceGroups/rg-unposted/providers/Microsoft.Storage/storageAccounts/stunposted01`;
/** Nothing listens there: every post fails. */
const DEAD_WEBHOOK = "https://127.0.0.1:9/workflows/approvals";
const POLICIES = `version: 1
policies:
  - name: storage-private-approval
    resourceTypes: [Microsoft.Storage/storageAccounts]
    triggers: [{ eventGrid: Microsoft.Resources.ResourceWriteSuccess }]
    kind: disable-public-network-access
    mode: approval
`;

let stack: TestStack;
let policyFile: string;
beforeAll(async () => {
  stack = await startTestStack({
    seed: { resources: [publicStorageAccount(ACCOUNT)] },
    policyYaml: POLICIES,
    env: { TEAMS_WORKFLOW_URL: DEAD_WEBHOOK, TEAMS_BOT_APP_ID: undefined },
  });
  policyFile = path.join(await mkdtemp(path.join(tmpdir(), "driftguard-unposted-")), "policies.yaml");
  await writeFile(policyFile, POLICIES);
}, 60_000);
afterAll(async () => {
  await stack?.close();
});

describe("an approval card that cannot be posted", () => {
  it("is recorded once, shown on the approval page and named by doctor", async () => {
    const res = await stack.deliver([armWriteEvent(ACCOUNT)]);
    expect(res.status).toBe(200); // the approval exists: the delivery does not fail for the card
    const trail = (await stack.audit({ resourceId: ACCOUNT })).reverse();
    expect(trail.map((r) => r.outcome)).toEqual(["pending-approval", "pending-approval"]);
    expect(trail[1]!.reason).toMatch(
      /^the approval card could not be posted to Teams \(.+\); the approval page still works$/,
    );
    expect(trail[1]!.approvalId).toBe(trail[0]!.approvalId);
    expect(JSON.stringify(trail)).not.toContain("workflows/approvals"); // the webhook URL is a capability

    const id = trail[0]!.approvalId!;
    const approval = (await stack.runtime.stores.approvals.get(id))!;
    expect(approval.cardPostFailed?.at).toBeTruthy();
    const token = await signApprovalToken(id, LOCAL_STACK_SIGNING_KEY, new Date(approval.expiresAt));
    const page = await fetch(`${stack.functionsUrl}/api/approvals/${id}?token=${encodeURIComponent(token)}`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("Teams card not posted");
    expect(html).toContain("policy storage-private-approval requires approval");

    const results = await runDoctor({
      env: {
        DRIFTGUARD_LOCAL_STACK: "1",
        DRIFTGUARD_POLICY_FILE: policyFile,
        COSMOS_ENDPOINT: stack.cosmosUrl,
        COSMOS_KEY: stack.cosmosKey,
        ARM_ENDPOINT: stack.azureUrl,
        DRIFTGUARD_VAULT_URLS: JSON.stringify(stack.vaults),
        DRIFTGUARD_CA_FILE: stack.caCertFile,
        TEAMS_WORKFLOW_URL: DEAD_WEBHOOK,
      },
      registry: builtinRegistry(),
      credential: staticTokenCredential(),
      subscriptions: [TEST_SUB],
      timeoutMs: 3_000,
    });
    const cards = results.find((r) => r.check === "approval cards")!;
    expect(cards.status).toBe("warn");
    expect(cards.detail).toContain(id);
    expect(cards.detail).toContain("storage-private-approval");
  }, 60_000);
});
