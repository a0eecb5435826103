/**
 * Approval notifiers. With `TEAMS_WORKFLOW_URL` the card goes to a Teams Workflows webhook, its
 * button opening the approval page with a signed one-time link. Without it (local stack) the link is
 * logged, so a developer can open it.
 */
import type { DriftguardConfig } from "../config.js";
import type { Logger } from "../log.js";
import type { Approval } from "../ports/approval-store.js";
import type { Notifier } from "../ports/notifier.js";
import { approvalCard, workflowMessage } from "./card.js";
import { approvalLink, signApprovalToken } from "./tokens.js";

export class WorkflowWebhookNotifier implements Notifier {
  constructor(
    private readonly url: string,
    private readonly baseUrl: string,
    private readonly signingKey: string,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}

  async requestApproval(approval: Approval): Promise<void> {
    const token = await signApprovalToken(approval.id, this.signingKey, new Date(approval.expiresAt));
    const card = approvalCard(approval, { link: approvalLink(this.baseUrl, approval.id, token) });
    const res = await this.fetchImpl(this.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(workflowMessage(card)),
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) throw new Error(`Teams workflow webhook answered ${res.status}`);
  }
}

/**
 * No Teams configured: the request is logged without the link. The link carries a signed token
 * (a capability), and tokens never go to logs; the local stack prints it to its own console instead.
 */
export class LogNotifier implements Notifier {
  constructor(private readonly log: Logger) {}

  async requestApproval(approval: Approval): Promise<void> {
    this.log.warn(
      { approvalId: approval.id, policy: approval.policy, resourceId: approval.target.resourceId },
      "approval requested (no TEAMS_WORKFLOW_URL configured: nothing posted)",
    );
  }
}

/** Builds the signed approval-page link for an approval (for notifiers that hand it to a person). */
export async function approvalPageLink(
  approval: Approval,
  baseUrl: string,
  signingKey: string,
): Promise<string> {
  const token = await signApprovalToken(approval.id, signingKey, new Date(approval.expiresAt));
  return approvalLink(baseUrl, approval.id, token);
}

export async function createNotifier(config: DriftguardConfig, log: Logger): Promise<Notifier> {
  const base = config.publicUrl ?? "http://localhost:7071";
  if (config.teams.workflowUrl)
    return new WorkflowWebhookNotifier(config.teams.workflowUrl, base, config.approvers.signingKey);
  return new LogNotifier(log);
}
