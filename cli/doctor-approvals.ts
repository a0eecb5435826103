/**
 * `driftguard doctor`: approvals whose Teams card could not be posted. Such a request is recorded
 * and its page works, but nobody was told; doctor lists them so that someone is.
 */
import type { ApprovalStore } from "../shared/ports/approval-store.js";
import type { CheckResult } from "./doctor-result.js";

/** At most this many are named (the store is asked for one more, to say "and more"). */
const SHOWN = 5;

export async function checkApprovalCards(
  approvals: Pick<ApprovalStore, "listCardPostFailures">,
  publicUrl: string | undefined,
): Promise<CheckResult[]> {
  const unposted = await approvals.listCardPostFailures(SHOWN + 1);
  if (unposted.length === 0)
    return [{ status: "ok", check: "approval cards", detail: "every pending approval's card was posted" }];
  const named = unposted
    .slice(0, SHOWN)
    .map((a) => `${a.id} (${a.policy}, ${a.cardPostFailed!.at}: ${a.cardPostFailed!.error})`);
  const more = unposted.length > SHOWN ? "; and more" : "";
  return [
    {
      status: "warn",
      check: "approval cards",
      detail: `pending approvals whose Teams card could not be posted: ${named.join("; ")}${more}`,
      fix: `fix the Teams settings (the teams checks), and meanwhile send an approver each request's page (${publicUrl ?? "<function app>"}/api/approvals/<id> with its link) or the trail (driftguard audit --outcome pending-approval)`,
    },
  ];
}
