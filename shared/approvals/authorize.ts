/**
 * Who may decide an approval — one rule for both transports (the approval page and the Teams bot):
 *
 * 1. A decision needs a principal (App Service Authentication's signed-in user on the page, the
 *    invoke's `aadObjectId` in Teams) whenever approvers are configured and always in Azure.
 *    Only the local stack without approvers lets an unsigned person decide, as the local developer.
 * 2. With approvers configured (`APPROVER_OBJECT_IDS`), and always in Azure, the principal must be
 *    one of them; in Azure without any configured, nobody may decide.
 * 3. A person whose operation caused the drift may not decide its fix (self-approval): the one
 *    whose cause asked for the approval, and anyone whose later cause named it again.
 *
 * People are named by their pseudonym only (as the trail does).
 */
import type { Approval } from "../ports/approval-store.js";
import { pseudonymize } from "../redact.js";

export interface ApproverRules {
  /** `APPROVER_OBJECT_IDS`: Entra object IDs allowed to decide. */
  objectIds: readonly string[];
  /** In Azure: a decision always needs a signed-in, listed approver. */
  requireSignIn: boolean;
  /** Locally without approvers and without sign-in: the name the developer decides as. */
  localDeveloper: string;
  pseudonymKey: string;
}

/** The person deciding, as the transport knows them. */
export interface DecidingPrincipal {
  /** Entra object ID (signed-in user, or the Teams activity's `from.aadObjectId`). */
  objectId?: string;
}

export type Refusal = "sign-in" | "not-an-approver" | "self-approval";

export type Authorization =
  | { allowed: true; approverId: string }
  | {
      allowed: false;
      refusal: Refusal;
      /** One line for the person, the page and the trail. */
      reason: string;
      /** The refused person's pseudonym (absent when nobody signed in). */
      personId?: string;
    };

export const REFUSAL_TEXT: Record<Refusal, string> = {
  "sign-in": "sign in first: a decision needs a signed-in approver",
  "not-an-approver": "you are not an authorised approver",
  "self-approval":
    "self-approval refused: the approver caused the change that drifted; another approver must decide",
};

/**
 * Whether `principal` may decide `decision.approval` (or, without an approval, may decide at all:
 * the page's first check). Pure: the caller records refusals (`ApprovalLifecycle.decide`).
 */
export function authorize(
  decision: { approval?: Pick<Approval, "causedBy" | "alsoCausedBy"> },
  principal: DecidingPrincipal,
  rules: ApproverRules,
): Authorization {
  const listed = rules.objectIds.map((s) => s.toLowerCase());
  const checked = rules.requireSignIn || listed.length > 0;
  const objectId = principal.objectId?.trim().toLowerCase();
  if (!objectId) {
    if (checked)
      return {
        allowed: false,
        refusal: "sign-in",
        reason:
          listed.length > 0
            ? `${REFUSAL_TEXT["sign-in"]} (approvers are configured in APPROVER_OBJECT_IDS)`
            : `${REFUSAL_TEXT["sign-in"]} (App Service Authentication)`,
      };
    return { allowed: true, approverId: pseudonymize(`local:${rules.localDeveloper}`, rules.pseudonymKey) };
  }
  const personId = pseudonymize(objectId, rules.pseudonymKey);
  if (checked && !listed.includes(objectId))
    return {
      allowed: false,
      refusal: "not-an-approver",
      reason:
        listed.length > 0
          ? REFUSAL_TEXT["not-an-approver"]
          : `${REFUSAL_TEXT["not-an-approver"]}: no approvers are configured (APPROVER_OBJECT_IDS)`,
      personId,
    };
  if (decision.approval && causedByPerson(decision.approval, personId))
    return { allowed: false, refusal: "self-approval", reason: REFUSAL_TEXT["self-approval"], personId };
  return { allowed: true, approverId: personId };
}

/** Whether the person with pseudonym `personId` caused the drift the approval would fix. */
export function causedByPerson(a: Pick<Approval, "causedBy" | "alsoCausedBy">, personId: string): boolean {
  return a.causedBy === personId || (a.alsoCausedBy ?? []).includes(personId);
}
