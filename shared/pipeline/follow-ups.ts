/**
 * Scheduled follow-ups from the registry: every kind that schedules runs through its records
 * (`Remediation.followUps`, e.g. a throttle's cooldown restore) is asked what is due, and each due
 * run goes through the pipeline pinned to the policy that scheduled it. The timer that calls this
 * (`runFollowUps`) knows no kind.
 */
import type { RemediationRegistry } from "../remediations/registry.js";
import type { AuditHistory } from "../remediations/types.js";
import type { Signal } from "../signals/types.js";
import type { Decision } from "./types.js";

export interface FollowUpRun {
  kind: string;
  followUp: string;
  decisions: Decision[];
}

export async function runDueFollowUps(deps: {
  registry: RemediationRegistry;
  history: AuditHistory;
  handle: (signal: Signal, opts: { policyName: string }) => Promise<Decision[]>;
  now: Date;
}): Promise<FollowUpRun[]> {
  const out: FollowUpRun[] = [];
  for (const remediation of deps.registry.all) {
    for (const followUp of remediation.followUps ?? []) {
      const due = await followUp.due({ kind: remediation.kind, history: deps.history, now: deps.now });
      for (const d of due) {
        const decisions = await deps.handle(d.signal, { policyName: d.policy });
        out.push({ kind: remediation.kind, followUp: followUp.name, decisions });
      }
    }
  }
  return out;
}
