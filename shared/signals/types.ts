/**
 * One typed Signal, whatever the source. Parsers (one per source) produce it; the pipeline only
 * ever sees this shape. Nothing here carries personal data in clear: the caller is kept as raw IDs
 * only long enough for self-loop detection and pseudonymisation by the record builder.
 */

export type SignalSource = "eventgrid" | "monitor" | "budget" | "manual" | "timer" | "sweep";

/** Every signal source, in the order the docs list them. */
export const SIGNAL_SOURCES: readonly SignalSource[] = [
  "eventgrid",
  "monitor",
  "budget",
  "manual",
  "timer",
  "sweep",
];

/** What the policy `triggers` list is matched against. */
export type Trigger =
  /** ARM event type, e.g. `Microsoft.Resources.ResourceWriteSuccess`. */
  | { eventGrid: string }
  /** Key Vault event name without the `Microsoft.KeyVault.` prefix, e.g. `SecretNearExpiry`. */
  | { keyVault: string }
  /** Azure Monitor alert rule name + condition. Fired applies, Resolved reverses. */
  | { alert: string; condition: "Fired" | "Resolved" }
  /**
   * Cost Management budget name, and whether actual or forecasted spend crossed the threshold
   * (absent in signals stored before the type was kept: `Actual`).
   */
  | { budget: string; thresholdType?: BudgetThresholdType }
  /** On-demand runs (CLI `driftguard rotate`, approvals, timers). */
  | { manual: string }
  /** A sweep of the estate (its run ID): no policy trigger matches it; the sweep names the policy. */
  | { sweep: string };

/** A resource the signal is about: for `resourceTypes` and `scope` matching. */
export interface SignalTarget {
  resourceId: string;
  /** Full ARM type, children included (e.g. `Microsoft.Network/networkSecurityGroups/securityRules`). */
  resourceType: string;
  subscriptionId: string;
}

export interface SignalCaller {
  /** Entra object ID (`claims.oid` / `http://schemas.microsoft.com/identity/claims/objectidentifier`). */
  objectId?: string;
  /** Application ID (`claims.appid` / `azp`), when the caller is an app. */
  appId?: string;
}

export interface AlertDetail {
  alertId: string;
  ruleName: string;
  condition: "Fired" | "Resolved";
  severity?: string;
  signalType?: string;
  firedAt?: string;
  resolvedAt?: string;
  /** Dimension name → value, merged over all conditions (metric `dimensions`, log `dimensions`). */
  dimensions: Record<string, string>;
}

/** A budget notification is about actual spend, or about spend forecast for the period. */
export type BudgetThresholdType = "Actual" | "Forecasted";

export interface BudgetDetail {
  budgetName: string;
  thresholdType?: BudgetThresholdType;
  /** Scope resource ID (subscription or resource group). */
  scope: string;
  spent?: number;
  budget?: number;
  threshold?: number;
  unit?: string;
}

export interface KeyVaultDetail {
  vaultName: string;
  objectType: string;
  objectName: string;
  version?: string;
  /** Expiry, epoch seconds, when the event carries it. */
  exp?: number;
  nbf?: number;
}

export interface Signal {
  source: SignalSource;
  /** Source-specific type: Event Grid event type, `Microsoft.KeyVault.SecretNearExpiry`,
   *  `alert.Fired`/`alert.Resolved`, `budget`, `manual.rotate`, … */
  type: string;
  /** The cause's own ID (event ID, alert ID, budget notification ID). */
  id: string;
  /** Identity of the cause for dedupe: event ID; alert ID + condition; … */
  dedupeKey: string;
  correlationId?: string;
  /** When the cause happened (ISO 8601). */
  time: string;
  subscriptionId?: string;
  trigger: Trigger;
  targets: SignalTarget[];
  caller?: SignalCaller;
  alert?: AlertDetail;
  budget?: BudgetDetail;
  keyVault?: KeyVaultDetail;
  /** ARM operation name of an ARM event, e.g. `Microsoft.Network/networkSecurityGroups/securityRules/write`. */
  operationName?: string;
}

/** A handshake answer instead of signals (Event Grid subscription validation). */
export interface ValidationHandshake {
  validationCode: string;
  validationUrl?: string;
}

export type ParsedDelivery =
  | { kind: "validation"; handshake: ValidationHandshake }
  | {
      kind: "signals";
      signals: Signal[];
      /** Events acknowledged without a signal (Event Grid's own system events), for the log. */
      acknowledged: { path: string; type: string }[];
    };
