/** Signal parsing, one parser per source; the pipeline only ever sees `Signal`. */

export {
  COMMON_ALERT_SCHEMA_ID,
  MAX_ALERT_BYTES,
  parseAlertDelivery,
  parseMonitorAlert,
} from "./alerts.js";
export { canonicalArmEventType, parseArmEvent } from "./arm-event-parser.js";
export { MAX_BODY_BYTES, parseJsonBody } from "./body.js";
export {
  type BudgetParseOptions,
  isCommonSchemaBudget,
  LEGACY_BUDGET_SCHEMA_ID,
  parseAmount,
  parseBudgetStartDate,
  parseCommonSchemaBudget,
  parseLegacyBudget,
} from "./budget.js";
export { normalizeIsoTime } from "./common.js";
export { formatPath, joinPath, parseOrThrow, zodToInputError } from "./errors.js";
export { MAX_EVENTS_PER_BATCH, parseEventGridDelivery, VALIDATION_EVENT_TYPE } from "./eventgrid.js";
export { matchesGlob } from "./glob.js";
export { keyVaultEventName, parseKeyVaultEvent } from "./key-vault-event.js";
export { parseSignalFile } from "./replay.js";
export type * from "./types.js";
