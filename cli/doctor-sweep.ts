/**
 * The doctor's checks of each governed subscription for sweeps and events: Azure Resource Graph
 * answers for it (the identity has Reader there), and — in Azure — the subscription has an Event
 * Grid system topic for its resource events (infra `targetSubscriptionIds`).
 */
import type { ArmReader } from "../shared/azure/clients.js";
import type { ResourceGraphClient } from "../shared/azure/resource-graph.js";
import { RemediationError } from "../shared/errors.js";
import type { CheckResult } from "./doctor-result.js";

const EVENT_GRID_API = "2025-02-15";

export async function checkSweepSubscriptions(
  graph: ResourceGraphClient,
  arm: ArmReader,
  subscriptions: readonly string[],
  opts: { checkTopics: boolean },
): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  if (subscriptions.length === 0) {
    out.push({
      status: "warn",
      check: "sweep subscriptions",
      detail: "no subscription named: a sweep queries every subscription the identity can read",
      fix: "set DRIFTGUARD_SWEEP_SUBSCRIPTIONS (infra: targetSubscriptionIds), or scope the policies",
    });
    return out;
  }
  for (const sub of subscriptions) {
    const check = `sweep subscription ${sub}`;
    try {
      await graph.queryPage({ query: "resources | project id | take 1", subscriptions: [sub], top: 1 });
      out.push({ status: "ok", check, detail: "Azure Resource Graph answers for it" });
    } catch (err) {
      const e = err instanceof RemediationError ? err : undefined;
      out.push({
        status: "fail",
        check,
        detail: `Azure Resource Graph: ${e ? `${e.code}: ${e.message}` : String(err)}`.slice(0, 300),
        fix: `grant driftguard's identity Reader on /subscriptions/${sub} (infra: add it to targetSubscriptionIds)`,
      });
    }
    if (!opts.checkTopics) continue;
    const topics = await arm.get(
      `/subscriptions/${sub}/providers/Microsoft.EventGrid/systemTopics`,
      EVENT_GRID_API,
    );
    const list = (topics.body as { value?: { properties?: { topicType?: string; source?: string } }[] })
      ?.value;
    const has = list?.some(
      (t) =>
        t.properties?.topicType?.toLowerCase() === "microsoft.resources.subscriptions" &&
        t.properties.source?.toLowerCase() === `/subscriptions/${sub}`.toLowerCase(),
    );
    out.push(
      topics.status !== 200
        ? {
            status: "warn",
            check: `events ${sub}`,
            detail: `cannot list Event Grid system topics (HTTP ${topics.status})`,
            fix: `grant Reader on /subscriptions/${sub}`,
          }
        : has
          ? {
              status: "ok",
              check: `events ${sub}`,
              detail: "the subscription's Event Grid system topic exists",
            }
          : {
              status: "warn",
              check: `events ${sub}`,
              detail:
                "no Event Grid system topic for the subscription's resource events: only sweeps find drift there",
              fix: "add the subscription to infra targetSubscriptionIds and run azd provision",
            },
    );
  }
  return out;
}
